//! Workers: listing them, draining them, and the watchdog's rule for lost
//! ones.

use protocol::{Control, TaskId, WorkerId, WorkerInfo, now_ms};
use rusqlite::{OptionalExtension, Transaction, params};

use super::events::{Followup, back_to_pending, task_row};
use super::{Db, DbError, from_json, to_json};
use crate::model::{ClassCheckView, Reputation, WorkerView};
use crate::state::{AttemptState, TaskState, WorkerState};

/// A class check as stored, for the worker list.
fn class_check_view(
    state: Option<String>,
    ms: Option<i64>,
    note: Option<String>,
) -> Option<ClassCheckView> {
    Some(ClassCheckView {
        state: super::ClassCheck::parse(state.as_deref()?)?,
        seconds: ms.map(|ms| ms as f64 / 1000.0),
        note,
    })
}

impl Db {
    /// An enrolled worker started (or reconnected) and describes itself.
    /// What its enrollment fixed (name, owner, region, node class) is kept
    /// over what it says; its billing class is its GPU's only when its
    /// enrollment grants that class, otherwise `cpu`.
    pub(super) fn announce(
        &self,
        tx: &Transaction<'_>,
        said: &WorkerInfo,
        followup: &mut Followup,
    ) -> Result<(), DbError> {
        let id = said.id.to_string();
        let (name, owner, region, node_class, granted): (String, String, String, String, String) =
            tx.query_row(
                "SELECT name, owner, region, node_class, device_classes FROM workers WHERE id = ?1",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?;
        let granted: Vec<String> = from_json(&granted)?;
        let claimed = said.device_class();
        let class = if granted.contains(&claimed) {
            claimed
        } else {
            if claimed != "cpu" {
                tracing::warn!(worker = %id, %claimed, ?granted,
                    "the worker's GPU class is not granted by its enrollment; billed as cpu");
            }
            "cpu".to_owned()
        };
        let info = WorkerInfo {
            name,
            owner,
            region,
            node_class,
            ..said.clone()
        };
        tx.execute(
            "UPDATE workers SET info = ?2, state = 'online', last_seen_ms = ?3, device_family = ?4,              device_class = ?5 WHERE id = ?1",
            params![id, to_json(&info), now_ms(), info.device_family(), class],
        )?;
        let reason: Option<String> = tx
            .query_row(
                "SELECT blocklist_reason FROM workers WHERE id = ?1 AND blocklisted_ms IS NOT NULL",
                [&id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(reason) = reason {
            followup
                .controls
                .push((said.id, Control::Blocklisted { reason }));
        }
        let draining: bool = tx.query_row(
            "SELECT draining_ms IS NOT NULL FROM workers WHERE id = ?1",
            [&id],
            |r| r.get(0),
        )?;
        if draining {
            followup.controls.push((said.id, Control::Drain));
        }
        super::class_checks::on_announce(tx, &id)?;
        // A new worker may be the one a parity copy waits for (or its class
        // check may be due).
        followup.dispatch = true;
        let mut stmt = tx.prepare_cached("SELECT id FROM jobs WHERE state = 'paused'")?;
        for job in stmt.query_map([], |r| r.get::<_, String>(0))? {
            if let Ok(job_id) = job?.parse() {
                followup
                    .controls
                    .push((said.id, Control::JobPaused { job_id }));
            }
        }
        Ok(())
    }

    /// Every worker ever seen, most recently seen first.
    pub fn list_workers(&self) -> Result<Vec<WorkerView>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT info, state, task_id, frame, progress, first_seen_ms, last_seen_ms, \
                    device_family, device_class, verified_streak, strikes, blocklist_reason, blocklisted_ms, \
                    refused_events, last_refusal, draining_ms, class_check, class_check_ms, class_check_note \
             FROM workers ORDER BY last_seen_ms DESC",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, WorkerState>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<i32>>(3)?,
                    r.get::<_, Option<f32>>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    Reputation {
                        device_family: r.get(7)?,
                        device_class: r.get(8)?,
                        verified_streak: r.get(9)?,
                        strikes: r.get(10)?,
                        blocklist_reason: r.get(11)?,
                        blocklisted_ms: r.get(12)?,
                        refused_events: r.get(13)?,
                        last_refusal: r.get(14)?,
                    },
                    r.get::<_, Option<i64>>(15)?,
                    class_check_view(
                        r.get::<_, Option<String>>(16)?,
                        r.get::<_, Option<i64>>(17)?,
                        r.get::<_, Option<String>>(18)?,
                    ),
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(
                |(
                    info,
                    state,
                    task,
                    frame,
                    progress,
                    first_seen_ms,
                    last_seen_ms,
                    reputation,
                    draining_ms,
                    class_check,
                )| {
                    Ok(WorkerView {
                        info: from_json::<WorkerInfo>(&info)?,
                        state,
                        current_task: task.and_then(|t| t.parse().ok()),
                        current_frame: frame,
                        progress,
                        first_seen_ms,
                        last_seen_ms,
                        reputation,
                        draining_ms,
                        class_check,
                    })
                },
            )
            .collect()
    }

    /// Workers online now.
    pub fn online_workers(&self) -> Result<Vec<WorkerId>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT id FROM workers WHERE state = 'online'")?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .filter_map(|id| id.ok()?.parse().ok())
            .collect();
        Ok(ids)
    }

    /// Mark workers silent for longer than `timeout_ms` as lost, and put the
    /// tasks they were running back to pending. Returns the lost workers and
    /// how many tasks went back.
    pub fn reap_lost_workers(&self, timeout_ms: i64) -> Result<(Vec<WorkerId>, usize), DbError> {
        let now = now_ms();
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let lost: Vec<String> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id FROM workers WHERE state = 'online' AND last_seen_ms < ?1",
            )?;
            stmt.query_map([now - timeout_ms], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut requeued = 0;
        for worker in &lost {
            tx.execute(
                "UPDATE workers SET state = ?2, task_id = NULL, frame = NULL, progress = NULL WHERE id = ?1",
                params![worker, WorkerState::Lost],
            )?;
            let tasks: Vec<(String, u32)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id, attempt FROM tasks WHERE worker_id = ?1 AND state = ?2",
                )?;
                stmt.query_map(params![worker, TaskState::Running], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<Result<_, _>>()?
            };
            requeued += redirect_unstarted_copies(&tx, worker)?;
            tx.execute(
                "UPDATE tasks SET target_worker = NULL WHERE target_worker = ?1 AND state = 'running'",
                [worker],
            )?;
            for (task, attempt) in tasks {
                tx.execute(
                    "UPDATE attempts SET state = ?4, ended_ms = ?5 WHERE task_id = ?1 AND attempt = ?2 AND worker_id = ?3",
                    params![task, attempt, worker, AttemptState::Lost, now],
                )?;
                back_to_pending(&tx, &task)?;
                tracing::warn!(task_id = %task, worker = %worker, "worker lost; task goes back to the queue");
                requeued += 1;
            }
        }
        tx.commit()?;
        Ok((
            lost.iter().filter_map(|w| w.parse().ok()).collect(),
            requeued,
        ))
    }
}

/// Copies directed at `worker` and not started go to another worker.
/// Returns how many.
pub(super) fn redirect_unstarted_copies(
    tx: &Transaction<'_>,
    worker: &str,
) -> Result<usize, DbError> {
    let directed: Vec<String> = {
        let mut stmt = tx.prepare_cached(
            "SELECT id FROM tasks WHERE target_worker = ?1 AND state IN ('pending', 'queued')",
        )?;
        stmt.query_map([worker], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    for task in &directed {
        back_to_pending(tx, task)?;
    }
    tx.execute(
        "UPDATE tasks SET target_worker = NULL WHERE target_worker = ?1 AND state = 'pending'",
        [worker],
    )?;
    Ok(directed.len())
}

/// Whether `worker` starting attempt `attempt` of `task_id` is a draining
/// worker taking an attempt it was not already rendering (the task then
/// goes elsewhere). A drain lets the task being rendered finish, nothing
/// more.
pub(super) fn starts_while_draining(
    tx: &Transaction<'_>,
    (worker, task_id, attempt): (WorkerId, TaskId, u32),
) -> Result<bool, DbError> {
    let draining: bool = tx
        .query_row(
            "SELECT draining_ms IS NOT NULL FROM workers WHERE id = ?1",
            [worker.to_string()],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(false);
    if !draining {
        return Ok(false);
    }
    let holder: Option<String> = tx
        .query_row(
            "SELECT worker_id FROM tasks WHERE id = ?1 AND attempt = ?2 AND state = ?3",
            params![task_id.to_string(), attempt, TaskState::Running],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let already_mine = holder.is_some_and(|holder| holder == worker.to_string());
    Ok(!already_mine && task_row(tx, task_id)?.is_some())
}

impl Db {
    /// Start draining a worker: the task it is rendering finishes (and is
    /// paid as usual), copies directed at it and not started go to other
    /// workers, and it is told to take nothing more; a task it starts anyway
    /// goes to another worker.
    pub fn drain_worker(&self, worker: WorkerId) -> Result<Followup, DbError> {
        let key = worker.to_string();
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        match draining_since(&tx, &key)? {
            None => return Err(DbError::NotFound(format!("worker {worker}"))),
            Some(Some(_)) => {
                return Err(DbError::Conflict(format!(
                    "worker {worker} is draining already; undrain it to let it take tasks"
                )));
            }
            Some(None) => {}
        }
        tx.execute(
            "UPDATE workers SET draining_ms = ?2 WHERE id = ?1",
            params![key, now_ms()],
        )?;
        let redirected = redirect_unstarted_copies(&tx, &key)?;
        tx.commit()?;
        tracing::info!(%worker, redirected, "worker draining");
        Ok(Followup {
            controls: vec![(worker, Control::Drain)],
            dispatch: true,
            ..Followup::default()
        })
    }

    /// End a worker's drain: it takes tasks again.
    pub fn undrain_worker(&self, worker: WorkerId) -> Result<Followup, DbError> {
        let key = worker.to_string();
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        match draining_since(&tx, &key)? {
            None => return Err(DbError::NotFound(format!("worker {worker}"))),
            Some(None) => {
                return Err(DbError::Conflict(format!(
                    "worker {worker} is not draining"
                )));
            }
            Some(Some(_)) => {}
        }
        tx.execute(
            "UPDATE workers SET draining_ms = NULL WHERE id = ?1",
            [&key],
        )?;
        tx.commit()?;
        tracing::info!(%worker, "worker drain over");
        Ok(Followup {
            controls: vec![(worker, Control::Undrain)],
            dispatch: true,
            ..Followup::default()
        })
    }
}

/// `None` for no such worker; otherwise since when it drains, if it does.
fn draining_since(tx: &Transaction<'_>, worker: &str) -> Result<Option<Option<i64>>, DbError> {
    Ok(tx
        .query_row(
            "SELECT draining_ms FROM workers WHERE id = ?1",
            [worker],
            |r| r.get(0),
        )
        .optional()?)
}
