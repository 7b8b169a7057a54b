//! The `--diff-image` heat map: per-pixel error through the magma colour
//! map that FLIP uses for its error images.

use std::path::Path;

use rayon::prelude::*;

use crate::error::FrameDiffError;
use crate::image::FrameImage;

/// Pixels per parallel work item.
const CHUNK: usize = 1 << 14;

/// Polynomial fit of matplotlib's magma colour map (CC0 fit by Matt Zucker),
/// coefficients of t^0..t^6 for red, green and blue.
const MAGMA: [[f32; 3]; 7] = [
    [-0.002_136_485, -0.000_749_655, -0.005_386_128],
    [0.251_660_54, 0.677_523_24, 2.494_026_6],
    [8.353_717, -3.577_719_5, 0.314_467_9],
    [-27.668_733, 14.264_731, -13.649_213],
    [52.176_14, -27.943_607, 12.944_169],
    [-50.768_524, 29.046_583, 4.234_153],
    [18.655_705, -11.489_774, -5.601_961_5],
];

/// The magma colour of `t` in [0, 1] (clamped), as 8-bit sRGB.
pub fn magma(t: f32) -> [u8; 3] {
    let t = if t.is_nan() { 1.0 } else { t.clamp(0.0, 1.0) };
    std::array::from_fn(|c| {
        let v = MAGMA.iter().rev().fold(0.0, |acc, k| acc * t + k[c]);
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    })
}

/// Per-pixel largest absolute error over `channels` (present in both
/// images), clamped to [0, 1]: the heat map's input when FLIP is not available.
pub fn abs_error_map(a: &FrameImage, b: &FrameImage, channels: &[String]) -> Vec<f32> {
    let mut map = vec![0f32; a.pixel_count()];
    for name in channels {
        let (Some(ca), Some(cb)) = (a.channel(name), b.channel(name)) else {
            continue;
        };
        map.par_chunks_mut(CHUNK)
            .zip(ca.samples.par_chunks(CHUNK))
            .zip(cb.samples.par_chunks(CHUNK))
            .for_each(|((map, xs), ys)| {
                for ((m, &x), &y) in map.iter_mut().zip(xs).zip(ys) {
                    let d = (x - y).abs();
                    *m = m.max(if d.is_nan() { 1.0 } else { d.min(1.0) });
                }
            });
    }
    map
}

/// `values` (in [0, 1]) through the magma colour map: 8-bit RGB, three
/// bytes a value. Zero (no error, most of an honest pair) is looked up once.
pub fn magma_pixels(values: &[f32]) -> Vec<u8> {
    let zero = magma(0.0);
    let mut pixels = vec![0u8; values.len() * 3];
    pixels
        .par_chunks_mut(CHUNK * 3)
        .zip(values.par_chunks(CHUNK))
        .for_each(|(pixels, values)| {
            for (rgb, &v) in pixels.chunks_exact_mut(3).zip(values) {
                rgb.copy_from_slice(&if v == 0.0 { zero } else { magma(v) });
            }
        });
    pixels
}

/// Writes `values` (row-major, in [0, 1]) as a magma-coloured PNG.
pub fn write_png(
    path: &Path,
    values: &[f32],
    width: u32,
    height: u32,
) -> Result<(), FrameDiffError> {
    image::RgbImage::from_raw(width, height, magma_pixels(values))
        .ok_or_else(|| FrameDiffError::Write {
            path: path.to_path_buf(),
            detail: "error map has the wrong size".into(),
        })?
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| FrameDiffError::Write {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::magma;

    #[test]
    fn follows_the_magma_table() {
        // Entries 0, 128 and 255 of matplotlib's 256-entry magma table.
        let table = [
            (0.0, [0.001462, 0.000466, 0.013866]),
            (128.0 / 255.0, [0.716387, 0.214982, 0.475290]),
            (1.0, [0.987053, 0.991438, 0.749504]),
        ];
        for (t, rgb) in table {
            let got = magma(t);
            for c in 0..3 {
                let want = (rgb[c] * 255.0f32).round();
                assert!(
                    (got[c] as f32 - want).abs() <= 6.0,
                    "t={t} c={c}: {got:?} vs {rgb:?}"
                );
            }
        }
    }
}
