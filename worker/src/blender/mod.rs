//! The Blender adapter: build the command, run it, follow its output.

pub mod command;
pub mod output;
pub mod process;

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Instant;

pub use command::{FrameSelection, FrameSelectionError, RenderCommand};
pub use output::LogTail;
pub use process::BlenderProcess;

use output::{OutputLine, parse_line};

/// Lines of output kept for failure reports.
pub const LOG_TAIL_LINES: usize = 50;

/// What a running render reports.
#[derive(Debug, Clone, PartialEq)]
pub enum RenderEvent {
    /// The output size the scene will render at.
    Size {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// Progress within a frame.
    Progress {
        /// The frame.
        frame: i32,
        /// Fraction of its samples done, when known.
        progress: Option<f32>,
    },
    /// A frame's file is written and complete.
    FrameSaved {
        /// The frame.
        frame: i32,
        /// The file.
        path: PathBuf,
        /// Seconds Blender spent on it (its own measure, or wall time between
        /// the frame's first status line and the save when it gives none).
        seconds: f64,
    },
}

/// A Blender render in progress, turned into [`RenderEvent`]s.
#[derive(Debug)]
pub struct Render {
    process: BlenderProcess,
    tail: LogTail,
    frame: Option<(i32, Instant)>,
    saved: Option<(i32, PathBuf, Instant)>,
}

impl Render {
    /// Start Blender for `command` in `workdir`.
    pub fn start(command: &RenderCommand, workdir: &Path) -> std::io::Result<Self> {
        Ok(Self {
            process: BlenderProcess::spawn(command, workdir)?,
            tail: LogTail::new(LOG_TAIL_LINES),
            frame: None,
            saved: None,
        })
    }

    /// The next event; `None` once Blender closed its output.
    pub async fn next_event(&mut self) -> Option<RenderEvent> {
        loop {
            let Some(line) = self.process.next_line().await else {
                // A save with no time line after it: use wall time.
                return self
                    .saved
                    .take()
                    .map(|(frame, path, started)| RenderEvent::FrameSaved {
                        frame,
                        path,
                        seconds: started.elapsed().as_secs_f64(),
                    });
            };
            tracing::trace!(target: "blender", "{line}");
            self.tail.push(&line);
            if let Some(event) = self.interpret(&line) {
                return Some(event);
            }
        }
    }

    /// Turn one output line into an event, tracking the current frame and
    /// a save waiting for its time line.
    fn interpret(&mut self, line: &str) -> Option<RenderEvent> {
        match parse_line(line)? {
            OutputLine::Size { width, height } => Some(RenderEvent::Size { width, height }),
            OutputLine::Status { frame, progress } => {
                if self.frame.is_none_or(|(current, _)| current != frame) {
                    self.frame = Some((frame, Instant::now()));
                }
                Some(RenderEvent::Progress { frame, progress })
            }
            OutputLine::Saved { path } => {
                let (frame, started) = self.frame?;
                let pending = self.saved.replace((frame, path, started));
                pending.map(|(frame, path, started)| RenderEvent::FrameSaved {
                    frame,
                    path,
                    seconds: started.elapsed().as_secs_f64(),
                })
            }
            OutputLine::FrameTime { seconds } => {
                let (frame, path, _) = self.saved.take()?;
                self.frame = None;
                Some(RenderEvent::FrameSaved {
                    frame,
                    path,
                    seconds,
                })
            }
        }
    }

    /// Wait for Blender to exit (after its output closed).
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.process.wait().await
    }

    /// Kill Blender and everything it started.
    pub async fn kill(&mut self) -> std::io::Result<ExitStatus> {
        self.process.kill().await
    }

    /// The last lines of output.
    pub fn log_tail(&self) -> String {
        self.tail.text()
    }
}
