//! Who sent an event. The coordinator applies a worker event only when the
//! broker's authenticated sender is the worker the event names, and an event
//! about a task attempt only from the worker that holds that attempt, once,
//! while the attempt is live. Anything else is dropped, logged with its
//! sender, and counted against that sender (`workers.refused_events`).

use protocol::events::ReturnReason;
use protocol::{
    Control, GrantObject, GrantRefused, SceneHash, TaskId, WorkerEvent, WorkerId, now_ms,
};
use rusqlite::{OptionalExtension, Transaction, params};

use super::DbError;
use super::events::{Followup, task_row};
use super::grants::upload_key;
use crate::state::{AttemptState, TaskState};

/// Who the transport says published an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sender {
    /// The authenticated worker; `None` when the publisher is not one.
    pub worker: Option<WorkerId>,
    /// Whether the queue delivered the event before (the coordinator
    /// stopped between applying and acknowledging it).
    pub redelivered: bool,
}

impl Sender {
    /// The broker-authenticated publisher of a delivery: a worker's broker
    /// identity is its id.
    pub fn from_transport(user: Option<&str>, redelivered: bool) -> Self {
        Self {
            worker: user.and_then(|user| user.parse().ok()),
            redelivered,
        }
    }

    /// `worker`, delivered for the first time.
    pub fn worker(worker: WorkerId) -> Self {
        Self {
            worker: Some(worker),
            redelivered: false,
        }
    }
}

/// Why an event was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The transport said nothing about who published it.
    #[error("no authenticated sender")]
    Anonymous,
    /// The event names another worker than the one that sent it.
    #[error("the event names worker {claimed}")]
    Impersonation {
        /// The worker the event claims to come from.
        claimed: WorkerId,
    },
    /// The sender never enrolled (or was removed).
    #[error("the sender is not an enrolled worker")]
    NotEnrolled,
    /// The event is about a task that does not exist.
    #[error("task {0} does not exist")]
    UnknownTask(TaskId),
    /// A copy directed at another worker.
    #[error("task {0} is directed at another worker")]
    NotTarget(TaskId),
    /// Another online worker holds the attempt.
    #[error("attempt {attempt} of task {task} is held by worker {holder}")]
    HeldByAnother {
        /// The task.
        task: TaskId,
        /// The attempt.
        attempt: u32,
        /// Who holds it.
        holder: String,
    },
    /// The sender does not hold a live attempt of this number.
    #[error("the sender holds no live attempt {attempt} of task {task}")]
    NotLive {
        /// The task.
        task: TaskId,
        /// The attempt.
        attempt: u32,
    },
    /// A result stored under another key than the coordinator's for it.
    #[error("frame {frame} was reported at {reported}, not at its key {issued}")]
    ForeignKey {
        /// The frame.
        frame: i32,
        /// The key the worker reported.
        reported: String,
        /// The key the coordinator derives for the attempt.
        issued: String,
    },
    /// A grant for a frame that is not one of the task's.
    #[error("frame {frame} is not one of task {task}'s frames")]
    NotTaskFrame {
        /// The task.
        task: TaskId,
        /// The frame.
        frame: i32,
    },
    /// A grant for a blob that is not in the task's bundle.
    #[error("blob {hash} is not one of task {task}'s bundle files")]
    NotBundleFile {
        /// The task.
        task: TaskId,
        /// The blob asked for.
        hash: SceneHash,
    },
    /// The frame was already delivered by this attempt.
    #[error("frame {frame} of task {task} was already delivered")]
    Replay {
        /// The task.
        task: TaskId,
        /// The frame.
        frame: i32,
    },
}

/// The outcome of checking an event's sender.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Apply the event.
    Accept,
    /// Drop it.
    Refuse(Refusal),
}

/// Who holds a task now, as the database has it.
struct Holding {
    state: TaskState,
    attempt: u32,
    holder: Option<String>,
    target: Option<String>,
}

fn holding(tx: &Transaction<'_>, task: TaskId) -> Result<Option<Holding>, DbError> {
    Ok(tx
        .query_row(
            "SELECT state, attempt, worker_id, target_worker FROM tasks WHERE id = ?1",
            [task.to_string()],
            |r| {
                Ok(Holding {
                    state: r.get(0)?,
                    attempt: r.get(1)?,
                    holder: r.get(2)?,
                    target: r.get(3)?,
                })
            },
        )
        .optional()?)
}

/// Whether `worker` has a row in `workers`, and whether it is online.
fn worker_status(tx: &Transaction<'_>, worker: &str) -> Result<Option<bool>, DbError> {
    Ok(tx
        .query_row(
            "SELECT state = 'online' FROM workers WHERE id = ?1",
            [worker],
            |r| r.get(0),
        )
        .optional()?)
}

/// Check `event` against the broker-authenticated `sender`.
pub(super) fn check(
    tx: &Transaction<'_>,
    event: &WorkerEvent,
    sender: Option<WorkerId>,
) -> Result<Verdict, DbError> {
    let Some(sender) = sender else {
        return Ok(Verdict::Refuse(Refusal::Anonymous));
    };
    let claimed = event.worker();
    if claimed != sender {
        return Ok(Verdict::Refuse(Refusal::Impersonation { claimed }));
    }
    let me = sender.to_string();
    let enrolled: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM workers WHERE id = ?1 AND enrolled_ms IS NOT NULL)",
        [&me],
        |r| r.get(0),
    )?;
    if !enrolled {
        return Ok(Verdict::Refuse(Refusal::NotEnrolled));
    }
    let Some((task, attempt)) = event.task_attempt() else {
        return Ok(Verdict::Accept);
    };
    let Some(now) = holding(tx, task)? else {
        return Ok(Verdict::Refuse(Refusal::UnknownTask(task)));
    };
    if let WorkerEvent::TaskStarted { redelivered, .. } = event {
        // A stale attempt of a copy since directed elsewhere (its worker
        // was lost or drained) is answered with "abandon it" below.
        if now.attempt == attempt && now.target.as_ref().is_some_and(|target| *target != me) {
            return Ok(Verdict::Refuse(Refusal::NotTarget(task)));
        }
        // A stale start (an old attempt, a finished task) is answered with
        // "abandon it" by the event itself; only a live attempt can be
        // taken from someone.
        let live = now.state == TaskState::Running && now.attempt == attempt;
        if let Some(holder) = now.holder.filter(|holder| live && *holder != me) {
            // The queue redelivers a task whose holder's connection broke;
            // while the holder is still online that is not what happened.
            let holder_online = worker_status(tx, &holder)?.unwrap_or(false);
            if !*redelivered || holder_online {
                return Ok(Verdict::Refuse(Refusal::HeldByAnother {
                    task,
                    attempt,
                    holder,
                }));
            }
        }
        return Ok(Verdict::Accept);
    }
    let attempt_live: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM attempts WHERE task_id = ?1 AND attempt = ?2 AND worker_id = ?3 AND state = ?4)",
        params![task.to_string(), attempt, me, AttemptState::Running],
        |r| r.get(0),
    )?;
    let holds = now.attempt == attempt && now.holder.as_deref() == Some(me.as_str());
    // A worker hands back a task of a paused or cancelled job without
    // starting it: it may return the queued attempt it was delivered (one
    // directed at it, or any shared one), also once the job's cancel has
    // cancelled that attempt.
    let unstarted_state = match event {
        WorkerEvent::TaskReturned(returned) => match returned.reason {
            ReturnReason::JobCancelled => {
                now.state == TaskState::Queued
                    || (now.state == TaskState::Cancelled && now.holder.is_none())
            }
            _ => now.state == TaskState::Queued,
        },
        _ => false,
    };
    let returns_unstarted = unstarted_state
        && now.attempt == attempt
        && now.target.as_ref().is_none_or(|target| *target == me);
    if returns_unstarted {
        return Ok(Verdict::Accept);
    }
    if !attempt_live || !holds {
        return Ok(Verdict::Refuse(Refusal::NotLive { task, attempt }));
    }
    if let WorkerEvent::GrantRequest(request) = event
        && let GrantObject::Blob { hash } = &request.object
    {
        let Some(row) = task_row(tx, task)? else {
            return Ok(Verdict::Refuse(Refusal::UnknownTask(task)));
        };
        let in_bundle: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM job_blobs WHERE job_id = ?1 AND hash = ?2)",
            params![row.job, hash.as_str()],
            |r| r.get(0),
        )?;
        if !in_bundle {
            return Ok(Verdict::Refuse(Refusal::NotBundleFile {
                task,
                hash: hash.clone(),
            }));
        }
    }
    if let WorkerEvent::GrantRequest(request) = event
        && let GrantObject::Frame { frame } = request.object
    {
        let Some(row) = task_row(tx, task)? else {
            return Ok(Verdict::Refuse(Refusal::UnknownTask(task)));
        };
        if !row.frames.contains(&frame) {
            return Ok(Verdict::Refuse(Refusal::NotTaskFrame { task, frame }));
        }
        if delivered(tx, (&row.job, frame, row.replica), (task, attempt), &me)? {
            return Ok(Verdict::Refuse(Refusal::Replay { task, frame }));
        }
    }
    if let WorkerEvent::FrameDone(done) = event {
        let ids = (task, attempt, sender);
        let issued = upload_key(tx, done.job_id, done.frame, done.replica, ids)?;
        if issued.as_deref() != Some(done.object_key.as_str()) {
            return Ok(Verdict::Refuse(Refusal::ForeignKey {
                frame: done.frame,
                reported: done.object_key.clone(),
                issued: issued.unwrap_or_default(),
            }));
        }
        let job = done.job_id.to_string();
        if delivered(tx, (&job, done.frame, done.replica), (task, attempt), &me)? {
            return Ok(Verdict::Refuse(Refusal::Replay {
                task,
                frame: done.frame,
            }));
        }
    }
    Ok(Verdict::Accept)
}

/// Whether `worker`'s attempt of a task has delivered `frame` (looked up
/// by the results' primary key, job, frame and replica).
fn delivered(
    tx: &Transaction<'_>,
    (job, frame, replica): (&str, i32, u32),
    (task, attempt): (TaskId, u32),
    worker: &str,
) -> Result<bool, DbError> {
    Ok(tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM results WHERE job_id = ?1 AND frame = ?2 AND replica = ?3 \
         AND task_id = ?4 AND attempt = ?5 AND worker_id = ?6)",
        params![job, frame, replica, task.to_string(), attempt, worker],
        |r| r.get(0),
    )?)
}

/// Record a refused event: logged with its sender and, unless the queue
/// itself redelivered it (the coordinator's own crash between applying and
/// acknowledging), counted against the sender. A refused start is answered
/// with "abandon it", so the sender does not render for nothing.
pub(super) fn refuse(
    tx: &Transaction<'_>,
    event: &WorkerEvent,
    from: Sender,
    refusal: &Refusal,
    followup: &mut Followup,
) -> Result<(), DbError> {
    tracing::warn!(sender = ?from.worker.map(|s| s.to_string()), claimed = %event.worker(),
        reason = %refusal, "worker event refused");
    let Some(sender) = from.worker else {
        return Ok(());
    };
    if !from.redelivered {
        tx.execute(
            "UPDATE workers SET refused_events = refused_events + 1, last_refusal = ?2, \
             last_refusal_ms = ?3 WHERE id = ?1",
            params![sender.to_string(), refusal.to_string(), now_ms()],
        )?;
    }
    match event {
        WorkerEvent::TaskStarted {
            task_id, attempt, ..
        } => followup.controls.push((
            sender,
            Control::AbandonTask {
                task_id: *task_id,
                attempt: *attempt,
            },
        )),
        // Answered, so the worker does not wait for a grant that never comes.
        WorkerEvent::GrantRequest(request) if request.worker == sender => followup.controls.push((
            sender,
            Control::GrantRefused(GrantRefused {
                task_id: request.task_id,
                attempt: request.attempt,
                object: request.object.clone(),
                reason: refusal.to_string(),
            }),
        )),
        _ => {}
    }
    Ok(())
}
