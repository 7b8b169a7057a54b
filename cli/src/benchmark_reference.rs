//! `farm benchmark --reference DIR`: the studio's own renders of the frames,
//! one EXR per frame in `DIR` (the frame number is the last run of digits
//! in the file's name: `shot_0007.exr` is frame 7), checked against the
//! job's frames before anything is created, then uploaded one by one to
//! `PUT /api/v1/benchmarks/{id}/reference/{frame}` once the benchmark is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use protocol::FrameSpec;
use serde_json::{Value, json};

use crate::api::Api;
use crate::args::BenchmarkArgs;
use crate::error::Failure;
use crate::output::Output;

/// Most frames a job's spec is expanded to when checking the reference.
const MAX_FRAMES: usize = 1_000_000;

/// One reference file: its frame and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceFile {
    /// The frame it is a render of.
    pub frame: i32,
    /// The file.
    pub path: PathBuf,
    /// Its size, bytes.
    pub bytes: u64,
}

/// The frame number in a file name: its last run of digits
/// (`shot_0007.exr` → 7, `v2_shot_12.exr` → 12).
pub fn frame_of(name: &str) -> Option<i32> {
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let end = stem.rfind(|c: char| c.is_ascii_digit())? + 1;
    let start = stem[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    stem[start..end].parse().ok()
}

/// Every EXR in `dir` with its frame: one file per frame, each name with a
/// frame number; anything else in the folder is left alone.
pub fn scan(dir: &Path) -> Result<Vec<ReferenceFile>, Failure> {
    let unreadable =
        |e: std::io::Error| Failure::usage(format!("--reference {}: {e}", dir.display()));
    let mut files: BTreeMap<i32, ReferenceFile> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_exr = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("exr"));
        if !is_exr || !entry.file_type().map_err(unreadable)?.is_file() {
            continue;
        }
        let frame = frame_of(&name).ok_or_else(|| {
            Failure::usage(format!(
                "--reference: {name} has no frame number; name each file with its frame, like shot_0007.exr"
            ))
        })?;
        let bytes = entry.metadata().map_err(unreadable)?.len();
        if let Some(other) = files.insert(frame, ReferenceFile { frame, path, bytes }) {
            return Err(Failure::usage(format!(
                "--reference: {name} and {} are both frame {frame}; keep one file per frame",
                other.path.display()
            )));
        }
    }
    if files.is_empty() {
        return Err(Failure::usage(format!(
            "--reference {}: no .exr files in it",
            dir.display()
        )));
    }
    Ok(files.into_values().collect())
}

/// Refuse reference files for frames the job does not render (`spec`);
/// the job's frames without a file, which stay pending until uploaded.
pub fn check_frames(files: &[ReferenceFile], spec: &str) -> Result<Vec<i32>, Failure> {
    let frames = FrameSpec::parse(spec, MAX_FRAMES)
        .map_err(|e| Failure::usage(format!("--frames {spec}: {e}")))?;
    let frames = frames.frames();
    let outside: Vec<String> = files
        .iter()
        .filter(|f| !frames.contains(&f.frame))
        .map(|f| format!("{} (frame {})", f.path.display(), f.frame))
        .collect();
    if !outside.is_empty() {
        return Err(Failure::usage(format!(
            "--reference: {} outside the job's frames {spec}: {}; give --frames that include them or remove the files",
            if outside.len() == 1 {
                "a file is"
            } else {
                "files are"
            },
            outside.join(", ")
        )));
    }
    Ok(frames
        .iter()
        .copied()
        .filter(|frame| !files.iter().any(|f| f.frame == *frame))
        .collect())
}

/// The `reference` object of the benchmark request.
pub fn request(args: &BenchmarkArgs, dir: &Path) -> Value {
    let name = args.reference_name.clone().unwrap_or_else(|| {
        dir.canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "reference".to_owned())
    });
    let mut reference = json!({"name": name});
    if let Some(seconds) = args.reference_seconds_per_frame {
        reference["seconds_per_frame"] = json!(seconds);
    }
    if let Some(cost) = &args.reference_cost_per_frame {
        reference["cost_per_frame"] = json!(cost);
    }
    if let Some(seconds) = args.reference_time_to_complete {
        reference["time_to_complete_secs"] = json!(seconds);
    }
    reference
}

/// Upload every reference file to benchmark `id`; the answers.
pub async fn upload(
    api: &Api,
    id: &str,
    files: &[ReferenceFile],
    output: &Output,
) -> Result<Vec<Value>, Failure> {
    let spinner = output.spinner("uploading the reference frames");
    let mut answers = Vec::with_capacity(files.len());
    for file in files {
        let path = format!("/api/v1/benchmarks/{id}/reference/{}", file.frame);
        answers.push(api.put_file(&path, &file.path, file.bytes, |_| {}).await?);
    }
    spinner.finish_and_clear();
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_frame_is_the_last_run_of_digits() {
        assert_eq!(frame_of("shot_0007.exr"), Some(7));
        assert_eq!(frame_of("v2_shot_12.exr"), Some(12));
        assert_eq!(frame_of("0042.exr"), Some(42));
        assert_eq!(frame_of("render3.final.exr"), Some(3));
        assert_eq!(frame_of("shot.exr"), None);
    }

    #[test]
    fn files_outside_the_job_are_refused_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["ref_0001.exr", "ref_0002.exr", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"v/1\x01").unwrap();
        }
        let files = scan(dir.path()).unwrap();
        assert_eq!(
            files.iter().map(|f| f.frame).collect::<Vec<_>>(),
            [1, 2],
            "the text file is left alone"
        );
        assert_eq!(check_frames(&files, "1-3").unwrap(), [3]);
        let error = check_frames(&files, "2-3").unwrap_err().to_string();
        assert!(error.contains("ref_0001.exr (frame 1)"), "{error}");
        assert!(!error.contains("ref_0002"), "{error}");

        std::fs::write(dir.path().join("other_1.exr"), b"v/1\x01").unwrap();
        let error = scan(dir.path()).unwrap_err().to_string();
        assert!(error.contains("both frame 1"), "{error}");
        let empty = tempfile::tempdir().unwrap();
        assert!(
            scan(empty.path())
                .unwrap_err()
                .to_string()
                .contains("no .exr")
        );
    }

    #[test]
    fn the_report_shows_the_reference_as_stated_by_the_studio() {
        let value = json!({
            "id": "0190a1b2-0000-7000-8000-000000000000", "name": "shot", "currency": "EUR",
            "complete": false, "pending_frames": [2],
            "reference": {"name": "our farm", "frames_uploaded": 1, "frames_missing": [2],
                "stated_by_studio": {"seconds_per_frame": 30.0, "cost_per_frame_micros": 400000,
                    "time_to_complete_secs": null}},
            "runs": [
                {"position": 0, "node_class": "cpu-a", "job_id": "0190a1b2-0000-7000-8000-000000000001",
                 "state": "done", "frames": 2, "frames_done": 2, "time_to_complete_secs": 12.0,
                 "cost_micros": 400, "cost_per_frame_micros": 200, "render_seconds_per_frame": 2.0,
                 "parity": {"identical": 1, "within_tolerance": 0, "inconclusive": 0, "mismatch": 0,
                   "pending": 1, "mean_flip": 0.0, "max_flip": 0.0}}],
            "frames": [
                {"frame": 1, "reference": {"uploaded": true}, "runs": [
                    {"render_seconds": 2.0, "cost_micros": 200, "parity": {"status": "identical",
                      "mean_flip": 0.0, "max_flip": 0.0}}]},
                {"frame": 2, "reference": {"uploaded": false}, "runs": [
                    {"render_seconds": 2.0, "cost_micros": 200, "parity": {"status": "pending",
                      "pending_reason": "reference frame not uploaded"}}]}]
        });
        let report: crate::benchmark::Report = serde_json::from_value(value).unwrap();
        let text = report.text();
        for needle in [
            "our farm (reference)",
            "0.400000 EUR (stated)",
            "30.00s (stated)",
            "not observed",
            "reference frames not uploaded: 2",
            "CPU-A PARITY",
            "1 identical",
            "not uploaded",
            "pending (reference frame not uploaded)",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
    }
}
