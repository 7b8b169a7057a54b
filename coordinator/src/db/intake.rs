//! Every delivered result is looked at by the coordinator, replicated or
//! not: its object must be at the key the coordinator derived, of the size
//! its worker reported, with a header of the frame's size. A result that is
//! not is a lie (the worker is paid for nothing it delivered): `wrong`, a
//! strike, and the frame is rendered again.

use protocol::now_ms;
use rusqlite::{OptionalExtension, params};

use super::events::Followup;
use super::{Db, DbError, Policy, from_json};
use crate::state::ResultStatus;

/// What the intake check of one result looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakePlan {
    /// The key the coordinator derived for it.
    pub object_key: String,
    /// The size in bytes its worker reported.
    pub bytes: u64,
    /// The width and height its worker reported.
    pub reported_size: (u32, u32),
    /// The job's resolution override, when it has one.
    pub expected_size: Option<(u32, u32)>,
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
                "SELECT r.object_key, r.bytes, r.width, r.height, j.overrides FROM results r \
                 JOIN jobs j ON j.id = r.job_id \
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
                    ))
                },
            )
            .optional()?;
        let Some((object_key, bytes, reported_size, overrides)) = row else {
            return Ok(None);
        };
        let overrides: protocol::Overrides = from_json(&overrides)?;
        Ok(Some(IntakePlan {
            object_key,
            bytes,
            reported_size,
            expected_size: overrides.resolution.map(|[w, h]| (w, h)),
        }))
    }

    /// Record a result's intake check; `lie` says why it is not what its
    /// worker reported, if it is not.
    pub fn record_intake(
        &self,
        job: &str,
        frame: i32,
        replica: u32,
        lie: Option<&str>,
        policy: &Policy,
    ) -> Result<Followup, DbError> {
        let mut followup = Followup::default();
        let mut jobs = vec![job.to_owned()];
        {
            let mut conn = self.lock();
            let tx = conn.transaction()?;
            let changed = tx.execute(
                "UPDATE results SET intake_ms = ?4 WHERE job_id = ?1 AND frame = ?2 AND replica = ?3 \
                 AND intake_ms IS NULL",
                params![job, frame, replica, now_ms()],
            )?;
            if changed > 0
                && let Some(lie) = lie
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
