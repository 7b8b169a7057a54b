//! Applying what workers report. Every event is applied in one transaction,
//! and applying the same event twice changes nothing the second time, so a
//! redelivered result never counts twice.

use protocol::events::ReturnReason;
use protocol::{Control, TaskFailed, TaskId, TaskReturned, WorkerEvent, WorkerId, now_ms};
use rusqlite::{OptionalExtension, Transaction, params};

use super::attribution::{self, Sender, Verdict};
use super::class_checks;
use super::grants::GrantOrder;
use super::reputation::{is_blocklisted, task_event_worker};
use super::routing::{routed_waiting, starts_outside_placement, starts_without_renderer};
use super::workers::{redirect_unstarted_copies, starts_while_draining};
use super::{Db, DbError, Policy, from_json};
use crate::state::{
    AfterFailure, AttemptState, FrameState, JobState, TaskKind, TaskState, after_failure,
};

/// What the coordinator must do after applying an event.
#[derive(Debug, Default, PartialEq)]
pub struct Followup {
    /// Control messages to send to workers.
    pub controls: Vec<(WorkerId, Control)>,
    /// Tasks went back to pending: wake the dispatcher.
    pub dispatch: bool,
    /// Frames (job, frame) whose copies are all in and must be compared.
    pub comparisons: Vec<(String, i32)>,
    /// Results (job, frame, replica) just delivered, whose upload the
    /// coordinator must look at.
    pub intakes: Vec<(String, i32, u32)>,
    /// Jobs that are now in a final state (their cost report is due).
    pub finished_jobs: Vec<String>,
    /// Storage grants to sign and send to the workers that asked.
    pub grants: Vec<GrantOrder>,
}

impl Followup {
    /// Fold another followup into this one.
    pub fn merge(&mut self, other: Followup) {
        self.controls.extend(other.controls);
        self.dispatch |= other.dispatch;
        self.comparisons.extend(other.comparisons);
        self.intakes.extend(other.intakes);
        self.finished_jobs.extend(other.finished_jobs);
        self.grants.extend(other.grants);
    }
}

/// The coordinator's view of one task when an event about it arrives.
pub(super) struct TaskRow {
    /// Its job.
    pub job: String,
    /// Its state.
    pub state: TaskState,
    /// Current attempt.
    pub attempt: u32,
    /// First attempt the failure rule counts.
    pub failures_from: u32,
    /// The job's state.
    pub job_state: JobState,
    /// Why the task exists.
    pub kind: TaskKind,
    /// Replica number its results carry.
    pub replica: u32,
    /// Its frames.
    pub frames: Vec<i32>,
}

pub(super) fn task_row(tx: &Transaction<'_>, task: TaskId) -> Result<Option<TaskRow>, DbError> {
    let row = tx
        .query_row(
            "SELECT t.job_id, t.state, t.attempt, t.failures_from, j.state, t.kind, t.replica, t.frames \
             FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE t.id = ?1",
            [task.to_string()],
            |r| {
                Ok((
                    TaskRow {
                        job: r.get(0)?,
                        state: r.get(1)?,
                        attempt: r.get(2)?,
                        failures_from: r.get(3)?,
                        job_state: r.get(4)?,
                        kind: r.get(5)?,
                        replica: r.get(6)?,
                        frames: Vec::new(),
                    },
                    r.get::<_, String>(7)?,
                ))
            },
        )
        .optional()?;
    row.map(|(mut row, frames)| {
        row.frames = from_json(&frames)?;
        Ok(row)
    })
    .transpose()
}

pub(super) fn touch_worker(tx: &Transaction<'_>, worker: WorkerId) -> Result<(), DbError> {
    tx.execute(
        "UPDATE workers SET last_seen_ms = ?2, state = 'online' WHERE id = ?1",
        params![worker.to_string(), now_ms()],
    )?;
    Ok(())
}

pub(super) fn end_attempt(
    tx: &Transaction<'_>,
    task: TaskId,
    attempt: u32,
    worker: WorkerId,
    state: AttemptState,
    error: Option<(&str, &str)>,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO attempts (task_id, attempt, worker_id, state, started_ms, ended_ms, error, log_tail) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7) \
         ON CONFLICT (task_id, attempt, worker_id) DO UPDATE SET \
           state = excluded.state, ended_ms = excluded.ended_ms, \
           error = COALESCE(excluded.error, error), log_tail = COALESCE(excluded.log_tail, log_tail)",
        params![
            task.to_string(),
            attempt,
            worker.to_string(),
            state,
            now_ms(),
            error.map(|e| e.0),
            error.map(|e| e.1),
        ],
    )?;
    Ok(())
}

/// Put a task back to pending (its frames too), to be dispatched again.
pub(super) fn back_to_pending(tx: &Transaction<'_>, task: &str) -> Result<(), DbError> {
    tx.execute(
        "UPDATE tasks SET state = ?2, worker_id = NULL, updated_ms = ?3 WHERE id = ?1",
        params![task, TaskState::Pending, now_ms()],
    )?;
    tx.execute(
        "UPDATE frames SET state = ?2 WHERE task_id = ?1 AND state = ?3",
        params![task, FrameState::Pending, FrameState::Rendering],
    )?;
    Ok(())
}

/// Frames of a task that have no result of the task's replica yet.
pub(super) fn missing_frames(tx: &Transaction<'_>, task: &str) -> Result<Vec<i32>, DbError> {
    let (job, frames, replica): (String, String, u32) = tx.query_row(
        "SELECT job_id, frames, replica FROM tasks WHERE id = ?1",
        [task],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let mut stmt = tx.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM results WHERE job_id = ?1 AND frame = ?2 AND replica = ?3)",
    )?;
    let mut missing = Vec::new();
    for frame in from_json::<Vec<i32>>(&frames)? {
        if !stmt.query_row(params![job, frame, replica], |r| r.get::<_, bool>(0))? {
            missing.push(frame);
        }
    }
    Ok(missing)
}

impl Db {
    /// Apply one worker event that came from `sender`, under `policy`. An
    /// event its sender may not send (see [`attribution`]) changes nothing
    /// but the sender's refusal count.
    pub fn apply_event(
        &self,
        event: &WorkerEvent,
        sender: Sender,
        policy: &Policy,
    ) -> Result<Followup, DbError> {
        let mut followup = Followup::default();
        let mut job_to_refresh = None;
        {
            let mut conn = self.lock();
            let tx = conn.transaction()?;
            if let Verdict::Refuse(refusal) = attribution::check(&tx, event, sender.worker)? {
                attribution::refuse(&tx, event, sender, &refusal, &mut followup)?;
                tx.commit()?;
                return Ok(followup);
            }
            let start = match event {
                WorkerEvent::TaskStarted {
                    task_id,
                    attempt,
                    worker,
                    ..
                } => Some((*worker, *task_id, *attempt)),
                _ => None,
            };
            let refused = match (task_event_worker(event), start) {
                (Some(taking), _) if is_blocklisted(&tx, taking.0)? => {
                    Some((taking, "blocklisted"))
                }
                (_, Some(start)) if starts_while_draining(&tx, start)? => Some((start, "draining")),
                (_, Some(start)) if class_checks::starts_while_checking(&tx, start)? => {
                    Some((start, "in its class check"))
                }
                (_, Some(start)) if starts_outside_placement(&tx, start)? => {
                    Some((start, "outside the job's placement"))
                }
                (_, Some(start)) if starts_without_renderer(&tx, start)? => {
                    Some((start, "without the job's renderer"))
                }
                _ => None,
            };
            if let Some((taking, why)) = refused {
                touch_worker(&tx, taking.0)?;
                job_to_refresh = self.hand_to_another(&tx, taking, why, &mut followup)?;
                tx.commit()?;
                drop(conn);
                if let Some(job) = job_to_refresh {
                    self.refresh_into(&job, &mut followup)?;
                }
                return Ok(followup);
            }
            match event {
                WorkerEvent::Announce(info) => self.announce(&tx, info, &mut followup)?,
                WorkerEvent::Heartbeat(beat) => {
                    tx.execute(
                        "UPDATE workers SET last_seen_ms = ?2, state = 'online', task_id = ?3, frame = ?4, progress = ?5 \
                         WHERE id = ?1",
                        params![
                            beat.worker.to_string(),
                            now_ms(),
                            beat.task_id.map(|t| t.to_string()),
                            beat.frame,
                            beat.progress
                        ],
                    )?;
                }
                WorkerEvent::TaskStarted {
                    task_id,
                    attempt,
                    worker,
                    redelivered,
                } => {
                    touch_worker(&tx, *worker)?;
                    match task_row(&tx, *task_id)? {
                        Some(row) if row.state.is_final() || *attempt != row.attempt => {
                            tracing::info!(task_id = %task_id, attempt, current = row.attempt, state = %row.state,
                                "stale task started; telling the worker to abandon it");
                            followup.controls.push((
                                *worker,
                                Control::AbandonTask {
                                    task_id: *task_id,
                                    attempt: *attempt,
                                },
                            ));
                        }
                        Some(row) => {
                            let key = task_id.to_string();
                            if *redelivered {
                                tx.execute(
                                    "UPDATE attempts SET state = ?3, ended_ms = ?4 \
                                     WHERE task_id = ?1 AND attempt = ?2 AND state = 'running' AND worker_id != ?5",
                                    params![key, attempt, AttemptState::Lost, now_ms(), worker.to_string()],
                                )?;
                            }
                            tx.execute(
                                "UPDATE tasks SET state = ?2, worker_id = ?3, updated_ms = ?4 WHERE id = ?1",
                                params![key, TaskState::Running, worker.to_string(), now_ms()],
                            )?;
                            tx.execute(
                                "UPDATE frames SET state = ?2 WHERE task_id = ?1 AND state = ?3",
                                params![key, FrameState::Rendering, FrameState::Pending],
                            )?;
                            // A start delivered again keeps the attempt's
                            // key nonce: grants already issued stay good.
                            tx.execute(
                                "INSERT INTO attempts (task_id, attempt, worker_id, state, started_ms, key_nonce) \
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                                 ON CONFLICT (task_id, attempt, worker_id) DO UPDATE SET \
                                   state = excluded.state, started_ms = excluded.started_ms, ended_ms = NULL, \
                                   error = NULL, log_tail = NULL, last_result_ms = NULL, \
                                   key_nonce = COALESCE(key_nonce, excluded.key_nonce)",
                                params![
                                    key,
                                    attempt,
                                    worker.to_string(),
                                    AttemptState::Running,
                                    now_ms(),
                                    storage::KeyNonce::random().as_str()
                                ],
                            )?;
                            job_to_refresh = Some(row.job);
                        }
                        None => {
                            tracing::warn!(task_id = %task_id, "start of an unknown task ignored")
                        }
                    }
                }
                WorkerEvent::GrantRequest(request) => {
                    touch_worker(&tx, request.worker)?;
                    self.grant(&tx, request, &mut followup)?;
                }
                WorkerEvent::FrameDone(done) => {
                    touch_worker(&tx, done.worker)?;
                    job_to_refresh = self.frame_done(&tx, done, policy, &mut followup)?;
                }
                WorkerEvent::TaskDone {
                    task_id,
                    attempt,
                    worker,
                } => {
                    touch_worker(&tx, *worker)?;
                    if let Some(row) = task_row(&tx, *task_id)? {
                        let missing = missing_frames(&tx, &task_id.to_string())?;
                        if missing.is_empty() || row.state.is_final() {
                            end_attempt(
                                &tx,
                                *task_id,
                                *attempt,
                                *worker,
                                AttemptState::Done,
                                None,
                            )?;
                        } else {
                            let failure = TaskFailed {
                                task_id: *task_id,
                                attempt: *attempt,
                                worker: *worker,
                                error: format!(
                                    "the worker reported the task done without frames {missing:?}"
                                ),
                                log_tail: String::new(),
                            };
                            self.task_failed(
                                &tx,
                                &row,
                                &failure,
                                policy.max_failures,
                                &mut followup,
                            )?;
                        }
                        job_to_refresh = Some(row.job);
                    }
                }
                WorkerEvent::TaskFailed(failure) => {
                    touch_worker(&tx, failure.worker)?;
                    if let Some(row) = task_row(&tx, failure.task_id)? {
                        class_checks::on_task_ended(
                            &tx,
                            &failure.task_id.to_string(),
                            &failure.worker.to_string(),
                            Some(&failure.error),
                        )?;
                        self.task_failed(&tx, &row, failure, policy.max_failures, &mut followup)?;
                        job_to_refresh = Some(row.job);
                    }
                }
                WorkerEvent::TaskReturned(returned) => {
                    touch_worker(&tx, returned.worker)?;
                    if let Some(row) = task_row(&tx, returned.task_id)? {
                        class_checks::on_task_ended(
                            &tx,
                            &returned.task_id.to_string(),
                            &returned.worker.to_string(),
                            None,
                        )?;
                        followup.dispatch |= self.task_returned(&tx, &row, returned)?;
                        job_to_refresh = Some(row.job);
                    }
                }
                WorkerEvent::Leaving { worker } => {
                    tx.execute(
                        "UPDATE workers SET state = 'left', task_id = NULL, frame = NULL, progress = NULL, \
                         last_seen_ms = ?2 WHERE id = ?1",
                        params![worker.to_string(), now_ms()],
                    )?;
                    // What waits on its own queue goes to other workers.
                    if redirect_unstarted_copies(&tx, &worker.to_string())? > 0 {
                        followup.dispatch = true;
                    }
                }
            }
            // A worker with room may take a routed job's next task.
            if matches!(
                event,
                WorkerEvent::TaskDone { .. }
                    | WorkerEvent::TaskFailed(_)
                    | WorkerEvent::TaskReturned(_)
            ) && routed_waiting(&tx)?
            {
                followup.dispatch = true;
            }
            tx.commit()?;
        }
        if let Some(job) = job_to_refresh {
            self.refresh_into(&job, &mut followup)?;
        }
        Ok(followup)
    }

    /// Recompute a job's state, noting in `followup` when it is final.
    pub(super) fn refresh_into(&self, job: &str, followup: &mut Followup) -> Result<(), DbError> {
        if self.refresh_job(job)?.is_final() {
            followup.finished_jobs.push(job.to_owned());
        }
        Ok(())
    }

    fn task_failed(
        &self,
        tx: &Transaction<'_>,
        row: &TaskRow,
        failure: &TaskFailed,
        max_failures: u32,
        followup: &mut Followup,
    ) -> Result<(), DbError> {
        let task = failure.task_id.to_string();
        end_attempt(
            tx,
            failure.task_id,
            failure.attempt,
            failure.worker,
            AttemptState::Failed,
            Some((&failure.error, &failure.log_tail)),
        )?;
        if row.state.is_final() || failure.attempt != row.attempt {
            return Ok(());
        }
        let (workers, attempts): (u32, u32) = tx.query_row(
            "SELECT COUNT(DISTINCT worker_id), COUNT(*) FROM attempts \
             WHERE task_id = ?1 AND state = 'failed' AND attempt >= ?2",
            params![task, row.failures_from],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let verdict = after_failure(workers, attempts, max_failures);
        if matches!(row.kind, TaskKind::Parity | TaskKind::Arbiter) {
            return self.copy_failed(tx, row, &task, verdict, followup);
        }
        match verdict {
            AfterFailure::Retry => {
                tracing::warn!(task_id = %task, attempt = failure.attempt, worker = %failure.worker,
                    error = %failure.error, "task failed; retrying");
                back_to_pending(tx, &task)?;
                followup.dispatch = true;
            }
            AfterFailure::Fail => {
                let errors: Vec<String> = {
                    let mut stmt = tx.prepare_cached(
                        "SELECT a.worker_id, COALESCE(w.name, a.worker_id), a.error FROM attempts a \
                         LEFT JOIN workers w ON w.id = a.worker_id \
                         WHERE a.task_id = ?1 AND a.state = 'failed' AND a.attempt >= ?2 ORDER BY a.attempt",
                    )?;
                    stmt.query_map(params![task, row.failures_from], |r| {
                        Ok(format!(
                            "{}: {}",
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?
                        ))
                    })?
                    .collect::<Result<_, _>>()?
                };
                tracing::error!(task_id = %task, workers, "task failed on too many workers; failing its frames");
                tx.execute(
                    "UPDATE tasks SET state = ?2, updated_ms = ?3 WHERE id = ?1",
                    params![task, TaskState::Failed, now_ms()],
                )?;
                tx.execute(
                    "UPDATE frames SET state = ?2, error = ?3 WHERE task_id = ?1 AND state IN ('pending', 'rendering')",
                    params![task, FrameState::Failed, errors.join("\n")],
                )?;
            }
        }
        Ok(())
    }

    /// Returns whether the task must be dispatched again.
    fn task_returned(
        &self,
        tx: &Transaction<'_>,
        row: &TaskRow,
        returned: &TaskReturned,
    ) -> Result<bool, DbError> {
        end_attempt(
            tx,
            returned.task_id,
            returned.attempt,
            returned.worker,
            AttemptState::Returned,
            None,
        )?;
        if row.state.is_final() || returned.attempt != row.attempt {
            return Ok(false);
        }
        let task = returned.task_id.to_string();
        match returned.reason {
            ReturnReason::JobPaused if row.job_state == JobState::Paused => {
                back_to_pending(tx, &task)?;
                tx.execute(
                    "UPDATE tasks SET state = ?2 WHERE id = ?1",
                    params![task, TaskState::Held],
                )?;
                Ok(false)
            }
            // Returned for a pause that is already over: publish it again.
            ReturnReason::JobPaused => {
                back_to_pending(tx, &task)?;
                Ok(true)
            }
            // A worker shutting down hands its delivery back to the queue,
            // which delivers the same attempt again.
            ReturnReason::ShuttingDown => {
                back_to_pending(tx, &task)?;
                tx.execute(
                    "UPDATE tasks SET state = ?2 WHERE id = ?1",
                    params![task, TaskState::Queued],
                )?;
                Ok(false)
            }
            ReturnReason::JobCancelled => Ok(false),
        }
    }
}
