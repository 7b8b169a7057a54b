//! The render farm worker.
//!
//! A worker announces itself on the results queue, heartbeats, takes tasks
//! (prefetch 1) from the task queues of the renderers it has and from its own
//! directed queue, renders them with headless Blender, checks and uploads
//! each EXR as soon as it is saved, and reports every frame. Its control
//! queue pauses and cancels jobs, and blocklists the worker (it then takes
//! only directed tasks until reinstated). See [`run`] to embed one in a
//! process and the `worker` binary to run one on a render node.

pub mod blender;
pub mod bundle;
pub mod check;
pub mod cinema4d;
pub mod config;
pub mod control;
pub mod enroll;
pub mod error;
pub mod gpu;
pub mod grants;
pub mod heartbeat;
pub mod octane;
pub mod probe;
pub mod process;
pub mod render;
pub mod renderers;
pub mod report;
pub mod run;
pub mod scene_cache;
#[cfg(feature = "tamper")]
pub mod tamper;
pub mod task;
pub mod upload;

pub use config::WorkerConfig;
pub use error::WorkerError;
pub use run::{declare_own_queues, run};
#[cfg(feature = "tamper")]
pub use tamper::Tamper;
