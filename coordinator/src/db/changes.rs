//! The change feed: every change of a job's, frame's or worker's state and
//! every delivered copy, recorded by triggers (migration 9) in the order
//! they were committed, with the states before and after. A client that
//! read a snapshot at [`Db::latest_change`] and applies the changes after
//! it stays exact: counts move by `was` → `now`.

use protocol::{JobId, WorkerId};
use rusqlite::params;
use serde::Serialize;

use super::{Db, DbError};
use crate::auth::{Owner, Tenant};
use crate::state::{CheckState, FrameState, JobState, WorkerState};

/// Changes kept at most; older ones are pruned (a client further behind
/// reloads its snapshot).
pub const CHANGES_KEPT: i64 = 200_000;

/// Whose changes a reader may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeScope {
    /// Everything (admins).
    All,
    /// The jobs and frames of one tenant's jobs (submitters).
    Tenant(Tenant),
    /// The workers of one owner (providers).
    Owner(Owner),
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangeBody {
    /// A job was created (`was` is absent) or changed state or priority.
    Job {
        /// The job.
        job_id: JobId,
        /// Its state before.
        was: Option<JobState>,
        /// Its state after.
        now: JobState,
    },
    /// A frame changed render or verification state.
    Frame {
        /// Its job.
        job_id: JobId,
        /// Frame number.
        frame: i32,
        /// Render state before.
        was: FrameState,
        /// Render state after.
        now: FrameState,
        /// Verification state before.
        was_check: CheckState,
        /// Verification state after.
        now_check: CheckState,
    },
    /// A worker delivered a copy of a frame.
    Copy {
        /// Its job.
        job_id: JobId,
        /// Frame number.
        frame: i32,
        /// Which copy (0 is the first render).
        replica: u32,
        /// Who delivered it.
        worker_id: WorkerId,
    },
    /// A worker was seen first, or changed state, task, frame, strikes or
    /// blocklisting.
    Worker {
        /// The worker.
        worker_id: WorkerId,
        /// Its state before (absent when first seen).
        was: Option<WorkerState>,
        /// Its state after.
        now: WorkerState,
    },
}

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Its place in the feed; resume after it with `Last-Event-ID`.
    pub seq: i64,
    /// When it was committed, ms since the epoch.
    pub at_ms: i64,
    /// What changed.
    #[serde(flatten)]
    pub body: ChangeBody,
}

/// A stored id or state that does not parse.
fn corrupt(what: &str, text: &str) -> DbError {
    DbError::Corrupt(format!("change feed: bad {what} {text:?}"))
}

/// One stored row as a [`Change`].
struct Row {
    seq: i64,
    at_ms: i64,
    kind: String,
    job_id: Option<String>,
    frame: Option<i32>,
    worker_id: Option<String>,
    was: Option<String>,
    now: Option<String>,
    was_check: Option<String>,
    now_check: Option<String>,
}

impl Row {
    fn into_change(self) -> Result<Change, DbError> {
        let text =
            |value: &Option<String>, what: &str| value.clone().ok_or_else(|| corrupt(what, "NULL"));
        let job = || -> Result<JobId, DbError> {
            let id = text(&self.job_id, "job id")?;
            id.parse().map_err(|_| corrupt("job id", &id))
        };
        let worker = || -> Result<WorkerId, DbError> {
            let id = text(&self.worker_id, "worker id")?;
            id.parse().map_err(|_| corrupt("worker id", &id))
        };
        fn state<T>(
            value: &Option<String>,
            parse: fn(&str) -> Option<T>,
        ) -> Result<Option<T>, DbError> {
            value
                .as_deref()
                .map(|text| parse(text).ok_or_else(|| corrupt("state", text)))
                .transpose()
        }
        fn required<T>(value: Option<T>) -> Result<T, DbError> {
            value.ok_or_else(|| corrupt("state", "NULL"))
        }
        let frame = || self.frame.ok_or_else(|| corrupt("frame", "NULL"));
        let body = match self.kind.as_str() {
            "job" => ChangeBody::Job {
                job_id: job()?,
                was: state(&self.was, JobState::parse)?,
                now: required(state(&self.now, JobState::parse)?)?,
            },
            "frame" => ChangeBody::Frame {
                job_id: job()?,
                frame: frame()?,
                was: required(state(&self.was, FrameState::parse)?)?,
                now: required(state(&self.now, FrameState::parse)?)?,
                was_check: required(state(&self.was_check, CheckState::parse)?)?,
                now_check: required(state(&self.now_check, CheckState::parse)?)?,
            },
            "copy" => ChangeBody::Copy {
                job_id: job()?,
                frame: frame()?,
                replica: self
                    .now
                    .as_deref()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| corrupt("replica", self.now.as_deref().unwrap_or("NULL")))?,
                worker_id: worker()?,
            },
            "worker" => ChangeBody::Worker {
                worker_id: worker()?,
                was: state(&self.was, WorkerState::parse)?,
                now: required(state(&self.now, WorkerState::parse)?)?,
            },
            other => return Err(corrupt("kind", other)),
        };
        Ok(Change {
            seq: self.seq,
            at_ms: self.at_ms,
            body,
        })
    }
}

impl Db {
    /// The last change's `seq` (0 when there is none): read a snapshot and
    /// this in one call, then follow the feed after it.
    pub fn latest_change(&self) -> Result<i64, DbError> {
        Ok(self
            .lock()
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |row| {
                row.get(0)
            })?)
    }

    /// `read`'s answer and the change feed's position it is exact at: the
    /// last change before it, read again after it until no change was
    /// committed in between (a few tries; under a storm of writes the
    /// answer may already include some changes after the position, which
    /// a client applying states, not deltas, absorbs).
    pub fn snapshot<T>(
        &self,
        mut read: impl FnMut(&Db) -> Result<T, DbError>,
    ) -> Result<(i64, T), DbError> {
        let mut before = self.latest_change()?;
        for _ in 0..4 {
            let answer = read(self)?;
            let after = self.latest_change()?;
            if after == before {
                return Ok((before, answer));
            }
            before = after;
        }
        Ok((before, read(self)?))
    }

    /// The oldest kept change's `seq`, if any.
    pub fn oldest_change(&self) -> Result<Option<i64>, DbError> {
        Ok(self
            .lock()
            .query_row("SELECT MIN(seq) FROM changes", [], |row| row.get(0))?)
    }

    /// Up to `limit` changes after `after` that `scope` may see, oldest
    /// first, optionally of one job only.
    pub fn changes_after(
        &self,
        after: i64,
        scope: &ChangeScope,
        job: Option<JobId>,
        limit: usize,
    ) -> Result<Vec<Change>, DbError> {
        let (tenant, owner, all) = match scope {
            ChangeScope::All => (None, None, true),
            ChangeScope::Tenant(tenant) => (Some(tenant.as_str()), None, false),
            ChangeScope::Owner(owner) => (None, Some(owner.as_str()), false),
        };
        let conn = self.lock();
        let mut statement = conn.prepare_cached(
            "SELECT c.seq, c.at_ms, c.kind, c.job_id, c.frame, c.worker_id,
                    c.was, c.now, c.was_check, c.now_check
             FROM changes c
             LEFT JOIN jobs j ON j.id = c.job_id
             LEFT JOIN workers w ON w.id = c.worker_id AND c.kind = 'worker'
             WHERE c.seq > ?1
               AND (?4 IS NULL OR c.job_id = ?4)
               AND (?5
                    OR (?2 IS NOT NULL AND c.kind <> 'worker' AND j.tenant = ?2)
                    OR (?3 IS NOT NULL AND c.kind = 'worker' AND w.owner = ?3))
             ORDER BY c.seq
             LIMIT ?6",
        )?;
        let rows = statement.query_map(
            params![
                after,
                tenant,
                owner,
                job.map(|j| j.to_string()),
                all,
                limit as i64
            ],
            |row| {
                Ok(Row {
                    seq: row.get(0)?,
                    at_ms: row.get(1)?,
                    kind: row.get(2)?,
                    job_id: row.get(3)?,
                    frame: row.get(4)?,
                    worker_id: row.get(5)?,
                    was: row.get(6)?,
                    now: row.get(7)?,
                    was_check: row.get(8)?,
                    now_check: row.get(9)?,
                })
            },
        )?;
        rows.map(|row| row?.into_change()).collect()
    }

    /// Forget all but the last `keep` changes ([`CHANGES_KEPT`] in the
    /// coordinator); how many went.
    pub fn prune_changes(&self, keep: i64) -> Result<usize, DbError> {
        Ok(self.lock().execute(
            "DELETE FROM changes WHERE seq <= (SELECT MAX(seq) FROM changes) - ?1",
            [keep],
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Policy;
    use crate::db::tests::{frame_done, job, started, worker};

    #[test]
    fn a_render_is_recorded_change_by_change() {
        let db = Db::in_memory().unwrap();
        let w = worker(&db, "w1");
        let (id, tasks) = job(&db);
        let start = db.latest_change().unwrap();
        started(&db, &tasks[0], w);
        db.apply_as_named(&frame_done(&tasks[0], w, 1), &Policy::default())
            .unwrap();
        let changes = db
            .changes_after(start, &ChangeScope::All, Some(id), 100)
            .unwrap();
        let frame_one: Vec<_> = changes
            .iter()
            .filter_map(|c| match &c.body {
                ChangeBody::Frame {
                    frame: 1, was, now, ..
                } => Some((*was, *now)),
                _ => None,
            })
            .collect();
        assert_eq!(
            frame_one,
            [
                (FrameState::Pending, FrameState::Rendering),
                (FrameState::Rendering, FrameState::Done)
            ],
            "{changes:?}"
        );
        assert!(changes.iter().any(|c| matches!(
            c.body,
            ChangeBody::Copy { frame: 1, replica: 0, worker_id, .. } if worker_id == w
        )));
        assert!(changes.iter().any(|c| matches!(
            c.body,
            ChangeBody::Job {
                was: Some(JobState::Queued),
                now: JobState::Running,
                ..
            }
        )));
        // Another tenant sees none of it; the worker's owner sees its worker.
        let other = ChangeScope::Tenant("someone-else".parse().unwrap());
        assert!(db.changes_after(0, &other, None, 100).unwrap().is_empty());
        let owner = ChangeScope::Owner("owner-w1".parse().unwrap());
        let seen = db.changes_after(0, &owner, None, 100).unwrap();
        assert!(!seen.is_empty());
        assert!(
            seen.iter()
                .all(|c| matches!(c.body, ChangeBody::Worker { .. }))
        );
    }

    #[test]
    fn pruning_keeps_the_newest_changes() {
        let db = Db::in_memory().unwrap();
        let (id, _) = job(&db);
        db.cancel_job(id).unwrap();
        let latest = db.latest_change().unwrap();
        assert!(latest > 3);
        assert!(db.prune_changes(2).unwrap() > 0);
        assert_eq!(db.oldest_change().unwrap(), Some(latest - 1));
        assert_eq!(
            db.changes_after(0, &ChangeScope::All, None, 100)
                .unwrap()
                .len(),
            2
        );
    }
}
