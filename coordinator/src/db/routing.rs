//! Routing a placed job: its tasks go only to the own queues of workers
//! that meet its placement (region, node class, GPU model, memory), a few
//! at a time per worker, so no other worker's broker user can even read
//! them. Jobs that may render anywhere use the shared queue.

use std::collections::HashMap;

use protocol::{RendererInfo, TaskId, WorkerId, WorkerInfo};
use rusqlite::{Connection, OptionalExtension, params};

use super::class_checks::{CHECKING, EARNED_CLASS};
use super::{Db, DbError, from_json};
use crate::placement::{Placement, Seat, list};
use crate::renderers::Requirement;
use crate::state::{JobState, TaskState};

/// Tasks of routed jobs a worker holds at most (queued on its own queue,
/// or rendering): enough that it never waits for the next, few enough that
/// a worker that joins gets its share.
pub const BACKLOG: usize = 2;

/// A job's placement as stored.
pub(super) fn job_placement(conn: &Connection, job: &str) -> Result<Placement, DbError> {
    conn.query_row(
        "SELECT region, node_class, gpu_model, min_vram_mib FROM jobs WHERE id = ?1",
        [job],
        |r| {
            let regions: Option<String> = r.get(0)?;
            let classes: Option<String> = r.get(1)?;
            Ok(Placement {
                regions: regions.as_deref().map(list).unwrap_or_default(),
                node_classes: classes.as_deref().map(list).unwrap_or_default(),
                gpu_model: r.get(2)?,
                min_vram_mib: r.get(3)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| DbError::NotFound(format!("job {job}")))
}

/// What job `job` needs of a worker's renderers.
pub(super) fn job_requirement(conn: &Connection, job: &str) -> Result<Requirement, DbError> {
    let (renderer, format, versions): (String, String, Option<String>) = conn
        .query_row(
            "SELECT j.renderer, s.ext, j.renderer_version FROM jobs j \
             JOIN scenes s ON s.hash = j.scene_hash WHERE j.id = ?1",
            [job],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or_else(|| DbError::NotFound(format!("job {job}")))?;
    let corrupt = |what: &str| DbError::Corrupt(format!("{what} of job {job}"));
    Ok(Requirement {
        renderer: renderer.parse().map_err(|_| corrupt("renderer"))?,
        format,
        versions: versions
            .map(|text| text.parse().map_err(|_| corrupt("renderer version")))
            .transpose()?,
    })
}

/// The renderers worker `worker` announced (none when it never did).
pub(super) fn worker_renderers(
    conn: &Connection,
    worker: &str,
) -> Result<Vec<RendererInfo>, DbError> {
    let info: Option<String> = conn
        .query_row("SELECT info FROM workers WHERE id = ?1", [worker], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(info
        .and_then(|info| from_json::<WorkerInfo>(&info).ok())
        .map(|info| info.renderers)
        .unwrap_or_default())
}

/// A worker's seat from its row: enrollment region and node class, granted
/// device class, and the memory of its largest GPU as announced.
pub(super) fn seat_of(region: String, class: String, device: String, info: &str) -> Seat {
    let vram = from_json::<WorkerInfo>(info)
        .ok()
        .and_then(|info| info.gpus.iter().map(|g| g.memory_mib).max());
    Seat {
        region,
        node_classes: vec![class],
        device_classes: vec![device],
        vram_mib: vram,
    }
}

/// The seat of worker `worker`, if it exists.
pub(super) fn worker_seat(conn: &Connection, worker: &str) -> Result<Option<Seat>, DbError> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT region, {EARNED_CLASS}, device_class, info FROM workers WHERE id = ?1"
            ),
            [worker],
            |r| {
                Ok(seat_of(
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    &r.get::<_, String>(3)?,
                ))
            },
        )
        .optional()?)
}

/// A worker that can take tasks now: online, enrolled, neither
/// blocklisted nor draining.
pub(super) struct Online {
    /// Its id.
    pub id: String,
    /// Its seat.
    pub seat: Seat,
    /// The renderers it announced.
    pub renderers: Vec<RendererInfo>,
    /// Whether its class check is due or out: it takes its benchmark frame
    /// only.
    pub checking: bool,
}

/// Every worker that can take tasks now.
pub(super) fn online_workers(conn: &Connection) -> Result<Vec<Online>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, region, {EARNED_CLASS}, device_class, info, {CHECKING} FROM workers \
         WHERE state = 'online' AND blocklisted_ms IS NULL AND draining_ms IS NULL \
           AND enrolled_ms IS NOT NULL"
    ))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<bool>>(5)?.unwrap_or(false),
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .map(|(id, region, class, device, info, checking)| Online {
            renderers: from_json::<WorkerInfo>(&info)
                .map(|i| i.renderers)
                .unwrap_or_default(),
            seat: seat_of(region, class, device, &info),
            id,
            checking,
        })
        .collect())
}

/// A worker that can take routed tasks now, and how many it holds.
struct Candidate {
    worker: Online,
    held: usize,
}

impl Db {
    /// Every seat a job could ever be placed on: the farm's workers that are
    /// not blocklisted, and the enrollment tokens that can still enroll.
    pub fn seats(&self) -> Result<Vec<Seat>, DbError> {
        let conn = self.lock();
        let mut seats = Vec::new();
        // A worker refused its class offers none; one whose check is due
        // may still earn it.
        let mut workers = conn.prepare_cached(
            "SELECT region, CASE WHEN class_check = 'refused' THEN '' ELSE node_class END, \
                    device_class, info FROM workers WHERE blocklisted_ms IS NULL",
        )?;
        for row in workers.query_map([], |r| {
            Ok(seat_of(
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                &r.get::<_, String>(3)?,
            ))
        })? {
            seats.push(row?);
        }
        let mut enrollments = conn.prepare_cached(
            "SELECT region, node_classes, device_classes FROM enrollments \
             WHERE revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > ?1) \
               AND (max_workers IS NULL OR enrolled < max_workers)",
        )?;
        for row in enrollments.query_map(params![protocol::now_ms()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })? {
            let (region, classes, devices): (String, String, String) = row?;
            seats.push(Seat {
                region,
                node_classes: from_json(&classes)?,
                device_classes: from_json(&devices)?,
                vram_mib: None,
            });
        }
        Ok(seats)
    }

    /// Direct pending tasks of routed jobs at workers that meet their
    /// placement and hold fewer than [`BACKLOG`]: highest priority first,
    /// each to the admitted worker of the job's cheapest class holding the
    /// fewest. Returns whether any was directed (the dispatcher then
    /// publishes them on the workers' own queues).
    pub fn place_routed_tasks(&self) -> Result<bool, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        if !routed_waiting(&tx)? {
            return Ok(false);
        }
        let mut candidates = {
            let mut held: HashMap<String, usize> = HashMap::new();
            let mut stmt = tx.prepare_cached(
                "SELECT target_worker, COUNT(*) FROM tasks WHERE target_worker IS NOT NULL \
                 AND state IN (?1, ?2, ?3) GROUP BY target_worker",
            )?;
            for row in stmt.query_map(
                params![TaskState::Pending, TaskState::Queued, TaskState::Running],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, usize>(1)?)),
            )? {
                let (worker, n) = row?;
                held.insert(worker, n);
            }
            online_workers(&tx)?
                .into_iter()
                .map(|worker| Candidate {
                    held: held.get(&worker.id).copied().unwrap_or(0),
                    worker,
                })
                .collect::<Vec<_>>()
        };
        if candidates.iter().all(|c| c.held >= BACKLOG) {
            return Ok(false);
        }
        let tasks: Vec<(String, String)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT t.id, t.job_id FROM tasks t JOIN jobs j ON j.id = t.job_id \
                 WHERE t.state = ?1 AND t.target_worker IS NULL AND t.kind IN ('render', 'rerender') \
                   AND j.routed = 1 AND j.state IN (?2, ?3) \
                 ORDER BY j.priority DESC, j.created_ms, t.seq LIMIT 1000",
            )?;
            stmt.query_map(
                params![TaskState::Pending, JobState::Queued, JobState::Running],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .collect::<Result<_, _>>()?
        };
        let mut placements: HashMap<String, (Placement, Option<String>, Requirement)> =
            HashMap::new();
        let mut placed = false;
        for (task, job) in tasks {
            if !placements.contains_key(&job) {
                let pinned: Option<String> = tx.query_row(
                    "SELECT pinned_worker FROM jobs WHERE id = ?1",
                    [&job],
                    |r| r.get(0),
                )?;
                let requirement = job_requirement(&tx, &job)?;
                placements.insert(
                    job.clone(),
                    (job_placement(&tx, &job)?, pinned, requirement),
                );
            }
            let (placement, pinned, requirement) = &placements[&job];
            let best = candidates
                .iter_mut()
                .filter(|c| {
                    c.held < BACKLOG
                        && requirement.met_by(&c.worker.renderers)
                        && match pinned {
                            Some(worker) => c.worker.id == *worker,
                            None => !c.worker.checking && placement.admits(&c.worker.seat),
                        }
                })
                .min_by_key(|c| (placement.preference(&c.worker.seat), c.held));
            let Some(best) = best else {
                continue;
            };
            best.held += 1;
            tx.execute(
                "UPDATE tasks SET target_worker = ?2 WHERE id = ?1",
                params![task, best.worker.id],
            )?;
            placed = true;
            if candidates.iter().all(|c| c.held >= BACKLOG) {
                break;
            }
        }
        tx.commit()?;
        Ok(placed)
    }
}

/// Whether a routed job has a task waiting for a worker.
pub(super) fn routed_waiting(conn: &Connection) -> Result<bool, DbError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM tasks t JOIN jobs j ON j.id = t.job_id \
         WHERE t.state = ?1 AND t.target_worker IS NULL AND t.kind IN ('render', 'rerender') \
           AND j.routed = 1 AND j.state IN (?2, ?3))",
        params![TaskState::Pending, JobState::Queued, JobState::Running],
        |r| r.get(0),
    )?)
}

/// Whether `worker` starting attempt `attempt` of `task_id` did not announce
/// a renderer that meets the task's job's requirement (a worker may read
/// every renderer's shared queue; it may render only what it has).
pub(super) fn starts_without_renderer(
    conn: &Connection,
    (worker, task_id, _attempt): (WorkerId, TaskId, u32),
) -> Result<bool, DbError> {
    let job: Option<String> = conn
        .query_row(
            "SELECT job_id FROM tasks WHERE id = ?1",
            [task_id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    let Some(job) = job else {
        return Ok(false);
    };
    let requirement = job_requirement(conn, &job)?;
    Ok(!requirement.met_by(&worker_renderers(conn, &worker.to_string())?))
}

/// Whether `worker` starting attempt `attempt` of `task_id` is outside the
/// task's job's placement (the task then goes to a worker inside it).
/// Routing never sends such a worker the task; this catches a job whose
/// tasks were on the shared queue before its placement was enforced.
pub(super) fn starts_outside_placement(
    conn: &Connection,
    (worker, task_id, _attempt): (WorkerId, TaskId, u32),
) -> Result<bool, DbError> {
    let job: Option<String> = conn
        .query_row(
            "SELECT job_id FROM tasks WHERE id = ?1",
            [task_id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    let Some(job) = job else {
        return Ok(false);
    };
    let placement = job_placement(conn, &job)?;
    Ok(!placement.is_anywhere()
        && !worker_seat(conn, &worker.to_string())?.is_some_and(|seat| placement.admits(&seat)))
}
