//! Previews of a decoded frame for people: the linear light of the frame,
//! scaled down by area averaging, times an exposure, through the sRGB
//! curve to 8-bit RGBA, and encoded as PNG; and the parity heat map of two
//! frames as PNG bytes.
//!
//! Scaling averages premultiplied linear values (what renderers write),
//! then divides by the averaged alpha, so edges keep their colour and the
//! PNG holds straight alpha as PNG readers expect.

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, RgbaImage};
use rayon::prelude::*;

use crate::colour::linear_to_srgb;
use crate::heatmap;
use crate::image::FrameImage;

/// Why a preview cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// The image has no channels a colour can be read from.
    #[error(
        "nothing to preview: the image has neither R, G and B channels nor a single grey one \
         (it has {0:?})"
    )]
    NoColour(Vec<String>),
    /// The image has no pixels.
    #[error("an image of {width}x{height} pixels has no preview")]
    Empty {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The two images of a heat map differ in size.
    #[error("no heat map of images of different sizes: {a:?} vs {b:?}")]
    SizeMismatch {
        /// Width and height of the first image.
        a: (u32, u32),
        /// Width and height of the second image.
        b: (u32, u32),
    },
    /// The PNG encoder refused the pixels.
    #[error("cannot encode the PNG: {0}")]
    Encode(#[from] image::ImageError),
}

/// The planes a preview is made of: red, green and blue (the same grey
/// plane three times for a single-channel image) and alpha, if any.
struct Planes<'a> {
    /// Red, green and blue samples.
    colour: [&'a [f32]; 3],
    /// Alpha samples (premultiplied colour), when the image has them.
    alpha: Option<&'a [f32]>,
}

impl<'a> Planes<'a> {
    /// The RGB channels ([`FrameImage::rgb_channels`]) with the `A` of the
    /// same layer, or the one channel that is not `A` as grey.
    fn of(image: &'a FrameImage) -> Result<Self, PreviewError> {
        if let Some([r, g, b]) = image.rgb_channels() {
            let layer = r.name.strip_suffix('R').unwrap_or_default();
            return Ok(Self {
                colour: [&r.samples, &g.samples, &b.samples],
                alpha: image
                    .channel(&format!("{layer}A"))
                    .map(|a| a.samples.as_slice()),
            });
        }
        let mut greys = image.channels.iter().filter(|c| c.name != "A");
        match (greys.next(), greys.next()) {
            (Some(grey), None) => Ok(Self {
                colour: [grey.samples.as_slice(); 3],
                alpha: image.channel("A").map(|a| a.samples.as_slice()),
            }),
            _ => Err(PreviewError::NoColour(image.channel_names())),
        }
    }

    /// Premultiplied linear RGBA of source pixel `index` (alpha 1 without
    /// an alpha plane).
    fn rgba(&self, index: usize) -> [f32; 4] {
        let [r, g, b] = self.colour.map(|plane| plane[index]);
        [r, g, b, self.alpha.map_or(1.0, |a| a[index])]
    }
}

/// The size of a preview whose longer side is at most `max_side` (at
/// least 1 pixel); never larger than the image.
pub fn preview_size(width: u32, height: u32, max_side: Option<u32>) -> (u32, u32) {
    let longer = width.max(height);
    let Some(max_side) = max_side.map(|side| side.max(1)).filter(|&m| m < longer) else {
        return (width, height);
    };
    let scale = f64::from(max_side) / f64::from(longer);
    let side = |n: u32| ((f64::from(n) * scale).round() as u32).clamp(1, max_side);
    (side(width), side(height))
}

/// Area-averaging weights from `from` samples to `to` (at most `from`):
/// per output sample, the first source sample it covers and the weights of
/// the source samples from there on (they sum to 1).
fn area_weights(from: u32, to: u32) -> Vec<(usize, Vec<f32>)> {
    let scale = f64::from(from) / f64::from(to);
    (0..to)
        .map(|i| {
            let (start, end) = (f64::from(i) * scale, f64::from(i + 1) * scale);
            let first = start.floor() as usize;
            let last = (end.ceil() as usize).min(from as usize);
            let weights = (first..last)
                .map(|j| ((end.min(j as f64 + 1.0) - start.max(j as f64)) / scale) as f32)
                .collect();
            (first, weights)
        })
        .collect()
}

/// The 8-bit sRGB encoding of a linear value (NaN is 0).
fn srgb_byte(linear: f32) -> u8 {
    (linear_to_srgb(linear) * 255.0).round() as u8
}

/// Tone-map a frame for display: its linear RGB (grey for a one-channel
/// image, alpha from the layer's `A` channel when there is one) scaled
/// down so the longer side is at most `max_side` (never up; `None` keeps
/// the size), times 2^`exposure_stops`, through the sRGB curve to 8 bits.
/// A NaN sample shows as black.
pub fn tone_map(
    image: &FrameImage,
    exposure_stops: f32,
    max_side: Option<u32>,
) -> Result<RgbaImage, PreviewError> {
    if image.pixel_count() == 0 {
        return Err(PreviewError::Empty {
            width: image.width,
            height: image.height,
        });
    }
    let planes = Planes::of(image)?;
    let gain = exposure_stops.exp2();
    let (width, height) = preview_size(image.width, image.height, max_side);
    let columns = area_weights(image.width, width);
    let rows = area_weights(image.height, height);
    let source_width = image.width as usize;
    let mut pixels = vec![0u8; width as usize * height as usize * 4];
    pixels
        .par_chunks_mut(width as usize * 4)
        .zip(&rows)
        .for_each(|(out, (first_row, row_weights))| {
            let mut sums = vec![[0f32; 4]; width as usize];
            for (dy, &wy) in row_weights.iter().enumerate() {
                let row = (first_row + dy) * source_width;
                for (sum, (first_column, column_weights)) in sums.iter_mut().zip(&columns) {
                    for (dx, &wx) in column_weights.iter().enumerate() {
                        let px = planes.rgba(row + first_column + dx);
                        for (s, v) in sum.iter_mut().zip(px) {
                            *s += wy * wx * v;
                        }
                    }
                }
            }
            for (rgba, [r, g, b, a]) in out.chunks_exact_mut(4).zip(sums) {
                let straight = if planes.alpha.is_some() && a > 0.0 {
                    gain / a
                } else {
                    gain
                };
                rgba[0] = srgb_byte(r * straight);
                rgba[1] = srgb_byte(g * straight);
                rgba[2] = srgb_byte(b * straight);
                rgba[3] = (a.clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        });
    Ok(RgbaImage::from_raw(width, height, pixels).expect("the buffer is width x height x 4"))
}

/// Encode 8-bit pixels of the given colour type as PNG (fast compression).
fn encode(
    pixels: &[u8],
    width: u32,
    height: u32,
    colour: ExtendedColorType,
) -> Result<Vec<u8>, PreviewError> {
    let mut png = Vec::new();
    PngEncoder::new(&mut png).write_image(pixels, width, height, colour)?;
    Ok(png)
}

/// The PNG file of a tone-mapped preview. Fails only for an image without
/// pixels, which [`tone_map`] never makes.
pub fn encode_png(image: &RgbaImage) -> Result<Vec<u8>, PreviewError> {
    encode(
        image.as_raw(),
        image.width(),
        image.height(),
        ExtendedColorType::Rgba8,
    )
}

/// The parity heat map of two decoded copies of a frame as a PNG of the
/// frame's size: per pixel the largest absolute difference over the
/// channels both have ([`heatmap::abs_error_map`]) through the magma
/// colour map (black where they agree).
pub fn heat_map_png(a: &FrameImage, b: &FrameImage) -> Result<Vec<u8>, PreviewError> {
    if (a.width, a.height) != (b.width, b.height) {
        return Err(PreviewError::SizeMismatch {
            a: (a.width, a.height),
            b: (b.width, b.height),
        });
    }
    if a.pixel_count() == 0 {
        return Err(PreviewError::Empty {
            width: a.width,
            height: a.height,
        });
    }
    let common: Vec<String> = a
        .channels
        .iter()
        .filter(|c| b.channel(&c.name).is_some())
        .map(|c| c.name.clone())
        .collect();
    let map = heatmap::abs_error_map(a, b, &common);
    encode(
        &heatmap::magma_pixels(&map),
        a.width,
        a.height,
        ExtendedColorType::Rgb8,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Channel;

    /// A channel's name and its value at (x, y).
    type Plane<'a> = (&'a str, &'a dyn Fn(u32, u32) -> f32);

    /// An image of `width` x `height` whose channel `name` holds `value(x, y)`.
    fn image(width: u32, height: u32, channels: &[Plane]) -> FrameImage {
        let mut channels: Vec<Channel> = channels
            .iter()
            .map(|(name, value)| Channel {
                name: (*name).to_owned(),
                samples: (0..height)
                    .flat_map(|y| (0..width).map(move |x| value(x, y)))
                    .collect(),
            })
            .collect();
        channels.sort_by(|a, b| a.name.cmp(&b.name));
        FrameImage {
            width,
            height,
            channels,
        }
    }

    fn flat(width: u32, height: u32, rgb: [f32; 3]) -> FrameImage {
        image(
            width,
            height,
            &[
                ("R", &|_, _| rgb[0]),
                ("G", &|_, _| rgb[1]),
                ("B", &|_, _| rgb[2]),
            ],
        )
    }

    fn decode(png: &[u8]) -> image::DynamicImage {
        image::load_from_memory_with_format(png, image::ImageFormat::Png).expect("a PNG")
    }

    #[test]
    fn known_linear_values_map_to_known_srgb_bytes() {
        // Linear 0.5 is sRGB 0.7354 (187.5 of 255), 0.2 is 0.4845 (123.6).
        let shown = tone_map(&flat(2, 2, [0.0, 0.5, 0.2]), 0.0, None).unwrap();
        assert_eq!(shown.dimensions(), (2, 2));
        assert!(shown.pixels().all(|p| p.0 == [0, 188, 124, 255]));
        let bright = tone_map(&flat(1, 1, [1.0, 4.0, 0.003]), 0.0, None).unwrap();
        assert_eq!(bright.get_pixel(0, 0).0, [255, 255, 10, 255]);
    }

    #[test]
    fn one_stop_of_exposure_doubles_linear_values() {
        for value in [0.01, 0.1, 0.25, 0.4] {
            let raised = tone_map(&flat(1, 1, [value; 3]), 1.0, None).unwrap();
            let doubled = tone_map(&flat(1, 1, [2.0 * value; 3]), 0.0, None).unwrap();
            assert_eq!(raised, doubled, "{value}");
        }
        let lowered = tone_map(&flat(1, 1, [0.5; 3]), -1.0, None).unwrap();
        assert_eq!(
            lowered,
            tone_map(&flat(1, 1, [0.25; 3]), 0.0, None).unwrap()
        );
    }

    #[test]
    fn scaling_down_keeps_the_aspect_ratio_and_never_scales_up() {
        assert_eq!(preview_size(3840, 2160, Some(256)), (256, 144));
        assert_eq!(preview_size(90, 160, Some(64)), (36, 64));
        assert_eq!(preview_size(160, 90, Some(256)), (160, 90));
        assert_eq!(preview_size(160, 90, None), (160, 90));
        assert_eq!(preview_size(4000, 1, Some(100)), (100, 1));
        let shown = tone_map(&flat(160, 90, [0.5; 3]), 0.0, Some(64)).unwrap();
        assert_eq!(shown.dimensions(), (64, 36));
        assert!(shown.pixels().all(|p| p.0 == [188, 188, 188, 255]));
        let small = tone_map(&flat(160, 90, [0.5; 3]), 0.0, Some(256)).unwrap();
        assert_eq!(small.dimensions(), (160, 90));
    }

    #[test]
    fn scaling_down_averages_linear_light() {
        // Black and white columns average to linear 0.5, not sRGB 0.5.
        let stripes = image(
            4,
            2,
            &[
                ("R", &|x, _| (x % 2) as f32),
                ("G", &|x, _| (x % 2) as f32),
                ("B", &|x, _| (x % 2) as f32),
            ],
        );
        let shown = tone_map(&stripes, 0.0, Some(2)).unwrap();
        assert_eq!(shown.dimensions(), (2, 1));
        assert!(shown.pixels().all(|p| p.0 == [188, 188, 188, 255]));
        // Three columns into two: the middle one is shared half and half.
        let ramp = image(3, 1, &[("Y", &|x, _| [0.0, 0.5, 1.0][x as usize])]);
        let shown = tone_map(&ramp, 0.0, Some(2)).unwrap();
        assert_eq!(shown.get_pixel(0, 0).0[0], srgb_byte(0.25 / 1.5));
        assert_eq!(shown.get_pixel(1, 0).0[0], srgb_byte(1.25 / 1.5));
    }

    #[test]
    fn alpha_comes_from_the_layer_and_colour_is_unpremultiplied() {
        let half = image(
            1,
            1,
            &[
                ("View.Combined.R", &|_, _| 0.25),
                ("View.Combined.G", &|_, _| 0.1),
                ("View.Combined.B", &|_, _| 0.0),
                ("View.Combined.A", &|_, _| 0.5),
            ],
        );
        assert_eq!(
            tone_map(&half, 0.0, None).unwrap().get_pixel(0, 0).0,
            [188, 124, 0, 128]
        );
        let clear = image(1, 1, &[("Y", &|_, _| 0.0), ("A", &|_, _| 0.0)]);
        assert_eq!(
            tone_map(&clear, 0.0, None).unwrap().get_pixel(0, 0).0,
            [0, 0, 0, 0]
        );
    }

    #[test]
    fn a_single_channel_is_grey_and_anything_else_is_refused() {
        let grey = image(2, 1, &[("Y", &|x, _| x as f32 * 0.5)]);
        let shown = tone_map(&grey, 0.0, None).unwrap();
        assert_eq!(shown.get_pixel(1, 0).0, [188, 188, 188, 255]);
        let depth = image(1, 1, &[("Z", &|_, _| 1.0), ("N", &|_, _| 1.0)]);
        assert!(matches!(
            tone_map(&depth, 0.0, None),
            Err(PreviewError::NoColour(names)) if names == ["N", "Z"]
        ));
        let empty = flat(0, 0, [0.0; 3]);
        assert!(matches!(
            tone_map(&empty, 0.0, Some(256)),
            Err(PreviewError::Empty { .. })
        ));
    }

    #[test]
    fn previews_encode_as_png() {
        let shown = tone_map(&flat(160, 90, [0.5, 0.2, 0.0]), 0.0, Some(256)).unwrap();
        let decoded = decode(&encode_png(&shown).unwrap()).to_rgba8();
        assert_eq!(decoded, shown);
    }

    #[test]
    fn a_4k_frame_tone_maps_to_both_preview_sizes() {
        let frame = image(
            3840,
            2160,
            &[
                ("R", &|x, _| x as f32 / 3840.0),
                ("G", &|_, y| y as f32 / 2160.0),
                ("B", &|x, y| ((x ^ y) % 7) as f32 / 7.0),
                ("A", &|_, _| 1.0),
            ],
        );
        assert_eq!(
            tone_map(&frame, 0.0, Some(2048)).unwrap().dimensions(),
            (2048, 1152)
        );
        assert_eq!(
            tone_map(&frame, 0.0, Some(256)).unwrap().dimensions(),
            (256, 144)
        );
    }

    #[test]
    fn the_heat_map_is_black_where_copies_agree() {
        let a = flat(4, 3, [0.5; 3]);
        let mut b = a.clone();
        b.channels[0].samples[5] = 1.5;
        let map = decode(&heat_map_png(&a, &b).unwrap()).to_rgb8();
        assert_eq!(map.dimensions(), (4, 3));
        assert_eq!(map.get_pixel(0, 0).0, heatmap::magma(0.0));
        assert_eq!(map.get_pixel(1, 1).0, heatmap::magma(1.0));
        assert!(matches!(
            heat_map_png(&a, &flat(3, 4, [0.5; 3])),
            Err(PreviewError::SizeMismatch { .. })
        ));
    }
}
