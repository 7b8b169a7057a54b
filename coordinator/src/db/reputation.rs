//! Strikes and the blocklist: a worker outvoted too often stops getting
//! tasks, and every frame it delivered that nobody verified is done again.

use protocol::{Control, TaskId, WorkerEvent, WorkerId, now_ms};
use rusqlite::{OptionalExtension, Transaction, params};

use super::events::{Followup, back_to_pending, end_attempt, task_row};
use super::{Db, DbError, Policy};
use crate::state::{AttemptState, CheckState, ResultStatus, TaskKind, TaskState};

/// Whether a worker is blocklisted.
pub(super) fn is_blocklisted(tx: &Transaction<'_>, worker: WorkerId) -> Result<bool, DbError> {
    Ok(tx
        .query_row(
            "SELECT blocklisted_ms IS NOT NULL FROM workers WHERE id = ?1",
            [worker.to_string()],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(false))
}

/// The worker an event comes from, for events about a task.
pub(super) fn task_event_worker(event: &WorkerEvent) -> Option<(WorkerId, TaskId, u32)> {
    match event {
        WorkerEvent::TaskStarted {
            task_id,
            attempt,
            worker,
            ..
        }
        | WorkerEvent::TaskDone {
            task_id,
            attempt,
            worker,
        } => Some((*worker, *task_id, *attempt)),
        WorkerEvent::FrameDone(done) => Some((done.worker, done.task_id, done.attempt)),
        WorkerEvent::TaskFailed(failed) => Some((failed.worker, failed.task_id, failed.attempt)),
        _ => None,
    }
}

impl Db {
    /// A worker that may not take the task (blocklisted, or draining and
    /// starting a new one) reported on it: its report is refused, the
    /// attempt is abandoned and the task goes to another worker. `why` is
    /// what the worker is, for the log.
    pub(super) fn hand_to_another(
        &self,
        tx: &Transaction<'_>,
        (worker, task, attempt): (WorkerId, TaskId, u32),
        why: &str,
        followup: &mut Followup,
    ) -> Result<Option<String>, DbError> {
        followup.controls.push((
            worker,
            Control::AbandonTask {
                task_id: task,
                attempt,
            },
        ));
        let Some(row) = task_row(tx, task)? else {
            return Ok(None);
        };
        end_attempt(tx, task, attempt, worker, AttemptState::Abandoned, None)?;
        if !row.state.is_final() && row.attempt == attempt {
            tracing::warn!(task_id = %task, %worker, why, "a worker that may not took a task; it goes to another worker");
            back_to_pending(tx, &task.to_string())?;
            // A routed render task is placed afresh, on another worker.
            tx.execute(
                "UPDATE tasks SET target_worker = NULL WHERE id = ?1 AND kind IN ('render', 'rerender')",
                [task.to_string()],
            )?;
            followup.dispatch = true;
        }
        Ok(Some(row.job))
    }

    /// A copy the checker proved false by itself (missing, unreadable, or
    /// not the pixels its worker reported): it is `wrong`, its worker gets a
    /// strike, and the frame is rendered or copied again without it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn caught_lying(
        &self,
        tx: &Transaction<'_>,
        job: &str,
        frame: i32,
        replica: u32,
        lie: &str,
        policy: &Policy,
        followup: &mut Followup,
        jobs: &mut Vec<String>,
    ) -> Result<(), DbError> {
        let worker: Option<String> = tx
            .query_row(
                "SELECT worker_id FROM results WHERE job_id = ?1 AND frame = ?2 AND replica = ?3 \
                 AND status NOT IN (?4, ?5)",
                params![
                    job,
                    frame,
                    replica,
                    ResultStatus::Wrong,
                    ResultStatus::Rejected
                ],
                |r| r.get(0),
            )
            .optional()?;
        let Some(worker) = worker else {
            return Ok(());
        };
        tracing::warn!(job_id = job, frame, replica, %worker, lie, "a copy is not what its worker reported");
        tx.execute(
            "UPDATE results SET status = ?4 WHERE job_id = ?1 AND frame = ?2 AND replica = ?3",
            params![job, frame, replica, ResultStatus::Wrong],
        )?;
        self.strike(tx, &worker, job, frame, replica, policy, followup, jobs)?;
        self.after_rejection(tx, job, frame, replica, followup)
    }

    /// Give `worker` a strike for its copy `replica` of a frame (once per
    /// copy); at the policy's limit it is blocklisted.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn strike(
        &self,
        tx: &Transaction<'_>,
        worker: &str,
        job: &str,
        frame: i32,
        replica: u32,
        policy: &Policy,
        followup: &mut Followup,
        jobs: &mut Vec<String>,
    ) -> Result<(), DbError> {
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO strikes (worker_id, job_id, frame, replica, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![worker, job, frame, replica, now_ms()],
        )?;
        if inserted == 0 {
            return Ok(());
        }
        tx.execute(
            "UPDATE workers SET strikes = strikes + 1, verified_streak = 0 WHERE id = ?1",
            [worker],
        )?;
        let (strikes, blocked): (u32, bool) = tx
            .query_row(
                "SELECT strikes, blocklisted_ms IS NOT NULL FROM workers WHERE id = ?1",
                [worker],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or((1, false));
        tracing::warn!(%worker, strikes, "strike");
        if strikes >= policy.strikes_to_blocklist && !blocked {
            let reason = format!(
                "outvoted by other workers, or caught reporting what it did not deliver, on {strikes} frames \
                 (the limit is {}); last: job {job} frame {frame}",
                policy.strikes_to_blocklist
            );
            self.blocklist(tx, worker, &reason, followup, jobs)?;
        }
        Ok(())
    }

    /// Blocklist a worker: it gets no more tasks, what it is rendering goes
    /// elsewhere, and every result of it that nobody verified is rejected
    /// and its frame rendered (or copied) again by another worker.
    fn blocklist(
        &self,
        tx: &Transaction<'_>,
        worker: &str,
        reason: &str,
        followup: &mut Followup,
        jobs: &mut Vec<String>,
    ) -> Result<(), DbError> {
        tracing::error!(%worker, reason, "worker blocklisted");
        tx.execute(
            "UPDATE workers SET blocklisted_ms = ?2, blocklist_reason = ?3 WHERE id = ?1",
            params![worker, now_ms(), reason],
        )?;
        let worker_id: Option<WorkerId> = worker.parse().ok();
        if let Some(id) = worker_id {
            followup.controls.push((
                id,
                Control::Blocklisted {
                    reason: reason.to_owned(),
                },
            ));
        }
        let open: Vec<(String, u32, TaskState)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, attempt, state FROM tasks WHERE (worker_id = ?1 AND state = 'running') \
                 OR (target_worker = ?1 AND state IN ('pending', 'queued', 'running'))",
            )?;
            stmt.query_map([worker], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?
        };
        for (task, attempt, state) in open {
            if state == TaskState::Running {
                tx.execute(
                    "UPDATE attempts SET state = ?4, ended_ms = ?5 WHERE task_id = ?1 AND attempt = ?2 AND worker_id = ?3",
                    params![task, attempt, worker, AttemptState::Abandoned, now_ms()],
                )?;
                if let (Some(id), Ok(task_id)) = (worker_id, task.parse()) {
                    followup
                        .controls
                        .push((id, Control::AbandonTask { task_id, attempt }));
                }
            }
            back_to_pending(tx, &task)?;
            // Copies and routed tasks are placed afresh, on other workers.
            tx.execute(
                "UPDATE tasks SET target_worker = NULL WHERE id = ?1",
                [&task],
            )?;
        }
        let unverified: Vec<(String, i32, u32)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT r.job_id, r.frame, r.replica FROM results r JOIN jobs j ON j.id = r.job_id \
                 WHERE r.worker_id = ?1 AND r.status = ?2 AND j.state != 'cancelled'",
            )?;
            stmt.query_map(params![worker, ResultStatus::Unverified], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?
        };
        for (job, frame, replica) in unverified {
            tx.execute(
                "UPDATE results SET status = ?4 WHERE job_id = ?1 AND frame = ?2 AND replica = ?3",
                params![job, frame, replica, ResultStatus::Rejected],
            )?;
            self.after_rejection(tx, &job, frame, replica, followup)?;
            jobs.push(job);
        }
        followup.dispatch = true;
        Ok(())
    }

    /// A copy of a frame was rejected: render the frame again if it was the
    /// frame's result, or get the verification going again without it.
    fn after_rejection(
        &self,
        tx: &Transaction<'_>,
        job: &str,
        frame: i32,
        replica: u32,
        followup: &mut Followup,
    ) -> Result<(), DbError> {
        let (primary, check): (u32, CheckState) = tx.query_row(
            "SELECT primary_replica, check_state FROM frames WHERE job_id = ?1 AND frame = ?2",
            params![job, frame],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if replica == primary {
            return self.rerender(tx, job, frame, followup);
        }
        if !matches!(
            check,
            CheckState::Awaiting | CheckState::Comparing | CheckState::Arbitrating
        ) {
            return Ok(());
        }
        let open_copies: u64 = tx.query_row(
            "SELECT COUNT(*) FROM tasks WHERE job_id = ?1 AND frames = ?2 AND kind IN ('parity', 'arbiter') \
             AND state IN ('pending', 'queued', 'running', 'held')",
            params![job, super::to_json(&[frame])],
            |r| r.get(0),
        )?;
        if open_copies > 0 {
            return Ok(());
        }
        let live: u64 = tx.query_row(
            "SELECT COUNT(*) FROM results WHERE job_id = ?1 AND frame = ?2 AND status NOT IN (?3, ?4)",
            params![job, frame, ResultStatus::Rejected, ResultStatus::Wrong],
            |r| r.get(0),
        )?;
        if live >= 2 {
            tx.execute(
                "UPDATE frames SET check_state = ?3 WHERE job_id = ?1 AND frame = ?2",
                params![job, frame, CheckState::Comparing],
            )?;
            followup.comparisons.push((job.to_owned(), frame));
            Ok(())
        } else {
            self.replicate(tx, job, frame, TaskKind::Parity, followup)
        }
    }

    /// Blocklist `worker` by an admin's decision, saying `reason`: as when
    /// it is outvoted too often, it gets no more tasks, what it renders goes
    /// elsewhere and its unverified results are rendered again.
    pub fn blocklist_worker(&self, worker: WorkerId, reason: &str) -> Result<Followup, DbError> {
        let mut followup = Followup::default();
        let mut jobs = Vec::new();
        {
            let mut conn = self.lock();
            let tx = conn.transaction()?;
            let blocked: Option<bool> = tx
                .query_row(
                    "SELECT blocklisted_ms IS NOT NULL FROM workers WHERE id = ?1",
                    [worker.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            match blocked {
                None => return Err(DbError::NotFound(format!("worker {worker}"))),
                Some(true) => {
                    return Err(DbError::Conflict(format!(
                        "worker {worker} is blocklisted already"
                    )));
                }
                Some(false) => {}
            }
            self.blocklist(&tx, &worker.to_string(), reason, &mut followup, &mut jobs)?;
            tx.commit()?;
        }
        jobs.sort();
        jobs.dedup();
        for job in jobs {
            self.refresh_into(&job, &mut followup)?;
        }
        followup.dispatch = true;
        Ok(followup)
    }

    /// Take a worker off the blocklist with a clean record (strikes and
    /// verified streak at zero, so its frames are all replicated again).
    pub fn reinstate_worker(&self, worker: WorkerId) -> Result<Followup, DbError> {
        let conn = self.lock();
        let blocked: Option<bool> = conn
            .query_row(
                "SELECT blocklisted_ms IS NOT NULL FROM workers WHERE id = ?1",
                [worker.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        match blocked {
            None => return Err(DbError::NotFound(format!("worker {worker}"))),
            Some(false) => {
                return Err(DbError::Conflict(format!(
                    "worker {worker} is not blocklisted"
                )));
            }
            Some(true) => {}
        }
        conn.execute(
            "UPDATE workers SET blocklisted_ms = NULL, blocklist_reason = NULL, strikes = 0, verified_streak = 0 \
             WHERE id = ?1",
            [worker.to_string()],
        )?;
        tracing::info!(%worker, "worker reinstated");
        Ok(Followup {
            controls: vec![(worker, Control::Reinstated)],
            dispatch: true,
            ..Followup::default()
        })
    }
}
