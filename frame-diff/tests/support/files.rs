//! Writing test images to disk for the external tools.

use std::path::Path;

use exr::prelude::{
    AnyChannel, AnyChannels, Encoding, FlatSamples, Image, Layer, LayerAttributes, SmallVec,
    WritableImage,
};
use frame_diff::FrameImage;

/// Writes every channel of `image` as a 32-bit float, ZIP-compressed,
/// single-part scanline EXR.
pub fn write_exr(image: &FrameImage, path: &Path) {
    let channels: SmallVec<[AnyChannel<FlatSamples>; 4]> = image
        .channels
        .iter()
        .map(|c| AnyChannel::new(c.name.as_str(), FlatSamples::F32(c.samples.clone())))
        .collect();
    let layer = Layer::new(
        (image.width as usize, image.height as usize),
        LayerAttributes::default(),
        Encoding::SMALL_LOSSLESS,
        AnyChannels::sort(channels),
    );
    Image::from_layer(layer)
        .write()
        .to_file(path)
        .expect("write EXR");
}

/// The top-left `width` x `height` corner of `image`.
pub fn cropped(image: &FrameImage, width: u32, height: u32) -> FrameImage {
    let mut out = image.clone();
    out.width = width;
    out.height = height;
    for c in &mut out.channels {
        c.samples = (0..height as usize)
            .flat_map(|y| {
                let row = y * image.width as usize;
                c.samples[row..row + width as usize].to_vec()
            })
            .collect();
    }
    out
}
