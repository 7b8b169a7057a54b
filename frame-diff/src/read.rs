//! Decoding image files into [`FrameImage`]s.
//!
//! OpenEXR goes through the `exr` crate (all flat layers, all channels, every
//! compression it supports, blocks decompressed in parallel): first through
//! the fast path of [`exr_blocks`](crate::exr_blocks), which writes blocks
//! straight into the planes, and when that declines the file, through the
//! `exr` crate's image reader; PNG, TIFF and
//! JPEG go through the `image` crate and are normalised to `0..=1` the way
//! OpenImageIO does (`value / 255` for 8-bit, `value / 65535` for 16-bit).

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use exr::prelude::{FlatSamples, ReadChannels, ReadLayers};
use rayon::prelude::*;

use crate::error::FrameDiffError;
use crate::exr_blocks;
use crate::image::{Channel, FrameImage};

/// The four magic bytes every OpenEXR file starts with.
const EXR_MAGIC: [u8; 4] = [0x76, 0x2f, 0x31, 0x01];

/// Largest number of samples (pixels times channels) accepted from one file:
/// 2^31 `f32`s is 8 GiB, beyond any frame this farm renders. A corrupt header
/// claiming more is rejected before anything is allocated for it.
pub(crate) const MAX_SAMPLES: u64 = 1 << 31;

/// Reads an image file: OpenEXR (every flat layer and channel), PNG, TIFF or JPEG.
///
/// Half, float and uint EXR samples are converted to `f32`. In a multi-part
/// EXR the channels of a named part are called `"part.channel"`; Blender's
/// `OPEN_EXR_MULTILAYER` files already carry full names such as
/// `"ViewLayer.Combined.R"`. Never panics on bad input: a missing file, a
/// truncated or corrupt file, or an unsupported kind of image is an error.
pub fn read_image(path: &Path) -> Result<FrameImage, FrameDiffError> {
    let io_error = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::NotFound => FrameDiffError::NotFound {
            path: path.to_path_buf(),
        },
        _ => FrameDiffError::Io {
            path: path.to_path_buf(),
            source,
        },
    };
    // An EXR is read block by block from the file (one copy of the
    // compressed data); anything else, or an EXR the fast path declines,
    // is read whole.
    let mut file = BufReader::new(File::open(path).map_err(io_error)?);
    let mut magic = [0u8; 4];
    if file.read_exact(&mut magic).is_ok() && magic == EXR_MAGIC {
        file.rewind().map_err(io_error)?;
        if let Some(image) = fast_exr(file, path)? {
            return Ok(image);
        }
    }
    let bytes = std::fs::read(path).map_err(io_error)?;
    read_image_bytes(&bytes, path)
}

/// Decodes an in-memory image file; `path` is only used in error messages.
pub fn read_image_bytes(bytes: &[u8], path: &Path) -> Result<FrameImage, FrameDiffError> {
    if bytes.starts_with(&EXR_MAGIC) {
        match fast_exr(Cursor::new(bytes), path)? {
            Some(image) => Ok(image),
            None => read_exr(bytes, path),
        }
    } else {
        read_ldr(bytes, path)
    }
}

fn corrupt(path: &Path, detail: impl Into<String>) -> FrameDiffError {
    FrameDiffError::Corrupt {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

fn unsupported(path: &Path, detail: impl Into<String>) -> FrameDiffError {
    FrameDiffError::Unsupported {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

fn exr_error(path: &Path, error: exr::error::Error) -> FrameDiffError {
    match error {
        exr::error::Error::NotSupported(what) => unsupported(path, what),
        exr::error::Error::Invalid(what) => corrupt(path, what),
        exr::error::Error::Aborted => corrupt(path, "decoding aborted"),
        exr::error::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            corrupt(path, "file ends early (truncated)")
        }
        exr::error::Error::Io(io) => corrupt(path, io.to_string()),
    }
}

/// Checks the EXR headers before decoding: no deep data, no subsampling, and
/// a sample count that cannot exhaust memory.
fn check_exr_headers(bytes: &[u8], path: &Path) -> Result<(), FrameDiffError> {
    let meta = exr::meta::MetaData::read_from_buffered(Cursor::new(bytes), false)
        .map_err(|e| exr_error(path, e))?;
    let mut samples: u64 = 0;
    for header in meta.headers.iter() {
        if header.deep {
            return Err(unsupported(path, "deep data"));
        }
        if header
            .channels
            .list
            .iter()
            .any(|c| c.sampling.x() != 1 || c.sampling.y() != 1)
        {
            return Err(unsupported(path, "subsampled channels"));
        }
        let pixels = header.layer_size.width() as u64 * header.layer_size.height() as u64;
        samples = samples.saturating_add(pixels.saturating_mul(header.channels.list.len() as u64));
    }
    if samples > MAX_SAMPLES {
        return Err(unsupported(
            path,
            format!("{samples} samples is more than the limit of {MAX_SAMPLES}"),
        ));
    }
    Ok(())
}

/// The fast EXR path; `Ok(None)` when it declines the file (unusual layout,
/// or anything wrong with it, which the general path then reports).
fn fast_exr(
    source: impl Read + Seek + Send,
    path: &Path,
) -> Result<Option<FrameImage>, FrameDiffError> {
    match catch_unwind(AssertUnwindSafe(|| exr_blocks::read(source))) {
        Ok(Some((width, height, channels))) => build(width, height, channels, path).map(Some),
        _ => Ok(None),
    }
}

/// The general EXR path: the `exr` crate's image reader.
pub(crate) fn read_exr(bytes: &[u8], path: &Path) -> Result<FrameImage, FrameDiffError> {
    check_exr_headers(bytes, path)?;
    // The exr crate validates its input, but a decoder bug must not take the
    // coordinator down: a panic while decoding is reported as a corrupt file.
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        exr::prelude::read()
            .no_deep_data()
            .largest_resolution_level()
            .all_channels()
            .all_layers()
            .all_attributes()
            .from_buffered(Cursor::new(bytes))
    }))
    .map_err(|_| corrupt(path, "the EXR decoder failed on this file"))?
    .map_err(|e| exr_error(path, e))?;

    let first = decoded
        .layer_data
        .first()
        .ok_or_else(|| corrupt(path, "no layers"))?;
    let size = first.size;
    let width = u32::try_from(size.width()).map_err(|_| unsupported(path, "too wide"))?;
    let height = u32::try_from(size.height()).map_err(|_| unsupported(path, "too tall"))?;

    let mut planes = Vec::new();
    for layer in decoded.layer_data {
        if layer.size != size {
            return Err(unsupported(
                path,
                format!(
                    "layers of different sizes ({}x{} and {}x{})",
                    size.width(),
                    size.height(),
                    layer.size.width(),
                    layer.size.height()
                ),
            ));
        }
        let prefix = layer.attributes.layer_name.as_ref().map(|n| n.to_string());
        for channel in layer.channel_data.list {
            let name = match &prefix {
                Some(layer_name) => format!("{layer_name}.{}", channel.name),
                None => channel.name.to_string(),
            };
            planes.push((name, channel.sample_data));
        }
    }
    let channels: Vec<Channel> = planes
        .into_par_iter()
        .map(|(name, samples)| Channel {
            name,
            samples: to_f32(samples),
        })
        .collect();
    build(width, height, channels, path)
}

/// Converts EXR samples to `f32` planes; float data is moved, not copied.
fn to_f32(samples: FlatSamples) -> Vec<f32> {
    match samples {
        FlatSamples::F32(values) => values,
        FlatSamples::F16(values) => values.par_iter().map(|v| v.to_f32()).collect(),
        FlatSamples::U32(values) => values.par_iter().map(|&v| v as f32).collect(),
    }
}

fn read_ldr(bytes: &[u8], path: &Path) -> Result<FrameImage, FrameDiffError> {
    let format = image::guess_format(bytes)
        .map_err(|_| unsupported(path, "not an OpenEXR, PNG, TIFF or JPEG file"))?;
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        image::load_from_memory_with_format(bytes, format)
    }))
    .map_err(|_| corrupt(path, "the image decoder failed on this file"))?
    .map_err(|e| match e {
        image::ImageError::Unsupported(u) => unsupported(path, u.to_string()),
        other => corrupt(path, other.to_string()),
    })?;
    let (width, height) = (decoded.width(), decoded.height());
    let color = decoded.color();
    let (names, interleaved): (&[&str], Vec<f32>) = match (color.has_color(), color.has_alpha()) {
        (true, true) => (&["R", "G", "B", "A"], decoded.into_rgba32f().into_raw()),
        (true, false) => (&["R", "G", "B"], decoded.into_rgb32f().into_raw()),
        (false, true) => (&["Y", "A"], decoded.to_luma_alpha32f().into_raw()),
        (false, false) => (&["Y"], decoded.to_luma32f().into_raw()),
    };
    let stride = names.len();
    let channels = names
        .par_iter()
        .enumerate()
        .map(|(c, name)| Channel {
            name: (*name).to_string(),
            samples: interleaved
                .iter()
                .skip(c)
                .step_by(stride)
                .copied()
                .collect(),
        })
        .collect();
    build(width, height, channels, path)
}

/// Sorts and checks the decoded channels and makes the [`FrameImage`].
pub(crate) fn build(
    width: u32,
    height: u32,
    channels: Vec<Channel>,
    path: &Path,
) -> Result<FrameImage, FrameDiffError> {
    let mut image = FrameImage {
        width,
        height,
        channels,
    };
    image.sort_channels();
    if image.channels.is_empty() {
        return Err(unsupported(path, "no channels"));
    }
    if let Some(pair) = image.channels.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(unsupported(
            path,
            format!("duplicate channel {:?}", pair[0].name),
        ));
    }
    let expected = image.pixel_count();
    if image.channels.iter().any(|c| c.samples.len() != expected) {
        return Err(corrupt(path, "a channel has the wrong number of samples"));
    }
    Ok(image)
}
