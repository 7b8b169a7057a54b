//! Choosing tasks to publish, and recording that they were published.

use protocol::{OutputSpec, RenderDevice, SceneRef, TaskId, TaskMessage, WorkerId, now_ms, queues};
use rusqlite::params;

use super::{Db, DbError, from_json};
use crate::split::message_priority;
use crate::state::{JobState, TaskState};

/// A task ready to go on the queue.
#[derive(Debug, Clone)]
pub struct QueuedTask {
    /// The message workers receive.
    pub message: TaskMessage,
    /// Queue priority.
    pub priority: u8,
    /// The worker a directed copy goes to; `None` for the shared queue.
    pub target: Option<WorkerId>,
}

impl QueuedTask {
    /// The queue the task is published on.
    pub fn queue(&self) -> String {
        match self.target {
            Some(worker) => queues::worker_tasks(worker),
            None => queues::tasks(self.message.renderer),
        }
    }
}

/// A pending task's row, as `take_pending` reads it.
struct PendingRow {
    task: String,
    job: String,
    attempt: u32,
    frames: String,
    renderer: String,
    hash: String,
    ext: String,
    output: String,
    overrides: String,
    scene_options: String,
    timeout: u64,
    priority: u8,
    replica: u32,
    target: Option<String>,
    bundle: Option<String>,
    wants_gpu: bool,
}

impl PendingRow {
    /// The task to publish as attempt `attempt`.
    fn queued(self, attempt: u32) -> Result<QueuedTask, DbError> {
        let task = &self.task;
        let corrupt = |what: &str| DbError::Corrupt(format!("{what} of task {task}"));
        Ok(QueuedTask {
            message: TaskMessage {
                task_id: task.parse().map_err(|_| corrupt("id"))?,
                job_id: self.job.parse().map_err(|_| corrupt("job id"))?,
                attempt,
                renderer: self.renderer.parse().map_err(|_| corrupt("renderer"))?,
                scene: SceneRef {
                    hash: self.hash.parse().map_err(|_| corrupt("scene hash"))?,
                    ext: self.ext,
                },
                bundle: self.bundle.as_deref().map(from_json).transpose()?,
                frames: from_json(&self.frames)?,
                replica: self.replica,
                output: from_json::<OutputSpec>(&self.output)?,
                overrides: from_json(&self.overrides)?,
                scene_options: from_json(&self.scene_options)?,
                timeout_secs: self.timeout,
                device: if self.wants_gpu {
                    RenderDevice::Gpu
                } else {
                    RenderDevice::Cpu
                },
            },
            priority: message_priority(self.priority),
            target: self
                .target
                .map(|t| t.parse().map_err(|_| corrupt("target worker")))
                .transpose()?,
        })
    }
}

impl Db {
    /// Up to `limit` pending tasks of jobs that may run, highest priority
    /// first, each with its attempt number already advanced. The caller
    /// publishes them, then calls [`Db::mark_queued`].
    pub fn take_pending(&self, limit: usize) -> Result<Vec<QueuedTask>, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let rows = {
            let mut stmt = tx.prepare_cached(
                "SELECT t.id, t.job_id, t.attempt, t.frames, j.renderer, j.scene_hash, s.ext, \
                        j.output, j.overrides, j.task_timeout_secs, j.priority, t.replica, t.target_worker, \
                        j.bundle, j.wants_gpu, j.scene_options \
                 FROM tasks t JOIN jobs j ON j.id = t.job_id JOIN scenes s ON s.hash = j.scene_hash \
                 WHERE t.state = ?1 AND j.state IN (?2, ?3) \
                   AND (t.target_worker IS NOT NULL OR (t.kind IN ('render', 'rerender') AND j.routed = 0)) \
                 ORDER BY j.priority DESC, j.created_ms, t.seq LIMIT ?4",
            )?;
            stmt.query_map(
                params![
                    TaskState::Pending,
                    JobState::Queued,
                    JobState::Running,
                    limit
                ],
                |r| {
                    Ok(PendingRow {
                        task: r.get(0)?,
                        job: r.get(1)?,
                        attempt: r.get(2)?,
                        frames: r.get(3)?,
                        renderer: r.get(4)?,
                        hash: r.get(5)?,
                        ext: r.get(6)?,
                        output: r.get(7)?,
                        overrides: r.get(8)?,
                        timeout: r.get(9)?,
                        priority: r.get(10)?,
                        replica: r.get(11)?,
                        target: r.get(12)?,
                        bundle: r.get(13)?,
                        wants_gpu: r.get(14)?,
                        scene_options: r.get(15)?,
                    })
                },
            )?
            .collect::<Result<Vec<_>, _>>()?
        };
        let mut out = Vec::with_capacity(rows.len());
        {
            let mut bump = tx.prepare_cached("UPDATE tasks SET attempt = ?2 WHERE id = ?1")?;
            for row in rows {
                let attempt = row.attempt + 1;
                bump.execute(params![row.task, attempt])?;
                out.push(row.queued(attempt)?);
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// Record that these (task, attempt) pairs are on the queue. A task that
    /// moved on meanwhile (cancelled, re-dispatched) is left alone.
    pub fn mark_queued(&self, tasks: &[(TaskId, u32)]) -> Result<(), DbError> {
        let now = now_ms();
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE tasks SET state = ?3, updated_ms = ?4, queued_ms = ?4 \
                 WHERE id = ?1 AND attempt = ?2 AND state = ?5",
            )?;
            for (task, attempt) in tasks {
                stmt.execute(params![
                    task.to_string(),
                    attempt,
                    TaskState::Queued,
                    now,
                    TaskState::Pending
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
