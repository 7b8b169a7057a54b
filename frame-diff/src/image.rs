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

    /// The red, green and blue channels: `R`, `G`, `B`, or the first layer's
    /// `<layer>.R`, `<layer>.G`, `<layer>.B` (in sorted order) when the
    /// image has no unprefixed ones.
    pub fn rgb_channels(&self) -> Option<[&Channel; 3]> {
        if let [Some(r), Some(g), Some(b)] = ["R", "G", "B"].map(|name| self.channel(name)) {
            return Some([r, g, b]);
        }
        self.channels.iter().find_map(|red| {
            let layer = red.name.strip_suffix(".R")?;
            let [g, b] = ["G", "B"].map(|c| self.channel(&format!("{layer}.{c}")));
            Some([red, g?, b?])
        })
    }

    /// The linear RGB value of pixel (`x`, `y`), counted from the top left;
    /// `None` outside the image or without RGB channels.
    pub fn rgb_at(&self, x: u32, y: u32) -> Option<[f32; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let index = y as usize * self.width as usize + x as usize;
        let [r, g, b] = self.rgb_channels()?;
        Some([r, g, b].map(|c| c.samples[index]))
    }

    /// Sorts the channels by name; constructors call this so the order is canonical.
    pub(crate) fn sort_channels(&mut self) {
        self.channels.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(names: &[&str]) -> FrameImage {
        let mut image = FrameImage {
            width: 2,
            height: 1,
            channels: names
                .iter()
                .enumerate()
                .map(|(i, name)| Channel {
                    name: (*name).to_owned(),
                    samples: vec![i as f32, 10.0 + i as f32],
                })
                .collect(),
        };
        image.sort_channels();
        image
    }

    #[test]
    fn rgb_is_read_from_plain_or_layered_channels() {
        let plain = image(&["A", "B", "G", "R"]);
        assert_eq!(plain.rgb_at(1, 0), Some([13.0, 12.0, 11.0]));
        assert_eq!(plain.rgb_at(2, 0), None);
        let layered = image(&["View.Combined.B", "View.Combined.G", "View.Combined.R"]);
        assert_eq!(layered.rgb_at(0, 0), Some([2.0, 1.0, 0.0]));
        assert_eq!(image(&["Y"]).rgb_at(0, 0), None);
    }
}
