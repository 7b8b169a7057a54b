//! Noise level of one image, to catch a low-sample render substituted for
//! a high-sample one.
//!
//! Two honest renders of a frame carry the same amount of Monte Carlo noise
//! even when the noise itself differs, whatever the scene; a render made
//! with a fraction of the samples carries visibly more. The estimate is
//! the mean absolute discrete Laplacian `|4p - left - right - up - down| / 4`
//! of the colour channels after the compression `v / (1 + |v|)`, which
//! keeps fireflies from dominating. Edges add the same amount to both
//! images, so the ratio of the two estimates compares their noise.
//!
//! The sums are taken inside the metric pass (`metrics`), band by band,
//! while the band's rows are still in cache.

/// Noise level from the sum of [`rows_sum`] over the interior rows of
/// `planes` planes of `width` x `height`: the mean absolute Laplacian.
pub(crate) fn level(total: f64, planes: usize, width: usize, height: usize) -> f64 {
    if width < 3 || height < 3 || planes == 0 {
        return 0.0;
    }
    total / (4 * planes * (width - 2) * (height - 2)) as f64
}

/// Sum of `|4p - neighbours|` over the interior pixels of rows `y0..y1`
/// (`1 <= y0`, `y1 < height`, `width >= 3`); each value is compressed once,
/// into a rolling window of three rows. Inlined into the metric pass, so it
/// is compiled for AVX2 with it.
#[inline(always)]
pub(crate) fn rows_sum(plane: &[f32], width: usize, y0: usize, y1: usize) -> f64 {
    let compress = |y: usize, out: &mut [f32]| {
        for (o, &v) in out.iter_mut().zip(&plane[y * width..(y + 1) * width]) {
            *o = if v.is_finite() {
                v / (1.0 + v.abs())
            } else {
                0.0
            };
        }
    };
    let (mut up, mut mid, mut down) = (vec![0f32; width], vec![0f32; width], vec![0f32; width]);
    compress(y0 - 1, &mut up);
    compress(y0, &mut mid);
    let mut total = 0f64;
    for y in y0..y1 {
        compress(y + 1, &mut down);
        total += row_sum(&up, &mid, &down) as f64;
        std::mem::swap(&mut up, &mut mid);
        std::mem::swap(&mut mid, &mut down);
    }
    total
}

/// Sum over the interior of one row, in eight lanes so it vectorises.
#[inline(always)]
fn row_sum(up: &[f32], mid: &[f32], down: &[f32]) -> f32 {
    const LANES: usize = 8;
    let n = mid.len() - 2;
    let (left, centre, right, up, down) = (
        &mid[..n],
        &mid[1..n + 1],
        &mid[2..],
        &up[1..n + 1],
        &down[1..n + 1],
    );
    let mut lanes = [0f32; LANES];
    let whole = n / LANES * LANES;
    for i in (0..whole).step_by(LANES) {
        // Fixed-length slices: no bounds checks in the lane loop.
        let lane_slice = |s: &[f32]| -> [f32; LANES] {
            let mut out = [0f32; LANES];
            out.copy_from_slice(&s[i..i + LANES]);
            out
        };
        let (c, l, r) = (lane_slice(centre), lane_slice(left), lane_slice(right));
        let (u, d) = (lane_slice(up), lane_slice(down));
        for k in 0..LANES {
            lanes[k] += (4.0 * c[k] - l[k] - r[k] - u[k] - d[k]).abs();
        }
    }
    let mut sum: f32 = lanes.iter().sum();
    for j in whole..n {
        sum += (4.0 * centre[j] - left[j] - right[j] - up[j] - down[j]).abs();
    }
    sum
}
