//! Wire types shared by the coordinator and the workers.
//!
//! Everything that crosses the queue (tasks, results, heartbeats, control
//! messages) is defined here, serialised as JSON. The coordinator and the
//! workers never exchange free-form strings: a field that has a meaning has a
//! type.

pub mod bundle;
pub mod enroll;
pub mod events;
pub mod frames;
pub mod grants;
pub mod ids;
pub mod queues;
pub mod task;
pub mod version;
pub mod worker;

pub use enroll::{EnrollRequest, EnrollResponse};
pub use events::{
    Control, FrameDone, Heartbeat, RenderDevice, ReturnReason, TaskFailed, TaskReturned,
    WorkerEvent,
};
pub use frames::{FrameSpec, FrameSpecError};
pub use grants::{GrantObject, GrantRefused, GrantRequest, StorageGrant};
pub use ids::{JobId, SceneHash, SceneHashError, TaskId, WorkerId};
pub use task::{ExrDepth, OutputSpec, Overrides, Renderer, SceneOptions, SceneRef, TaskMessage};
pub use version::{BadVersionRange, Version, VersionRange};
pub use worker::{CpuInfo, GpuInfo, RendererInfo, WorkerInfo};

/// Milliseconds since the Unix epoch, the timestamp unit of every message.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
