//! Tampered copies of a render: what a cheating or broken worker might return.

use frame_diff::FrameImage;

fn color_channels(image: &mut FrameImage) -> impl Iterator<Item = &mut frame_diff::Channel> {
    image.channels.iter_mut().filter(|c| {
        let base = c.name.rsplit('.').next().unwrap_or("");
        matches!(base, "R" | "G" | "B")
    })
}

/// A 32x32 patch painted magenta with its top-left corner at (x, y).
pub fn painted_patch(image: &FrameImage, x0: u32, y0: u32) -> FrameImage {
    let mut out = image.clone();
    let width = out.width as usize;
    for c in color_channels(&mut out) {
        let value = if c.name.ends_with('G') { 0.0 } else { 1.0 };
        for y in y0 as usize..y0 as usize + 32 {
            let row = y * width + x0 as usize;
            c.samples[row..row + 32].fill(value);
        }
    }
    out
}

/// Every colour value scaled by `factor`.
pub fn scaled(image: &FrameImage, factor: f32) -> FrameImage {
    let mut out = image.clone();
    for c in color_channels(&mut out) {
        c.samples.iter_mut().for_each(|v| *v *= factor);
    }
    out
}

/// A black frame (colour channels zero, alpha kept).
pub fn black(image: &FrameImage) -> FrameImage {
    scaled(image, 0.0)
}

/// One channel set to zero.
pub fn channel_zeroed(image: &FrameImage, name: &str) -> FrameImage {
    let mut out = image.clone();
    let channel = out
        .channels
        .iter_mut()
        .find(|c| c.name == name)
        .expect("channel exists");
    channel.samples.fill(0.0);
    out
}
