//! Rendering one task: fetch the scene, run its renderer (Blender, Cinema 4D
//! or Octane) in a fresh working folder, deliver each frame as it is saved,
//! and say how it ended.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::TaskMessage;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::blender::{
    FrameSelection, FrameTracker, RenderBackend, RenderCommand, RenderEvent, command, output,
};
use crate::cinema4d::{C4dCommand, C4dTracker};
use crate::grants::GrantClient;
use crate::heartbeat::Activity;
use crate::octane::{OctaneCommand, OctaneTracker};
use crate::process::Launch;
use crate::render::{OutputParser, Render};
use crate::renderers::{Engine, Installation, Installed};
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
        /// What the renderer rendered on.
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
    /// A failure before the renderer ran (no log tail).
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
    /// The renderers the machine has.
    pub installed: Installed,
    /// The Octane batch script in the work folder, when Octane is installed.
    pub octane_script: Option<PathBuf>,
    /// Render threads per renderer process; None for every core.
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

/// How one task is rendered: the runs, how their output reads, where the
/// frames land.
struct Plan {
    /// The renderer's name in messages.
    name: &'static str,
    /// The program runs, in order.
    launches: Vec<Launch>,
    /// Its output parser.
    parser: Box<dyn OutputParser>,
    /// The output folder.
    output: command::TaskOutput,
    /// The Blender command, for a Blender engine (device lines, the
    /// settings script's exit code, the output size it prints).
    blender: Option<RenderCommand>,
    /// The device a renderer without device lines renders on.
    backend: RenderBackend,
    /// The size the frames must have, when the job sets it; otherwise the
    /// first frame's (Blender's settings script prints it).
    size: Option<(u32, u32)>,
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
        let Some(install) = self.installed.for_task(task) else {
            return TaskOutcome::failed(format!(
                "this worker has no renderer for {} tasks of .{} scenes",
                task.renderer, task.scene.ext
            ));
        };
        if task.frames.is_empty() {
            return TaskOutcome::failed("the task has no frames");
        }
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
        let plan = match self.plan(task, install, scene, workdir.path()) {
            Ok(plan) => plan,
            Err(error) => return TaskOutcome::failed(error),
        };
        self.render(task, plan, workdir.path(), cancel, abort).await
    }

    /// How `install` renders `task`'s `scene` in `workdir`.
    fn plan(
        &self,
        task: &TaskMessage,
        install: &Installation,
        scene: PathBuf,
        workdir: &Path,
    ) -> Result<Plan, String> {
        let output = command::TaskOutput::frames_in(workdir).map_err(|e| e.to_string())?;
        let size = task.overrides.resolution.map(|[w, h]| (w, h));
        let options = task.scene_options.clone();
        for name in [&options.take, &options.render_target]
            .into_iter()
            .flatten()
        {
            // Checked again here, whatever the coordinator sent.
            protocol::SceneOptions::check_name(name)
                .map_err(|why| format!("scene option {name:?} {why}"))?;
        }
        let plan = match install.engine {
            Engine::Blender | Engine::OctaneBlender => {
                let command = RenderCommand {
                    blender: install.path.clone(),
                    scene,
                    output,
                    frames: FrameSelection::from_frames(&task.frames).map_err(|e| e.to_string())?,
                    depth: task.output.depth,
                    overrides: task.overrides,
                    threads: self.render_threads,
                    gpu: self.gpu.clone(),
                    device: task.device,
                    has_gpu: self.has_gpu,
                };
                Plan {
                    name: if install.engine == Engine::Blender {
                        "blender"
                    } else {
                        "OctaneRender for Blender"
                    },
                    launches: vec![command.launch()],
                    parser: Box::new(FrameTracker::default()),
                    output: command.output.clone(),
                    blender: Some(command),
                    backend: RenderBackend::Cpu,
                    size: None,
                }
            }
            Engine::Cinema4d => {
                let command = C4dCommand {
                    program: install.path.clone(),
                    scene,
                    output_dir: output.dir().to_owned(),
                    frames: task.frames.clone(),
                    overrides: task.overrides,
                    options,
                    threads: self.render_threads,
                };
                Plan {
                    name: "Cinema 4D Commandline",
                    launches: command.launches(),
                    parser: Box::new(C4dTracker::new(output.dir())),
                    output,
                    blender: None,
                    backend: RenderBackend::Cpu,
                    size,
                }
            }
            Engine::OctaneStandalone => {
                let script = self
                    .octane_script
                    .clone()
                    .ok_or("the Octane batch script was not installed")?;
                let command = OctaneCommand {
                    program: install.path.clone(),
                    script,
                    scene,
                    output_dir: output.dir().to_owned(),
                    frames: task.frames.clone(),
                    overrides: task.overrides,
                    options,
                };
                Plan {
                    name: "Octane",
                    launches: vec![command.launch()],
                    parser: Box::new(OctaneTracker::default()),
                    output,
                    blender: None,
                    // Octane renders on the GPU; without one, on its CPU path.
                    backend: if self.has_gpu {
                        RenderBackend::Cuda
                    } else {
                        RenderBackend::Cpu
                    },
                    size,
                }
            }
        };
        Ok(plan)
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

    /// Run the renderer as `plan` says, delivering frames as they are
    /// saved, until it exits or is stopped.
    async fn render(
        &self,
        task: &TaskMessage,
        plan: Plan,
        workdir: &Path,
        cancel: &CancellationToken,
        abort: &CancellationToken,
    ) -> TaskOutcome {
        let Plan {
            name,
            launches,
            parser,
            output,
            blender,
            mut backend,
            mut size,
        } = plan;
        let program = launches.first().map(|l| l.program.display().to_string());
        let mut render = match Render::start(launches, workdir, parser) {
            Ok(render) => render,
            Err(error) => {
                return TaskOutcome::failed(format!(
                    "cannot start {}: {error}",
                    program.unwrap_or_default()
                ));
            }
        };
        tracing::info!(frames = ?task.frames, renderer = name, "renderer started");
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
                    let Some(command) = &blender else { continue };
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
                        tracing::warn!(frame, "the renderer saved a frame that was not asked for");
                        continue;
                    }
                    let path = match output::confined_frame(output.dir(), &path) {
                        Ok(path) => path,
                        Err(error) => break Some(Stop::Failed(format!("frame {frame}: {error}"))),
                    };
                    if size.is_none() && blender.is_none() {
                        // The first frame sets the size every other must have.
                        size = match exr_size(&path) {
                            Ok(found) => Some(found),
                            Err(error) => {
                                break Some(Stop::Failed(format!("frame {frame}: {error}")));
                            }
                        };
                    }
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

        let with_reason = |message: String, render: &Render| match render.error() {
            Some(said) => format!("{message}: {said}"),
            None => message,
        };
        if let Some(stop) = stop {
            if let Err(error) = render.kill().await {
                tracing::warn!(%error, "killing the renderer failed");
            }
            delivery.abort();
            return match stop {
                Stop::Cancelled => TaskOutcome::Cancelled,
                Stop::Interrupted => TaskOutcome::Interrupted,
                Stop::TimedOut => TaskOutcome::Failed {
                    error: format!(
                        "render timed out after {} s; {name} was killed",
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
                    "render timed out after {} s; {name} was killed",
                    task.timeout_secs
                ))
            }
            Some(Err(error)) => Some(with_reason(format!("{name} failed: {error}"), &render)),
            Some(Ok(status))
                if blender.is_some()
                    && status.code() == Some(command::SETTINGS_SCRIPT_EXIT_CODE) =>
            {
                Some("the render settings could not be applied to the scene".to_owned())
            }
            Some(Ok(status)) if !status.success() => {
                Some(with_reason(format!("{name} failed ({status})"), &render))
            }
            Some(Ok(_)) => {
                let missing: Vec<i32> = requested.difference(&saved).copied().collect();
                (!missing.is_empty()).then(|| {
                    with_reason(
                        format!("{name} exited without saving frames {missing:?}"),
                        &render,
                    )
                })
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

/// The size of the EXR at `path`, from its header.
fn exr_size(path: &Path) -> Result<(u32, u32), String> {
    let meta = exr::meta::MetaData::read_from_file(path, false)
        .map_err(|e| format!("{} is not a readable OpenEXR file: {e}", path.display()))?;
    let header = meta
        .headers
        .first()
        .ok_or_else(|| format!("{} has no image", path.display()))?;
    let size = header.layer_size;
    Ok((size.width() as u32, size.height() as u32))
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
