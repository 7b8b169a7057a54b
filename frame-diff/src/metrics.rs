//! One pass over both images: idiff's numbers per channel and overall, the
//! raw per-tile sums the tile statistics are built from, and the sums of
//! the noise estimate (`noise`).
//!
//! The frame is cut into bands one tile high; bands run in parallel
//! (rayon), and inside a band every channel plane is read once, row by row,
//! straight from the decoded `Vec<f32>`s (no copies, no interleaving).
//! Sums are kept in `f64` in eight independent lanes so the compiler can
//! vectorise them. Where a row segment holds a NaN or infinity it is
//! re-done value by value with `idiff`'s rules for non-finite values.

use rayon::prelude::*;

use crate::lanes::{FAIL_BIT, LANES, Lanes, WARN_BIT, whole_groups};
use crate::noise;

/// Running sums for one channel over one tile (or any region).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Acc {
    /// Sum of `|b - a|` over finite pairs.
    pub sum_abs: f64,
    /// Sum of `(b - a)^2` over finite pairs.
    pub sum_sq: f64,
    /// Sum of `b - a` over finite pairs (the bias).
    pub sum_signed: f64,
    /// Sum of `|a|` over finite pairs.
    pub sum_a: f64,
    /// Sum of `|b|` over finite pairs.
    pub sum_b: f64,
    /// Largest `|b - a|` (infinite when a non-finite value differs).
    pub max_err: f32,
    /// Pixel index (row-major) of the first largest error.
    pub max_idx: usize,
    /// Largest `max(|a|, |b|)`, for PSNR.
    pub max_val: f32,
    /// Number of values over the warn threshold.
    pub warn: u64,
    /// Number of values over the fail threshold.
    pub fail: u64,
    /// Pairs where one value is NaN or infinite and the other is not the same kind.
    pub nonfinite_mismatches: u64,
    /// NaN or infinite values in the first image.
    pub nonfinite_a: u64,
    /// NaN or infinite values in the second image.
    pub nonfinite_b: u64,
}

impl Acc {
    /// Adds `other`, which covers pixels after (or disjoint from) this one.
    pub fn merge(&mut self, other: &Acc) {
        self.sum_abs += other.sum_abs;
        self.sum_sq += other.sum_sq;
        self.sum_signed += other.sum_signed;
        self.sum_a += other.sum_a;
        self.sum_b += other.sum_b;
        if other.max_err > self.max_err
            || (other.max_err == self.max_err
                && other.max_idx < self.max_idx
                && other.max_err > 0.0)
        {
            self.max_err = other.max_err;
            self.max_idx = other.max_idx;
        }
        self.max_val = self.max_val.max(other.max_val);
        self.warn += other.warn;
        self.fail += other.fail;
        self.nonfinite_mismatches += other.nonfinite_mismatches;
        self.nonfinite_a += other.nonfinite_a;
        self.nonfinite_b += other.nonfinite_b;
    }
}

/// Per-tile results of the pass: one [`Acc`] per channel, plus the number
/// of pixels where any channel is over the warn / fail thresholds.
#[derive(Debug, Clone)]
pub(crate) struct TileAcc {
    /// Tile column.
    pub tx: u32,
    /// Tile row.
    pub ty: u32,
    /// One accumulator per compared channel, in comparison order.
    pub channels: Vec<Acc>,
    /// Pixels with at least one channel over the warn threshold.
    pub warn_pixels: u64,
    /// Pixels with at least one channel over the fail threshold.
    pub fail_pixels: u64,
}

/// Geometry and thresholds of one pass.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pass {
    pub width: usize,
    pub height: usize,
    pub tile: usize,
    pub warn: f32,
    pub fail: f32,
}

/// What one band of the pass yields: its tiles, left to right, and the
/// noise sums ([`noise::rows_sum`]) of the noisy channels of `a` and `b`
/// over the band's interior rows.
type BandOut = (Vec<TileAcc>, [f64; 2]);

/// Runs the pass over channel pairs `(a, b)`; returns the tiles in row-major
/// tile order and the noise sums of `a` and `b` over the pairs listed in
/// `noisy` (indices into `pairs`), summed in band order.
pub(crate) fn accumulate(
    pass: Pass,
    pairs: &[(&[f32], &[f32])],
    noisy: &[usize],
) -> (Vec<TileAcc>, [f64; 2]) {
    let tiles_x = pass.width.div_ceil(pass.tile);
    let tiles_y = pass.height.div_ceil(pass.tile);
    let bands: Vec<BandOut> = (0..tiles_y)
        .into_par_iter()
        .map(|ty| band_dispatch(pass, pairs, noisy, ty, tiles_x))
        .collect();
    let mut noise = [0f64; 2];
    let mut tiles = Vec::with_capacity(tiles_x * tiles_y);
    for (band_tiles, band_noise) in bands {
        tiles.extend(band_tiles);
        noise[0] += band_noise[0];
        noise[1] += band_noise[1];
    }
    (tiles, noise)
}

/// Runs [`band`] compiled for AVX2 when the CPU has it; the results are
/// the same either way (no fused multiply-adds are introduced).
fn band_dispatch(
    pass: Pass,
    pairs: &[(&[f32], &[f32])],
    noisy: &[usize],
    ty: usize,
    tiles_x: usize,
) -> BandOut {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { band_avx2(pass, pairs, noisy, ty, tiles_x) };
    }
    band(pass, pairs, noisy, ty, tiles_x, false)
}

/// [`band`] compiled with AVX2 enabled.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn band_avx2(
    pass: Pass,
    pairs: &[(&[f32], &[f32])],
    noisy: &[usize],
    ty: usize,
    tiles_x: usize,
) -> BandOut {
    band(pass, pairs, noisy, ty, tiles_x, true)
}

/// One band of tiles (tile row `ty`): every channel, row by row, tile by
/// tile; then the warn/fail pixel counts; the noise sums of a noisy
/// channel are taken right after its metrics, while its rows are in cache.
/// `use_avx2`: the CPU has AVX2 (see [`whole_groups`]).
#[inline(always)]
fn band(
    pass: Pass,
    pairs: &[(&[f32], &[f32])],
    noisy: &[usize],
    ty: usize,
    tiles_x: usize,
    use_avx2: bool,
) -> BandOut {
    let y0 = ty * pass.tile;
    let y1 = (y0 + pass.tile).min(pass.height);
    let mut flags = vec![0u8; (y1 - y0) * pass.width];
    let mut tiles: Vec<TileAcc> = (0..tiles_x)
        .map(|tx| TileAcc {
            tx: tx as u32,
            ty: ty as u32,
            channels: vec![Acc::default(); pairs.len()],
            warn_pixels: 0,
            fail_pixels: 0,
        })
        .collect();
    let mut noise = [0f64; 2];
    for (c, (a, b)) in pairs.iter().enumerate() {
        for y in y0..y1 {
            let row = y * pass.width;
            let flag_row = (y - y0) * pass.width;
            for (tx, tile) in tiles.iter_mut().enumerate() {
                let x0 = tx * pass.tile;
                let x1 = (x0 + pass.tile).min(pass.width);
                segment(
                    (
                        &a[row + x0..row + x1],
                        &b[row + x0..row + x1],
                        &mut flags[flag_row + x0..flag_row + x1],
                    ),
                    row + x0,
                    pass,
                    &mut tile.channels[c],
                    use_avx2,
                );
            }
        }
        // Interior rows only: the top and bottom rows and the first and
        // last columns have no Laplacian.
        let (lo, hi) = (y0.max(1), y1.min(pass.height - 1));
        if noisy.contains(&c) && pass.width >= 3 && lo < hi {
            noise[0] += noise::rows_sum(a, pass.width, lo, hi);
            noise[1] += noise::rows_sum(b, pass.width, lo, hi);
        }
    }
    for y in 0..y1 - y0 {
        for (tx, tile) in tiles.iter_mut().enumerate() {
            let x0 = tx * pass.tile;
            let x1 = (x0 + pass.tile).min(pass.width);
            let row = &flags[y * pass.width + x0..y * pass.width + x1];
            tile.warn_pixels += row.iter().filter(|&&f| f & WARN_BIT != 0).count() as u64;
            tile.fail_pixels += row.iter().filter(|&&f| f & FAIL_BIT != 0).count() as u64;
        }
    }
    (tiles, noise)
}

/// Accumulates one row segment; `base` is the pixel index of its first value.
///
/// Inside a segment (at most one tile wide) sums run in eight `f32` lanes;
/// the lane totals go into the `f64` accumulators. Over 64 values that keeps
/// the relative rounding error near 1e-6, far below the 1e-4 agreement with
/// `idiff`, and lets the loop run at full SIMD width.
#[inline(always)]
fn segment(
    (a, b, flags): (&[f32], &[f32], &mut [u8]),
    base: usize,
    pass: Pass,
    acc: &mut Acc,
    use_avx2: bool,
) {
    let n = a.len().min(b.len()).min(flags.len());
    let (a, b, flags) = (&a[..n], &b[..n], &mut flags[..n]);
    let mut l = Lanes::default();
    let chunks = whole_groups(a, b, flags, (pass.warn, pass.fail), &mut l, use_avx2);
    let Lanes {
        mut s_abs,
        mut s_sq,
        mut s_signed,
        mut s_a,
        mut s_b,
        mut m_err,
        mut m_val,
        mut n_warn,
        mut n_fail,
    } = l;
    for j in chunks..n {
        let i = j - chunks;
        let d = b[j] - a[j];
        let f = d.abs();
        s_abs[i] += f;
        s_sq[i] += f * f;
        s_signed[i] += d;
        s_a[i] += a[j].abs();
        s_b[i] += b[j].abs();
        m_err[i] = m_err[i].max(f);
        m_val[i] = m_val[i].max(a[j].abs().max(b[j].abs()));
        let w = (f > pass.warn) as u8;
        let x = (f > pass.fail) as u8;
        n_warn[i] += w as u32;
        n_fail[i] += x as u32;
        flags[j] |= (w * WARN_BIT) | (x * FAIL_BIT);
    }
    let lanes = |v: &[f32; LANES]| v.iter().map(|&x| x as f64).sum::<f64>();
    let (sum_abs, sum_a, sum_b) = (lanes(&s_abs), lanes(&s_a), lanes(&s_b));
    let (sum_sq, sum_signed) = (lanes(&s_sq), lanes(&s_signed));
    if !(sum_abs + sum_a + sum_b + sum_sq).is_finite() {
        careful_segment(a, b, flags, base, pass, acc);
        return;
    }
    acc.sum_abs += sum_abs;
    acc.sum_sq += sum_sq;
    acc.sum_signed += sum_signed;
    acc.sum_a += sum_a;
    acc.sum_b += sum_b;
    acc.warn += n_warn.iter().map(|&n| n as u64).sum::<u64>();
    acc.fail += n_fail.iter().map(|&n| n as u64).sum::<u64>();
    acc.max_val = m_val.iter().fold(acc.max_val, |m, &v| m.max(v));
    let seg_max = m_err.iter().fold(0f32, |m, &v| m.max(v));
    if seg_max > acc.max_err {
        let first = a
            .iter()
            .zip(b)
            .position(|(av, bv)| (bv - av).abs() == seg_max);
        acc.max_err = seg_max;
        acc.max_idx = base + first.unwrap_or(0);
    }
}

/// Value-by-value version of [`segment`] for segments holding NaN or
/// infinity: a NaN facing a NaN, or an infinity facing an infinity, counts
/// as equal (as in `idiff`); any other non-finite pair is a mismatch with an
/// infinite error and is left out of the sums.
fn careful_segment(a: &[f32], b: &[f32], flags: &mut [u8], base: usize, pass: Pass, acc: &mut Acc) {
    for (i, ((&av, &bv), flag)) in a.iter().zip(b).zip(flags.iter_mut()).enumerate() {
        if !av.is_finite() || !bv.is_finite() {
            acc.nonfinite_a += !av.is_finite() as u64;
            acc.nonfinite_b += !bv.is_finite() as u64;
            if av.is_nan() == bv.is_nan() && av.is_infinite() == bv.is_infinite() {
                continue;
            }
            acc.nonfinite_mismatches += 1;
            if acc.max_err != f32::INFINITY {
                acc.max_err = f32::INFINITY;
                acc.max_idx = base + i;
            }
            acc.warn += 1;
            acc.fail += 1;
            *flag |= WARN_BIT | FAIL_BIT;
            continue;
        }
        let d = bv - av;
        let f = d.abs();
        acc.sum_abs += f as f64;
        acc.sum_sq += (f as f64) * (f as f64);
        acc.sum_signed += d as f64;
        acc.sum_a += av.abs() as f64;
        acc.sum_b += bv.abs() as f64;
        acc.max_val = acc.max_val.max(av.abs().max(bv.abs()));
        if f > acc.max_err {
            acc.max_err = f;
            acc.max_idx = base + i;
        }
        let w = (f > pass.warn) as u8;
        let x = (f > pass.fail) as u8;
        acc.warn += w as u64;
        acc.fail += x as u64;
        *flag |= (w * WARN_BIT) | (x * FAIL_BIT);
    }
}
