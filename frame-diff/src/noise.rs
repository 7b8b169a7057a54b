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

use rayon::prelude::*;

/// Mean absolute Laplacian of the compressed planes, averaged over planes.
pub(crate) fn level(planes: &[&[f32]], width: usize, height: usize) -> f64 {
    if width < 3 || height < 3 || planes.is_empty() {
        return 0.0;
    }
    let compress = |v: f32| if v.is_finite() { v / (1.0 + v.abs()) } else { 0.0 };
    let total: f64 = planes
        .iter()
        .map(|p| {
            (1..height - 1)
                .into_par_iter()
                .map(|y| {
                    let (up, row, down) = (&p[(y - 1) * width..], &p[y * width..], &p[(y + 1) * width..]);
                    let mut sum = 0f32;
                    for x in 1..width - 1 {
                        let lap = 4.0 * compress(row[x])
                            - compress(row[x - 1])
                            - compress(row[x + 1])
                            - compress(up[x])
                            - compress(down[x]);
                        sum += lap.abs();
                    }
                    sum as f64 / 4.0
                })
                .sum::<f64>()
        })
        .sum();
    total / (planes.len() * (width - 2) * (height - 2)) as f64
}
