//! Per-tile statistics: the frame cut into square tiles, each judged on its
//! own, so a small wrong patch cannot hide inside a good global mean.

use serde::Serialize;

use crate::metrics::{Acc, TileAcc};

/// Statistics of one tile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TileStats {
    /// Left edge in pixels.
    pub x: u32,
    /// Top edge in pixels.
    pub y: u32,
    /// Width in pixels (smaller than the tile size at the right edge).
    pub width: u32,
    /// Height in pixels (smaller than the tile size at the bottom edge).
    pub height: u32,
    /// Mean absolute error over the tile's values.
    pub mean_error: f64,
    /// RMS error over the tile's values.
    pub rms_error: f64,
    /// Largest absolute error in the tile.
    pub max_error: f64,
    /// Pixels over the idiff warn threshold.
    pub warn_pixels: u64,
    /// Pixels over the idiff fail threshold.
    pub fail_pixels: u64,
    /// Largest relative bias over the channels: `|sum(b - a)|` divided by the
    /// mean of `sum|a|` and `sum|b|` (at least `bias_floor` per pixel).
    /// Noise averages out of it; a brightness change, a painted patch or a
    /// missing object does not.
    pub bias: f64,
    /// The channel with that bias.
    pub bias_channel: String,
    /// Mean HDR-FLIP error over the tile, when FLIP was computed.
    pub flip_mean: Option<f64>,
    /// Values where a NaN or infinity in one image faces something else in the other.
    pub nonfinite_mismatches: u64,
}

/// Builds [`TileStats`] from the pass's sums.
pub(crate) fn tile_stats(
    tiles: &[TileAcc],
    names: &[String],
    tile_size: u32,
    width: u32,
    height: u32,
    bias_floor: f64,
) -> Vec<TileStats> {
    tiles
        .iter()
        .map(|t| {
            let x = t.tx * tile_size;
            let y = t.ty * tile_size;
            let w = tile_size.min(width - x);
            let h = tile_size.min(height - y);
            let pixels = (w as u64 * h as u64).max(1) as f64;
            let mut total = Acc::default();
            let mut bias = 0.0;
            let mut bias_channel = String::new();
            for (acc, name) in t.channels.iter().zip(names) {
                total.merge(acc);
                let level = ((acc.sum_a + acc.sum_b) / 2.0).max(bias_floor * pixels);
                let b = acc.sum_signed.abs() / level;
                if b > bias || bias_channel.is_empty() {
                    bias = b;
                    bias_channel = name.clone();
                }
            }
            let values = pixels * t.channels.len().max(1) as f64;
            TileStats {
                x,
                y,
                width: w,
                height: h,
                mean_error: total.sum_abs / values,
                rms_error: (total.sum_sq / values).sqrt(),
                max_error: total.max_err as f64,
                warn_pixels: t.warn_pixels,
                fail_pixels: t.fail_pixels,
                bias,
                bias_channel,
                flip_mean: None,
                nonfinite_mismatches: total.nonfinite_mismatches,
            }
        })
        .collect()
}

/// Adds the per-tile means of a per-pixel FLIP error map to `tiles`.
pub(crate) fn add_flip_means(tiles: &mut [TileStats], map: &[f32], width: u32) {
    for tile in tiles.iter_mut() {
        let mut sum = 0f64;
        for y in tile.y..tile.y + tile.height {
            let row = (y * width + tile.x) as usize;
            sum += map[row..row + tile.width as usize]
                .iter()
                .map(|&v| v as f64)
                .sum::<f64>();
        }
        tile.flip_mean = Some(sum / (tile.width as f64 * tile.height as f64).max(1.0));
    }
}
