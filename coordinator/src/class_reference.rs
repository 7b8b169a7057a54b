//! The reference renders class checks compare benchmark frames with: one
//! EXR per benchmark frame, rendered by the farm's operator on a machine
//! the farm trusts (`class_check.reference`). A worker's benchmark frame is
//! timed by the coordinator; with references it must also look like the
//! reference render of its frame (mean HDR-FLIP at most
//! `class_check.max_mean_flip`), so a fast fake of the right size (a black
//! frame, a one-sample render, another frame) does not earn a class.
//!
//! The references are kept encoded in memory (a benchmark frame is small)
//! and decoded for each comparison, off the async threads.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use frame_diff::{CompareConfig, FrameImage};

use crate::Error;

/// The reference renders of the benchmark frames, and how far a benchmark
/// frame may be from its reference.
pub struct ClassReference {
    /// Each benchmark frame's reference EXR, encoded.
    frames: BTreeMap<i32, Vec<u8>>,
    /// The largest mean HDR-FLIP a benchmark frame may have.
    max_mean_flip: f64,
}

impl fmt::Debug for ClassReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClassReference")
            .field("frames", &self.frames.keys().collect::<Vec<_>>())
            .field("max_mean_flip", &self.max_mean_flip)
            .finish()
    }
}

/// The frame number a reference file's name gives: its last run of digits
/// (`frame_0003.exr` is 3); `None` when it has none or is not an EXR.
pub fn frame_of(name: &str) -> Option<i32> {
    let stem = name
        .strip_suffix(".exr")
        .or_else(|| name.strip_suffix(".EXR"))?;
    let end = stem.rfind(|c: char| c.is_ascii_digit())? + 1;
    let start = stem[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    stem[start..end].parse().ok()
}

impl ClassReference {
    /// Read the reference of every frame in `frames` from the folder
    /// `dir`; each must decode. A frame without a reference is an error
    /// saying which, so a check never meets a frame it cannot judge.
    pub async fn load(dir: &Path, frames: &[i32], max_mean_flip: f64) -> Result<Self, Error> {
        let bad = |why: String| {
            Error::ClassCheck(format!("class_check.reference {}: {why}", dir.display()))
        };
        if !(max_mean_flip.is_finite() && max_mean_flip > 0.0 && max_mean_flip <= 1.0) {
            return Err(bad(format!(
                "class_check.max_mean_flip is {max_mean_flip}; give a mean HDR-FLIP above 0 and at most 1 (0.15 suits most scenes)"
            )));
        }
        let mut entries = tokio::fs::read_dir(dir)
            .await
            .map_err(|e| bad(format!("cannot read the folder: {e}")))?;
        let mut found = BTreeMap::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| bad(format!("cannot read the folder: {e}")))?
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(frame) = frame_of(&name).filter(|f| frames.contains(f)) else {
                continue;
            };
            if let Some(other) = found.insert(frame, entry.path()) {
                return Err(bad(format!(
                    "frame {frame} has two references, {} and {name}",
                    other.display()
                )));
            }
        }
        let missing: Vec<String> = frames
            .iter()
            .filter(|f| !found.contains_key(f))
            .map(i32::to_string)
            .collect();
        if !missing.is_empty() {
            return Err(bad(format!(
                "no reference render of benchmark frame {} (name each EXR with its frame number, as frame_0003.exr)",
                missing.join(", ")
            )));
        }
        let mut references = BTreeMap::new();
        for (frame, path) in found {
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
            let bytes = tokio::task::spawn_blocking(move || {
                frame_diff::read_image_bytes(&bytes, &path).map(|_| bytes)
            })
            .await
            .map_err(|e| bad(format!("reading frame {frame}'s reference: {e}")))?
            .map_err(|e| bad(format!("frame {frame}'s reference cannot be read: {e}")))?;
            references.insert(frame, bytes);
        }
        tracing::info!(
            frames = references.len(),
            max_mean_flip,
            "class check references read"
        );
        Ok(Self {
            frames: references,
            max_mean_flip,
        })
    }

    /// Compare the benchmark frame `frame` (its EXR `bytes`) with its
    /// reference: its mean HDR-FLIP when within the limit, else why not.
    /// Blocking: call it off the async threads.
    pub fn judge(&self, frame: i32, bytes: &[u8]) -> Result<f64, String> {
        let reference = self
            .frames
            .get(&frame)
            .ok_or_else(|| format!("frame {frame} has no reference render"))?;
        let path = Path::new("reference.exr");
        let reference = frame_diff::read_image_bytes(reference, path)
            .map_err(|e| format!("the reference of frame {frame} cannot be read: {e}"))?;
        let copy = frame_diff::read_image_bytes(bytes, Path::new("benchmark.exr"))
            .map_err(|e| format!("it cannot be read: {e}"))?;
        self.judge_image(&reference, &copy)
    }

    /// [`ClassReference::judge`] on decoded images.
    fn judge_image(&self, reference: &FrameImage, copy: &FrameImage) -> Result<f64, String> {
        let (comparison, _) = frame_diff::compare_with(
            reference,
            copy,
            &CompareConfig::default(),
            &frame_diff::flip::CpuBackend,
        );
        if comparison.verdict == frame_diff::Verdict::Identical {
            return Ok(0.0);
        }
        let Some(flip) = comparison.flip.as_ref().map(|f| f.mean) else {
            let why = comparison
                .reasons
                .iter()
                .map(|r| r.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(format!(
                "it cannot be compared with the reference render: {why}"
            ));
        };
        if flip.is_finite() && flip <= self.max_mean_flip {
            Ok(flip)
        } else {
            Err(format!(
                "it differs from the reference render by a mean FLIP of {flip:.3}; at most {:.3} is allowed",
                self.max_mean_flip
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use frame_diff::Channel;

    use super::*;

    /// A `w`x`h` RGB image whose values come from `value(x, y)`.
    fn image(w: u32, h: u32, value: impl Fn(u32, u32) -> f32) -> FrameImage {
        let plane =
            |scale: f32| -> Vec<f32> { (0..w * h).map(|i| scale * value(i % w, i / w)).collect() };
        FrameImage {
            width: w,
            height: h,
            channels: ["B", "G", "R"]
                .iter()
                .zip([0.3, 0.6, 0.9])
                .map(|(name, scale)| Channel {
                    name: (*name).into(),
                    samples: plane(scale),
                })
                .collect(),
        }
    }

    /// A gradient the tests compare with.
    fn gradient() -> FrameImage {
        image(96, 64, |x, y| (x + y) as f32 / 160.0)
    }

    fn reference() -> ClassReference {
        ClassReference {
            frames: BTreeMap::new(),
            max_mean_flip: 0.15,
        }
    }

    #[test]
    fn a_file_names_its_frame_by_its_last_digits() {
        assert_eq!(frame_of("frame_0003.exr"), Some(3));
        assert_eq!(frame_of("shot2_0012.exr"), Some(12));
        assert_eq!(frame_of("7.EXR"), Some(7));
        assert_eq!(frame_of("frame.exr"), None);
        assert_eq!(frame_of("frame_0003.png"), None);
    }

    #[test]
    fn the_same_render_passes_with_flip_zero() {
        assert_eq!(reference().judge_image(&gradient(), &gradient()), Ok(0.0));
    }

    #[test]
    fn slight_noise_passes_and_a_black_frame_is_refused() {
        let noisy = image(96, 64, |x, y| {
            (x + y) as f32 / 160.0 * if (x * 7 + y * 13) % 5 == 0 { 1.02 } else { 1.0 }
        });
        let flip = reference().judge_image(&gradient(), &noisy).unwrap();
        assert!(flip > 0.0 && flip < 0.15, "{flip}");
        let black = image(96, 64, |_, _| 0.0);
        let why = reference().judge_image(&gradient(), &black).unwrap_err();
        assert!(why.contains("differs from the reference render"), "{why}");
    }

    #[test]
    fn a_frame_of_another_size_cannot_be_compared() {
        let why = reference()
            .judge_image(&gradient(), &image(64, 64, |_, _| 0.5))
            .unwrap_err();
        assert!(why.contains("cannot be compared"), "{why}");
    }

    #[test]
    fn a_frame_without_a_reference_is_refused_saying_so() {
        let why = reference().judge(4, b"not an exr").unwrap_err();
        assert!(why.contains("frame 4 has no reference"), "{why}");
    }

    #[tokio::test]
    async fn every_benchmark_frame_needs_a_reference() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("frame_0001.exr"), b"x").unwrap();
        let error = ClassReference::load(dir.path(), &[1, 2, 3], 0.15)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("no reference render of benchmark frame 2, 3"),
            "{error}"
        );
        let error = ClassReference::load(dir.path(), &[1], 0.15)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("frame 1's reference cannot be read"),
            "{error}"
        );
        let error = ClassReference::load(dir.path(), &[1], 0.0)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("max_mean_flip"), "{error}");
    }
}
