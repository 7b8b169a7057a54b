//! A delivered frame: storing the result with its price, finishing the task,
//! and deciding whether the frame is rendered a second time (parity).

use protocol::{FrameDone, RenderDevice, now_ms};
use rand::Rng;
use rusqlite::{OptionalExtension, Transaction, params};

use super::class_checks::EARNED_CLASS;
use super::events::{Followup, missing_frames, task_row};
use super::node_classes::class_price;
use super::{CopyPrice, Db, DbError, Policy};
use crate::state::{CheckState, FrameState, ResultStatus, TaskKind, TaskState};
use crate::verify::replication_probability;

/// What the coordinator knows of the worker that delivered a result.
struct Deliverer {
    family: String,
    class: String,
    streak: u32,
    /// Its enrolled node class.
    node_class: String,
}

/// The worker's own render time in ms: never negative, never more than a
/// day (a NaN or infinite figure counts as nothing).
fn reported_ms(seconds: f64) -> i64 {
    const DAY_MS: f64 = 86_400_000.0;
    if seconds.is_finite() {
        (seconds * 1000.0).round().clamp(0.0, DAY_MS) as i64
    } else {
        0
    }
}

/// The time the coordinator itself saw a frame take: from the later of the
/// attempt's start (its `TaskStarted`, which the worker can send only once
/// it holds the task) and the attempt's previous frame, to now; and notes
/// now as that attempt's latest frame.
fn observed_ms(
    tx: &Transaction<'_>,
    task: &str,
    attempt: u32,
    worker: &str,
) -> Result<i64, DbError> {
    let since: Option<i64> = tx
        .query_row(
            "SELECT MAX(started_ms, COALESCE(last_result_ms, 0)) FROM attempts \
             WHERE task_id = ?1 AND attempt = ?2 AND worker_id = ?3",
            params![task, attempt, worker],
            |r| r.get(0),
        )
        .optional()?;
    let now = now_ms();
    tx.execute(
        "UPDATE attempts SET last_result_ms = ?4 WHERE task_id = ?1 AND attempt = ?2 AND worker_id = ?3",
        params![task, attempt, worker, now],
    )?;
    Ok(since.map_or(0, |since| (now - since).max(0)))
}

impl Db {
    /// Store a frame's result (first one per replica wins), finish its task
    /// when it was the last frame, and start verification. Returns the job
    /// to refresh.
    pub(super) fn frame_done(
        &self,
        tx: &Transaction<'_>,
        done: &FrameDone,
        policy: &Policy,
        followup: &mut Followup,
    ) -> Result<Option<String>, DbError> {
        let job = done.job_id.to_string();
        let task = done.task_id.to_string();
        let Some(row) = task_row(tx, done.task_id)? else {
            tracing::warn!(task_id = %task, "result of an unknown task ignored");
            return Ok(None);
        };
        if row.job != job || row.replica != done.replica || !row.frames.contains(&done.frame) {
            tracing::warn!(job_id = %job, frame = done.frame, replica = done.replica,
                "result that does not match its task ignored");
            return Ok(None);
        }
        let worker = done.worker.to_string();
        if matches!(row.kind, TaskKind::Parity | TaskKind::Arbiter) {
            let own_copy: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM results WHERE job_id = ?1 AND frame = ?2 AND worker_id = ?3)",
                params![job, done.frame, worker],
                |r| r.get(0),
            )?;
            if own_copy {
                tracing::warn!(job_id = %job, frame = done.frame, worker = %worker,
                    "a worker cannot verify its own frame; copy ignored");
                return Ok(None);
            }
        }
        let deliverer = tx
            .query_row(
                &format!(
                    "SELECT device_family, device_class, verified_streak, {EARNED_CLASS} FROM workers WHERE id = ?1"
                ),
                [&worker],
                |r| {
                    Ok(Deliverer {
                        family: r.get(0)?,
                        class: r.get(1)?,
                        streak: r.get(2)?,
                        node_class: r.get(3)?,
                    })
                },
            )
            .optional()?
            .unwrap_or(Deliverer {
                family: "cpu".into(),
                class: "cpu".into(),
                streak: 0,
                node_class: String::new(),
            });
        let reported_ms = reported_ms(done.render_seconds);
        let observed_ms = observed_ms(tx, &task, done.attempt, &worker)?;
        let timeout_ms: i64 = tx.query_row(
            "SELECT task_timeout_secs FROM jobs WHERE id = ?1",
            [&job],
            |r| r.get::<_, i64>(0),
        )?;
        let render_ms = reported_ms
            .min(observed_ms)
            .min(timeout_ms.saturating_mul(1000));
        // A frame rendered on the CPU is billed as CPU, whatever GPU the
        // worker has and its enrollment grants; so is one of a job that did
        // not ask for a GPU, whatever the worker says it rendered on.
        let wants_gpu: bool =
            tx.query_row("SELECT wants_gpu FROM jobs WHERE id = ?1", [&job], |r| {
                r.get(0)
            })?;
        let (class, device) = match done.device {
            RenderDevice::Gpu if wants_gpu => (deliverer.class.clone(), RenderDevice::Gpu),
            RenderDevice::Cpu | RenderDevice::Gpu => ("cpu".to_owned(), RenderDevice::Cpu),
        };
        // The worker's node class price, when it has one for this device;
        // else the device class rate.
        let price = class_price(tx, &deliverer.node_class, device)?.unwrap_or(CopyPrice {
            per_hour: policy.billing.rate(&class),
            minimum: crate::money::Money::ZERO,
        });
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO results (job_id, frame, replica, task_id, attempt, worker_id, object_key, \
             pixel_hash, render_seconds, width, height, bytes, created_ms, kind, status, render_ms, \
             device_family, device_class, rate_micros, reported_ms, device_used, min_micros) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, \
                     ?22)",
            params![
                job,
                done.frame,
                done.replica,
                task,
                done.attempt,
                worker,
                done.object_key,
                done.pixel_hash,
                reported_ms as f64 / 1000.0,
                done.width,
                done.height,
                done.bytes,
                now_ms(),
                row.kind,
                ResultStatus::Unverified,
                render_ms,
                deliverer.family,
                class,
                price.per_hour.micros(),
                reported_ms,
                done.device.as_str(),
                price.minimum.micros(),
            ],
        )?;
        if inserted == 0 {
            tracing::debug!(job_id = %job, frame = done.frame, "duplicate frame result ignored");
            return Ok(None);
        }
        super::class_checks::on_frame_done(tx, &job, &task, &worker)?;
        followup
            .intakes
            .push((job.clone(), done.frame, done.replica));
        if missing_frames(tx, &task)?.is_empty() {
            tx.execute(
                "UPDATE tasks SET state = ?2, updated_ms = ?3 WHERE id = ?1 AND state != ?4",
                params![task, TaskState::Done, now_ms(), TaskState::Cancelled],
            )?;
        }
        match row.kind {
            TaskKind::Render | TaskKind::Rerender => {
                let primary: Option<u32> = tx
                    .query_row(
                        "SELECT primary_replica FROM frames WHERE job_id = ?1 AND frame = ?2",
                        params![job, done.frame],
                        |r| r.get(0),
                    )
                    .optional()?;
                if primary == Some(done.replica) {
                    tx.execute(
                        "UPDATE frames SET state = ?3, error = NULL, check_state = ?5 \
                         WHERE job_id = ?1 AND frame = ?2 AND state != ?4",
                        params![
                            job,
                            done.frame,
                            FrameState::Done,
                            FrameState::Cancelled,
                            CheckState::Unchecked
                        ],
                    )?;
                    // A re-rendered frame may already have an honest copy
                    // from before its first result was rejected: compare
                    // with it instead of rendering another.
                    let other_copies: u64 = tx.query_row(
                        "SELECT COUNT(*) FROM results WHERE job_id = ?1 AND frame = ?2 AND worker_id != ?3 \
                         AND status NOT IN (?4, ?5)",
                        params![job, done.frame, worker, ResultStatus::Rejected, ResultStatus::Wrong],
                        |r| r.get(0),
                    )?;
                    let chance = replication_probability(
                        deliverer.streak,
                        policy.trusted_after,
                        self.job_parity(tx, &job)?,
                    );
                    if other_copies > 0 {
                        tx.execute(
                            "UPDATE frames SET check_state = ?3, replicated = 1 WHERE job_id = ?1 AND frame = ?2",
                            params![job, done.frame, CheckState::Comparing],
                        )?;
                        followup.comparisons.push((job.clone(), done.frame));
                    } else if chance > 0.0 && rand::rng().random_bool(chance) {
                        self.replicate(tx, &job, done.frame, TaskKind::Parity, followup)?;
                    }
                }
                self.ensure_one_parity_frame(tx, &job, followup)?;
            }
            TaskKind::Parity | TaskKind::Arbiter => {
                tx.execute(
                    "UPDATE frames SET check_state = ?3 WHERE job_id = ?1 AND frame = ?2 AND check_state IN (?4, ?5)",
                    params![
                        job,
                        done.frame,
                        CheckState::Comparing,
                        CheckState::Awaiting,
                        CheckState::Arbitrating
                    ],
                )?;
                followup.comparisons.push((job.clone(), done.frame));
            }
        }
        Ok(Some(job))
    }

    /// The job's parity rate, 0.0 to 1.0.
    pub(super) fn job_parity(&self, tx: &Transaction<'_>, job: &str) -> Result<f64, DbError> {
        let basis_points: u32 =
            tx.query_row("SELECT parity_bp FROM jobs WHERE id = ?1", [job], |r| {
                r.get(0)
            })?;
        Ok(f64::from(basis_points) / 10_000.0)
    }

    /// A job with parity on gets at least one replicated frame: once its
    /// last original frame is in and none was chosen, a random done frame is.
    fn ensure_one_parity_frame(
        &self,
        tx: &Transaction<'_>,
        job: &str,
        followup: &mut Followup,
    ) -> Result<(), DbError> {
        if self.job_parity(tx, job)? <= 0.0 {
            return Ok(());
        }
        // EXISTS stops at the first row, so this stays cheap per frame even
        // for jobs of 100,000 tasks.
        let open: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM tasks WHERE job_id = ?1 AND state IN ('pending', 'queued', 'running', 'held') \
                            AND kind IN ('render', 'rerender'))",
            [job],
            |r| r.get(0),
        )?;
        if open {
            return Ok(());
        }
        let replicated: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM frames WHERE job_id = ?1 AND replicated = 1)",
            [job],
            |r| r.get(0),
        )?;
        if replicated {
            return Ok(());
        }
        let done: Vec<i32> = {
            let mut stmt = tx.prepare_cached(
                "SELECT frame FROM frames WHERE job_id = ?1 AND state = ?2 AND check_state = ?3",
            )?;
            stmt.query_map(params![job, FrameState::Done, CheckState::Unchecked], |r| {
                r.get(0)
            })?
            .collect::<Result<_, _>>()?
        };
        if done.is_empty() {
            return Ok(());
        }
        let frame = done[rand::rng().random_range(0..done.len())];
        tracing::info!(
            job_id = job,
            frame,
            "no frame was chosen for parity; replicating one"
        );
        self.replicate(tx, job, frame, TaskKind::Parity, followup)
    }
}
