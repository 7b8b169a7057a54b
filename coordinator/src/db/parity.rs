//! Parity copies: creating them, choosing the worker they go to, and what
//! happens when no worker can take one, or one fails.

use protocol::{TaskId, WorkerInfo, now_ms};
use rand::seq::IndexedRandom;
use rusqlite::{OptionalExtension, Transaction, params};

use super::class_checks::{CHECKING, EARNED_CLASS};
use super::events::{Followup, TaskRow, back_to_pending};
use super::routing::{job_placement, seat_of};
use super::{Db, DbError, from_json, to_json};
use crate::state::{AfterFailure, CheckState, TaskKind, TaskState};

/// An online worker that could render a copy.
struct Candidate {
    id: String,
    owner: String,
    streak: u32,
}

/// Open (not final) task states, as SQL.
const OPEN: &str = "('pending', 'queued', 'running', 'held')";

/// How long a lost worker may still come back and take a waiting copy,
/// before the copy is given up on, in milliseconds.
const LOST_GRACE_MS: i64 = 10 * 60 * 1000;

/// Which workers a copy may go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Workers online now: where a copy is placed.
    Online,
    /// Also workers lost in the last [`LOST_GRACE_MS`]: whether a copy
    /// still has someone to wait for.
    MayReturn,
}

/// A frame's position in the job and the replica number its next copy gets.
fn next_copy(tx: &Transaction<'_>, job: &str, frame: i32) -> Result<(i64, u32), DbError> {
    Ok(tx.query_row(
        "SELECT pos, next_replica FROM frames WHERE job_id = ?1 AND frame = ?2",
        params![job, frame],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// Store a pending one-frame task of `kind` (a copy or a re-render),
/// directed at `target` or, without one, for the shared queue.
fn insert_frame_task(
    tx: &Transaction<'_>,
    job: &str,
    frame: i32,
    pos: i64,
    kind: TaskKind,
    replica: u32,
    target: Option<&str>,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO tasks (id, job_id, seq, frames, state, updated_ms, kind, replica, target_worker) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            TaskId::new().to_string(),
            job,
            pos,
            to_json(&[frame]),
            TaskState::Pending,
            now_ms(),
            kind,
            replica,
            target
        ],
    )?;
    Ok(())
}

impl Db {
    /// Create a parity or arbitration copy of a frame, directed at a worker
    /// other than those that rendered it (none yet if nobody fits: the
    /// dispatcher places it later).
    pub(super) fn replicate(
        &self,
        tx: &Transaction<'_>,
        job: &str,
        frame: i32,
        kind: TaskKind,
        followup: &mut Followup,
    ) -> Result<(), DbError> {
        let (pos, replica) = next_copy(tx, job, frame)?;
        let target = self.pick_worker(tx, job, frame, kind, Reach::Online)?;
        insert_frame_task(tx, job, frame, pos, kind, replica, target.as_deref())?;
        let check = if kind == TaskKind::Arbiter {
            CheckState::Arbitrating
        } else {
            CheckState::Awaiting
        };
        tx.execute(
            "UPDATE frames SET next_replica = ?3, check_state = ?4, replicated = 1 WHERE job_id = ?1 AND frame = ?2",
            params![job, frame, replica + 1, check],
        )?;
        tracing::info!(job_id = job, frame, replica, %kind, target = ?target, "copy of a frame requested");
        followup.dispatch = true;
        Ok(())
    }

    /// Render a frame again from scratch on the shared queue: its result was
    /// rejected. Copies of it still on their way are cancelled.
    pub(super) fn rerender(
        &self,
        tx: &Transaction<'_>,
        job: &str,
        frame: i32,
        followup: &mut Followup,
    ) -> Result<(), DbError> {
        self.cancel_copies(tx, job, frame, followup)?;
        let (pos, replica) = next_copy(tx, job, frame)?;
        insert_frame_task(tx, job, frame, pos, TaskKind::Rerender, replica, None)?;
        tx.execute(
            "UPDATE frames SET next_replica = ?3, primary_replica = ?4, state = 'pending', check_state = ?5, \
             replicated = 0 WHERE job_id = ?1 AND frame = ?2",
            params![job, frame, replica + 1, replica, CheckState::Rerendering],
        )?;
        tracing::warn!(
            job_id = job,
            frame,
            replica,
            "frame rendered again: its result was rejected"
        );
        followup.dispatch = true;
        Ok(())
    }

    /// Cancel the copies of a frame that are still open, telling workers
    /// rendering them to stop.
    pub(super) fn cancel_copies(
        &self,
        tx: &Transaction<'_>,
        job: &str,
        frame: i32,
        followup: &mut Followup,
    ) -> Result<(), DbError> {
        let open: Vec<(String, u32, Option<String>)> = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT id, attempt, worker_id FROM tasks WHERE job_id = ?1 AND frames = ?2 \
                 AND kind IN ('parity', 'arbiter') AND state IN {OPEN}"
            ))?;
            stmt.query_map(params![job, to_json(&[frame])], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?
        };
        for (task, attempt, worker) in open {
            tx.execute(
                "UPDATE tasks SET state = ?2, updated_ms = ?3 WHERE id = ?1",
                params![task, TaskState::Cancelled, now_ms()],
            )?;
            if let (Some(worker), Ok(task_id)) = (worker.and_then(|w| w.parse().ok()), task.parse())
            {
                followup
                    .controls
                    .push((worker, protocol::Control::AbandonTask { task_id, attempt }));
            }
        }
        Ok(())
    }

    /// The worker a copy of a frame goes to: online, not blocklisted nor
    /// draining, meeting the job's placement, of the node class of the
    /// frame's primary copy's worker (so the pair compares like with like),
    /// of the
    /// device family of the frame's primary result, not one that delivered
    /// or failed a copy of it, with the job's renderer, and of an owner none
    /// of the frame's copies has (the enrollment's owner). Arbitration goes to the longest verified streak;
    /// parity copies to a random fit (workers cannot predict them).
    fn pick_worker(
        &self,
        tx: &Transaction<'_>,
        job: &str,
        frame: i32,
        kind: TaskKind,
        reach: Reach,
    ) -> Result<Option<String>, DbError> {
        let requirement = super::routing::job_requirement(tx, job)?;
        let primary: Option<(String, Option<String>)> = tx
            .query_row(
                "SELECT r.device_family, w.node_class FROM results r JOIN frames f \
                 ON f.job_id = r.job_id AND f.frame = r.frame AND f.primary_replica = r.replica \
                 LEFT JOIN workers w ON w.id = r.worker_id \
                 WHERE r.job_id = ?1 AND r.frame = ?2",
                params![job, frame],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((family, class)) = primary else {
            return Ok(None);
        };
        let placement = job_placement(tx, job)?;
        let (taken, owners): (Vec<String>, Vec<String>) = {
            let mut stmt = tx.prepare_cached(
                "SELECT r.worker_id, COALESCE(w.owner, '') FROM results r LEFT JOIN workers w ON w.id = r.worker_id \
                 WHERE r.job_id = ?1 AND r.frame = ?2 \
                 UNION SELECT a.worker_id, '' FROM attempts a JOIN tasks t ON t.id = a.task_id \
                 WHERE t.job_id = ?1 AND t.frames = ?3 AND t.kind IN ('parity', 'arbiter') AND a.state = 'failed'",
            )?;
            stmt.query_map(params![job, frame, to_json(&[frame])], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip()
        };
        let candidates: Vec<Candidate> = {
            let mut stmt = tx.prepare_cached(
                &format!(
                    "SELECT id, owner, verified_streak, info, region, {EARNED_CLASS}, device_class FROM workers \
                     WHERE (state = 'online' OR (?2 AND state = 'lost' AND last_seen_ms > ?3)) \
                     AND blocklisted_ms IS NULL AND draining_ms IS NULL AND device_family = ?1 \
                     AND (?4 IS NULL OR node_class = ?4) AND NOT COALESCE({CHECKING}, 0)"
                ),
            )?;
            let may_return = reach == Reach::MayReturn;
            stmt.query_map(
                params![family, may_return, now_ms() - LOST_GRACE_MS, class],
                |r| {
                    let info: String = r.get(3)?;
                    Ok((
                        Candidate {
                            id: r.get(0)?,
                            owner: r.get(1)?,
                            streak: r.get(2)?,
                        },
                        seat_of(r.get(4)?, r.get(5)?, r.get(6)?, &info),
                        info,
                    ))
                },
            )?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|(candidate, seat, info)| {
                !taken.contains(&candidate.id)
                    && placement.admits(seat)
                    && from_json::<WorkerInfo>(info)
                        .is_ok_and(|info| requirement.met_by(&info.renderers))
            })
            .map(|(candidate, _, _)| candidate)
            .collect()
        };
        // Never the owner of another copy: one provider running many
        // workers must not be able to verify itself.
        let pool: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| !owners.contains(&c.owner))
            .collect();
        let chosen = match kind {
            TaskKind::Arbiter => {
                let best = pool.iter().map(|c| c.streak).max();
                let top: Vec<&&Candidate> =
                    pool.iter().filter(|c| Some(c.streak) == best).collect();
                top.choose(&mut rand::rng()).map(|c| c.id.clone())
            }
            _ => pool.choose(&mut rand::rng()).map(|c| c.id.clone()),
        };
        Ok(chosen)
    }

    /// Give copies waiting for a worker one, now that workers may have come
    /// online. A copy that still has none, in a job with nothing else left
    /// to render, and no lost worker that may come back for it, is given up:
    /// its frame is unverifiable. Returns what to do next (jobs that
    /// finished because of it).
    pub fn place_waiting_copies(&self) -> Result<Followup, DbError> {
        let mut followup = Followup::default();
        let mut jobs = Vec::new();
        {
            let mut conn = self.lock();
            let tx = conn.transaction()?;
            let waiting: Vec<(String, String, String, TaskKind)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT t.id, t.job_id, t.frames, t.kind FROM tasks t JOIN jobs j ON j.id = t.job_id \
                     WHERE t.state = 'pending' AND t.kind IN ('parity', 'arbiter') AND t.target_worker IS NULL \
                     AND j.state IN ('queued', 'running')",
                )?;
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect::<Result<_, _>>()?
            };
            for (task, job, frames, kind) in waiting {
                let frame = from_json::<Vec<i32>>(&frames)?
                    .first()
                    .copied()
                    .ok_or_else(|| DbError::Corrupt(format!("copy task {task} has no frame")))?;
                if let Some(target) = self.pick_worker(&tx, &job, frame, kind, Reach::Online)? {
                    tx.execute(
                        "UPDATE tasks SET target_worker = ?2 WHERE id = ?1",
                        params![task, target],
                    )?;
                    followup.dispatch = true;
                    continue;
                }
                let others: bool = tx.query_row(
                    &format!(
                        "SELECT EXISTS (SELECT 1 FROM tasks WHERE job_id = ?1 AND state IN {OPEN} \
                         AND NOT (kind IN ('parity', 'arbiter') AND target_worker IS NULL AND state = 'pending'))"
                    ),
                    [&job],
                    |r| r.get(0),
                )?;
                if !others
                    && self
                        .pick_worker(&tx, &job, frame, kind, Reach::MayReturn)?
                        .is_none()
                {
                    tracing::warn!(job_id = %job, frame, %kind,
                        "no other worker of this device family is online; the frame stays unverified");
                    self.give_up_copy(&tx, &task, &job, frame)?;
                    jobs.push(job);
                }
            }
            tx.commit()?;
        }
        jobs.dedup();
        for job in jobs {
            self.refresh_into(&job, &mut followup)?;
        }
        Ok(followup)
    }

    /// A copy that cannot be rendered: cancel it; its frame is unverifiable.
    fn give_up_copy(
        &self,
        tx: &Transaction<'_>,
        task: &str,
        job: &str,
        frame: i32,
    ) -> Result<(), DbError> {
        tx.execute(
            "UPDATE tasks SET state = ?2, updated_ms = ?3 WHERE id = ?1",
            params![task, TaskState::Cancelled, now_ms()],
        )?;
        tx.execute(
            "UPDATE frames SET check_state = ?3 WHERE job_id = ?1 AND frame = ?2 AND check_state IN (?4, ?5)",
            params![
                job,
                frame,
                CheckState::Unverifiable,
                CheckState::Awaiting,
                CheckState::Arbitrating
            ],
        )?;
        Ok(())
    }

    /// A copy's render failed: try another worker, or give up after the
    /// failure rule says so (the frame is then unverifiable, not failed).
    pub(super) fn copy_failed(
        &self,
        tx: &Transaction<'_>,
        row: &TaskRow,
        task: &str,
        verdict: AfterFailure,
        followup: &mut Followup,
    ) -> Result<(), DbError> {
        match verdict {
            AfterFailure::Retry => {
                back_to_pending(tx, task)?;
                tx.execute(
                    "UPDATE tasks SET target_worker = NULL WHERE id = ?1",
                    [task],
                )?;
                followup.dispatch = true;
            }
            AfterFailure::Fail => {
                let frame = row.frames.first().copied().unwrap_or_default();
                self.give_up_copy(tx, task, &row.job, frame)?;
            }
        }
        Ok(())
    }
}
