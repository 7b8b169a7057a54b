//! Compare two renders of the same frame.
//!
//! `frame-diff` is the render farm's parity checker: it decides whether two
//! workers' renders of one frame agree, and it is also a stand-alone
//! `idiff`-like CLI. [`read_image`] decodes EXR (every layer and channel),
//! PNG, TIFF or JPEG into `f32` planes; [`compare`] hashes both images
//! ([`FrameImage::pixel_hash`]: equal hashes end the comparison as
//! `identical`), then in one parallel pass computes `idiff`'s numbers per
//! channel and overall and per-tile statistics, computes HDR-FLIP and a
//! noise estimate, and draws a [`Verdict`] with its reasons. [`preview`]
//! tone-maps frames into PNG previews and draws the heat map of two copies.

pub mod colour;
mod compare;
mod error;
mod exr_blocks;
pub mod flip;
pub mod hash;
pub mod heatmap;
mod idiff;
mod image;
mod lanes;
mod metrics;
mod noise;
pub mod preview;
mod read;
pub mod report;
mod tiles;
mod verdict;

pub use crate::compare::{
    ChannelStats, CompareConfig, Comparison, FlipSummary, NoiseStats, compare, compare_with,
};
pub use crate::error::FrameDiffError;
pub use crate::idiff::{ErrorStats, IdiffStatus, IdiffThresholds, MaxErrorAt};
pub use crate::image::{Channel, FrameImage};
pub use crate::read::{read_image, read_image_bytes};
pub use crate::tiles::TileStats;
pub use crate::verdict::{Band, Check, Reason, Verdict, VerdictThresholds};
