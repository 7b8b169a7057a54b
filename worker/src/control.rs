//! Control messages from the coordinator: paused and cancelled jobs,
//! abandoned attempts, and the worker's own blocklisting.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use protocol::{Control, JobId, ReturnReason, TaskId};
use queue::Consumer;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::grants::GrantClient;

/// What the worker must do with a task instead of rendering it (or instead of
/// finishing it, when it is already rendering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    /// Hand it back with `TaskReturned` for this reason.
    Return(ReturnReason),
    /// The attempt is superseded: acknowledge it without results.
    Abandon,
}

/// The jobs and task attempts this worker must not render, the task it is
/// rendering, and whether the coordinator has blocklisted it.
#[derive(Debug, Clone)]
pub struct JobStates {
    inner: Arc<Mutex<States>>,
    blocklisted: Arc<watch::Sender<bool>>,
}

impl Default for JobStates {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
            blocklisted: Arc::new(watch::Sender::new(false)),
        }
    }
}

/// The state behind [`JobStates`].
#[derive(Debug, Default)]
struct States {
    paused: HashSet<JobId>,
    cancelled: HashSet<JobId>,
    abandoned: HashSet<(TaskId, u32)>,
    running: Option<Running>,
}

/// The task being rendered and how to stop it.
#[derive(Debug)]
struct Running {
    job: JobId,
    task: (TaskId, u32),
    token: CancellationToken,
    halt: Option<Halt>,
}

impl Running {
    /// Stop the task, remembering the first reason given.
    fn halt(&mut self, halt: Halt) {
        self.halt.get_or_insert(halt);
        self.token.cancel();
    }
}

impl JobStates {
    /// Apply a control message; one that concerns the running task stops it.
    /// Blocklisting lets the running task finish (the coordinator decides
    /// whether to accept its results).
    pub fn apply(&self, control: &Control) {
        let mut states = self.lock();
        match control {
            Control::JobPaused { job_id } => {
                states.paused.insert(*job_id);
            }
            Control::JobResumed { job_id } => {
                states.paused.remove(job_id);
            }
            Control::JobCancelled { job_id } => {
                states.cancelled.insert(*job_id);
                if let Some(running) = states.running.as_mut().filter(|r| r.job == *job_id) {
                    running.halt(Halt::Return(ReturnReason::JobCancelled));
                }
            }
            Control::AbandonTask { task_id, attempt } => {
                states.abandoned.insert((*task_id, *attempt));
                if let Some(running) = states
                    .running
                    .as_mut()
                    .filter(|r| r.task == (*task_id, *attempt))
                {
                    running.halt(Halt::Abandon);
                }
            }
            Control::Blocklisted { reason } => {
                tracing::warn!(
                    %reason,
                    "blocklisted by the coordinator: no more tasks from the shared queue, \
                     only from this worker's own queue"
                );
                self.set_blocklisted(true);
            }
            Control::Reinstated => {
                tracing::warn!("reinstated by the coordinator: taking shared tasks again");
                self.set_blocklisted(false);
            }
            // Answers to this worker's own requests: see `GrantClient`.
            Control::Grant(_) | Control::GrantRefused(_) => {}
        }
    }

    /// Whether the coordinator has blocklisted this worker.
    pub fn blocklisted(&self) -> bool {
        *self.blocklisted.borrow()
    }

    /// Follows the blocklist state; it reports a change only when the state
    /// flips (a repeated `Blocklisted` is no change).
    pub fn watch_blocklist(&self) -> watch::Receiver<bool> {
        self.blocklisted.subscribe()
    }

    /// Set the blocklist state, waking watchers only when it changes.
    fn set_blocklisted(&self, blocklisted: bool) {
        self.blocklisted.send_if_modified(|state| {
            let changed = *state != blocklisted;
            *state = blocklisted;
            changed
        });
    }

    /// What to do instead of rendering this task attempt of `job`, if anything.
    pub fn refusal(&self, job: JobId, task: TaskId, attempt: u32) -> Option<Halt> {
        let states = self.lock();
        if states.abandoned.contains(&(task, attempt)) {
            Some(Halt::Abandon)
        } else if states.cancelled.contains(&job) {
            Some(Halt::Return(ReturnReason::JobCancelled))
        } else if states.paused.contains(&job) {
            Some(Halt::Return(ReturnReason::JobPaused))
        } else {
            None
        }
    }

    /// Start rendering a task attempt of `job`; the token is cancelled when a
    /// control message stops it.
    ///
    /// An abandon or cancel message that arrived after the task was taken
    /// but before it began (the worker has already said `TaskStarted`) stops
    /// it at once.
    pub fn begin(&self, job: JobId, task: TaskId, attempt: u32) -> CancellationToken {
        let token = CancellationToken::new();
        let mut states = self.lock();
        let mut running = Running {
            job,
            task: (task, attempt),
            token: token.clone(),
            halt: None,
        };
        if states.abandoned.contains(&(task, attempt)) {
            running.halt(Halt::Abandon);
        } else if states.cancelled.contains(&job) {
            running.halt(Halt::Return(ReturnReason::JobCancelled));
        }
        states.running = Some(running);
        token
    }

    /// The task is over; says why it was stopped, if a control message did.
    pub fn end(&self) -> Option<Halt> {
        self.lock().running.take().and_then(|running| running.halt)
    }

    /// The state, even if a panicking thread poisoned the lock.
    fn lock(&self) -> MutexGuard<'_, States> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Apply messages from the control queue until `stop` is cancelled or the
/// queue fails; storage grants go to `grants`. Unreadable messages are
/// logged and dropped.
pub async fn listen(
    mut consumer: Box<dyn Consumer>,
    states: JobStates,
    grants: GrantClient,
    stop: CancellationToken,
) {
    loop {
        let delivery = tokio::select! {
            () = stop.cancelled() => return,
            delivery = consumer.next() => delivery,
        };
        let delivery = match delivery {
            Ok(delivery) => delivery,
            Err(error) => {
                tracing::error!(%error, "the control queue failed; pause and cancel messages are no longer received");
                return;
            }
        };
        match serde_json::from_slice::<Control>(&delivery.payload) {
            Ok(control) => {
                if grants.answer(&control) {
                    tracing::debug!("storage grant answered");
                } else {
                    tracing::info!(?control, "control message");
                    states.apply(&control);
                }
            }
            Err(error) => tracing::warn!(%error, "unreadable control message dropped"),
        }
        if let Err(error) = delivery.ack().await {
            tracing::warn!(%error, "control message not acknowledged");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paused_jobs_resume_and_cancelled_jobs_stay_cancelled() {
        let states = JobStates::default();
        let (job, task) = (JobId::new(), TaskId::new());
        assert_eq!(states.refusal(job, task, 1), None);
        states.apply(&Control::JobPaused { job_id: job });
        assert_eq!(
            states.refusal(job, task, 1),
            Some(Halt::Return(ReturnReason::JobPaused))
        );
        states.apply(&Control::JobResumed { job_id: job });
        assert_eq!(states.refusal(job, task, 1), None);
        states.apply(&Control::JobCancelled { job_id: job });
        states.apply(&Control::JobResumed { job_id: job });
        assert_eq!(
            states.refusal(job, task, 1),
            Some(Halt::Return(ReturnReason::JobCancelled))
        );
    }

    #[test]
    fn abandoned_attempts_are_refused_alone() {
        let states = JobStates::default();
        let (job, task) = (JobId::new(), TaskId::new());
        states.apply(&Control::AbandonTask {
            task_id: task,
            attempt: 1,
        });
        assert_eq!(states.refusal(job, task, 1), Some(Halt::Abandon));
        assert_eq!(states.refusal(job, task, 2), None);
    }

    #[test]
    fn a_task_abandoned_or_cancelled_just_before_it_begins_stops_at_once() {
        let states = JobStates::default();
        let (job, task) = (JobId::new(), TaskId::new());
        states.apply(&Control::AbandonTask {
            task_id: task,
            attempt: 1,
        });
        assert!(states.begin(job, task, 1).is_cancelled());
        assert_eq!(states.end(), Some(Halt::Abandon));
        assert!(!states.begin(job, task, 2).is_cancelled());
        assert_eq!(states.end(), None);
        states.apply(&Control::JobCancelled { job_id: job });
        assert!(states.begin(job, task, 3).is_cancelled());
        assert_eq!(states.end(), Some(Halt::Return(ReturnReason::JobCancelled)));
    }

    #[test]
    fn control_messages_stop_only_the_running_task_they_name() {
        let states = JobStates::default();
        let (job, other, task) = (JobId::new(), JobId::new(), TaskId::new());
        let token = states.begin(job, task, 3);
        states.apply(&Control::JobCancelled { job_id: other });
        states.apply(&Control::AbandonTask {
            task_id: task,
            attempt: 2,
        });
        assert!(!token.is_cancelled());
        states.apply(&Control::JobCancelled { job_id: job });
        assert!(token.is_cancelled());
        assert_eq!(states.end(), Some(Halt::Return(ReturnReason::JobCancelled)));

        let token = states.begin(JobId::new(), task, 4);
        states.apply(&Control::AbandonTask {
            task_id: task,
            attempt: 4,
        });
        assert!(token.is_cancelled());
        assert_eq!(states.end(), Some(Halt::Abandon));
        assert_eq!(states.end(), None);
    }

    #[test]
    fn blocklisting_flips_the_watched_state_once_per_change() {
        let states = JobStates::default();
        let mut watched = states.watch_blocklist();
        assert!(!states.blocklisted());
        assert!(!watched.has_changed().unwrap());

        let blocklisted = Control::Blocklisted {
            reason: "3 parity mismatches".into(),
        };
        states.apply(&blocklisted);
        assert!(states.blocklisted());
        assert!(watched.has_changed().unwrap());
        assert!(*watched.borrow_and_update());
        states.apply(&blocklisted);
        assert!(
            !watched.has_changed().unwrap(),
            "a repeated Blocklisted changes nothing"
        );

        states.apply(&Control::Reinstated);
        assert!(!states.blocklisted());
        assert!(watched.has_changed().unwrap());
        assert!(!*watched.borrow_and_update());
        states.apply(&Control::Reinstated);
        assert!(!watched.has_changed().unwrap());
    }

    #[test]
    fn blocklisting_lets_the_running_task_finish() {
        let states = JobStates::default();
        let (job, task) = (JobId::new(), TaskId::new());
        let token = states.begin(job, task, 1);
        states.apply(&Control::Blocklisted {
            reason: "parity".into(),
        });
        assert!(!token.is_cancelled());
        assert_eq!(states.end(), None);
        assert_eq!(
            states.refusal(job, task, 1),
            None,
            "directed tasks are still rendered"
        );
    }
}
