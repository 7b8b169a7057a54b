//! A benchmark's reference: the sequence a studio rendered on its own farm
//! and uploads frame by frame, with the figures it states for it. Those
//! figures are the studio's word, stored and shown as such, never taken as
//! observed; the frames are the baseline every run is compared with.

use serde::{Deserialize, Serialize};

use crate::money::Money;

/// The figures a studio states for its own farm's run of the frames.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatedFigures {
    /// Render seconds per frame, as the studio states them.
    pub seconds_per_frame: Option<f64>,
    /// Cost per frame in the farm's currency, as the studio states it.
    pub cost_per_frame_micros: Option<Money>,
    /// Time to complete the sequence, seconds, as the studio states it.
    pub time_to_complete_secs: Option<f64>,
}

/// A benchmark's reference: its name and the studio's stated figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// What the studio calls it ("our farm").
    pub name: String,
    /// The figures stated by the studio, not observed by the coordinator.
    pub stated_by_studio: StatedFigures,
}

/// A reference frame as uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceCopy {
    /// Where its EXR is in the store.
    pub object_key: String,
    /// Its pixel hash (blake3 hex of `FrameImage::pixel_hash`).
    pub pixel_hash: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// When it was uploaded, ms since the epoch.
    pub uploaded_ms: i64,
}

/// One frame of the reference in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceFrame {
    /// Whether the studio uploaded it.
    pub uploaded: bool,
    /// Its pixel hash, once uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixel_hash: Option<String>,
    /// Its size in bytes, once uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// When it was uploaded, once it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded_ms: Option<i64>,
}

impl ReferenceFrame {
    /// The report's entry for a frame whose upload is `copy`, if any.
    pub fn of(copy: Option<&ReferenceCopy>) -> Self {
        Self {
            uploaded: copy.is_some(),
            pixel_hash: copy.map(|c| c.pixel_hash.clone()),
            bytes: copy.map(|c| c.bytes),
            uploaded_ms: copy.map(|c| c.uploaded_ms),
        }
    }
}

/// The reference in the report: the studio's statement and which frames
/// it uploaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceReport {
    /// Its name.
    pub name: String,
    /// The figures stated by the studio, not observed by the coordinator.
    pub stated_by_studio: StatedFigures,
    /// Frames of the benchmark uploaded.
    pub frames_uploaded: u64,
    /// Frames of the benchmark not uploaded yet.
    pub frames_missing: Vec<i32>,
}

/// The store key of a benchmark's reference frame.
pub fn reference_key(id: super::BenchmarkId, frame: i32) -> String {
    format!("benchmarks/{id}/reference/{frame}.exr")
}

/// Why a frame's comparison with the reference is still to come when the
/// reference frame is missing.
pub const REFERENCE_NOT_UPLOADED: &str = "reference frame not uploaded";
