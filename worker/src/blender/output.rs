//! Reading Blender's console output: which frame is rendering, how far it
//! is, which file it saved and how long the frame took.
//!
//! The output is not trusted: a scene can forge lines (an object's name may
//! hold a line break and a `Saved: '…'`), so a saved file is taken only
//! through [`confined_frame`].

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};

use protocol::RenderDevice;

use super::command::{DEVICE_MARKER, SIZE_MARKER};

/// What Cycles renders on, as the settings script reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RenderBackend {
    /// The CPU (also when the script said nothing).
    #[default]
    Cpu,
    /// NVIDIA GPUs through CUDA.
    Cuda,
    /// NVIDIA GPUs through OptiX.
    Optix,
}

impl RenderBackend {
    /// The backend a [`DEVICE_MARKER`] line names (`OPTIX`, `CUDA`, `CPU`).
    pub fn from_marker(name: &str) -> Option<Self> {
        match name {
            "CPU" => Some(Self::Cpu),
            "CUDA" => Some(Self::Cuda),
            "OPTIX" => Some(Self::Optix),
            _ => None,
        }
    }

    /// The device reported for the frames: a GPU for CUDA and OptiX.
    pub fn device(self) -> RenderDevice {
        match self {
            Self::Cpu => RenderDevice::Cpu,
            Self::Cuda | Self::Optix => RenderDevice::Gpu,
        }
    }

    /// Its name in logs (`cpu`, `cuda`, `optix`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::Optix => "optix",
        }
    }
}

impl std::fmt::Display for RenderBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something learned from one line of Blender's output.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputLine {
    /// The settings script reported the output size in pixels.
    Size {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// The settings script reported the device Cycles renders on.
    Device {
        /// What the script chose.
        backend: RenderBackend,
    },
    /// A status line of a frame (`Fra:12 ... | Sample 3/16`).
    Status {
        /// The frame being rendered.
        frame: i32,
        /// Samples done over samples wanted, when the line says.
        progress: Option<f32>,
    },
    /// `Saved: '/path/frame_000012.exr'`.
    Saved {
        /// The written file.
        path: PathBuf,
    },
    /// ` Time: 00:01.23 (Saving: 00:00.01)`: the frame's render time.
    FrameTime {
        /// Seconds, saving included.
        seconds: f64,
    },
}

/// Parse one line; `None` for lines that carry nothing the worker uses.
pub fn parse_line(line: &str) -> Option<OutputLine> {
    if let Some(rest) = line.strip_prefix(SIZE_MARKER) {
        let mut numbers = rest.split_whitespace().map(str::parse::<u32>);
        return match (numbers.next(), numbers.next()) {
            (Some(Ok(width)), Some(Ok(height))) => Some(OutputLine::Size { width, height }),
            _ => None,
        };
    }
    if let Some(rest) = line.strip_prefix(DEVICE_MARKER) {
        let backend = RenderBackend::from_marker(rest.trim())?;
        return Some(OutputLine::Device { backend });
    }
    if let Some(rest) = line.strip_prefix("Fra:") {
        let digits = rest.split_whitespace().next()?;
        let frame = digits.parse().ok()?;
        return Some(OutputLine::Status {
            frame,
            progress: sample_progress(line),
        });
    }
    if let Some(rest) = line.strip_prefix("Saved: '") {
        let path = rest.strip_suffix('\'')?;
        return Some(OutputLine::Saved {
            path: PathBuf::from(path),
        });
    }
    let rest = line.strip_prefix(" Time: ")?;
    let clock = rest.split_whitespace().next()?;
    Some(OutputLine::FrameTime {
        seconds: parse_clock(clock)?,
    })
}

/// Why a file Blender reported saving is not taken as a frame.
#[derive(Debug, thiserror::Error)]
pub enum SavedFileError {
    /// The reported path is relative.
    #[error("blender reported saving {0:?}, which is not an absolute path")]
    NotAbsolute(PathBuf),
    /// The file cannot be inspected (it does not exist, no access).
    #[error("blender reported saving {path:?}, which cannot be inspected: {source}")]
    Inspect {
        /// The reported path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is a link, a folder or another special file.
    #[error("blender reported saving {0:?}, which is not a regular file")]
    NotRegularFile(PathBuf),
    /// The file lies outside the task's output folder.
    #[error(
        "blender reported saving {path:?}, which resolves to {resolved:?}, outside the output folder {dir:?}"
    )]
    Outside {
        /// The reported path.
        path: PathBuf,
        /// Where it leads.
        resolved: PathBuf,
        /// The canonical output folder.
        dir: PathBuf,
    },
}

/// The canonical path of the file Blender reported saving, when it is a
/// regular file (not a link) inside the output folder `dir`. Blocking, but
/// only a few metadata calls.
pub fn confined_frame(dir: &Path, reported: &Path) -> Result<PathBuf, SavedFileError> {
    if !reported.is_absolute() {
        return Err(SavedFileError::NotAbsolute(reported.to_owned()));
    }
    let inspect = |source| SavedFileError::Inspect {
        path: reported.to_owned(),
        source,
    };
    if !std::fs::symlink_metadata(reported)
        .map_err(inspect)?
        .file_type()
        .is_file()
    {
        return Err(SavedFileError::NotRegularFile(reported.to_owned()));
    }
    let dir = std::fs::canonicalize(dir).map_err(inspect)?;
    let resolved = std::fs::canonicalize(reported).map_err(inspect)?;
    if !resolved.starts_with(&dir) {
        return Err(SavedFileError::Outside {
            path: reported.to_owned(),
            resolved,
            dir,
        });
    }
    Ok(resolved)
}

/// `Sample 3/16` anywhere in a status line, as 3/16.
fn sample_progress(line: &str) -> Option<f32> {
    let start = line.rfind("Sample ")? + "Sample ".len();
    let fraction = line[start..].split([',', ' ', '|']).next()?;
    let (done, total) = fraction.split_once('/')?;
    let done: f32 = done.parse().ok()?;
    let total: f32 = total.parse().ok()?;
    (total > 0.0).then(|| (done / total).clamp(0.0, 1.0))
}

/// `MM:SS.cc` or `HH:MM:SS.cc` as seconds.
fn parse_clock(clock: &str) -> Option<f64> {
    let mut seconds = 0.0;
    let mut parts = 0;
    for part in clock.split(':') {
        seconds = seconds * 60.0 + part.parse::<f64>().ok()?;
        parts += 1;
    }
    (2..=3).contains(&parts).then_some(seconds)
}

/// The last lines of the renderer's output, for failure reports.
#[derive(Debug, Clone)]
pub struct LogTail {
    lines: VecDeque<String>,
    capacity: usize,
}

impl LogTail {
    /// Keep at most `capacity` lines.
    pub fn new(capacity: usize) -> Self {
        Self {
            lines: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// Remember a line, forgetting the oldest past capacity.
    pub fn push(&mut self, line: &str) {
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        self.lines.push_back(line.to_owned());
    }

    /// The kept lines joined by newlines.
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines captured from Debian's Blender 3.4.1 rendering samples/sample.blend.
    const CAPTURED: &str = "\
Blender 3.4.1
Read blend: /work/main/samples/sample.blend
FARM-DEVICE: CPU
RENDERFARM_SIZE 160 90
Fra:1 Mem:10.03M (Peak 11.26M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Synchronizing object | Lamp
Fra:1 Mem:10.80M (Peak 11.26M) | Time:00:00.09 | Mem:1.08M, Peak:1.08M | Scene, ViewLayer | Sample 0/16
Fra:1 Mem:11.03M (Peak 11.26M) | Time:00:00.13 | Remaining:00:00.52 | Mem:1.30M, Peak:1.30M | Scene, ViewLayer | Sample 1/16
Fra:1 Mem:11.25M (Peak 11.69M) | Time:00:00.45 | Mem:1.30M, Peak:1.30M | Scene, ViewLayer | Sample 16/16
Fra:1 Mem:11.25M (Peak 11.69M) | Time:00:00.45 | Mem:1.30M, Peak:1.30M | Scene, ViewLayer | Finished
Saved: '/tmp/x/frame_000001.exr'
 Time: 00:00.46 (Saving: 00:00.00)

Blender quit";

    #[test]
    fn parses_captured_blender_output() {
        let parsed: Vec<OutputLine> = CAPTURED.lines().filter_map(parse_line).collect();
        assert_eq!(
            parsed,
            vec![
                OutputLine::Device {
                    backend: RenderBackend::Cpu
                },
                OutputLine::Size {
                    width: 160,
                    height: 90
                },
                OutputLine::Status {
                    frame: 1,
                    progress: None
                },
                OutputLine::Status {
                    frame: 1,
                    progress: Some(0.0)
                },
                OutputLine::Status {
                    frame: 1,
                    progress: Some(1.0 / 16.0)
                },
                OutputLine::Status {
                    frame: 1,
                    progress: Some(1.0)
                },
                OutputLine::Status {
                    frame: 1,
                    progress: None
                },
                OutputLine::Saved {
                    path: "/tmp/x/frame_000001.exr".into()
                },
                OutputLine::FrameTime { seconds: 0.46 },
            ]
        );
    }

    #[test]
    fn device_markers_name_the_backend_and_only_gpus_count_as_gpu() {
        let backend = |line| match parse_line(line) {
            Some(OutputLine::Device { backend }) => Some(backend),
            None => None,
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(backend("FARM-DEVICE: OPTIX"), Some(RenderBackend::Optix));
        assert_eq!(backend("FARM-DEVICE: CUDA"), Some(RenderBackend::Cuda));
        assert_eq!(backend("FARM-DEVICE: CPU"), Some(RenderBackend::Cpu));
        assert_eq!(backend("FARM-DEVICE: CUDA \r"), Some(RenderBackend::Cuda));
        for unknown in [
            "FARM-DEVICE: HIP",
            "FARM-DEVICE: optix",
            "FARM-DEVICE:",
            "FARM-DEVICE: CUDA OPTIX",
            " FARM-DEVICE: CUDA",
        ] {
            assert_eq!(backend(unknown), None, "{unknown}");
        }
        assert_eq!(RenderBackend::Optix.device(), RenderDevice::Gpu);
        assert_eq!(RenderBackend::Cuda.device(), RenderDevice::Gpu);
        assert_eq!(RenderBackend::Cpu.device(), RenderDevice::Cpu);
        assert_eq!(RenderBackend::default(), RenderBackend::Cpu);
        assert_eq!(
            [
                RenderBackend::Optix,
                RenderBackend::Cuda,
                RenderBackend::Cpu
            ]
            .map(|b| b.to_string()),
            ["optix", "cuda", "cpu"]
        );
    }

    #[test]
    fn reads_long_frame_times() {
        assert_eq!(
            parse_line(" Time: 01:02:03.50 (Saving: 00:00.10)"),
            Some(OutputLine::FrameTime { seconds: 3723.5 })
        );
        assert_eq!(
            parse_line(" Time: 12:00.25 (Saving: 00:01.00)"),
            Some(OutputLine::FrameTime { seconds: 720.25 })
        );
        assert_eq!(parse_line(" Time: soon"), None);
    }

    #[test]
    fn ignores_lookalikes() {
        for line in [
            "Fra:x Mem:1M",
            "Saved: '/tmp/unterminated",
            "Error: File format is not supported in file '/tmp/bad.blend'",
            "RENDERFARM_SIZE many",
            "",
        ] {
            assert_eq!(parse_line(line), None, "{line}");
        }
        assert_eq!(
            parse_line("Fra:250 Mem:1M | Scene, ViewLayer | Rendered 2/4 Tiles, Sample 8/32"),
            Some(OutputLine::Status {
                frame: 250,
                progress: Some(0.25)
            })
        );
    }

    #[test]
    fn a_regular_frame_file_in_the_output_folder_is_taken() {
        let task = tempfile::tempdir().unwrap();
        let out = task.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("frame_000001.exr"), b"exr").unwrap();
        let canonical = std::fs::canonicalize(&out)
            .unwrap()
            .join("frame_000001.exr");
        assert_eq!(
            confined_frame(&out, &out.join("frame_000001.exr")).unwrap(),
            canonical
        );
        // Reported through a link to the task folder, it is the same file.
        let elsewhere = tempfile::tempdir().unwrap();
        let link = elsewhere.path().join("task");
        std::os::unix::fs::symlink(task.path(), &link).unwrap();
        assert_eq!(
            confined_frame(&out, &link.join("out/frame_000001.exr")).unwrap(),
            canonical
        );
    }

    #[test]
    fn files_outside_the_output_folder_are_refused() {
        let task = tempfile::tempdir().unwrap();
        let out = task.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(task.path().join("scene.blend"), b"scene").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.exr"), b"secret").unwrap();
        for reported in [
            outside.path().join("secret.exr"),
            task.path().join("scene.blend"),
            out.join("../scene.blend"),
        ] {
            assert!(
                matches!(
                    confined_frame(&out, &reported),
                    Err(SavedFileError::Outside { .. })
                ),
                "{reported:?}"
            );
        }
        // A folder inside that links out.
        std::os::unix::fs::symlink(outside.path(), out.join("sub")).unwrap();
        let error = confined_frame(&out, &out.join("sub/secret.exr")).unwrap_err();
        assert!(matches!(error, SavedFileError::Outside { .. }), "{error}");
        assert!(
            error.to_string().contains("outside the output folder"),
            "{error}"
        );
        assert!(matches!(
            confined_frame(&out, Path::new("out/frame_000001.exr")),
            Err(SavedFileError::NotAbsolute(_))
        ));
    }

    #[test]
    fn links_folders_and_missing_files_are_refused() {
        let task = tempfile::tempdir().unwrap();
        let out = task.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.exr"), b"secret").unwrap();
        std::fs::write(out.join("frame_000001.exr"), b"exr").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.exr"),
            out.join("frame_000002.exr"),
        )
        .unwrap();
        std::os::unix::fs::symlink(out.join("frame_000001.exr"), out.join("frame_000003.exr"))
            .unwrap();
        std::fs::create_dir(out.join("frame_000004.exr")).unwrap();
        for frame in [2, 3, 4] {
            let reported = out.join(format!("frame_{frame:06}.exr"));
            assert!(
                matches!(
                    confined_frame(&out, &reported),
                    Err(SavedFileError::NotRegularFile(_))
                ),
                "{reported:?}"
            );
        }
        assert!(matches!(
            confined_frame(&out, &out.join("frame_000005.exr")),
            Err(SavedFileError::Inspect { .. })
        ));
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let mut tail = LogTail::new(3);
        for line in ["a", "b", "c", "d"] {
            tail.push(line);
        }
        assert_eq!(tail.text(), "b\nc\nd");
    }
}
