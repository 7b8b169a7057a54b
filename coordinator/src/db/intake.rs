//! Every delivered result is looked at by the coordinator, replicated or
//! not: it copies the upload to a key no worker can write, and the copy must
//! be of the size
//! its worker reported, with a header of the frame's size. A result that is
//! not is a lie (the worker is paid for nothing it delivered): `wrong`, a
//! strike, and the frame is rendered again.

use protocol::now_ms;
use rusqlite::{OptionalExtension, params};

use super::events::Followup;
use super::verdicts::check_state;
use super::{Db, DbError, Policy, from_json};
use crate::state::{CheckState, ResultStatus};

/// What the intake check of one result looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakePlan {
    /// The key the worker was granted and uploaded to.
    pub object_key: String,
    /// Where the coordinator keeps its own copy (no worker can write it).
    pub stored_key: String,
    /// The size in bytes its worker reported.
    pub bytes: u64,
    /// The width and height its worker reported.
    pub reported_size: (u32, u32),
    /// The job's resolution override, when it has one.
    pub expected_size: Option<(u32, u32)>,
    /// Whether it is a worker's benchmark frame, out for its class check.
    pub class_check: bool,
}

/// What the intake check found of one result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntakeFinding {
    /// The coordinator's copy of the upload, when there was one.
    pub stored_key: Option<String>,
    /// Why it is not what its worker reported, if it is not.
    pub lie: Option<String>,
    /// A benchmark frame compared with its reference render: its mean
    /// HDR-FLIP, or why it does not look like the reference.
    pub reference: Option<Result<f64, String>>,
}

impl Db {
    /// The intake check a result still needs, `None` when it had it (or is
    /// already found wrong or rejected).
    pub fn intake_plan(
        &self,
        job: &str,
        frame: i32,
        replica: u32,
    ) -> Result<Option<IntakePlan>, DbError> {
        let conn = self.lock();
        let row = conn
            .query_row(
                "SELECT r.object_key, r.bytes, r.width, r.height, j.overrides, a.key_nonce, \
                 EXISTS (SELECT 1 FROM workers w WHERE w.id = r.worker_id \
                   AND w.class_check_job = r.job_id AND w.class_check = 'running') FROM results r \
                 JOIN jobs j ON j.id = r.job_id \
                 LEFT JOIN attempts a ON a.task_id = r.task_id AND a.attempt = r.attempt \
                   AND a.worker_id = r.worker_id \
                 WHERE r.job_id = ?1 AND r.frame = ?2 AND r.replica = ?3 AND r.intake_ms IS NULL \
                 AND r.status NOT IN (?4, ?5)",
                params![
                    job,
                    frame,
                    replica,
                    ResultStatus::Wrong,
                    ResultStatus::Rejected
                ],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, u64>(1)?,
                        (r.get(2)?, r.get(3)?),
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, bool>(6)?,
                    ))
                },
            )
            .optional()?;
        let Some((object_key, bytes, reported_size, overrides, nonce, class_check)) = row else {
            return Ok(None);
        };
        let overrides: protocol::Overrides = from_json(&overrides)?;
        let nonce = nonce
            .as_deref()
            .and_then(storage::KeyNonce::parse)
            .ok_or_else(|| {
                DbError::Corrupt(format!("result {job}/{frame}/{replica} has no attempt key"))
            })?;
        let job_id: protocol::JobId = job
            .parse()
            .map_err(|_| DbError::Corrupt(format!("job id {job:?}")))?;
        Ok(Some(IntakePlan {
            stored_key: storage::render_key(job_id, frame, replica, &nonce).to_string(),
            object_key,
            bytes,
            reported_size,
            expected_size: overrides.resolution.map(|[w, h]| (w, h)),
            class_check,
        }))
    }

    /// Record what a result's intake check `found`: a lie is a strike and
    /// the frame is rendered again; a benchmark frame ends its worker's
    /// class check. A frame waiting for its copies to be taken in is then
    /// compared.
    pub fn record_intake(
        &self,
        job: &str,
        frame: i32,
        replica: u32,
        found: &IntakeFinding,
        policy: &Policy,
    ) -> Result<Followup, DbError> {
        let mut followup = Followup::default();
        let mut jobs = vec![job.to_owned()];
        {
            let mut conn = self.lock();
            let tx = conn.transaction()?;
            let changed = tx.execute(
                "UPDATE results SET intake_ms = ?4, object_key = COALESCE(?5, object_key) \
                 WHERE job_id = ?1 AND frame = ?2 AND replica = ?3 AND intake_ms IS NULL",
                params![job, frame, replica, now_ms(), found.stored_key],
            )?;
            if changed > 0
                && let Some(lie) = found.lie.as_deref()
            {
                self.caught_lying(
                    &tx,
                    job,
                    frame,
                    replica,
                    lie,
                    policy,
                    &mut followup,
                    &mut jobs,
                )?;
            }
            if changed > 0 {
                super::class_checks::on_intake(&tx, job, found)?;
            }
            if changed > 0 && check_state(&tx, job, frame)? == Some(CheckState::Comparing) {
                followup.comparisons.push((job.to_owned(), frame));
            }
            tx.commit()?;
        }
        jobs.sort();
        jobs.dedup();
        for job in jobs {
            self.refresh_into(&job, &mut followup)?;
        }
        Ok(followup)
    }

    /// Results whose intake check was interrupted (by a restart or an
    /// outage), of jobs not cancelled.
    pub fn results_awaiting_intake(&self) -> Result<Vec<(String, i32, u32)>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT r.job_id, r.frame, r.replica FROM results r JOIN jobs j ON j.id = r.job_id \
             WHERE r.intake_ms IS NULL AND j.state != 'cancelled' AND r.status NOT IN (?1, ?2)",
        )?;
        let rows = stmt
            .query_map(params![ResultStatus::Wrong, ResultStatus::Rejected], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}
