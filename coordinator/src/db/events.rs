//! Applying what workers report. Every event is applied in one transaction,
//! and applying the same event twice changes nothing the second time, so a
//! redelivered result never counts twice.

use protocol::events::ReturnReason;
use protocol::{
    Control, FrameDone, TaskFailed, TaskId, TaskReturned, WorkerEvent, WorkerId, now_ms,
};
use rusqlite::{OptionalExtension, Transaction, params};

use super::{Db, DbError};
use crate::state::{AfterFailure, AttemptState, FrameState, JobState, TaskState, after_failure};

/// What the coordinator must do after applying an event.
#[derive(Debug, Default, PartialEq)]
pub struct Followup {
    /// Control messages to send to workers.
    pub controls: Vec<(WorkerId, Control)>,
    /// Tasks went back to pending: wake the dispatcher.
    pub dispatch: bool,
}

/// The coordinator's view of one task when an event about it arrives.
struct TaskRow {
    job: String,
    state: TaskState,
    attempt: u32,
    failures_from: u32,
    job_state: JobState,
}

fn task_row(tx: &Transaction<'_>, task: TaskId) -> Result<Option<TaskRow>, DbError> {
    Ok(tx
        .query_row(
            "SELECT t.job_id, t.state, t.attempt, t.failures_from, j.state \
             FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE t.id = ?1",
            [task.to_string()],
            |r| {
                Ok(TaskRow {
                    job: r.get(0)?,
                    state: r.get(1)?,
                    attempt: r.get(2)?,
                    failures_from: r.get(3)?,
                    job_state: r.get(4)?,
                })
            },
        )
        .optional()?)
}

fn touch_worker(tx: &Transaction<'_>, worker: WorkerId) -> Result<(), DbError> {
    tx.execute(
        "UPDATE workers SET last_seen_ms = ?2, state = 'online' WHERE id = ?1",
        params![worker.to_string(), now_ms()],
    )?;
    Ok(())
}

fn end_attempt(
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

/// Frames of a task that have no result yet.
fn missing_frames(tx: &Transaction<'_>, task: &str) -> Result<Vec<i32>, DbError> {
    let mut stmt = tx.prepare_cached(
        "SELECT f.frame FROM frames f WHERE f.task_id = ?1 AND NOT EXISTS \
         (SELECT 1 FROM results r WHERE r.job_id = f.job_id AND r.frame = f.frame AND r.replica = 0) \
         ORDER BY f.pos",
    )?;
    let frames = stmt
        .query_map([task], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(frames)
}

impl Db {
    /// Apply one worker event. `max_failures` is the watchdog's retry rule.
    pub fn apply_event(&self, event: &WorkerEvent, max_failures: u32) -> Result<Followup, DbError> {
        let mut followup = Followup::default();
        let mut job_to_refresh = None;
        {
            let mut conn = self.lock();
            let tx = conn.transaction()?;
            match event {
                WorkerEvent::Announce(info) => {
                    let now = now_ms();
                    tx.execute(
                        "INSERT INTO workers (id, name, owner, region, node_class, info, state, first_seen_ms, last_seen_ms) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'online', ?7, ?7) \
                         ON CONFLICT (id) DO UPDATE SET name = excluded.name, owner = excluded.owner, \
                           region = excluded.region, node_class = excluded.node_class, info = excluded.info, \
                           state = 'online', last_seen_ms = excluded.last_seen_ms",
                        params![
                            info.id.to_string(),
                            info.name,
                            info.owner,
                            info.region,
                            info.node_class,
                            super::to_json(info),
                            now
                        ],
                    )?;
                    let mut stmt =
                        tx.prepare_cached("SELECT id FROM jobs WHERE state = 'paused'")?;
                    for job in stmt.query_map([], |r| r.get::<_, String>(0))? {
                        if let Ok(job_id) = job?.parse() {
                            followup
                                .controls
                                .push((info.id, Control::JobPaused { job_id }));
                        }
                    }
                }
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
                            tx.execute(
                                "INSERT OR REPLACE INTO attempts (task_id, attempt, worker_id, state, started_ms) \
                                 VALUES (?1, ?2, ?3, ?4, ?5)",
                                params![key, attempt, worker.to_string(), AttemptState::Running, now_ms()],
                            )?;
                            job_to_refresh = Some(row.job);
                        }
                        None => {
                            tracing::warn!(task_id = %task_id, "start of an unknown task ignored")
                        }
                    }
                }
                WorkerEvent::FrameDone(done) => {
                    touch_worker(&tx, done.worker)?;
                    job_to_refresh = self.frame_done(&tx, done)?;
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
                            self.task_failed(&tx, &row, &failure, max_failures, &mut followup)?;
                        }
                        job_to_refresh = Some(row.job);
                    }
                }
                WorkerEvent::TaskFailed(failure) => {
                    touch_worker(&tx, failure.worker)?;
                    if let Some(row) = task_row(&tx, failure.task_id)? {
                        self.task_failed(&tx, &row, failure, max_failures, &mut followup)?;
                        job_to_refresh = Some(row.job);
                    }
                }
                WorkerEvent::TaskReturned(returned) => {
                    touch_worker(&tx, returned.worker)?;
                    if let Some(row) = task_row(&tx, returned.task_id)? {
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
                }
            }
            tx.commit()?;
        }
        if let Some(job) = job_to_refresh {
            self.refresh_job(&job)?;
        }
        Ok(followup)
    }

    /// Store a frame's result (first one wins) and finish its task when it
    /// was the last. Returns the job to refresh.
    fn frame_done(
        &self,
        tx: &Transaction<'_>,
        done: &FrameDone,
    ) -> Result<Option<String>, DbError> {
        let job = done.job_id.to_string();
        let task = done.task_id.to_string();
        let known: Option<String> = tx
            .query_row(
                "SELECT state FROM frames WHERE job_id = ?1 AND frame = ?2 AND task_id = ?3",
                params![job, done.frame, task],
                |r| r.get(0),
            )
            .optional()?;
        if known.is_none() {
            tracing::warn!(job_id = %done.job_id, frame = done.frame, "result for an unknown frame ignored");
            return Ok(None);
        }
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO results (job_id, frame, replica, task_id, attempt, worker_id, object_key, \
             pixel_hash, render_seconds, width, height, bytes, created_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                job,
                done.frame,
                done.replica,
                task,
                done.attempt,
                done.worker.to_string(),
                done.object_key,
                done.pixel_hash,
                done.render_seconds,
                done.width,
                done.height,
                done.bytes,
                now_ms()
            ],
        )?;
        if inserted == 0 {
            tracing::debug!(job_id = %done.job_id, frame = done.frame, "duplicate frame result ignored");
            return Ok(None);
        }
        if done.replica == 0 {
            tx.execute(
                "UPDATE frames SET state = ?3, error = NULL WHERE job_id = ?1 AND frame = ?2 AND state != ?4",
                params![job, done.frame, FrameState::Done, FrameState::Cancelled],
            )?;
            if missing_frames(tx, &task)?.is_empty() {
                tx.execute(
                    "UPDATE tasks SET state = ?2, updated_ms = ?3 WHERE id = ?1 AND state != ?4",
                    params![task, TaskState::Done, now_ms(), TaskState::Cancelled],
                )?;
            }
        }
        Ok(Some(job))
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
        match after_failure(workers, attempts, max_failures) {
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
