//! Deliberately wrong frames, for testing the coordinator's parity checks
//! against a cheating worker. Only the `worker run --tamper <MODE>
//! --i-am-a-test-cheater` flags turn it on; the configuration file cannot.
//!
//! The frame is changed on disk after Blender writes it and before the
//! worker checks, hashes and uploads it, so the reported pixel hash matches
//! the uploaded (tampered) file, as a consistent cheater's would.

use std::path::{Path, PathBuf};

use exr::prelude::{FlatImage, FlatSamples, WritableImage, f16, read_all_flat_layers_from_file};

/// Edge of the square painted by [`Tamper::Patch`], in pixels.
pub const PATCH_SIZE: usize = 32;

/// Value written into R, G and B inside the patch.
pub const PATCH_VALUE: f32 = 5.0;

/// Factor [`Tamper::Brightness`] multiplies R, G and B by.
pub const BRIGHTNESS_FACTOR: f32 = 1.05;

/// How a cheating worker changes its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tamper {
    /// Paint a 32x32 block of constant bright colour in the middle of the
    /// frame (the whole frame when it is smaller).
    Patch,
    /// Multiply R, G and B by 1.05 (+5%).
    Brightness,
    /// Deliver the previous frame this worker rendered instead of this one
    /// (a black frame when there is none of the same size).
    Stale,
    /// Set R, G and B to zero (alpha is kept).
    Black,
}

/// Why a frame could not be tampered with.
#[derive(Debug, thiserror::Error)]
pub enum TamperError {
    /// The EXR could not be read or written.
    #[error("cannot tamper with {path}: {source}")]
    Exr {
        /// The file.
        path: PathBuf,
        /// Why.
        source: exr::error::Error,
    },
    /// Keeping or restoring the previous frame failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Applies a [`Tamper`] mode to frames, keeping what `stale` needs between
/// frames. One frame at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tamperer {
    /// The mode.
    pub mode: Tamper,
    /// Where the previous honest frame is kept for [`Tamper::Stale`].
    pub previous: PathBuf,
}

impl Tamperer {
    /// A tamperer keeping its previous frame in `dir`.
    pub fn new(mode: Tamper, dir: &Path) -> Self {
        Self {
            mode,
            previous: dir.join("tamper-previous.exr"),
        }
    }

    /// Tamper with the EXR at `path` in place. CPU-bound: call it from a
    /// blocking thread.
    pub fn apply(&self, path: &Path) -> Result<(), TamperError> {
        match self.mode {
            Tamper::Patch => rewrite(path, paint_patch),
            Tamper::Brightness => rewrite(path, |image| {
                map_colour(image, |_, _, value| value * BRIGHTNESS_FACTOR);
            }),
            Tamper::Black => rewrite(path, blacken),
            Tamper::Stale => self.swap_with_previous(path),
        }
    }

    /// Replace the frame at `path` with the previous honest frame of the same
    /// size (black when there is none) and keep this one for next time.
    fn swap_with_previous(&self, path: &Path) -> Result<(), TamperError> {
        let reuse = self.previous.exists() && same_size(&read(&self.previous)?, &read(path)?);
        let kept = self.previous.with_extension("exr.partial");
        copy(path, &kept)?;
        if reuse {
            copy(&self.previous, path)?;
        } else {
            rewrite(path, blacken)?;
        }
        std::fs::rename(&kept, &self.previous).map_err(|source| TamperError::Io {
            action: "keep the previous frame in",
            path: self.previous.clone(),
            source,
        })
    }
}

/// Read every layer and channel of an EXR.
fn read(path: &Path) -> Result<FlatImage, TamperError> {
    read_all_flat_layers_from_file(path).map_err(|source| TamperError::Exr {
        path: path.to_owned(),
        source,
    })
}

/// Read `path`, change it, and write it back with the same layers,
/// channels, size and compression.
fn rewrite(path: &Path, change: impl FnOnce(&mut FlatImage)) -> Result<(), TamperError> {
    let mut image = read(path)?;
    change(&mut image);
    image
        .write()
        .to_file(path)
        .map_err(|source| TamperError::Exr {
            path: path.to_owned(),
            source,
        })
}

/// Copy a file, saying which one failed.
fn copy(from: &Path, to: &Path) -> Result<(), TamperError> {
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|source| TamperError::Io {
            action: "copy the frame to",
            path: to.to_owned(),
            source,
        })
}

/// Whether two images have the same layer sizes.
fn same_size(a: &FlatImage, b: &FlatImage) -> bool {
    let sizes = |image: &FlatImage| {
        image
            .layer_data
            .iter()
            .map(|layer| layer.size)
            .collect::<Vec<_>>()
    };
    sizes(a) == sizes(b)
}

/// Whether a channel holds red, green or blue (`R`, or `<layer>.<pass>.R`
/// in Blender's multilayer files).
fn is_colour(name: &str) -> bool {
    ["R", "G", "B"]
        .iter()
        .any(|c| name == *c || name.strip_suffix(c).is_some_and(|rest| rest.ends_with('.')))
}

/// Zero every colour sample.
fn blacken(image: &mut FlatImage) {
    map_colour(image, |_, _, _| 0.0);
}

/// Set the colour samples of a centred `PATCH_SIZE` square to `PATCH_VALUE`.
fn paint_patch(image: &mut FlatImage) {
    map_colour(image, |(x, y), (width, height), value| {
        let (side_x, side_y) = (PATCH_SIZE.min(width), PATCH_SIZE.min(height));
        let (left, top) = ((width - side_x) / 2, (height - side_y) / 2);
        let inside = (left..left + side_x).contains(&x) && (top..top + side_y).contains(&y);
        if inside { PATCH_VALUE } else { value }
    });
}

/// Replace every sample of every colour channel with `change(position,
/// layer size, value)`; other channels are untouched.
fn map_colour(image: &mut FlatImage, change: impl Fn((usize, usize), (usize, usize), f32) -> f32) {
    for layer in image.layer_data.iter_mut() {
        let size = (layer.size.x(), layer.size.y());
        let position = |index: usize| (index % size.0, index / size.0);
        for channel in layer.channel_data.list.iter_mut() {
            if !is_colour(&channel.name.to_string()) {
                continue;
            }
            match &mut channel.sample_data {
                FlatSamples::F16(samples) => {
                    for (index, sample) in samples.iter_mut().enumerate() {
                        *sample = f16::from_f32(change(position(index), size, sample.to_f32()));
                    }
                }
                FlatSamples::F32(samples) => {
                    for (index, sample) in samples.iter_mut().enumerate() {
                        *sample = change(position(index), size, *sample);
                    }
                }
                FlatSamples::U32(samples) => {
                    for (index, sample) in samples.iter_mut().enumerate() {
                        let changed = change(position(index), size, *sample as f32);
                        *sample = changed.round().clamp(0.0, u32::MAX as f32) as u32;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use exr::prelude::{
        AnyChannel, AnyChannels, Compression, Encoding, Image, Layer, LayerAttributes,
    };

    use super::*;

    /// Every channel of an image as (name, samples), in file order.
    type Samples = Vec<(String, Vec<f32>)>;

    /// Channels of a plain RGBA file with a depth channel.
    const PLAIN: [&str; 5] = ["A", "B", "G", "R", "Z"];

    /// Channels of a Blender multilayer file.
    const MULTILAYER: [&str; 5] = [
        "ViewLayer.Combined.A",
        "ViewLayer.Combined.B",
        "ViewLayer.Combined.G",
        "ViewLayer.Combined.R",
        "ViewLayer.Depth.Z",
    ];

    /// Write a half-float, ZIP16 EXR of `width`x`height` with `names`; every
    /// sample differs, and `seed` shifts them all.
    fn write(path: &Path, (width, height): (usize, usize), names: &[&str], seed: f32) {
        let count = width * height;
        let channels = names
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let samples = (0..count)
                    .map(|i| f16::from_f32(seed + c as f32 * 0.1 + i as f32 / count as f32))
                    .collect();
                AnyChannel::new(*name, FlatSamples::F16(samples))
            })
            .collect::<Vec<_>>();
        let layer = Layer::new(
            (width, height),
            LayerAttributes::default(),
            Encoding::SMALL_LOSSLESS,
            AnyChannels::sort(channels.into()),
        );
        Image::from_layer(layer).write().to_file(path).unwrap();
    }

    /// Every channel of the file's only layer as (name, values), and its
    /// size and compression.
    fn channels(path: &Path) -> (Samples, (usize, usize), Compression) {
        let image = read(path).unwrap();
        assert_eq!(image.layer_data.len(), 1);
        let layer = &image.layer_data[0];
        let channels = layer
            .channel_data
            .list
            .iter()
            .map(|c| (c.name.to_string(), c.sample_data.values_as_f32().collect()))
            .collect();
        let size = (layer.size.x(), layer.size.y());
        (channels, size, layer.encoding.compression)
    }

    /// Tamper with a fresh file and return the channels before and after.
    fn tampered(mode: Tamper, size: (usize, usize), names: &[&str]) -> (Samples, Samples) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frame_000001.exr");
        write(&path, size, names, 0.25);
        let (before, _, _) = channels(&path);
        Tamperer::new(mode, dir.path()).apply(&path).unwrap();
        let (after, after_size, compression) = channels(&path);
        assert_eq!(after_size, size, "same size");
        assert_eq!(compression, Compression::ZIP16, "same compression");
        let names_of =
            |c: &[(String, Vec<f32>)]| c.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names_of(&after), names_of(&before), "same channels");
        (before, after)
    }

    /// Asserts colour channels went through `expect(position, before)` and
    /// every other channel is untouched.
    fn check(
        before: &[(String, Vec<f32>)],
        after: &[(String, Vec<f32>)],
        width: usize,
        expect: impl Fn((usize, usize), f32) -> f32,
    ) {
        for ((name, old), (_, new)) in before.iter().zip(after) {
            if is_colour(name) {
                for (index, (old, new)) in old.iter().zip(new).enumerate() {
                    let want = f16::from_f32(expect((index % width, index / width), *old));
                    assert_eq!(*new, want.to_f32(), "{name} sample {index}");
                }
            } else {
                assert_eq!(old, new, "{name} is untouched");
            }
        }
    }

    #[test]
    fn colour_channels_are_recognised_by_name() {
        for name in ["R", "G", "B", "ViewLayer.Combined.R", "Layer.B"] {
            assert!(is_colour(name), "{name}");
        }
        for name in [
            "A",
            "Z",
            "ViewLayer.Combined.A",
            "ViewLayer.Normal.X",
            "XR",
            "Layer.BR",
        ] {
            assert!(!is_colour(name), "{name}");
        }
    }

    #[test]
    fn black_zeroes_colour_and_keeps_alpha_and_other_channels() {
        for names in [PLAIN, MULTILAYER] {
            let (before, after) = tampered(Tamper::Black, (40, 36), &names);
            check(&before, &after, 40, |_, _| 0.0);
        }
    }

    #[test]
    fn brightness_multiplies_colour_by_one_point_oh_five() {
        for names in [PLAIN, MULTILAYER] {
            let (before, after) = tampered(Tamper::Brightness, (40, 36), &names);
            check(&before, &after, 40, |_, old| old * BRIGHTNESS_FACTOR);
            let (red_before, red_after) = (&before[3].1, &after[3].1);
            assert!(red_after.iter().zip(red_before).all(|(a, b)| a > b));
        }
    }

    #[test]
    fn patch_paints_a_centred_square_or_the_whole_small_frame() {
        let (before, after) = tampered(Tamper::Patch, (40, 36), &PLAIN);
        let inside = |(x, y): (usize, usize)| (4..36).contains(&x) && (2..34).contains(&y);
        check(&before, &after, 40, |at, old| {
            if inside(at) { PATCH_VALUE } else { old }
        });
        let painted = after[3].1.iter().filter(|v| **v == PATCH_VALUE).count();
        assert_eq!(painted, PATCH_SIZE * PATCH_SIZE);

        let (before, after) = tampered(Tamper::Patch, (16, 8), &MULTILAYER);
        check(&before, &after, 16, |_, _| PATCH_VALUE);
    }

    #[test]
    fn stale_delivers_the_previous_frame_and_black_first() {
        let dir = tempfile::tempdir().unwrap();
        let tamperer = Tamperer::new(Tamper::Stale, dir.path());
        let frame = |n: u32, size: (usize, usize)| {
            let path = dir.path().join(format!("frame_{n:06}.exr"));
            write(&path, size, &PLAIN, n as f32);
            let (honest, _, _) = channels(&path);
            tamperer.apply(&path).unwrap();
            let (delivered, _, _) = channels(&path);
            (honest, delivered)
        };

        let (first, delivered) = frame(1, (20, 10));
        check(&first, &delivered, 20, |_, _| 0.0);
        let (second, delivered) = frame(2, (20, 10));
        assert_ne!(second, first);
        assert_eq!(delivered, first, "frame 2 is delivered as frame 1");
        let (third, delivered) = frame(3, (20, 10));
        assert_eq!(
            delivered, second,
            "the honest frame 2 was kept, not the stale one"
        );
        let (resized, delivered) = frame(4, (8, 4));
        check(&resized, &delivered, 8, |_, _| 0.0);
        assert_ne!(resized, third);
    }
}
