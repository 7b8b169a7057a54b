//! The Cinema 4D adapter: `Commandline -nogui -render scene.c4d -frame FIRST
//! LAST STEP -oimage <task>/out/frame -oformat EXR`, one start per
//! arithmetic run of the task's frames, and its console output followed.
//!
//! Commandline prints `Rendering frame N at …` when a frame starts,
//! `Progress: P%` while it renders and `Rendering successful: S sec.` or
//! `Rendering failed` at the end; it is known to exit 0 after some
//! failures (a scene it cannot load, a take it cannot find), so a frame
//! counts only when its file is there, and a run that saved nothing is a
//! failure whatever the exit code. Frame `N` lands in `frame` + `N` padded
//! to four digits + `.exr` (`frame0012.exr`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use protocol::{Overrides, SceneOptions};

use crate::blender::RenderEvent;
use crate::process::Launch;
use crate::render::OutputParser;

/// The `-oimage` name frames are saved under in the output folder.
pub const FRAME_PREFIX: &str = "frame";

/// The file Commandline saves frame `frame` to in `dir`.
pub fn frame_file(dir: &Path, frame: i32) -> PathBuf {
    dir.join(format!("{FRAME_PREFIX}{frame:04}.exr"))
}

/// One `-frame FIRST LAST STEP` range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRun {
    /// First frame.
    pub first: i32,
    /// Last frame.
    pub last: i32,
    /// Step, at least 1.
    pub step: i32,
}

/// The task's frames as few runs as possible, in order: each maximal
/// ascending arithmetic stretch is one run (`1,3,5,6` is `1 5 2` then `6 6 1`).
pub fn runs(frames: &[i32]) -> Vec<FrameRun> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < frames.len() {
        let first = frames[i];
        let step = frames
            .get(i + 1)
            .map(|next| next - first)
            .filter(|s| *s > 0);
        let mut last = first;
        let mut j = i + 1;
        if let Some(step) = step {
            while j < frames.len() && frames[j] - last == step {
                last = frames[j];
                j += 1;
            }
        }
        runs.push(FrameRun {
            first,
            last,
            step: step.filter(|_| last != first).unwrap_or(1),
        });
        i = j;
    }
    runs
}

/// Everything one Cinema 4D task needs.
#[derive(Debug, Clone)]
pub struct C4dCommand {
    /// The `Commandline` executable.
    pub program: PathBuf,
    /// The scene, inside the task folder.
    pub scene: PathBuf,
    /// The output folder, inside the task folder.
    pub output_dir: PathBuf,
    /// Frames, in render order.
    pub frames: Vec<i32>,
    /// Overrides (resolution only: Commandline has no sampling switch).
    pub overrides: Overrides,
    /// The take.
    pub options: SceneOptions,
    /// Render threads (`-threads`), or every core.
    pub threads: Option<u32>,
}

impl C4dCommand {
    /// The runs, one per arithmetic stretch of frames.
    pub fn launches(&self) -> Vec<Launch> {
        runs(&self.frames)
            .into_iter()
            .map(|run| Launch {
                program: self.program.clone(),
                args: self.args(run),
                env: Vec::new(),
            })
            .collect()
    }

    /// One run's arguments.
    pub fn args(&self, run: FrameRun) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "-nogui".into(),
            "-render".into(),
            self.scene.clone().into(),
            "-frame".into(),
            run.first.to_string().into(),
            run.last.to_string().into(),
            run.step.to_string().into(),
            "-oimage".into(),
            self.output_dir.join(FRAME_PREFIX).into(),
            "-oformat".into(),
            "EXR".into(),
        ];
        if let Some([width, height]) = self.overrides.resolution {
            args.extend([
                "-oresolution".into(),
                width.to_string().into(),
                height.to_string().into(),
            ]);
        }
        if let Some(take) = &self.options.take {
            args.extend(["-take".into(), take.into()]);
        }
        if let Some(threads) = self.threads {
            args.extend(["-threads".into(), threads.to_string().into()]);
        }
        args
    }
}

/// Follows Commandline's output: a frame is done when the next starts or
/// the run ends, and reported only if its file exists.
#[derive(Debug)]
pub struct C4dTracker {
    /// The output folder.
    dir: PathBuf,
    /// The frame rendering and when it started.
    current: Option<(i32, Instant)>,
    /// The first error line.
    error: Option<String>,
}

impl C4dTracker {
    /// Follow a render saving into `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            current: None,
            error: None,
        }
    }

    /// The current frame, done: its save if its file is there.
    fn complete(&mut self) -> Option<RenderEvent> {
        let (frame, started) = self.current.take()?;
        let path = frame_file(&self.dir, frame);
        path.is_file().then(|| RenderEvent::FrameSaved {
            frame,
            path,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

impl OutputParser for C4dTracker {
    fn line(&mut self, line: &str) -> Option<RenderEvent> {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Rendering frame ") {
            let frame: i32 = rest.split_whitespace().next()?.parse().ok()?;
            let done = self.complete();
            self.current = Some((frame, Instant::now()));
            return done.or(Some(RenderEvent::Progress {
                frame,
                progress: Some(0.0),
            }));
        }
        if let Some(rest) = line.strip_prefix("Progress:") {
            let percent: f32 = rest.trim().trim_end_matches('%').trim().parse().ok()?;
            let (frame, _) = self.current?;
            return Some(RenderEvent::Progress {
                frame,
                progress: Some((percent / 100.0).clamp(0.0, 1.0)),
            });
        }
        if line.starts_with("Rendering successful") {
            return self.complete();
        }
        let lower = line.to_ascii_lowercase();
        if self.error.is_none()
            && (lower.starts_with("error")
                || lower.starts_with("rendering failed")
                || lower.contains("not found")
                || lower.contains("could not"))
        {
            self.error = Some(line.chars().take(300).collect());
        }
        None
    }

    fn finish(&mut self) -> Option<RenderEvent> {
        self.complete()
    }

    fn error(&self) -> Option<String> {
        self.error.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_become_as_few_runs_as_possible() {
        let run = |first, last, step| FrameRun { first, last, step };
        assert_eq!(runs(&[1, 2, 3, 4]), [run(1, 4, 1)]);
        assert_eq!(runs(&[1, 6, 11]), [run(1, 11, 5)]);
        assert_eq!(runs(&[1, 3, 5, 6]), [run(1, 5, 2), run(6, 6, 1)]);
        assert_eq!(runs(&[7]), [run(7, 7, 1)]);
        assert_eq!(runs(&[5, 4, 3]), [run(5, 5, 1), run(4, 4, 1), run(3, 3, 1)]);
        assert_eq!(runs(&[]), []);
    }

    #[test]
    fn the_command_line_is_commandlines() {
        let command = C4dCommand {
            program: "/opt/c4d/Commandline".into(),
            scene: "/t/bundle/shot.c4d".into(),
            output_dir: "/t/out".into(),
            frames: vec![10, 20, 30],
            overrides: Overrides {
                resolution: Some([640, 360]),
                samples: None,
            },
            options: SceneOptions {
                take: Some("close up".into()),
                render_target: None,
            },
            threads: Some(4),
        };
        let launches = command.launches();
        assert_eq!(launches.len(), 1);
        let args: Vec<String> = launches[0]
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "-nogui",
                "-render",
                "/t/bundle/shot.c4d",
                "-frame",
                "10",
                "30",
                "10",
                "-oimage",
                "/t/out/frame",
                "-oformat",
                "EXR",
                "-oresolution",
                "640",
                "360",
                "-take",
                "close up",
                "-threads",
                "4"
            ]
        );
    }

    #[test]
    fn frames_count_when_their_file_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let mut tracker = C4dTracker::new(dir.path());
        assert!(matches!(
            tracker.line("Rendering frame 1 at 10:00:00"),
            Some(RenderEvent::Progress { frame: 1, .. })
        ));
        assert_eq!(
            tracker.line("Progress: 50%"),
            Some(RenderEvent::Progress {
                frame: 1,
                progress: Some(0.5)
            })
        );
        std::fs::write(frame_file(dir.path(), 1), b"exr").unwrap();
        let saved = tracker.line("Rendering frame 2 at 10:00:01");
        assert!(
            matches!(&saved, Some(RenderEvent::FrameSaved { frame: 1, path, .. }) if path.ends_with("frame0001.exr")),
            "{saved:?}"
        );
        assert_eq!(tracker.finish(), None, "frame 2 has no file: not reported");
        assert_eq!(tracker.error(), None);
        tracker.line("Error loading document: /t/bundle/shot.c4d");
        tracker.line("Error: something else");
        assert_eq!(
            tracker.error().as_deref(),
            Some("Error loading document: /t/bundle/shot.c4d")
        );
    }
}
