//! What the renderer stand-ins share: their scene files and a deterministic
//! "render" written as a real OpenEXR file.
//!
//! The stand-ins exist because Cinema 4D and Octane cannot be installed on
//! the farm's test machines. Their scenes are small text files (a first line
//! naming the format, then `key value…` lines); a frame's pixels are a
//! function of the scene's bytes, the assets it names, the frame and the
//! render settings only, so two honest workers produce bit-identical frames
//! and parity checks behave as with a real renderer.

use std::collections::BTreeMap;
use std::path::Path;

/// A stand-in scene: its format line checked, its settings by key.
#[derive(Debug, Clone)]
pub struct Scene {
    /// The file's bytes (they seed the image).
    pub bytes: Vec<u8>,
    /// Every `key value…` line, values in order, by key.
    pub lines: BTreeMap<String, Vec<Vec<String>>>,
}

impl Scene {
    /// Read `path`, whose first line must be `magic 1`.
    pub fn read(path: &Path, magic: &str) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| format!("{} is not a stand-in scene", path.display()))?;
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some(&format!("{magic} 1")) {
            return Err(format!("{} is not a {magic} scene", path.display()));
        }
        let mut map: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
        for line in lines {
            let mut words = line.split_whitespace().map(str::to_owned);
            if let Some(key) = words.next() {
                map.entry(key).or_default().push(words.collect());
            }
        }
        Ok(Self { bytes, lines: map })
    }

    /// Every value list of `key`.
    pub fn all(&self, key: &str) -> &[Vec<String>] {
        self.lines.get(key).map_or(&[], Vec::as_slice)
    }

    /// The first value list of `key` as numbers.
    pub fn numbers(&self, key: &str) -> Option<Vec<u32>> {
        self.all(key)
            .first()?
            .iter()
            .map(|v| v.parse().ok())
            .collect()
    }
}

/// What a frame's pixels depend on.
pub struct Shot<'a> {
    /// The scene file and every asset's bytes, in order.
    pub inputs: Vec<&'a [u8]>,
    /// Anything else that changes the picture (take, target, samples).
    pub settings: String,
    /// The frame.
    pub frame: i32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Render `shot` into a 32-bit float RGBA OpenEXR file at `path`: a smooth
/// gradient coloured by a hash of the inputs, moving with the frame.
pub fn render(shot: &Shot<'_>, path: &Path) -> Result<(), String> {
    let mut hasher = blake3::Hasher::new();
    for input in &shot.inputs {
        hasher.update(&(input.len() as u64).to_le_bytes());
        hasher.update(input);
    }
    hasher.update(shot.settings.as_bytes());
    let seed = *hasher.finalize().as_bytes();
    let tint = |i: usize| f32::from(seed[i]) / 255.0;
    let (w, h) = (shot.width.max(1) as usize, shot.height.max(1) as usize);
    let phase = shot.frame as f32 * 0.1;
    exr::prelude::write_rgba_file(path, w, h, |x, y| {
        let u = x as f32 / w as f32;
        let v = y as f32 / h as f32;
        let wave = ((u * 6.0 + phase).sin() * 0.5 + 0.5) * (1.0 - v * 0.5);
        (
            tint(0) * wave + 0.05,
            tint(1) * (1.0 - wave) + 0.05,
            tint(2) * v + 0.05,
            1.0,
        )
    })
    .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
