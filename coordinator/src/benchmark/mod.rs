//! Benchmarks: one request renders the same frames on one or more node
//! classes, one job per class, and a side-by-side report compares the runs:
//! time to complete (the job created to its last accepted frame delivered,
//! as the coordinator observed it), cost per frame (from each job's cost
//! report, so it matches the bill), and the visual parity of every frame
//! against the baseline through `frame-diff`: verdict, mean and max FLIP,
//! the worst tiles. The baseline is the studio's reference sequence when
//! the benchmark has one ([`reference`]: frames uploaded from its own farm,
//! with the figures it states), else the first run.
//!
//! The comparisons are made in the background ([`diffs`]), when a run's
//! job ends and at every watchdog round for frames still missing one; each
//! is stored with the pixel hashes of the two copies it compared, so a
//! frame whose accepted copy changed (re-verification) is compared again.
//! The report ([`report`]) says which frames are still pending.

mod csv;
mod diffs;
pub mod reference;
pub mod report;

use std::fmt;
use std::str::FromStr;

use frame_diff::Comparison;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::state::VerdictKind;

pub use diffs::diff_images;
pub use reference::{
    REFERENCE_NOT_UPLOADED, Reference, ReferenceCopy, ReferenceFrame, ReferenceReport,
    StatedFigures, reference_key,
};
pub use report::{
    BenchmarkFacts, BenchmarkReport, BenchmarkSummary, FrameRow, ParityCell, ParityStatus,
    ParityTotals, RunFacts, RunFrame, RunReport, StoredDiff, assemble,
};

/// Most worst tiles kept per comparison.
pub const WORST_TILES: usize = 3;

/// Identifies one benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BenchmarkId(pub Uuid);

impl BenchmarkId {
    /// A new, time-ordered identifier (UUID v7).
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for BenchmarkId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for BenchmarkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for BenchmarkId {
    type Err = uuid::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(text).map(Self)
    }
}

/// One of a comparison's worst tiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorstTile {
    /// Left edge, pixels.
    pub x: u32,
    /// Top edge, pixels.
    pub y: u32,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Mean absolute error over the tile's values.
    pub mean_error: f64,
    /// Largest absolute error in the tile.
    pub max_error: f64,
    /// Mean HDR-FLIP over the tile, when FLIP was computed.
    pub flip_mean: Option<f64>,
}

/// The numbers of one comparison of a run's copy of a frame with the
/// baseline's.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DiffNumbers {
    /// Why it is not identical or within tolerance, one line each.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Mean HDR-FLIP over the frame (0 for identical pixels).
    pub mean_flip: Option<f64>,
    /// Largest HDR-FLIP of any pixel.
    pub max_flip: Option<f64>,
    /// Mean HDR-FLIP of the worst tile.
    pub worst_tile_flip: Option<f64>,
    /// The worst tiles, worst first (by FLIP, else by mean error); none
    /// for identical pixels.
    #[serde(default)]
    pub worst_tiles: Vec<WorstTile>,
    /// Mean absolute error over every value.
    pub mean_error: Option<f64>,
    /// Largest absolute error.
    pub max_error: Option<f64>,
    /// PSNR in dB (absent for identical pixels).
    pub psnr: Option<f64>,
}

/// A comparison: its verdict and numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    /// The verdict.
    pub verdict: VerdictKind,
    /// The numbers.
    pub numbers: DiffNumbers,
}

/// `value` when it is a number (not NaN or infinite).
fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

impl Diff {
    /// A copy that cannot be compared (missing, unreadable): a mismatch
    /// saying why.
    pub fn unreadable(why: String) -> Self {
        Self {
            verdict: VerdictKind::Mismatch,
            numbers: DiffNumbers {
                reasons: vec![why],
                ..DiffNumbers::default()
            },
        }
    }

    /// The summary of a `frame-diff` comparison, with its per-pixel FLIP
    /// map when FLIP was computed.
    pub fn from_comparison(comparison: &Comparison, flip_map: Option<&[f32]>) -> Self {
        let verdict: VerdictKind = comparison.verdict.into();
        let overall = comparison.overall.as_ref();
        let identical = verdict == VerdictKind::Identical;
        let zero_when_identical = |value: Option<f64>| if identical { Some(0.0) } else { value };
        let flip = comparison.flip.as_ref();
        let mut tiles: Vec<_> = comparison
            .tiles
            .iter()
            .filter(|t| t.mean_error > 0.0 || t.flip_mean.is_some_and(|f| f > 0.0))
            .collect();
        tiles.sort_by(|a, b| {
            let key = |t: &frame_diff::TileStats| (t.flip_mean.unwrap_or(0.0), t.mean_error);
            key(b)
                .partial_cmp(&key(a))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Self {
            verdict,
            numbers: DiffNumbers {
                reasons: comparison
                    .reasons
                    .iter()
                    .map(|r| r.message.clone())
                    .collect(),
                mean_flip: zero_when_identical(flip.and_then(|f| finite(f.mean))),
                max_flip: zero_when_identical(
                    flip_map
                        .and_then(|map| {
                            map.iter()
                                .copied()
                                .filter(|v| v.is_finite())
                                .reduce(f32::max)
                        })
                        .map(f64::from),
                ),
                worst_tile_flip: zero_when_identical(flip.and_then(|f| finite(f.worst_tile_mean))),
                worst_tiles: tiles
                    .into_iter()
                    .take(WORST_TILES)
                    .map(|t| WorstTile {
                        x: t.x,
                        y: t.y,
                        width: t.width,
                        height: t.height,
                        mean_error: t.mean_error,
                        max_error: t.max_error,
                        flip_mean: t.flip_mean.and_then(finite),
                    })
                    .collect(),
                mean_error: overall.and_then(|o| finite(o.mean_error)),
                max_error: overall.and_then(|o| finite(o.max_error)),
                psnr: overall.and_then(|o| finite(o.psnr)),
            },
        }
    }
}
