//! The inner loop of the metric pass: eight lanes of running sums over a
//! row segment, in portable Rust and with AVX2 intrinsics.
//!
//! Both versions do the same operations in the same order on the same lane
//! (value `i` of every group of eight goes to lane `i`; no fused
//! multiply-adds; `max` keeps the old value on NaN), so their results are
//! bit for bit the same. The portable loop is not vectorised by the
//! compiler (the mix of `f32` sums, `u32` counts and `u8` flags defeats
//! it), which is why the AVX2 version exists.

/// Number of lanes.
pub(crate) const LANES: usize = 8;
/// Flag bit: over the warn threshold.
pub(crate) const WARN_BIT: u8 = 1;
/// Flag bit: over the fail threshold.
pub(crate) const FAIL_BIT: u8 = 2;

/// Per-lane running sums of one row segment.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Lanes {
    /// Sum of `|b - a|`.
    pub s_abs: [f32; LANES],
    /// Sum of `(b - a)^2`.
    pub s_sq: [f32; LANES],
    /// Sum of `b - a`.
    pub s_signed: [f32; LANES],
    /// Sum of `|a|`.
    pub s_a: [f32; LANES],
    /// Sum of `|b|`.
    pub s_b: [f32; LANES],
    /// Largest `|b - a|`.
    pub m_err: [f32; LANES],
    /// Largest `max(|a|, |b|)`.
    pub m_val: [f32; LANES],
    /// Values over the warn threshold.
    pub n_warn: [u32; LANES],
    /// Values over the fail threshold.
    pub n_fail: [u32; LANES],
}

/// Adds the whole groups of eight of `a`, `b` into `l` and sets their
/// warn/fail bits in `flags`; `use_avx2` picks the AVX2 version, which the
/// caller must only ask for when the CPU has AVX2. Returns how many values
/// were consumed (the rest is left to the caller).
#[inline(always)]
pub(crate) fn whole_groups(
    a: &[f32],
    b: &[f32],
    flags: &mut [u8],
    (warn, fail): (f32, f32),
    l: &mut Lanes,
    use_avx2: bool,
) -> usize {
    let n = a.len().min(b.len()).min(flags.len()) / LANES * LANES;
    #[cfg(target_arch = "x86_64")]
    if use_avx2 {
        // SAFETY: the caller only passes `use_avx2` when the CPU has AVX2.
        unsafe { groups_avx2(&a[..n], &b[..n], &mut flags[..n], (warn, fail), l) };
        return n;
    }
    let _ = use_avx2;
    let groups = a[..n]
        .chunks_exact(LANES)
        .zip(b[..n].chunks_exact(LANES))
        .zip(flags[..n].chunks_exact_mut(LANES));
    for ((ca, cb), cf) in groups {
        for i in 0..LANES {
            let (av, bv) = (ca[i], cb[i]);
            let d = bv - av;
            let f = d.abs();
            l.s_abs[i] += f;
            l.s_sq[i] += f * f;
            l.s_signed[i] += d;
            l.s_a[i] += av.abs();
            l.s_b[i] += bv.abs();
            l.m_err[i] = if f > l.m_err[i] { f } else { l.m_err[i] };
            let peak = if av.abs() > bv.abs() {
                av.abs()
            } else {
                bv.abs()
            };
            l.m_val[i] = if peak > l.m_val[i] { peak } else { l.m_val[i] };
            let w = (f > warn) as u8;
            let x = (f > fail) as u8;
            l.n_warn[i] += w as u32;
            l.n_fail[i] += x as u32;
            cf[i] |= (w * WARN_BIT) | (x * FAIL_BIT);
        }
    }
    n
}

/// Byte `i` of `SPREAD[m]` is bit `i` of `m`: turns an eight-lane compare
/// mask into eight flag bytes.
const SPREAD: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut m = 0;
    while m < 256 {
        let mut i = 0;
        while i < 8 {
            table[m] |= (((m >> i) & 1) as u64) << (8 * i);
            i += 1;
        }
        m += 1;
    }
    table
};

/// [`whole_groups`] with AVX2 intrinsics; the slices hold whole groups.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn groups_avx2(a: &[f32], b: &[f32], flags: &mut [u8], (warn, fail): (f32, f32), l: &mut Lanes) {
    use std::arch::x86_64::*;
    let load = |v: &[f32; LANES]| {
        // SAFETY: reads eight f32s from an array of eight.
        unsafe { _mm256_loadu_ps(v.as_ptr()) }
    };
    let load_u = |v: &[u32; LANES]| {
        // SAFETY: reads eight u32s from an array of eight.
        unsafe { _mm256_loadu_si256(v.as_ptr().cast()) }
    };
    let sign = _mm256_set1_ps(-0.0);
    let (warn, fail) = (_mm256_set1_ps(warn), _mm256_set1_ps(fail));
    let (mut s_abs, mut s_sq, mut s_signed) = (load(&l.s_abs), load(&l.s_sq), load(&l.s_signed));
    let (mut s_a, mut s_b) = (load(&l.s_a), load(&l.s_b));
    let (mut m_err, mut m_val) = (load(&l.m_err), load(&l.m_val));
    let (mut n_warn, mut n_fail) = (load_u(&l.n_warn), load_u(&l.n_fail));
    let groups = a
        .chunks_exact(LANES)
        .zip(b.chunks_exact(LANES))
        .zip(flags.chunks_exact_mut(LANES));
    for ((ca, cb), cf) in groups {
        // SAFETY: each group holds eight f32s.
        let (av, bv) = unsafe { (_mm256_loadu_ps(ca.as_ptr()), _mm256_loadu_ps(cb.as_ptr())) };
        let d = _mm256_sub_ps(bv, av);
        let f = _mm256_andnot_ps(sign, d);
        s_abs = _mm256_add_ps(s_abs, f);
        s_sq = _mm256_add_ps(s_sq, _mm256_mul_ps(f, f));
        s_signed = _mm256_add_ps(s_signed, d);
        let (aa, ba) = (_mm256_andnot_ps(sign, av), _mm256_andnot_ps(sign, bv));
        s_a = _mm256_add_ps(s_a, aa);
        s_b = _mm256_add_ps(s_b, ba);
        // maxps(x, y) is `if x > y { x } else { y }`, as in the portable loop.
        m_err = _mm256_max_ps(f, m_err);
        m_val = _mm256_max_ps(_mm256_max_ps(aa, ba), m_val);
        let w = _mm256_cmp_ps::<_CMP_GT_OQ>(f, warn);
        let x = _mm256_cmp_ps::<_CMP_GT_OQ>(f, fail);
        n_warn = _mm256_sub_epi32(n_warn, _mm256_castps_si256(w));
        n_fail = _mm256_sub_epi32(n_fail, _mm256_castps_si256(x));
        let bits = (SPREAD[_mm256_movemask_ps(w) as usize] * WARN_BIT as u64)
            | (SPREAD[_mm256_movemask_ps(x) as usize] * FAIL_BIT as u64);
        let old = u64::from_le_bytes(cf.try_into().expect("a group of eight"));
        cf.copy_from_slice(&(old | bits).to_le_bytes());
    }
    let store = |v: __m256, out: &mut [f32; LANES]| {
        // SAFETY: writes eight f32s to an array of eight.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) }
    };
    let store_u = |v: __m256i, out: &mut [u32; LANES]| {
        // SAFETY: writes eight u32s to an array of eight.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), v) }
    };
    store(s_abs, &mut l.s_abs);
    store(s_sq, &mut l.s_sq);
    store(s_signed, &mut l.s_signed);
    store(s_a, &mut l.s_a);
    store(s_b, &mut l.s_b);
    store(m_err, &mut l.m_err);
    store(m_val, &mut l.m_val);
    store_u(n_warn, &mut l.n_warn);
    store_u(n_fail, &mut l.n_fail);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit patterns of every lane, for exact comparison (NaN included).
    fn bits(l: &Lanes) -> Vec<u32> {
        [l.s_abs, l.s_sq, l.s_signed, l.s_a, l.s_b, l.m_err, l.m_val]
            .iter()
            .flatten()
            .map(|v| v.to_bits())
            .chain(l.n_warn.iter().chain(&l.n_fail).copied())
            .collect()
    }

    #[test]
    fn avx2_and_portable_lanes_agree_bit_for_bit() {
        #[cfg(target_arch = "x86_64")]
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let special = [0.0, -0.0, 1e-7, -3.5, f32::NAN, f32::INFINITY, 1e30, 2.0];
        let mut state = 0x9e37_79b9_u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if state.is_multiple_of(17) {
                special[(state >> 8) as usize % special.len()]
            } else {
                (state as f32 / u32::MAX as f32 - 0.5) * 4.0
            }
        };
        let a: Vec<f32> = (0..203).map(|_| next()).collect();
        let b: Vec<f32> = (0..203).map(|_| next()).collect();
        let (mut fp, mut fa) = (vec![0u8; 203], vec![0u8; 203]);
        let (mut lp, mut la) = (Lanes::default(), Lanes::default());
        let np = whole_groups(&a, &b, &mut fp, (0.1, 1.0), &mut lp, false);
        let na = whole_groups(&a, &b, &mut fa, (0.1, 1.0), &mut la, true);
        assert_eq!((np, na), (200, 200));
        assert_eq!(bits(&lp), bits(&la));
        assert_eq!(fp, fa);
        assert!(fp.contains(&WARN_BIT) && fp.contains(&(WARN_BIT | FAIL_BIT)));
    }
}
