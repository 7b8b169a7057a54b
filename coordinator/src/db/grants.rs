//! Storage grants. A worker asks for a URL for one object of an attempt it
//! holds (attribution has checked that, and that a frame is the task's and
//! not yet delivered, that a blob is one of the job's bundle); the
//! coordinator decides the key: the job's scene or one of its bundle's blobs
//! to read, or the attempt's own unguessable upload key for a frame to write.

use protocol::{GrantObject, GrantRequest, JobId, TaskId, WorkerId};
use rusqlite::{OptionalExtension, Transaction, params};
use storage::{Access, KeyNonce};

use super::events::{Followup, task_row};
use super::{Db, DbError};

/// A grant the coordinator decided to issue; the farm signs its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantOrder {
    /// Who gets it.
    pub worker: WorkerId,
    /// The task.
    pub task_id: TaskId,
    /// Its attempt.
    pub attempt: u32,
    /// What it is for.
    pub object: GrantObject,
    /// The object key.
    pub key: String,
    /// Read or write.
    pub access: Access,
}

/// The key nonce of `worker`'s attempt of a task.
pub(super) fn attempt_nonce(
    tx: &Transaction<'_>,
    task: TaskId,
    attempt: u32,
    worker: WorkerId,
) -> Result<Option<KeyNonce>, DbError> {
    let nonce: Option<Option<String>> = tx
        .query_row(
            "SELECT key_nonce FROM attempts WHERE task_id = ?1 AND attempt = ?2 AND worker_id = ?3",
            params![task.to_string(), attempt, worker.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(nonce.flatten().as_deref().and_then(KeyNonce::parse))
}

/// The upload key of `frame` in `worker`'s attempt, `None` for an attempt
/// without a nonce (one that never started).
pub(super) fn upload_key(
    tx: &Transaction<'_>,
    job: JobId,
    frame: i32,
    replica: u32,
    (task, attempt, worker): (TaskId, u32, WorkerId),
) -> Result<Option<String>, DbError> {
    Ok(attempt_nonce(tx, task, attempt, worker)?
        .map(|nonce| storage::upload_key(job, frame, replica, &nonce).to_string()))
}

impl Db {
    /// Decide the key of a grant the sender may have.
    pub(super) fn grant(
        &self,
        tx: &Transaction<'_>,
        request: &GrantRequest,
        followup: &mut Followup,
    ) -> Result<(), DbError> {
        let Some(row) = task_row(tx, request.task_id)? else {
            return Ok(());
        };
        let (key, access) = match &request.object {
            GrantObject::Scene => {
                let (hash, ext): (String, String) = tx.query_row(
                    "SELECT s.hash, s.ext FROM jobs j JOIN scenes s ON s.hash = j.scene_hash WHERE j.id = ?1",
                    [&row.job],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                let hash = hash.parse().map_err(|_| {
                    DbError::Corrupt(format!("scene hash {hash:?} of job {}", row.job))
                })?;
                (storage::scene_key(&hash, &ext).to_string(), Access::Read)
            }
            GrantObject::Frame { frame } => {
                let frame = *frame;
                let job: JobId = row
                    .job
                    .parse()
                    .map_err(|_| DbError::Corrupt(format!("job id {:?}", row.job)))?;
                let ids = (request.task_id, request.attempt, request.worker);
                let Some(key) = upload_key(tx, job, frame, row.replica, ids)? else {
                    return Ok(());
                };
                (key, Access::Write)
            }
            GrantObject::Blob { hash } => (storage::blob_key(hash).to_string(), Access::Read),
        };
        followup.grants.push(GrantOrder {
            worker: request.worker,
            task_id: request.task_id,
            attempt: request.attempt,
            object: request.object.clone(),
            key,
            access,
        });
        Ok(())
    }
}
