//! Names of the queues of the farm's topology.
//!
//! - `tasks.<renderer>`: shared task queues, one per renderer, priority-ordered;
//! - `worker.<id>`: tasks directed at one worker (parity replicas);
//! - `control.<id>`: control messages for one worker (job paused, cancelled);
//! - `results`: everything workers report to the coordinator;
//! - `results.dead`: worker events the coordinator failed to apply again and
//!   again, kept for an operator instead of being retried forever.

use crate::ids::WorkerId;
use crate::task::Renderer;

/// The queue the coordinator consumes: frames done, failures, heartbeats.
pub const RESULTS: &str = "results";

/// Where worker events that keep failing to apply are set aside.
pub const RESULTS_DEAD: &str = "results.dead";

/// Highest message priority the task queues accept (`x-max-priority`).
pub const MAX_PRIORITY: u8 = 10;

/// The shared task queue of one renderer.
pub fn tasks(renderer: Renderer) -> String {
    format!("tasks.{}", renderer.as_str())
}

/// The queue of tasks directed at one worker.
pub fn worker_tasks(worker: WorkerId) -> String {
    format!("worker.{worker}")
}

/// The control queue of one worker.
pub fn worker_control(worker: WorkerId) -> String {
    format!("control.{worker}")
}
