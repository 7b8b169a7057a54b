//! What the API shows: read-only views of jobs, frames and workers.

use protocol::{ExrDepth, JobId, Overrides, Renderer, SceneHash, TaskId, WorkerId, WorkerInfo};
use serde::{Deserialize, Serialize};

use crate::state::{FrameState, JobState, TaskCounts, WorkerState};

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
    /// Object key of the EXR once done.
    pub object_key: Option<String>,
    /// blake3 of the pixel data once done.
    pub pixel_hash: Option<String>,
    /// Render time once done.
    pub render_seconds: Option<f64>,
    /// Collected renderer errors when failed.
    pub error: Option<String>,
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
}
