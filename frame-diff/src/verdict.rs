//! The parity verdict and the thresholds it is drawn from.
//!
//! Each check has two limits: at or above `inconclusive` the coordinator
//! should ask a third worker, at or above `mismatch` the render is wrong.
//! The verdict is the worst over all checks. The defaults were measured on
//! Blender renders of the test scene (see `tests/verdicts.rs` and the crate
//! README): honest pairs (another seed, a few more samples) against tampered
//! ones (painted 32x32 patch, +5% brightness, black frame, another job's
//! frame, a 1-sample render, one channel zeroed, the neighbouring frame).

use serde::Serialize;

/// The outcome of a parity comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Same decoded pixels, bit for bit (same pixel hash).
    Identical,
    /// Different pixels, every check within tolerance.
    WithinTolerance,
    /// Between tolerance and mismatch on some check: ask a third worker.
    Inconclusive,
    /// The renders disagree: at least one check is over its mismatch limit.
    Mismatch,
}

/// Lower limits of the inconclusive and mismatch bands of one check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Band {
    /// Values at or above this (and below `mismatch`) are inconclusive.
    pub inconclusive: f64,
    /// Values at or above this are a mismatch.
    pub mismatch: f64,
}

impl Band {
    /// The verdict a value of this check alone would give.
    pub fn judge(&self, value: f64) -> Verdict {
        if value.is_nan() || value >= self.mismatch {
            Verdict::Mismatch
        } else if value >= self.inconclusive {
            Verdict::Inconclusive
        } else {
            Verdict::WithinTolerance
        }
    }
}

/// Thresholds of the verdict, with measured defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct VerdictThresholds {
    /// Worst tile's relative bias, `|sum(b - a)| / mean(sum|a|, sum|b|)` in
    /// one channel. Noise averages out of it; a changed region does not.
    /// Default: inconclusive 0.02, mismatch 0.04.
    pub tile_bias: Band,
    /// Per-pixel level below which a tile counts as dark when dividing by its
    /// level (keeps noise in black tiles from looking like bias). Default 0.02.
    pub bias_floor: f64,
    /// Mean HDR-FLIP over the frame. Default: inconclusive 0.10, mismatch 0.15.
    pub flip_mean: Band,
    /// Worst tile's mean HDR-FLIP. Default: inconclusive 0.20, mismatch 0.30.
    pub tile_flip_mean: Band,
    /// Ratio of the two images' noise levels (larger over smaller); about 1
    /// for honest renders with the same sample count, about 2 for 4x fewer
    /// samples. Default: inconclusive 1.25, mismatch 1.6.
    pub noise_ratio: Band,
}

impl Default for VerdictThresholds {
    fn default() -> Self {
        Self {
            tile_bias: Band {
                inconclusive: 0.02,
                mismatch: 0.04,
            },
            bias_floor: 0.02,
            flip_mean: Band {
                inconclusive: 0.10,
                mismatch: 0.15,
            },
            tile_flip_mean: Band {
                inconclusive: 0.20,
                mismatch: 0.30,
            },
            noise_ratio: Band {
                inconclusive: 1.25,
                mismatch: 1.6,
            },
        }
    }
}

/// What a reason is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The images differ in size.
    Size,
    /// A channel is present in only one image, or no channel is shared.
    Channels,
    /// NaN or infinity in one image where the other has something else.
    NonFinite,
    /// A tile's relative bias.
    TileBias,
    /// Mean HDR-FLIP over the frame.
    FlipMean,
    /// A tile's mean HDR-FLIP.
    TileFlipMean,
    /// Noise level ratio (sample count).
    NoiseRatio,
}

/// Why the verdict is not `identical` or `within_tolerance`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// The check.
    pub check: Check,
    /// `inconclusive` or `mismatch`.
    pub severity: Verdict,
    /// The measured value (0 where the check has none).
    pub value: f64,
    /// The limit it reached.
    pub limit: f64,
    /// Top-left corner of the tile, for tile checks.
    pub tile: Option<(u32, u32)>,
    /// One line for humans.
    pub message: String,
}

/// Judges `value` against `band`; returns a reason when it is not within tolerance.
pub(crate) fn judge(
    check: Check,
    band: &Band,
    value: f64,
    tile: Option<(u32, u32)>,
    what: &str,
) -> Option<Reason> {
    let severity = band.judge(value);
    let limit = match severity {
        Verdict::Mismatch => band.mismatch,
        Verdict::Inconclusive => band.inconclusive,
        _ => return None,
    };
    let place = tile.map_or(String::new(), |(x, y)| {
        format!(" in the tile at ({x}, {y})")
    });
    Some(Reason {
        check,
        severity,
        value,
        limit,
        tile,
        message: format!("{what} {value:.4}{place} is at or above the {severity:?} limit {limit}"),
    })
}
