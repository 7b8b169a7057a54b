//! Rendering one task: fetch the scene, run Blender in a fresh working
//! folder, deliver each frame as it is saved, and say how it ended.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::{Renderer, TaskMessage};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::blender::{
    FrameSelection, Render, RenderBackend, RenderCommand, RenderEvent, command, output,
};
use crate::grants::GrantClient;
use crate::heartbeat::Activity;
use crate::report::Reporter;
use crate::scene_cache::{GrantedScene, SceneCache};
#[cfg(feature = "tamper")]
use crate::tamper::Tamperer;
use crate::upload::{DeliveryError, FrameSink, SavedFrame};

/// The folder of a task's working folder a bundle is laid out in.
const BUNDLE_DIR: &str = "bundle";

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    /// Every frame was delivered.
    Done {
        /// What Blender rendered on.
        backend: RenderBackend,
    },
    /// The task failed; it is reported and not retried by this worker.
    Failed {
        /// One-line reason.
        error: String,
        /// The renderer's last output lines (empty if it never ran).
        log_tail: String,
    },
    /// Its job was cancelled while it rendered.
    Cancelled,
    /// The worker is shutting down and the grace period ran out.
    Interrupted,
}

impl TaskOutcome {
    /// A failure before Blender ran (no log tail).
    fn failed(error: impl ToString) -> Self {
        Self::Failed {
            error: error.to_string(),
            log_tail: String::new(),
        }
    }
}

/// What every task needs from its worker.
#[derive(Clone)]
pub struct TaskRunner {
    /// The Blender executable.
    pub blender: PathBuf,
    /// Render threads per Blender process; None for every core.
    pub render_threads: Option<u32>,
    /// UUID of the one GPU Blender may see (a pinned worker); None leaves
    /// every GPU visible.
    pub gpu: Option<String>,
    /// Whether the worker announced at least one GPU: only then does a task
    /// that asks for a GPU get Blender to try one.
    pub has_gpu: bool,
    /// Folder of per-task working folders.
    pub tasks_dir: PathBuf,
    /// Scene cache.
    pub scenes: SceneCache,
    /// Storage grants (the worker holds no store credentials).
    pub grants: GrantClient,
    /// Results publisher.
    pub reporter: Reporter,
    /// Progress shared with the heartbeats.
    pub activity: Activity,
    /// Test only: how to falsify delivered frames.
    #[cfg(feature = "tamper")]
    pub tamper: Option<Tamperer>,
}

/// Why the render loop stopped early.
enum Stop {
    Cancelled,
    Interrupted,
    TimedOut,
    Failed(String),
}

impl TaskRunner {
    /// Render `task`. `cancel` fires when its job is cancelled, `abort` when
    /// the worker must stop now; either kills Blender.
    pub async fn execute(
        &self,
        task: &TaskMessage,
        cancel: &CancellationToken,
        abort: &CancellationToken,
    ) -> TaskOutcome {
        if task.renderer != Renderer::Blender {
            return TaskOutcome::failed(format!(
                "this worker cannot render {} tasks",
                task.renderer
            ));
        }
        let frames = match FrameSelection::from_frames(&task.frames) {
            Ok(frames) => frames,
            Err(error) => return TaskOutcome::failed(error),
        };
        let source = GrantedScene {
            grants: &self.grants,
            task: task.task_id,
            attempt: task.attempt,
        };
        let scene = tokio::select! {
            () = cancel.cancelled() => return TaskOutcome::Cancelled,
            () = abort.cancelled() => return TaskOutcome::Interrupted,
            scene = self.scenes.fetch(&source, &task.scene) => match scene {
                Ok(scene) => scene,
                Err(error) => return TaskOutcome::failed(error),
            },
        };
        let workdir = match self.prepare_workdir().await {
            Ok(workdir) => workdir,
            Err(error) => return TaskOutcome::failed(error),
        };
        let scene = tokio::select! {
            () = cancel.cancelled() => return TaskOutcome::Cancelled,
            () = abort.cancelled() => return TaskOutcome::Interrupted,
            scene = self.place_scene(task, &source, &scene, workdir.path()) => match scene {
                Ok(scene) => scene,
                Err(error) => return TaskOutcome::failed(error),
            },
        };
        let output = match command::TaskOutput::frames_in(workdir.path()) {
            Ok(output) => output,
            Err(error) => return TaskOutcome::failed(error),
        };
        let command = RenderCommand {
            blender: self.blender.clone(),
            scene,
            output,
            frames,
            depth: task.output.depth,
            overrides: task.overrides,
            threads: self.render_threads,
            gpu: self.gpu.clone(),
            device: task.device,
            has_gpu: self.has_gpu,
        };
        self.render(task, &command, workdir.path(), cancel, abort)
            .await
    }

    /// A fresh working folder with an empty output folder.
    async fn prepare_workdir(&self) -> Result<tempfile::TempDir, String> {
        let describe = |what: &str, e: std::io::Error| format!("cannot {what}: {e}");
        tokio::fs::create_dir_all(&self.tasks_dir)
            .await
            .map_err(|e| describe(&format!("create {}", self.tasks_dir.display()), e))?;
        let workdir = tempfile::Builder::new()
            .prefix("task-")
            .tempdir_in(&self.tasks_dir)
            .map_err(|e| describe("create the task folder", e))?;
        tokio::fs::create_dir(workdir.path().join(command::OUTPUT_DIR))
            .await
            .map_err(|e| describe("create the output folder", e))?;
        Ok(workdir)
    }

    /// Put the task's scene (hard-linked from the cache, or copied) into
    /// `workdir`: alone as `scene.<ext>`, or with its bundle's files around
    /// it under `bundle/`. Returns the path the renderer opens.
    async fn place_scene(
        &self,
        task: &TaskMessage,
        source: &GrantedScene<'_>,
        cached: &Path,
        workdir: &Path,
    ) -> Result<PathBuf, String> {
        if let Some(bundle) = &task.bundle {
            let root = workdir.join(BUNDLE_DIR);
            let scene = (&task.scene.hash, cached);
            return crate::bundle::lay_out(&self.scenes, source, bundle, scene, &root)
                .await
                .map_err(|e| e.to_string());
        }
        let local = workdir.join(format!("scene.{}", task.scene.ext));
        if tokio::fs::hard_link(cached, &local).await.is_err() {
            tokio::fs::copy(cached, &local)
                .await
                .map_err(|e| format!("cannot copy the scene into the task folder: {e}"))?;
        }
        Ok(local)
    }

    /// Run Blender for `command`, delivering frames as they are saved, until
    /// it exits or is stopped.
    async fn render(
        &self,
        task: &TaskMessage,
        command: &RenderCommand,
        workdir: &Path,
        cancel: &CancellationToken,
        abort: &CancellationToken,
    ) -> TaskOutcome {
        let mut render = match Render::start(command, workdir) {
            Ok(render) => render,
            Err(error) => {
                return TaskOutcome::failed(format!(
                    "cannot start {}: {error}",
                    command.blender.display()
                ));
            }
        };
        tracing::info!(frames = ?task.frames, "blender started");
        let sink = FrameSink {
            grants: self.grants.clone(),
            reporter: self.reporter.clone(),
            task_id: task.task_id,
            attempt: task.attempt,
            job_id: task.job_id,
            replica: task.replica,
            #[cfg(feature = "tamper")]
            tamper: self.tamper.clone(),
        };
        let (frames_tx, frames_rx) = mpsc::unbounded_channel();
        let mut delivery: JoinHandle<Result<_, DeliveryError>> =
            tokio::spawn(sink.deliver_all(frames_rx).in_current_span());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(task.timeout_secs);
        let requested: BTreeSet<i32> = task.frames.iter().copied().collect();
        let mut saved = BTreeSet::new();
        let mut size = None;
        // The CPU until the settings script says otherwise.
        let mut backend = RenderBackend::Cpu;

        let stop = loop {
            let event = tokio::select! {
                biased;
                () = cancel.cancelled() => break Some(Stop::Cancelled),
                () = abort.cancelled() => break Some(Stop::Interrupted),
                () = tokio::time::sleep_until(deadline) => break Some(Stop::TimedOut),
                finished = &mut delivery => break Some(Stop::Failed(delivery_failure(finished))),
                event = render.next_event() => event,
            };
            match event {
                None => break None,
                Some(RenderEvent::Device { backend: said }) => {
                    backend = command.credible_backend(said);
                    if backend != said {
                        tracing::warn!(device = %said, "a GPU device line from a CPU render is ignored");
                    }
                    tracing::info!(device = %backend, "blender chose its render device");
                }
                Some(RenderEvent::Size { width, height }) => size = Some((width, height)),
                Some(RenderEvent::Progress { frame, progress }) => {
                    self.activity.progress(frame, progress);
                }
                Some(RenderEvent::FrameSaved {
                    frame,
                    path,
                    seconds,
                }) => {
                    if !requested.contains(&frame) || !saved.insert(frame) {
                        tracing::warn!(frame, "blender saved a frame that was not asked for");
                        continue;
                    }
                    let path = match output::confined_frame(command.output.dir(), &path) {
                        Ok(path) => path,
                        Err(error) => break Some(Stop::Failed(format!("frame {frame}: {error}"))),
                    };
                    let Some((width, height)) = size else {
                        break Some(Stop::Failed(format!(
                            "frame {frame} was saved before the settings script reported the output size"
                        )));
                    };
                    // The receiver lives until the delivery task ends, which the
                    // select above notices first.
                    let _ = frames_tx.send(SavedFrame {
                        frame,
                        path,
                        render_seconds: seconds,
                        width,
                        height,
                        device: backend.device(),
                    });
                }
            }
        };

        if let Some(stop) = stop {
            if let Err(error) = render.kill().await {
                tracing::warn!(%error, "killing blender failed");
            }
            delivery.abort();
            return match stop {
                Stop::Cancelled => TaskOutcome::Cancelled,
                Stop::Interrupted => TaskOutcome::Interrupted,
                Stop::TimedOut => TaskOutcome::Failed {
                    error: format!(
                        "render timed out after {} s; blender was killed",
                        task.timeout_secs
                    ),
                    log_tail: render.log_tail(),
                },
                Stop::Failed(error) => TaskOutcome::Failed {
                    error,
                    log_tail: render.log_tail(),
                },
            };
        }

        let status = tokio::select! {
            () = tokio::time::sleep_until(deadline) => None,
            status = render.wait() => Some(status),
        };
        let failure = match status {
            None => {
                let _ = render.kill().await;
                Some(format!(
                    "render timed out after {} s; blender was killed",
                    task.timeout_secs
                ))
            }
            Some(Err(error)) => Some(format!("cannot wait for blender: {error}")),
            Some(Ok(status)) if status.code() == Some(command::SETTINGS_SCRIPT_EXIT_CODE) => {
                Some("the render settings could not be applied to the scene".to_owned())
            }
            Some(Ok(status)) if !status.success() => Some(format!("blender failed ({status})")),
            Some(Ok(_)) => {
                let missing: Vec<i32> = requested.difference(&saved).copied().collect();
                (!missing.is_empty())
                    .then(|| format!("blender exited without saving frames {missing:?}"))
            }
        };
        if let Some(error) = failure {
            delivery.abort();
            return TaskOutcome::Failed {
                error,
                log_tail: render.log_tail(),
            };
        }
        drop(frames_tx);
        let finished = tokio::select! {
            () = cancel.cancelled() => Err(TaskOutcome::Cancelled),
            () = abort.cancelled() => Err(TaskOutcome::Interrupted),
            finished = &mut delivery => Ok(finished),
        };
        match finished {
            Ok(Ok(Ok(_))) => TaskOutcome::Done { backend },
            Ok(finished) => TaskOutcome::Failed {
                error: delivery_failure(finished),
                log_tail: render.log_tail(),
            },
            Err(stopped) => {
                delivery.abort();
                stopped
            }
        }
    }
}

/// Why a frame delivery task ended while frames were still expected.
fn delivery_failure<T>(
    finished: Result<Result<T, DeliveryError>, tokio::task::JoinError>,
) -> String {
    match finished {
        Ok(Err(error)) => error.to_string(),
        Ok(Ok(_)) => "frame delivery ended before the render".to_owned(),
        Err(error) => format!("frame delivery stopped: {error}"),
    }
}
