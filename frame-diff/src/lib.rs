//! Compare two renders of the same frame.
//!
//! `frame-diff` is the render farm's parity checker: it decides whether two
//! workers' renders of one frame agree. It decodes both files
//! ([`read_image`]), hashes the decoded pixels ([`FrameImage::pixel_hash`]),
//! and, when they differ, computes what OpenImageIO's `idiff` reports.

mod error;
pub mod hash;
mod image;
mod read;

pub use crate::error::FrameDiffError;
pub use crate::image::{Channel, FrameImage};
pub use crate::read::{read_image, read_image_bytes};
