//! The Blender adapter: build the command, run it, follow its output.

pub mod command;
pub mod events;
pub mod output;

use std::path::Path;

pub use command::{FrameSelection, FrameSelectionError, RenderCommand};
pub use events::{FrameTracker, RenderEvent};
pub use output::{LogTail, RenderBackend};

use crate::render::{OutputParser, Render};

impl OutputParser for FrameTracker {
    fn line(&mut self, line: &str) -> Option<RenderEvent> {
        FrameTracker::line(self, line)
    }

    fn finish(&mut self) -> Option<RenderEvent> {
        FrameTracker::finish(self)
    }
}

/// Start Blender for `command` in `workdir`.
pub fn start(command: &RenderCommand, workdir: &Path) -> std::io::Result<Render> {
    Render::start(
        vec![command.launch()],
        workdir,
        Box::new(FrameTracker::default()),
    )
}
