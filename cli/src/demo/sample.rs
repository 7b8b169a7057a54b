//! The demo's sample scene, built into the binary so `farm demo` works from
//! any folder: `samples/demo/demo.blend` (made by `samples/scene.py
//! --texture`) and the image texture it names by the relative path
//! `//textures/tiles.png`, so the scene travels as a bundle of two files.

use std::path::{Path, PathBuf};

use super::DemoError;

/// The bundle's files: path inside the bundle, bytes.
const FILES: [(&str, &[u8]); 2] = [
    (
        "demo.blend",
        include_bytes!("../../../samples/demo/demo.blend"),
    ),
    (
        "textures/tiles.png",
        include_bytes!("../../../samples/demo/textures/tiles.png"),
    ),
];

/// Write the sample scene's files under `dir`; the main file's path.
pub fn write(dir: &Path) -> Result<PathBuf, DemoError> {
    for (path, bytes) in FILES {
        let target = dir.join(path);
        let write = || {
            std::fs::create_dir_all(target.parent().unwrap_or(dir))?;
            std::fs::write(&target, bytes)
        };
        write().map_err(|source| DemoError::Write {
            path: target.clone(),
            source,
        })?;
    }
    Ok(dir.join(FILES[0].0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_written_as_a_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let main = write(dir.path()).unwrap();
        assert_eq!(main, dir.path().join("demo.blend"));
        let blend = std::fs::read(&main).unwrap();
        // A compressed .blend is gzip or zstd; either way not empty, and
        // the texture is a PNG.
        assert!(blend.len() > 10_000);
        let png = std::fs::read(dir.path().join("textures/tiles.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
