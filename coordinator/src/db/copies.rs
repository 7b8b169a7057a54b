//! The copies of one frame, as the frame page shows them: who delivered
//! each, on what device, how long it took, what it costs, how the checker
//! judged it, and the tail of its renderer's log; and the copies one worker
//! delivered, as its page shows them.

use protocol::{JobId, WorkerId};
use rusqlite::params;
use serde::Serialize;

use super::billing::copy_cost;
use super::{Db, DbError};
use crate::money::Money;
use crate::state::ResultStatus;

/// One delivered copy of a frame.
#[derive(Debug, Clone, Serialize)]
pub struct CopyView {
    /// Which copy (0 is the first render).
    pub replica: u32,
    /// Who delivered it.
    pub worker_id: WorkerId,
    /// Its name, if the worker is known.
    pub worker_name: Option<String>,
    /// The device it rendered on, as its result reported (and the
    /// coordinator billed).
    pub device: String,
    /// Render time the coordinator observed, ms.
    pub render_ms: i64,
    /// What the copy costs at its class's rate.
    pub cost_micros: Money,
    /// How the checker judged it.
    pub status: ResultStatus,
    /// The last lines of its renderer's output, when it sent them.
    pub log_tail: Option<String>,
    /// When it was delivered, ms since the epoch.
    pub created_ms: i64,
}

impl Db {
    /// Every delivered copy of frame `frame` of job `job`, first copy first.
    pub fn frame_copies(&self, job: JobId, frame: i32) -> Result<Vec<CopyView>, DbError> {
        let conn = self.lock();
        let mut statement = conn.prepare_cached(
            "SELECT r.replica, r.worker_id, w.name, r.device_used, r.render_ms, r.rate_micros,
                    r.status, a.log_tail, r.created_ms, r.min_micros
             FROM results r
             LEFT JOIN workers w ON w.id = r.worker_id
             LEFT JOIN attempts a ON a.task_id = r.task_id AND a.attempt = r.attempt
                                  AND a.worker_id = r.worker_id
             WHERE r.job_id = ?1 AND r.frame = ?2
             ORDER BY r.replica",
        )?;
        let rows = statement.query_map(params![job.to_string(), frame], |row| {
            let worker: String = row.get(1)?;
            Ok((
                row.get::<_, u32>(0)?,
                worker,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, ResultStatus>(6)?,
                row.get::<_, Option<String>>(7)?,
                row.get::<_, i64>(8)?,
                row.get::<_, i64>(9)?,
            ))
        })?;
        rows.map(|row| {
            let (
                replica,
                worker,
                name,
                device,
                render_ms,
                rate,
                status,
                log_tail,
                created_ms,
                minimum,
            ) = row?;
            Ok(CopyView {
                replica,
                worker_id: worker
                    .parse()
                    .map_err(|_| DbError::Corrupt(format!("worker id {worker:?}")))?,
                worker_name: name,
                device,
                render_ms,
                cost_micros: copy_cost((rate, minimum), render_ms)?,
                status,
                log_tail: log_tail.filter(|tail| !tail.is_empty()),
                created_ms,
            })
        })
        .collect()
    }
}

/// One copy a worker delivered.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveredCopy {
    /// The job.
    pub job_id: JobId,
    /// The job's name.
    pub job_name: String,
    /// The frame.
    pub frame: i32,
    /// Which copy of it.
    pub replica: u32,
    /// The device it rendered on.
    pub device: String,
    /// Render time the coordinator observed, ms.
    pub render_ms: i64,
    /// What the copy costs at its class's rate.
    pub cost_micros: Money,
    /// How the checker judged it.
    pub status: ResultStatus,
    /// When it was delivered, ms since the epoch.
    pub created_ms: i64,
}

impl Db {
    /// The last `limit` copies `worker` delivered, newest first.
    pub fn worker_copies(
        &self,
        worker: WorkerId,
        limit: usize,
    ) -> Result<Vec<DeliveredCopy>, DbError> {
        let conn = self.lock();
        let mut statement = conn.prepare_cached(
            "SELECT r.job_id, j.name, r.frame, r.replica, r.device_used, r.render_ms, r.rate_micros,
                    r.status, r.created_ms, r.min_micros
             FROM results r JOIN jobs j ON j.id = r.job_id
             WHERE r.worker_id = ?1
             ORDER BY r.created_ms DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(params![worker.to_string(), limit], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i32>(2)?,
                row.get::<_, u32>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, i64>(6)?,
                row.get::<_, ResultStatus>(7)?,
                row.get::<_, i64>(8)?,
                row.get::<_, i64>(9)?,
            ))
        })?;
        rows.map(|row| {
            let (
                job,
                job_name,
                frame,
                replica,
                device,
                render_ms,
                rate,
                status,
                created_ms,
                minimum,
            ) = row?;
            Ok(DeliveredCopy {
                job_id: job
                    .parse()
                    .map_err(|_| DbError::Corrupt(format!("job id {job:?}")))?,
                job_name,
                frame,
                replica,
                device,
                render_ms,
                cost_micros: copy_cost((rate, minimum), render_ms)?,
                status,
                created_ms,
            })
        })
        .collect()
    }
}
