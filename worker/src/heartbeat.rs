//! Periodic heartbeats carrying what the worker is doing.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use protocol::{Heartbeat, TaskId, WorkerEvent};
use tokio_util::sync::CancellationToken;

use crate::report::Reporter;

/// What the worker is rendering right now, shared with the heartbeat loop.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    current: Arc<Mutex<Option<Current>>>,
}

/// The task in hand and how far it is.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Current {
    task_id: TaskId,
    attempt: u32,
    frame: Option<i32>,
    progress: Option<f32>,
}

impl Activity {
    /// A task was taken.
    pub fn start(&self, task_id: TaskId, attempt: u32) {
        *self.lock() = Some(Current {
            task_id,
            attempt,
            frame: None,
            progress: None,
        });
    }

    /// The renderer reported progress on a frame.
    pub fn progress(&self, frame: i32, progress: Option<f32>) {
        if let Some(current) = self.lock().as_mut() {
            if current.frame != Some(frame) {
                current.progress = None;
            }
            current.frame = Some(frame);
            current.progress = progress.or(current.progress);
        }
    }

    /// The task is settled; the worker is idle.
    pub fn finish(&self) {
        *self.lock() = None;
    }

    /// A heartbeat describing the current state.
    pub fn heartbeat(&self, worker: protocol::WorkerId) -> Heartbeat {
        let current = *self.lock();
        Heartbeat {
            worker,
            task_id: current.map(|c| c.task_id),
            attempt: current.map(|c| c.attempt),
            frame: current.and_then(|c| c.frame),
            progress: current.and_then(|c| c.progress),
            sent_at_ms: protocol::now_ms(),
        }
    }

    /// The state, even if a panicking thread poisoned the lock.
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Current>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Send a heartbeat every `interval` until `stop` is cancelled. A failed
/// publish is logged and retried at the next beat.
pub async fn beat(
    reporter: Reporter,
    activity: Activity,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let heartbeat = activity.heartbeat(reporter.worker());
        if let Err(error) = reporter.send(&WorkerEvent::Heartbeat(heartbeat)).await {
            tracing::warn!(%error, "heartbeat not sent");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_follow_the_task() {
        let activity = Activity::default();
        let worker = protocol::WorkerId::new();
        assert_eq!(activity.heartbeat(worker).task_id, None);
        let task = TaskId::new();
        activity.start(task, 2);
        activity.progress(5, Some(0.5));
        activity.progress(5, None);
        let beat = activity.heartbeat(worker);
        assert_eq!(
            (beat.task_id, beat.attempt, beat.frame, beat.progress),
            (Some(task), Some(2), Some(5), Some(0.5))
        );
        activity.progress(6, None);
        assert_eq!(activity.heartbeat(worker).progress, None);
        activity.finish();
        assert_eq!(activity.heartbeat(worker).frame, None);
    }
}
