//! What the API shows: read-only views of jobs, frames and workers.

use protocol::{ExrDepth, JobId, Overrides, Renderer, SceneHash, TaskId, WorkerId, WorkerInfo};
use serde::{Deserialize, Serialize};

use crate::db::VerdictNumbers;
use crate::state::{CheckState, FrameState, JobState, TaskCounts, WorkerState};

/// How many frames of a job are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameCounts {
    /// Not rendered yet.
    pub pending: u64,
    /// Being rendered.
    pub rendering: u64,
    /// Rendered and stored.
    pub done: u64,
    /// Failed for good.
    pub failed: u64,
    /// Cancelled.
    pub cancelled: u64,
}

impl FrameCounts {
    /// Count `n` frames in `state`.
    pub fn add(&mut self, state: FrameState, n: u64) {
        let slot = match state {
            FrameState::Pending => &mut self.pending,
            FrameState::Rendering => &mut self.rendering,
            FrameState::Done => &mut self.done,
            FrameState::Failed => &mut self.failed,
            FrameState::Cancelled => &mut self.cancelled,
        };
        *slot += n;
    }
}

/// One job in a listing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobSummary {
    /// Job id.
    pub id: JobId,
    /// Name given at submission.
    pub name: String,
    /// Scene hash.
    pub scene: SceneHash,
    /// Renderer.
    pub renderer: Renderer,
    /// Frame spec as submitted.
    pub frames: String,
    /// Number of frames.
    pub frame_count: u64,
    /// Frames per task.
    pub chunk_size: u32,
    /// Priority, 0 (lowest) to 100.
    pub priority: u8,
    /// EXR depth.
    pub depth: ExrDepth,
    /// Render setting overrides.
    pub overrides: Overrides,
    /// Render time limit per task.
    pub task_timeout_secs: u64,
    /// Current state.
    pub state: JobState,
    /// Frames per state.
    pub progress: FrameCounts,
    /// Submission time, ms since the epoch.
    pub created_ms: i64,
    /// When it reached a final state.
    pub finished_ms: Option<i64>,
    /// Share of frames rendered twice by different workers, in percent.
    pub parity_percent: f64,
    /// Frames per verification state.
    pub verification: VerificationCounts,
    /// Object key of the cost report, once written at the end.
    pub report_key: Option<String>,
    /// The bundle its scene came in (`POST /api/v1/bundles`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// The region it asked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The node class it asked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_class: Option<String>,
    /// The tenant it belongs to; `None` for an admin's own job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The GPU model (a device class) it asked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_model: Option<String>,
    /// The least GPU memory it asked for, MiB, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_vram_mib: Option<u64>,
    /// The renderer versions it renders on, if it asked for some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renderer_version: Option<String>,
    /// What in the scene it renders: a Cinema 4D take, an Octane render target.
    #[serde(default, flatten)]
    pub scene_options: protocol::SceneOptions,
    /// Why its frames wait, when no online worker can render them (all
    /// that could have left, or none has joined yet); `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
}

/// How many frames of a job are in each verification state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationCounts {
    /// Not chosen for parity.
    pub unchecked: u64,
    /// Waiting for a parity copy.
    pub awaiting: u64,
    /// Being compared.
    pub comparing: u64,
    /// Waiting for a third copy.
    pub arbitrating: u64,
    /// Two workers agree.
    pub verified: u64,
    /// Three-way disagreement.
    pub non_deterministic: u64,
    /// Being rendered again after a rejection.
    pub rerendering: u64,
    /// No second worker could check it.
    pub unverifiable: u64,
}

impl VerificationCounts {
    /// Count `n` frames in `state`.
    pub fn add(&mut self, state: CheckState, n: u64) {
        let slot = match state {
            CheckState::Unchecked => &mut self.unchecked,
            CheckState::Awaiting => &mut self.awaiting,
            CheckState::Comparing => &mut self.comparing,
            CheckState::Arbitrating => &mut self.arbitrating,
            CheckState::Verified => &mut self.verified,
            CheckState::NonDeterministic => &mut self.non_deterministic,
            CheckState::Rerendering => &mut self.rerendering,
            CheckState::Unverifiable => &mut self.unverifiable,
        };
        *slot += n;
    }
}

/// One frame of a job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FrameView {
    /// Frame number.
    pub frame: i32,
    /// Its state.
    pub state: FrameState,
    /// The task it belongs to.
    pub task_id: TaskId,
    /// Who rendered it (or is rendering it).
    pub worker_id: Option<WorkerId>,
    /// Where to download the accepted EXR (an API path that answers with a
    /// short-lived link): shown once the frame is verified, or settled
    /// unreplicated in a finished job.
    pub download: Option<String>,
    /// blake3 of its pixel data (as the checker computed it when it did),
    /// shown when the download is.
    pub pixel_hash: Option<String>,
    /// Render time once done.
    pub render_seconds: Option<f64>,
    /// Collected renderer errors when failed.
    pub error: Option<String>,
    /// Verification state.
    pub verification: CheckState,
    /// Replica number of the delivered copy (0 unless it was re-rendered
    /// or the original was outvoted).
    pub replica: u32,
    /// Copies rendered in all.
    pub copies: u32,
}

/// One comparison between two copies of a frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerdictView {
    /// Frame number.
    pub frame: i32,
    /// First copy's replica number.
    pub replica_a: u32,
    /// Second copy's replica number.
    pub replica_b: u32,
    /// Who rendered the first copy.
    pub worker_a: Option<WorkerId>,
    /// Who rendered the second.
    pub worker_b: Option<WorkerId>,
    /// The verdict and its numbers.
    #[serde(flatten)]
    pub numbers: VerdictNumbers,
    /// When it was made, ms since the epoch.
    pub created_ms: i64,
}

/// A worker's standing with the parity checker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reputation {
    /// Device family copies are compared within (`cpu`, `gpu:nvidia/optix`).
    pub device_family: String,
    /// Billing class (`cpu`, `rtx4090`).
    pub device_class: String,
    /// Consecutive verified frames (reset by a strike).
    pub verified_streak: u32,
    /// Times outvoted.
    pub strikes: u32,
    /// Why it is blocklisted, if it is.
    pub blocklist_reason: Option<String>,
    /// Since when, ms since the epoch.
    pub blocklisted_ms: Option<i64>,
    /// Events of it the coordinator refused: sent for another worker, for
    /// an attempt it does not hold, replayed, or at a key not its own.
    pub refused_events: u32,
    /// Why the last one was refused.
    pub last_refusal: Option<String>,
}

/// A job with its frames.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobDetail {
    /// The job.
    #[serde(flatten)]
    pub job: JobSummary,
    /// Tasks per state.
    pub tasks: TaskCounts,
    /// Every frame, in render order.
    pub frame_list: Vec<FrameView>,
}

/// One worker as the coordinator knows it: what it announced, and what the
/// coordinator saw of it since.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerView {
    /// Its announcement (id, name, owner, region, class, renderers, CPU, GPUs).
    #[serde(flatten)]
    pub info: WorkerInfo,
    /// Reachability.
    pub state: WorkerState,
    /// Task being rendered.
    pub current_task: Option<TaskId>,
    /// Frame being rendered.
    pub current_frame: Option<i32>,
    /// Progress through that frame, 0 to 1.
    pub progress: Option<f32>,
    /// First announcement, ms since the epoch.
    pub first_seen_ms: i64,
    /// Last message, ms since the epoch.
    pub last_seen_ms: i64,
    /// Standing with the parity checker.
    pub reputation: Reputation,
    /// Since when it drains (finishes its task, takes no more), ms since
    /// the epoch; `None` when it is not draining.
    #[serde(default)]
    pub draining_ms: Option<i64>,
    /// Its class check, when its node class asks for a benchmark frame.
    #[serde(default)]
    pub class_check: Option<ClassCheckView>,
}

/// Where a worker's class check stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassCheckView {
    /// Due, out, passed or refused.
    pub state: crate::db::ClassCheck,
    /// The benchmark frame's time as the coordinator measured it, seconds.
    pub seconds: Option<f64>,
    /// Why it passed or was refused.
    pub note: Option<String>,
}
