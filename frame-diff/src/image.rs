//! The decoded frame: planar `f32` channels with their full names.

use rayon::prelude::*;

/// One decoded channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// Full channel name: `"R"` for a plain RGBA file, `"ViewLayer.Combined.R"`
    /// for a Blender multilayer file, `"layer.R"` for a named part of a
    /// multi-part file.
    pub name: String,
    /// Row-major samples, `width * height` of them, converted to `f32`.
    pub samples: Vec<f32>,
}

/// A decoded image: every flat channel as an `f32` plane, sorted by full name.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Channels, sorted by [`Channel::name`]; each holds `width * height` samples.
    pub channels: Vec<Channel>,
}

impl FrameImage {
    /// Number of pixels (`width * height`).
    pub fn pixel_count(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// The channel with this full name, if present.
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels
            .binary_search_by(|c| c.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.channels[i])
    }

    /// Channel names in stored (sorted) order.
    pub fn channel_names(&self) -> Vec<String> {
        self.channels.iter().map(|c| c.name.clone()).collect()
    }

    /// Number of NaN or infinite samples over all channels.
    pub fn non_finite_count(&self) -> u64 {
        self.channels
            .par_iter()
            .flat_map(|c| c.samples.par_chunks(1 << 16))
            .map(|chunk| chunk.iter().filter(|v| !v.is_finite()).count() as u64)
            .sum()
    }

    /// Sorts the channels by name; constructors call this so the order is canonical.
    pub(crate) fn sort_channels(&mut self) {
        self.channels.sort_by(|a, b| a.name.cmp(&b.name));
    }
}
