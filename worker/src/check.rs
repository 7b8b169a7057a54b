//! Checking a rendered EXR before it is uploaded: it decodes, has the size
//! the task asked for, and holds no NaN or infinite samples.

use std::path::Path;

/// A frame that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// blake3 over the decoded pixel data, hex.
    pub pixel_hash: String,
}

/// Why a frame was refused.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The file is not a readable EXR.
    #[error("cannot decode {path}: {source}")]
    Decode {
        /// The file.
        path: String,
        /// Why.
        source: frame_diff::FrameDiffError,
    },
    /// The image is not the size the scene or the task's override asks for.
    #[error("{path} is {actual_width}x{actual_height}, expected {width}x{height}")]
    WrongSize {
        /// The file.
        path: String,
        /// Expected width.
        width: u32,
        /// Expected height.
        height: u32,
        /// Width found.
        actual_width: u32,
        /// Height found.
        actual_height: u32,
    },
    /// Some samples are NaN or infinite.
    #[error("{path} has {count} NaN or infinite samples")]
    NonFinite {
        /// The file.
        path: String,
        /// How many.
        count: u64,
    },
}

/// Decode `path` and check it is `width`x`height` with finite samples only.
/// CPU-bound: call it from a blocking thread.
pub fn check_frame(path: &Path, width: u32, height: u32) -> Result<CheckedFrame, CheckError> {
    let shown = path.display().to_string();
    let image = frame_diff::read_image(path).map_err(|source| CheckError::Decode {
        path: shown.clone(),
        source,
    })?;
    if (image.width, image.height) != (width, height) {
        return Err(CheckError::WrongSize {
            path: shown,
            width,
            height,
            actual_width: image.width,
            actual_height: image.height,
        });
    }
    let count = image.non_finite_count();
    if count > 0 {
        return Err(CheckError::NonFinite { path: shown, count });
    }
    Ok(CheckedFrame {
        width,
        height,
        pixel_hash: image.pixel_hash().to_hex().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_an_exr() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frame_000001.exr");
        std::fs::write(&path, b"not an exr").unwrap();
        assert!(matches!(
            check_frame(&path, 16, 9),
            Err(CheckError::Decode { .. })
        ));
    }

    fn write_exr(path: &Path, nan_at: Option<(usize, usize)>) {
        exr::prelude::write_rgba_file(path, 16, 9, |x, y| {
            let red = if nan_at == Some((x, y)) {
                f32::NAN
            } else {
                x as f32 / 16.0
            };
            (red, y as f32 / 9.0, 0.5, 1.0)
        })
        .unwrap();
    }

    #[test]
    fn accepts_a_finite_frame_of_the_right_size_and_hashes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("good.exr");
        write_exr(&path, None);
        let checked = check_frame(&path, 16, 9).unwrap();
        assert_eq!((checked.width, checked.height), (16, 9));
        assert_eq!(checked.pixel_hash.len(), 64);
        assert_eq!(check_frame(&path, 16, 9).unwrap(), checked);
        assert!(matches!(
            check_frame(&path, 160, 90),
            Err(CheckError::WrongSize {
                actual_width: 16,
                actual_height: 9,
                ..
            })
        ));
    }

    #[test]
    fn refuses_nan_samples() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nan.exr");
        write_exr(&path, Some((3, 4)));
        assert!(matches!(
            check_frame(&path, 16, 9),
            Err(CheckError::NonFinite { count: 1, .. })
        ));
    }
}
