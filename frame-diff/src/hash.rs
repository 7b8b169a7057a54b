//! Exact comparison: a blake3 hash of the decoded pixels.
//!
//! # Canonical byte layout (version 1)
//!
//! The hash is blake3 over this byte string, all integers little-endian:
//!
//! ```text
//! b"frame-diff pixel hash v1\0"
//! width: u32, height: u32, channel count: u32
//! for each channel, in FrameImage order (sorted by full name, bytewise):
//!     name length in bytes: u32, name: UTF-8 bytes,
//!     channel digest: 32 bytes = blake3(samples as f32 little-endian, row-major)
//! ```
//!
//! Channel digests are independent, so they are computed in parallel (and
//! each one with blake3's own multi-threaded `update_rayon`); the outer hash
//! over names and digests is tiny. Samples are hashed bit for bit: `-0.0`
//! and `0.0` differ, NaN payloads are kept. A file stored as half floats and
//! one stored as floats with the same values hash the same, because the hash
//! is over decoded values. Metadata (headers, attributes, compression) is not
//! hashed.

use rayon::prelude::*;

use crate::image::FrameImage;

const DOMAIN: &[u8] = b"frame-diff pixel hash v1\0";

impl FrameImage {
    /// blake3 hash of the pixel data in the canonical layout described in
    /// the [`hash`](crate::hash) module documentation; metadata excluded.
    pub fn pixel_hash(&self) -> blake3::Hash {
        let digests: Vec<blake3::Hash> = self
            .channels
            .par_iter()
            .map(|c| samples_digest(&c.samples))
            .collect();
        let mut outer = blake3::Hasher::new();
        outer.update(DOMAIN);
        outer.update(&self.width.to_le_bytes());
        outer.update(&self.height.to_le_bytes());
        outer.update(&(self.channels.len() as u32).to_le_bytes());
        for (channel, digest) in self.channels.iter().zip(&digests) {
            outer.update(&(channel.name.len() as u32).to_le_bytes());
            outer.update(channel.name.as_bytes());
            outer.update(digest.as_bytes());
        }
        outer.finalize()
    }
}

/// blake3 of `samples` as little-endian `f32` bytes.
fn samples_digest(samples: &[f32]) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new();
    if cfg!(target_endian = "little") {
        hasher.update_rayon(bytemuck::cast_slice(samples));
    } else {
        for chunk in samples.chunks(4096) {
            let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
            hasher.update(&bytes);
        }
    }
    hasher.finalize()
}
