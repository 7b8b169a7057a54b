//! The Blender adapter: build the command, run it, follow its output.

pub mod command;
pub mod events;
pub mod output;
pub mod process;

use std::path::Path;
use std::process::ExitStatus;

pub use command::{FrameSelection, FrameSelectionError, RenderCommand};
pub use events::{FrameTracker, RenderEvent};
pub use output::{LogTail, RenderBackend};
pub use process::BlenderProcess;

/// Lines of output kept for failure reports.
pub const LOG_TAIL_LINES: usize = 50;

/// A Blender render in progress, turned into [`RenderEvent`]s.
#[derive(Debug)]
pub struct Render {
    /// The Blender process.
    process: BlenderProcess,
    /// Its last output lines.
    tail: LogTail,
    /// What its output says about the frames.
    frames: FrameTracker,
}

impl Render {
    /// Start Blender for `command` in `workdir`.
    pub fn start(command: &RenderCommand, workdir: &Path) -> std::io::Result<Self> {
        Ok(Self {
            process: BlenderProcess::spawn(command, workdir)?,
            tail: LogTail::new(LOG_TAIL_LINES),
            frames: FrameTracker::default(),
        })
    }

    /// The next event; `None` once Blender closed its output.
    pub async fn next_event(&mut self) -> Option<RenderEvent> {
        loop {
            let Some(line) = self.process.next_line().await else {
                return self.frames.finish();
            };
            tracing::trace!(target: "blender", "{line}");
            self.tail.push(&line);
            if let Some(event) = self.frames.line(&line) {
                return Some(event);
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
