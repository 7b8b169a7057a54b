//! A render in progress, whatever the renderer: one or more program runs in
//! the task folder, one after another (Cinema 4D renders one arithmetic run
//! of frames per start), their output lines turned into [`RenderEvent`]s by
//! the renderer's own parser.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use crate::blender::{LogTail, RenderEvent};
use crate::process::{Launch, RenderProcess};

/// Lines of output kept for failure reports.
pub const LOG_TAIL_LINES: usize = 50;

/// Turns one renderer's output lines into events.
pub trait OutputParser: Send {
    /// The event one output line gives, if any.
    fn line(&mut self, line: &str) -> Option<RenderEvent>;

    /// One program run's output ended: an event still held back (a frame
    /// whose file was complete once the run ended), if any.
    fn finish(&mut self) -> Option<RenderEvent>;

    /// The renderer's own account of what went wrong (its first error
    /// line), for the failure report.
    fn error(&self) -> Option<String> {
        None
    }
}

/// A render in progress, turned into [`RenderEvent`]s.
pub struct Render {
    /// The running program.
    process: RenderProcess,
    /// Runs still to start, in order, once the current one succeeds.
    pending: VecDeque<Launch>,
    /// The task folder every run starts in.
    workdir: PathBuf,
    /// The last output lines of every run.
    tail: LogTail,
    /// What the output says.
    parser: Box<dyn OutputParser>,
    /// Whether the current run's output end was passed to the parser.
    flushed: bool,
    /// How the render ended early: a run failed, or the next could not start.
    ended: Option<Result<ExitStatus, String>>,
}

impl Render {
    /// Start the first of `launches` (at least one) in `workdir`.
    pub fn start(
        launches: Vec<Launch>,
        workdir: &Path,
        parser: Box<dyn OutputParser>,
    ) -> std::io::Result<Self> {
        let mut pending = VecDeque::from(launches);
        let first = pending
            .pop_front()
            .ok_or_else(|| std::io::Error::other("nothing to run"))?;
        Ok(Self {
            process: RenderProcess::spawn(&first, workdir)?,
            pending,
            workdir: workdir.to_owned(),
            tail: LogTail::new(LOG_TAIL_LINES),
            parser,
            flushed: false,
            ended: None,
        })
    }

    /// The next event; `None` once the last run closed its output (or a run
    /// failed, so the rest were not started).
    pub async fn next_event(&mut self) -> Option<RenderEvent> {
        loop {
            if let Some(line) = self.process.next_line().await {
                tracing::trace!(target: "renderer", "{line}");
                self.tail.push(&line);
                if let Some(event) = self.parser.line(&line) {
                    return Some(event);
                }
                continue;
            }
            if !self.flushed {
                self.flushed = true;
                if let Some(event) = self.parser.finish() {
                    return Some(event);
                }
            }
            if self.pending.is_empty() || self.ended.is_some() {
                return None;
            }
            match self.process.wait().await {
                Ok(status) if status.success() => {}
                Ok(status) => {
                    self.ended = Some(Ok(status));
                    return None;
                }
                Err(error) => {
                    self.ended = Some(Err(error.to_string()));
                    return None;
                }
            }
            let next = self.pending.pop_front()?;
            match RenderProcess::spawn(&next, &self.workdir) {
                Ok(process) => {
                    self.process = process;
                    self.flushed = false;
                }
                Err(error) => {
                    self.ended = Some(Err(format!(
                        "cannot start {}: {error}",
                        next.program.display()
                    )));
                    return None;
                }
            }
        }
    }

    /// Wait for the render to end (after its output closed): the failed
    /// run's status, or the last run's.
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        match self.ended.take() {
            Some(Ok(status)) => Ok(status),
            Some(Err(error)) => Err(std::io::Error::other(error)),
            None => self.process.wait().await,
        }
    }

    /// Kill the running program and everything it started.
    pub async fn kill(&mut self) -> std::io::Result<ExitStatus> {
        self.pending.clear();
        self.process.kill().await
    }

    /// The last lines of output.
    pub fn log_tail(&self) -> String {
        self.tail.text()
    }

    /// The renderer's own error message, if it printed one.
    pub fn error(&self) -> Option<String> {
        self.parser.error()
    }
}
