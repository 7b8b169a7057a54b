//! Branch-free `log2`, `exp2`, `pow` and `cbrt` for `f32`, accurate to a
//! few parts in 10^7 (far below FLIP's 1e-3 agreement budget), written so
//! that loops over slices calling them vectorise; libm's scalar calls would
//! dominate the HDR-FLIP run time otherwise.

/// log2(x) for finite x > 0 (subnormals are treated as tiny normals).
#[inline(always)]
pub fn log2(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    // Move the mantissa to [sqrt(1/2), sqrt(2)) so the series converges fast.
    let big = m > std::f32::consts::SQRT_2;
    m = if big { m * 0.5 } else { m };
    e += big as i32;
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    // ln(m) = 2 atanh(t) = 2 (t + t^3/3 + t^5/5 + t^7/7 + t^9/9)
    let series =
        t * (2.0 + t2 * (2.0 / 3.0 + t2 * (2.0 / 5.0 + t2 * (2.0 / 7.0 + t2 * (2.0 / 9.0)))));
    e as f32 + series * std::f32::consts::LOG2_E
}

/// 2^y, flushing to 0 below 2^-126 and saturating above 2^127.
#[inline(always)]
pub fn exp2(y: f32) -> f32 {
    let y = y.clamp(-126.0, 127.0);
    let mut i = y as i32;
    i -= (y < i as f32) as i32; // floor without a libm call
    let f = y - i as f32 - 0.5; // in [-0.5, 0.5)
    let g = f * std::f32::consts::LN_2;
    // e^g, |g| <= 0.347: Taylor to degree 6 (error < 2e-7).
    let p = 1.0
        + g * (1.0
            + g * (1.0 / 2.0
                + g * (1.0 / 6.0 + g * (1.0 / 24.0 + g * (1.0 / 120.0 + g * (1.0 / 720.0))))));
    f32::from_bits(((i + 127) as u32) << 23) * p * std::f32::consts::SQRT_2
}

/// x^p for x >= 0 (0 for x <= 0).
#[inline(always)]
pub fn pow(x: f32, p: f32) -> f32 {
    let r = exp2(p * log2(x.max(f32::MIN_POSITIVE)));
    if x > 0.0 { r } else { 0.0 }
}

/// Cube root for x > 0.
#[inline(always)]
pub fn cbrt(x: f32) -> f32 {
    exp2(log2(x) * (1.0 / 3.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_libm() {
        let mut x = 1e-6f32;
        while x < 1e6 {
            let rel = |a: f32, b: f32| ((a - b) / b).abs();
            assert!((log2(x) - x.log2()).abs() < 2e-6, "log2 {x}");
            assert!(rel(pow(x, 0.7), x.powf(0.7)) < 2e-6, "pow {x}");
            assert!(rel(cbrt(x), x.cbrt()) < 2e-6, "cbrt {x}");
            x *= 1.37;
        }
        let mut y = -60.0f32;
        while y < 60.0 {
            assert!(((exp2(y) - y.exp2()) / y.exp2()).abs() < 2e-6, "exp2 {y}");
            y += 0.173;
        }
        assert_eq!(pow(0.0, 0.5), 0.0);
    }
}
