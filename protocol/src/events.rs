//! Messages on the results queue (worker to coordinator) and the control
//! queues (coordinator to worker).

use serde::{Deserialize, Serialize};

use crate::grants::{GrantRefused, GrantRequest, StorageGrant};
use crate::ids::{JobId, TaskId, WorkerId};
use crate::worker::WorkerInfo;

/// Everything a worker reports, tagged by `type` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkerEvent {
    /// The worker started (or reconnected) and describes itself.
    Announce(WorkerInfo),
    /// Periodic liveness and progress.
    Heartbeat(Heartbeat),
    /// The worker took a task and is starting the renderer.
    TaskStarted {
        /// Task taken.
        task_id: TaskId,
        /// Its attempt number.
        attempt: u32,
        /// Who took it.
        worker: WorkerId,
        /// Whether the broker redelivered the message (a previous holder died).
        redelivered: bool,
    },
    /// The worker asks for a storage grant for an object of its attempt.
    GrantRequest(GrantRequest),
    /// One frame is rendered, checked and uploaded.
    FrameDone(FrameDone),
    /// Every frame of the task is done; sent before the task is acknowledged.
    TaskDone {
        /// The task.
        task_id: TaskId,
        /// Its attempt number.
        attempt: u32,
        /// Who rendered it.
        worker: WorkerId,
    },
    /// The renderer failed on the task.
    TaskFailed(TaskFailed),
    /// The worker gave the task back without rendering it.
    TaskReturned(TaskReturned),
    /// The worker is shutting down cleanly.
    Leaving {
        /// Who is leaving.
        worker: WorkerId,
    },
}

impl WorkerEvent {
    /// The worker the event says it comes from. Every event names one; the
    /// coordinator believes it only when the broker's authenticated sender
    /// is that worker.
    pub fn worker(&self) -> WorkerId {
        match self {
            WorkerEvent::Announce(info) => info.id,
            WorkerEvent::Heartbeat(beat) => beat.worker,
            WorkerEvent::TaskStarted { worker, .. }
            | WorkerEvent::TaskDone { worker, .. }
            | WorkerEvent::Leaving { worker } => *worker,
            WorkerEvent::FrameDone(done) => done.worker,
            WorkerEvent::GrantRequest(request) => request.worker,
            WorkerEvent::TaskFailed(failed) => failed.worker,
            WorkerEvent::TaskReturned(returned) => returned.worker,
        }
    }

    /// The task attempt the event is about, if it is about one.
    pub fn task_attempt(&self) -> Option<(TaskId, u32)> {
        match self {
            WorkerEvent::TaskStarted {
                task_id, attempt, ..
            }
            | WorkerEvent::TaskDone {
                task_id, attempt, ..
            } => Some((*task_id, *attempt)),
            WorkerEvent::FrameDone(done) => Some((done.task_id, done.attempt)),
            WorkerEvent::GrantRequest(request) => Some((request.task_id, request.attempt)),
            WorkerEvent::TaskFailed(failed) => Some((failed.task_id, failed.attempt)),
            WorkerEvent::TaskReturned(returned) => Some((returned.task_id, returned.attempt)),
            WorkerEvent::Announce(_) | WorkerEvent::Heartbeat(_) | WorkerEvent::Leaving { .. } => {
                None
            }
        }
    }
}

/// Liveness and progress of one worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Who is alive.
    pub worker: WorkerId,
    /// The task being rendered, if any.
    pub task_id: Option<TaskId>,
    /// Its attempt number.
    pub attempt: Option<u32>,
    /// The frame being rendered, if known.
    pub frame: Option<i32>,
    /// Progress through the current frame, 0.0 to 1.0, if the renderer reports it.
    pub progress: Option<f32>,
    /// When it was sent, ms since the Unix epoch.
    pub sent_at_ms: i64,
}

/// A finished frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameDone {
    /// The task.
    pub task_id: TaskId,
    /// Its attempt number.
    pub attempt: u32,
    /// The job.
    pub job_id: JobId,
    /// Frame number.
    pub frame: i32,
    /// Replica number (0 for the original).
    pub replica: u32,
    /// Who rendered it.
    pub worker: WorkerId,
    /// Object-store key of the uploaded EXR.
    pub object_key: String,
    /// blake3 over the decoded pixel data (channel names and values).
    pub pixel_hash: String,
    /// Seconds the renderer spent on this frame.
    pub render_seconds: f64,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Size of the EXR file in bytes.
    pub bytes: u64,
    /// What the renderer rendered on.
    #[serde(default)]
    pub device: RenderDevice,
}

/// The device a frame was rendered on: the coordinator bills a CPU render
/// as CPU whatever GPUs the worker has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RenderDevice {
    /// The CPU.
    #[default]
    Cpu,
    /// The worker's GPU.
    Gpu,
}

impl RenderDevice {
    /// Its name as stored (`cpu`, `gpu`).
    pub fn as_str(self) -> &'static str {
        match self {
            RenderDevice::Cpu => "cpu",
            RenderDevice::Gpu => "gpu",
        }
    }
}

/// A task the renderer could not finish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskFailed {
    /// The task.
    pub task_id: TaskId,
    /// Its attempt number.
    pub attempt: u32,
    /// Who tried.
    pub worker: WorkerId,
    /// One-line reason.
    pub error: String,
    /// Last lines of the renderer's output.
    pub log_tail: String,
}

/// Why a worker handed a task back unrendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnReason {
    /// The job is paused.
    JobPaused,
    /// The job is cancelled.
    JobCancelled,
    /// The worker is shutting down.
    ShuttingDown,
}

/// A task given back unrendered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskReturned {
    /// The task.
    pub task_id: TaskId,
    /// Its attempt number.
    pub attempt: u32,
    /// Who returned it.
    pub worker: WorkerId,
    /// Why.
    pub reason: ReturnReason,
}

/// Messages the coordinator sends to one worker's control queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control {
    /// Do not start tasks of this job; return them instead.
    JobPaused {
        /// The job.
        job_id: JobId,
    },
    /// The job may run again.
    JobResumed {
        /// The job.
        job_id: JobId,
    },
    /// Stop rendering this job now and drop its tasks.
    JobCancelled {
        /// The job.
        job_id: JobId,
    },
    /// This attempt of the task is superseded (re-dispatched elsewhere, or
    /// already done): stop rendering it and acknowledge it without results.
    AbandonTask {
        /// The task.
        task_id: TaskId,
        /// The superseded attempt.
        attempt: u32,
    },
    /// The worker is blocklisted: it must stop taking tasks from the shared
    /// task queues (it stays connected, and its results are refused).
    Blocklisted {
        /// Why, for the worker's log.
        reason: String,
    },
    /// The worker is taken off the blocklist and may take tasks again.
    Reinstated,
    /// An admin or the worker's provider is taking it off the farm: finish
    /// the task being rendered, then take no more from any queue (the
    /// coordinator hands a task started after this to another worker).
    Drain,
    /// The drain is over: take tasks again.
    Undrain,
    /// A storage grant the worker asked for.
    Grant(StorageGrant),
    /// A storage grant the worker asked for and may not have.
    GrantRefused(GrantRefused),
}
