//! A job's state changes: refresh from its tasks, pause, resume, cancel,
//! requeue, and its priority. Each reads the state it checks and writes the new one in one
//! transaction, under the connection's lock, so two requests at once cannot
//! both act on what only one of them may do.

use protocol::{JobId, now_ms};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Db, DbError};
use crate::split::message_priority;
use crate::state::{FrameState, JobState, TaskCounts, TaskState, job_state_from_tasks};

/// How many of a job's tasks are in each state.
pub(super) fn counts_of(conn: &Connection, job: &str) -> Result<TaskCounts, DbError> {
    let mut stmt =
        conn.prepare_cached("SELECT state, COUNT(*) FROM tasks WHERE job_id = ?1 GROUP BY state")?;
    let mut counts = TaskCounts::default();
    for row in stmt.query_map([job], |r| {
        Ok((r.get::<_, TaskState>(0)?, r.get::<_, u64>(1)?))
    })? {
        let (state, n) = row?;
        counts.add(state, n);
    }
    Ok(counts)
}

/// A job's stored state.
pub(super) fn state_of(conn: &Connection, job: &str) -> Result<JobState, DbError> {
    conn.query_row("SELECT state FROM jobs WHERE id = ?1", [job], |r| r.get(0))
        .optional()?
        .ok_or_else(|| DbError::NotFound(format!("job {job}")))
}

/// Recompute a job's state from its tasks inside `tx` and store it. A job
/// whose tasks are all done is still running while a delivered result waits
/// for its intake check or copies of a frame are being compared: its frames
/// are not settled (nor its bill).
fn refresh_in(tx: &Transaction<'_>, job: &str) -> Result<JobState, DbError> {
    let current = state_of(tx, job)?;
    let mut next = job_state_from_tasks(current, &counts_of(tx, job)?);
    if next == JobState::Done {
        let unsettled: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM frames WHERE job_id = ?1 AND check_state = 'comparing') \
             OR EXISTS (SELECT 1 FROM results WHERE job_id = ?1 AND intake_ms IS NULL \
                        AND status NOT IN ('wrong', 'rejected'))",
            [job],
            |r| r.get(0),
        )?;
        if unsettled {
            next = JobState::Running;
        }
    }
    if next != current {
        let finished = next.is_final().then(now_ms);
        // A job that leaves a final state (a frame rendered again) gets a
        // new report when it ends again.
        tx.execute(
            "UPDATE jobs SET state = ?2, finished_ms = ?3, report_key = NULL WHERE id = ?1",
            params![job, next, finished],
        )?;
        tracing::info!(job_id = job, from = %current, to = %next, "job state changed");
    }
    Ok(next)
}

impl Db {
    pub(super) fn job_state(&self, job: &str) -> Result<JobState, DbError> {
        state_of(&self.lock(), job)
    }

    /// A job's state (not found if there is no such job).
    pub fn job_state_of(&self, id: JobId) -> Result<JobState, DbError> {
        self.job_state(&id.to_string())
    }

    /// Recompute a job's state from its tasks and store it.
    pub(super) fn refresh_job(&self, job: &str) -> Result<JobState, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let state = refresh_in(&tx, job)?;
        tx.commit()?;
        Ok(state)
    }

    /// Pause a queued or running job: no new task of it starts.
    pub fn pause_job(&self, id: JobId) -> Result<JobState, DbError> {
        let key = id.to_string();
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let state = state_of(&tx, &key)?;
        if !state.can_pause() {
            return Err(DbError::Conflict(format!(
                "job {id} is {state}; only queued or running jobs can be paused"
            )));
        }
        tx.execute(
            "UPDATE jobs SET state = ?2 WHERE id = ?1",
            params![key, JobState::Paused],
        )?;
        tx.commit()?;
        Ok(JobState::Paused)
    }

    /// Resume a paused job: tasks returned while it was paused are dispatched again.
    pub fn resume_job(&self, id: JobId) -> Result<JobState, DbError> {
        let key = id.to_string();
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let state = state_of(&tx, &key)?;
        if state != JobState::Paused {
            return Err(DbError::Conflict(format!(
                "job {id} is {state}, not paused"
            )));
        }
        tx.execute(
            "UPDATE jobs SET state = ?2 WHERE id = ?1",
            params![key, JobState::Queued],
        )?;
        tx.execute(
            "UPDATE tasks SET state = ?2, updated_ms = ?3 WHERE job_id = ?1 AND state = ?4",
            params![key, TaskState::Pending, now_ms(), TaskState::Held],
        )?;
        let state = refresh_in(&tx, &key)?;
        tx.commit()?;
        Ok(state)
    }

    /// Cancel a job: every unfinished task and frame is cancelled.
    pub fn cancel_job(&self, id: JobId) -> Result<JobState, DbError> {
        let key = id.to_string();
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let state = state_of(&tx, &key)?;
        if state.is_final() {
            return Err(DbError::Conflict(format!("job {id} is already {state}")));
        }
        let now = now_ms();
        tx.execute(
            "UPDATE jobs SET state = ?2, finished_ms = ?3 WHERE id = ?1",
            params![key, JobState::Cancelled, now],
        )?;
        tx.execute(
            "UPDATE tasks SET state = ?2, updated_ms = ?3 WHERE job_id = ?1 AND state NOT IN ('done', 'failed')",
            params![key, TaskState::Cancelled, now],
        )?;
        tx.execute(
            "UPDATE frames SET state = ?2 WHERE job_id = ?1 AND state IN ('pending', 'rendering')",
            params![key, FrameState::Cancelled],
        )?;
        tx.commit()?;
        Ok(JobState::Cancelled)
    }

    /// Give a job another priority (0 to 100). Tasks not yet taken follow it:
    /// those already on the queue under another queue priority are published
    /// again (their old messages are superseded attempts, which workers are
    /// told to abandon). Returns how many tasks were published again.
    pub fn set_priority(&self, id: JobId, priority: u8) -> Result<u64, DbError> {
        let key = id.to_string();
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let state = state_of(&tx, &key)?;
        if state.is_final() {
            return Err(DbError::Conflict(format!(
                "job {id} is {state}; its priority no longer matters"
            )));
        }
        let was: u8 = tx.query_row("SELECT priority FROM jobs WHERE id = ?1", [&key], |r| {
            r.get(0)
        })?;
        tx.execute(
            "UPDATE jobs SET priority = ?2 WHERE id = ?1",
            params![key, priority],
        )?;
        let republished = if message_priority(was) == message_priority(priority) {
            0
        } else {
            tx.execute(
                "UPDATE tasks SET state = ?2, updated_ms = ?3 WHERE job_id = ?1 AND state = ?4",
                params![key, TaskState::Pending, now_ms(), TaskState::Queued],
            )?
        };
        tx.commit()?;
        Ok(republished as u64)
    }

    /// Put a job's failed tasks back in the queue, with a fresh failure count.
    /// Returns how many frames were requeued.
    pub fn requeue_failed(&self, id: JobId) -> Result<u64, DbError> {
        let key = id.to_string();
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let state = state_of(&tx, &key)?;
        if state == JobState::Cancelled {
            return Err(DbError::Conflict(format!(
                "job {id} is cancelled; submit it again instead"
            )));
        }
        let frames = tx.execute(
            "UPDATE frames SET state = ?2, error = NULL WHERE job_id = ?1 AND state = ?3",
            params![key, FrameState::Pending, FrameState::Failed],
        )?;
        tx.execute(
            "UPDATE tasks SET state = ?2, failures_from = attempt + 1, updated_ms = ?3 \
             WHERE job_id = ?1 AND state = ?4",
            params![key, TaskState::Pending, now_ms(), TaskState::Failed],
        )?;
        if frames > 0 && state.is_final() {
            tx.execute(
                "UPDATE jobs SET state = ?2, finished_ms = NULL WHERE id = ?1",
                params![key, JobState::Running],
            )?;
        }
        tx.commit()?;
        Ok(frames as u64)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::*;

    /// Run `act` on `threads` threads at once; returns how many succeeded.
    fn at_once(threads: usize, act: impl Fn() -> bool + Send + Sync + 'static) -> usize {
        let act = Arc::new(act);
        let start = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (act, start) = (Arc::clone(&act), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    act()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count()
    }

    #[test]
    fn concurrent_requests_cannot_both_pause_resume_or_cancel() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite")).unwrap();
        let (id, _) = super::super::tests::job(&db);
        for _ in 0..20 {
            let pause = db.clone();
            assert_eq!(at_once(4, move || pause.pause_job(id).is_ok()), 1);
            let resume = db.clone();
            assert_eq!(at_once(4, move || resume.resume_job(id).is_ok()), 1);
        }
        let cancel = db.clone();
        assert_eq!(at_once(4, move || cancel.cancel_job(id).is_ok()), 1);
    }
}
