//! Class checks: a worker enrolled in a node class that asks for a
//! benchmark earns the class only by rendering the farm's benchmark scene
//! fast enough. When it announces itself, the check is due; once it is
//! online and idle, the coordinator makes a one-frame job pinned to it (the
//! frame drawn at random from the benchmark's frames, so it cannot be
//! rendered ahead) and times it itself: from when the task was queued for
//! the worker to when its frame arrived, never by the worker's word. The
//! frame must then pass the intake check every result passes. Until the
//! check passes the worker takes no other task, is offered no job that
//! asks for a node class, and is billed at its device class rates; a worker
//! too slow for its class is refused the class.

use protocol::{FrameSpec, OutputSpec, Overrides, Renderer, SceneHash, TaskId, WorkerId, now_ms};
use rand::Rng;
use rusqlite::{OptionalExtension, Transaction, params};

use super::intake::IntakeFinding;
use super::jobs::{JobOptions, NewJob};
use super::node_classes::class_named;
use super::{Db, DbError};
use crate::state::{FrameState, JobState, TaskState};

/// A worker's node class as routing and billing see it: its enrolled
/// class once earned (no check asked for, or the check passed), else none.
pub(super) const EARNED_CLASS: &str =
    "CASE WHEN class_check IS NULL OR class_check = 'passed' THEN node_class ELSE '' END";

/// Whether the row's worker is in the middle of its class check.
pub(super) const CHECKING: &str = "class_check IN ('pending', 'running')";

/// Where a worker's class check stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassCheck {
    /// Due: the benchmark frame is made when the worker is idle.
    Pending,
    /// Its benchmark frame is out.
    Running,
    /// The worker earned its class.
    Passed,
    /// Too slow, failed or not what it reported: the class is refused.
    Refused,
}

impl ClassCheck {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ClassCheck::Pending => "pending",
            ClassCheck::Running => "running",
            ClassCheck::Passed => "passed",
            ClassCheck::Refused => "refused",
        }
    }

    /// From its stored name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            ClassCheck::Pending,
            ClassCheck::Running,
            ClassCheck::Passed,
            ClassCheck::Refused,
        ]
        .into_iter()
        .find(|c| c.as_str() == text)
    }
}

/// A worker's node class, class check state and check job.
type CheckRow = (String, Option<ClassCheck>, Option<String>);

/// A worker's class check row.
fn check_of(tx: &Transaction<'_>, worker: &str) -> Result<Option<CheckRow>, DbError> {
    Ok(tx
        .query_row(
            "SELECT node_class, class_check, class_check_job FROM workers WHERE id = ?1",
            [worker],
            |r| {
                let state: Option<String> = r.get(1)?;
                Ok((
                    r.get(0)?,
                    state.as_deref().and_then(ClassCheck::parse),
                    r.get(2)?,
                ))
            },
        )
        .optional()?)
}

/// Set a worker's check state, with a note for its operator.
fn set_check(
    tx: &Transaction<'_>,
    worker: &str,
    state: Option<ClassCheck>,
    note: Option<&str>,
) -> Result<(), DbError> {
    tx.execute(
        "UPDATE workers SET class_check = ?2, class_check_note = ?3 WHERE id = ?1",
        params![worker, state.map(ClassCheck::as_str), note],
    )?;
    Ok(())
}

/// Cancel the check job `job` if it is still going.
fn cancel_check_job(tx: &Transaction<'_>, job: &str) -> Result<(), DbError> {
    let now = now_ms();
    let changed = tx.execute(
        "UPDATE jobs SET state = ?2, finished_ms = ?3 WHERE id = ?1 AND state IN (?4, ?5, ?6)",
        params![
            job,
            JobState::Cancelled,
            now,
            JobState::Queued,
            JobState::Running,
            JobState::Paused
        ],
    )?;
    if changed > 0 {
        tx.execute(
            "UPDATE tasks SET state = ?2, updated_ms = ?3 WHERE job_id = ?1 AND state NOT IN ('done', 'failed')",
            params![job, TaskState::Cancelled, now],
        )?;
        tx.execute(
            "UPDATE frames SET state = ?2 WHERE job_id = ?1 AND state IN ('pending', 'rendering')",
            params![job, FrameState::Cancelled],
        )?;
    }
    Ok(())
}

/// A worker announced itself: its class check is due when its class asks
/// for one and it has none, or when its check was cut short (it restarted).
pub(super) fn on_announce(tx: &Transaction<'_>, worker: &str) -> Result<bool, DbError> {
    let Some((class, state, job)) = check_of(tx, worker)? else {
        return Ok(false);
    };
    let asks = class_named(tx, &class)?.is_some_and(|c| c.benchmark_max_secs.is_some());
    match state {
        None if asks => set_check(tx, worker, Some(ClassCheck::Pending), None)?,
        Some(ClassCheck::Running) => {
            if let Some(job) = job {
                cancel_check_job(tx, &job)?;
            }
            set_check(tx, worker, Some(ClassCheck::Pending), None)?;
        }
        Some(ClassCheck::Pending) if !asks => set_check(tx, worker, None, None)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Whether `worker` starting `task` must be refused: while its class check
/// is due or out, it renders nothing but its benchmark frame.
pub(super) fn starts_while_checking(
    tx: &Transaction<'_>,
    (worker, task, _attempt): (WorkerId, TaskId, u32),
) -> Result<bool, DbError> {
    let Some((_, state, check_job)) = check_of(tx, &worker.to_string())? else {
        return Ok(false);
    };
    if !matches!(state, Some(ClassCheck::Pending | ClassCheck::Running)) {
        return Ok(false);
    }
    let job: Option<String> = tx
        .query_row(
            "SELECT job_id FROM tasks WHERE id = ?1",
            [task.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(job.is_some() && job != check_job)
}

/// The worker whose running check job is `job`, if any.
fn checked_by(tx: &Transaction<'_>, job: &str) -> Result<Option<String>, DbError> {
    Ok(tx
        .query_row(
            "SELECT id FROM workers WHERE class_check_job = ?1 AND class_check = 'running'",
            [job],
            |r| r.get(0),
        )
        .optional()?)
}

/// A frame of job `job` arrived from `worker`: when it is that worker's
/// benchmark frame, time it from when its task was queued.
pub(super) fn on_frame_done(
    tx: &Transaction<'_>,
    job: &str,
    task: &str,
    worker: &str,
) -> Result<(), DbError> {
    if checked_by(tx, job)?.as_deref() != Some(worker) {
        return Ok(());
    }
    let queued: Option<i64> =
        tx.query_row("SELECT queued_ms FROM tasks WHERE id = ?1", [task], |r| {
            r.get(0)
        })?;
    let observed = queued.map(|queued| (now_ms() - queued).max(0));
    tx.execute(
        "UPDATE workers SET class_check_ms = ?2 WHERE id = ?1",
        params![worker, observed],
    )?;
    Ok(())
}

/// The intake check of a result of job `job` is recorded: a benchmark
/// frame's check ends, passed when the upload is what was reported, in
/// time, and (with reference renders) looks like its reference.
pub(super) fn on_intake(
    tx: &Transaction<'_>,
    job: &str,
    found: &IntakeFinding,
) -> Result<(), DbError> {
    let Some(worker) = checked_by(tx, job)? else {
        return Ok(());
    };
    let (class, observed): (String, Option<i64>) = tx.query_row(
        "SELECT node_class, class_check_ms FROM workers WHERE id = ?1",
        [&worker],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let limit = class_named(tx, &class)?.and_then(|c| c.benchmark_max_secs);
    let unlike = match &found.reference {
        Some(Err(why)) => Some(why.as_str()),
        _ => None,
    };
    let verdict = match (found.lie.as_deref(), unlike, observed, limit) {
        (Some(lie), _, _, _) => Err(format!(
            "its benchmark frame is not what it reported: {lie}"
        )),
        (None, Some(why), _, _) => Err(format!(
            "its benchmark frame does not look like the reference: {why}"
        )),
        (None, None, Some(ms), Some(limit)) if ms as f64 / 1000.0 > limit => Err(format!(
            "its benchmark frame took {:.1} s as the coordinator timed it; {class} allows {limit:.1} s",
            ms as f64 / 1000.0
        )),
        (None, None, Some(ms), _) => Ok(format!(
            "benchmark frame in {:.1} s as the coordinator timed it{}",
            ms as f64 / 1000.0,
            match &found.reference {
                Some(Ok(flip)) => format!(", mean FLIP {flip:.3} against the reference render"),
                _ => String::new(),
            }
        )),
        (None, None, None, _) => Err("its benchmark frame was never timed".to_owned()),
    };
    match verdict {
        Ok(note) => {
            tracing::info!(worker = %worker, node_class = %class, %note, "class check passed");
            set_check(tx, &worker, Some(ClassCheck::Passed), Some(&note))?;
        }
        Err(note) => {
            tracing::warn!(worker = %worker, node_class = %class, %note, "class refused");
            set_check(tx, &worker, Some(ClassCheck::Refused), Some(&note))?;
            // Nothing of a refused check is rendered again.
            cancel_check_job(tx, job)?;
        }
    }
    Ok(())
}

/// A task of job `job` ended on `worker` without its frame: a failed
/// benchmark frame refuses the class; one given back is due again.
pub(super) fn on_task_ended(
    tx: &Transaction<'_>,
    task: &str,
    worker: &str,
    failure: Option<&str>,
) -> Result<(), DbError> {
    let job: Option<String> = tx
        .query_row("SELECT job_id FROM tasks WHERE id = ?1", [task], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(job) = job else {
        return Ok(());
    };
    if checked_by(tx, &job)?.as_deref() != Some(worker) {
        return Ok(());
    }
    cancel_check_job(tx, &job)?;
    match failure {
        Some(error) => {
            let note = format!("its benchmark frame failed: {error}");
            tracing::warn!(worker = %worker, %note, "class refused");
            set_check(tx, worker, Some(ClassCheck::Refused), Some(&note))
        }
        None => set_check(tx, worker, Some(ClassCheck::Pending), None),
    }
}

/// The farm's benchmark: the scene every class check renders, and the
/// frames one is drawn from.
#[derive(Debug, Clone)]
pub struct CheckScene {
    /// The scene, already stored.
    pub scene: SceneHash,
    /// Its frames.
    pub frames: Vec<i32>,
}

impl Db {
    /// Make the benchmark job of every worker whose class check is due and
    /// that is online and idle. Returns how many were made.
    pub fn start_class_checks(&self, benchmark: &CheckScene) -> Result<usize, DbError> {
        if benchmark.frames.is_empty() {
            return Ok(0);
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let due: Vec<(String, String, String)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT w.id, w.name, w.node_class FROM workers w \
                 WHERE w.class_check = 'pending' AND w.state = 'online' AND w.blocklisted_ms IS NULL \
                   AND w.draining_ms IS NULL AND w.task_id IS NULL \
                   AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.worker_id = w.id AND t.state = 'running')",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?
        };
        let mut made = 0;
        for (worker, name, class) in due {
            let Some(limit) = class_named(&tx, &class)?.and_then(|c| c.benchmark_max_secs) else {
                set_check(&tx, &worker, None, None)?;
                continue;
            };
            let frame = benchmark.frames[rand::rng().random_range(0..benchmark.frames.len())];
            let frames = FrameSpec::parse(&frame.to_string(), 1)
                .map_err(|e| DbError::Corrupt(format!("benchmark frame {frame}: {e}")))?;
            let job = NewJob {
                name: format!("class check: {name} for {class}"),
                scene: benchmark.scene.clone(),
                renderer: Renderer::Blender,
                frames,
                chunk_size: 1,
                priority: 100,
                output: OutputSpec::default(),
                overrides: Overrides::default(),
                task_timeout_secs: (limit * 2.0).ceil() as u64 + 60,
                parity_bp: 0,
                options: JobOptions {
                    pinned_worker: Some(
                        worker
                            .parse()
                            .map_err(|_| DbError::Corrupt(format!("worker id {worker:?}")))?,
                    ),
                    ..JobOptions::default()
                },
            };
            let id = Db::insert_job(&tx, &job, None)?;
            tx.execute(
                "UPDATE workers SET class_check = 'running', class_check_job = ?2, class_check_ms = NULL, \
                 class_check_note = NULL WHERE id = ?1",
                params![worker, id.to_string()],
            )?;
            tracing::info!(worker = %worker, node_class = %class, frame, job_id = %id, "class check started");
            made += 1;
        }
        tx.commit()?;
        Ok(made)
    }
}
