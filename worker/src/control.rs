//! Control messages from the coordinator: paused and cancelled jobs,
//! abandoned attempts, and the worker's own blocklisting and draining.

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

/// Which task queues the worker may take from, as the coordinator said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Intake {
    /// Blocklisted: only copies directed at this worker, none from the
    /// shared queue.
    pub blocklisted: bool,
    /// Draining: no new task from any queue.
    pub draining: bool,
}

impl Intake {
    /// Whether tasks from the shared queue may be taken.
    pub fn takes_shared(self) -> bool {
        !self.blocklisted && !self.draining
    }

    /// Whether copies directed at this worker may be taken.
    pub fn takes_directed(self) -> bool {
        !self.draining
    }
}

/// The jobs and task attempts this worker must not render, the task it is
/// rendering, and which queues the coordinator lets it take from.
#[derive(Debug, Clone)]
pub struct JobStates {
    inner: Arc<Mutex<States>>,
    intake: Arc<watch::Sender<Intake>>,
}

impl Default for JobStates {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
            intake: Arc::new(watch::Sender::new(Intake::default())),
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
    /// Blocklisting and draining let the running task finish (the
    /// coordinator decides whether to accept its results).
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
                self.set_intake(|intake| intake.blocklisted = true);
            }
            Control::Reinstated => {
                tracing::warn!("reinstated by the coordinator: taking shared tasks again");
                self.set_intake(|intake| intake.blocklisted = false);
            }
            Control::Drain => {
                tracing::warn!("draining: the task being rendered finishes, no new task is taken");
                self.set_intake(|intake| intake.draining = true);
            }
            Control::Undrain => {
                tracing::warn!("drain over: taking tasks again");
                self.set_intake(|intake| intake.draining = false);
            }
            // Answers to this worker's own requests: see `GrantClient`.
            Control::Grant(_) | Control::GrantRefused(_) => {}
        }
    }

    /// Which queues the worker may take from now.
    pub fn intake(&self) -> Intake {
        *self.intake.borrow()
    }

    /// Follows [`JobStates::intake`]; it reports a change only when it
    /// flips (a repeated `Blocklisted` or `Drain` is no change).
    pub fn watch_intake(&self) -> watch::Receiver<Intake> {
        self.intake.subscribe()
    }

    /// Change the intake, waking watchers only when it changes.
    fn set_intake(&self, change: impl FnOnce(&mut Intake)) {
        self.intake.send_if_modified(|intake| {
            let was = *intake;
            change(intake);
            *intake != was
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
        let mut watched = states.watch_intake();
        assert!(states.intake().takes_shared());
        assert!(!watched.has_changed().unwrap());

        let blocklisted = Control::Blocklisted {
            reason: "3 parity mismatches".into(),
        };
        states.apply(&blocklisted);
        assert!(!states.intake().takes_shared() && states.intake().takes_directed());
        assert!(watched.has_changed().unwrap());
        assert!(watched.borrow_and_update().blocklisted);
        states.apply(&blocklisted);
        assert!(
            !watched.has_changed().unwrap(),
            "a repeated Blocklisted changes nothing"
        );

        states.apply(&Control::Reinstated);
        assert!(states.intake().takes_shared());
        assert!(watched.has_changed().unwrap());
        assert!(!watched.borrow_and_update().blocklisted);
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

    #[test]
    fn draining_takes_nothing_lets_the_running_task_finish_and_ends() {
        let states = JobStates::default();
        let mut watched = states.watch_intake();
        let (job, task) = (JobId::new(), TaskId::new());
        let token = states.begin(job, task, 1);
        states.apply(&Control::Drain);
        assert!(!token.is_cancelled(), "the running task finishes");
        assert_eq!(states.end(), None);
        let intake = *watched.borrow_and_update();
        assert!(!intake.takes_shared() && !intake.takes_directed());
        states.apply(&Control::Drain);
        assert!(!watched.has_changed().unwrap());
        states.apply(&Control::Blocklisted {
            reason: "parity".into(),
        });
        states.apply(&Control::Undrain);
        let intake = *watched.borrow_and_update();
        assert!(
            intake.takes_directed() && !intake.takes_shared(),
            "still blocklisted"
        );
    }
}
