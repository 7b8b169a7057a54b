//! Computing cost reports and payouts from the stored results. Everything
//! is derived from `results` rows, which are stored once per copy, so a
//! restarted coordinator reports exactly the same amounts.

use std::collections::HashMap;

use protocol::{JobId, now_ms};
use rusqlite::{OptionalExtension, params};

use super::{CopyPrice, Db, DbError, from_json, to_json};
use crate::billing::{CostReport, CostTotals, FrameCost, Payout, percent};
use crate::estimate::Estimate;
use crate::money::{Money, MoneyOverflow};
use crate::state::{CheckState, FrameState, JobState, ResultStatus};

/// One stored copy, as billing sees it.
struct Copy {
    frame: i32,
    replica: u32,
    status: ResultStatus,
    render_ms: i64,
    cost: Money,
}

/// Per frame: the lowest-cost verified copy (the lower claim).
fn lower_claims(copies: &[Copy]) -> HashMap<i32, (Money, i64)> {
    let mut claims: HashMap<i32, (Money, i64)> = HashMap::new();
    for copy in copies.iter().filter(|c| c.status == ResultStatus::Verified) {
        let entry = claims
            .entry(copy.frame)
            .or_insert((copy.cost, copy.render_ms));
        if copy.cost < entry.0 {
            *entry = (copy.cost, copy.render_ms);
        }
    }
    claims
}

/// What a copy costs: its render time at its stored rate per hour, and at
/// least its stored minimum.
pub(super) fn copy_cost(
    (rate, minimum): (i64, i64),
    render_ms: i64,
) -> Result<Money, MoneyOverflow> {
    CopyPrice {
        per_hour: Money(rate),
        minimum: Money(minimum),
    }
    .cost(render_ms)
}

/// Every stored copy of `job`, with its cost.
fn copies_of(conn: &rusqlite::Connection, job: &str) -> Result<Vec<Copy>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT frame, replica, status, render_ms, rate_micros, min_micros FROM results WHERE job_id = ?1",
    )?;
    let rows = stmt
        .query_map([job], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                (r.get(4)?, r.get(5)?),
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(frame, replica, status, render_ms, price)| {
            Ok(Copy {
                frame,
                replica,
                status,
                render_ms,
                cost: copy_cost(price, render_ms)?,
            })
        })
        .collect()
}

/// What one frame is billed, and for how much render time: a done frame
/// at the lower claim of its verified copies, else at its primary copy's
/// cost; nothing for a frame not done.
fn billed(
    state: FrameState,
    claim: Option<&(Money, i64)>,
    primary: Option<&&Copy>,
) -> (Money, i64) {
    match (state, claim, primary) {
        (FrameState::Done, Some(&claim), _) => claim,
        (FrameState::Done, None, Some(copy)) => (copy.cost, copy.render_ms),
        _ => (Money::ZERO, 0),
    }
}

/// The node class most of `frames` rendered on, if any rendered.
fn most_rendered_class(frames: &[FrameCost]) -> Option<&str> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for class in frames.iter().filter_map(|f| f.node_class.as_deref()) {
        *counts.entry(class).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|&(class, count)| (count, std::cmp::Reverse(class)))
        .map(|(class, _)| class)
}

impl Db {
    /// Store the estimate job `job` was submitted with.
    pub fn set_job_estimate(&self, job: JobId, estimate: &Estimate) -> Result<(), DbError> {
        self.lock().execute(
            "UPDATE jobs SET estimate = ?2 WHERE id = ?1",
            params![job.to_string(), to_json(estimate)],
        )?;
        Ok(())
    }

    /// What a job has cost so far: the total of its cost report, without
    /// the report.
    pub fn billed_so_far(&self, job: JobId) -> Result<Money, DbError> {
        let key = job.to_string();
        let conn = self.lock();
        let copies = copies_of(&conn, &key)?;
        let claims = lower_claims(&copies);
        let own: HashMap<(i32, u32), &Copy> =
            copies.iter().map(|c| ((c.frame, c.replica), c)).collect();
        let mut stmt = conn
            .prepare_cached("SELECT frame, state, primary_replica FROM frames WHERE job_id = ?1")?;
        let frames = stmt
            .query_map([&key], |r| {
                Ok((
                    r.get::<_, i32>(0)?,
                    r.get::<_, FrameState>(1)?,
                    r.get::<_, u32>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Money::checked_sum(frames.into_iter().map(
            |(frame, state, primary)| {
                billed(state, claims.get(&frame), own.get(&(frame, primary))).0
            },
        ))?)
    }

    /// The cost report of a job, as of now.
    pub fn cost_report(&self, job: JobId, currency: &str) -> Result<CostReport, DbError> {
        let key = job.to_string();
        let conn = self.lock();
        let (name, state, estimate, created_ms, finished_ms): (
            String,
            JobState,
            Option<String>,
            i64,
            Option<i64>,
        ) = conn
            .query_row(
                "SELECT name, state, estimate, created_ms, finished_ms FROM jobs WHERE id = ?1",
                [&key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("job {job}")))?;
        let copies = copies_of(&conn, &key)?;
        let claims = lower_claims(&copies);
        let own: HashMap<(i32, u32), &Copy> =
            copies.iter().map(|c| ((c.frame, c.replica), c)).collect();
        let mut count: HashMap<i32, u32> = HashMap::new();
        for copy in &copies {
            *count.entry(copy.frame).or_default() += 1;
        }
        let mut stmt = conn.prepare_cached(
            "SELECT f.frame, f.state, f.check_state, f.primary_replica, f.replicated, r.worker_id, w.name, r.device_class, \
                    w.region, w.node_class \
             FROM frames f \
             LEFT JOIN results r ON r.job_id = f.job_id AND r.frame = f.frame AND r.replica = f.primary_replica \
             LEFT JOIN workers w ON w.id = r.worker_id \
             WHERE f.job_id = ?1 ORDER BY f.pos",
        )?;
        let rows = stmt
            .query_map([&key], |r| {
                Ok((
                    r.get::<_, i32>(0)?,
                    r.get::<_, FrameState>(1)?,
                    r.get::<_, CheckState>(2)?,
                    r.get::<_, u32>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, Option<String>>(9)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut frames = Vec::with_capacity(rows.len());
        let (mut done, mut verified, mut replicated) = (0u64, 0u64, 0u64);
        let mut billed_ms = 0i64;
        for (
            frame,
            state,
            check,
            primary,
            was_replicated,
            worker,
            worker_name,
            class,
            region,
            node_class,
        ) in rows
        {
            let (cost, ms) = billed(state, claims.get(&frame), own.get(&(frame, primary)));
            done += u64::from(state == FrameState::Done);
            verified += u64::from(check == CheckState::Verified);
            replicated += u64::from(was_replicated);
            billed_ms = billed_ms
                .checked_add(ms)
                .ok_or(MoneyOverflow("billed render time"))?;
            frames.push(FrameCost {
                frame,
                state,
                verification: check,
                worker_id: worker.and_then(|w| w.parse().ok()),
                worker_name,
                device_class: class,
                region,
                node_class,
                render_seconds: ms as f64 / 1000.0,
                cost_micros: cost,
                copies: count.get(&frame).copied().unwrap_or(0),
            });
        }
        let cost = Money::checked_sum(frames.iter().map(|f| f.cost_micros))?;
        let all_cost = Money::checked_sum(copies.iter().map(|c| c.cost))?;
        let all_ms = copies
            .iter()
            .try_fold(0i64, |total, c| total.checked_add(c.render_ms))
            .ok_or(MoneyOverflow("total render time"))?;
        let overhead = all_cost.checked_sub(cost)?;
        let totals = CostTotals {
            frames: frames.len() as u64,
            frames_done: done,
            frames_verified: verified,
            frames_replicated: replicated,
            replication_percent: percent(replicated as f64, done as f64),
            billed_render_seconds: billed_ms as f64 / 1000.0,
            total_render_seconds: all_ms as f64 / 1000.0,
            cost_micros: cost,
            verification_overhead_micros: overhead,
            verification_overhead_percent: percent(overhead.micros() as f64, cost.micros() as f64),
        };
        let estimate = match estimate {
            Some(text) => from_json::<Estimate>(&text)?.check(
                most_rendered_class(&frames),
                totals.cost_micros,
                finished_ms.map(|end| (end - created_ms).max(0) as f64 / 1000.0),
            ),
            None => None,
        };
        Ok(CostReport {
            job_id: job,
            job_name: name,
            state,
            currency: currency.to_owned(),
            frames,
            totals,
            estimate,
        })
    }

    /// What every worker that delivered a frame has earned, holds in
    /// escrow, and forfeited. `window_ms` is the verification window.
    pub fn payouts(&self, window_ms: i64) -> Result<Vec<Payout>, DbError> {
        let now = now_ms();
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT r.worker_id, r.job_id, r.frame, r.replica, r.status, r.render_ms, r.rate_micros, \
                    j.state, j.finished_ms, r.min_micros \
             FROM results r JOIN jobs j ON j.id = r.job_id ORDER BY r.job_id",
        )?;
        let raw = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    (
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get::<_, i64>(5)?,
                        (r.get(6)?, r.get(9)?),
                    ),
                    r.get::<_, JobState>(7)?,
                    r.get::<_, Option<i64>>(8)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let rows = raw
            .into_iter()
            .map(
                |(worker, job, (frame, replica, status, render_ms, price), state, finished)| {
                    let copy = Copy {
                        frame,
                        replica,
                        status,
                        render_ms,
                        cost: copy_cost(price, render_ms)?,
                    };
                    Ok((worker, job, copy, state, finished))
                },
            )
            .collect::<Result<Vec<_>, DbError>>()?;
        let mut claims: HashMap<(&str, i32), Money> = HashMap::new();
        for (_, job, copy, _, _) in &rows {
            if copy.status == ResultStatus::Verified {
                let claim = claims
                    .entry((job.as_str(), copy.frame))
                    .or_insert(copy.cost);
                *claim = (*claim).min(copy.cost);
            }
        }
        let mut payouts: HashMap<String, Payout> = HashMap::new();
        let mut workers = conn.prepare_cached(
            "SELECT name, owner, device_class, strikes, blocklisted_ms IS NOT NULL FROM workers WHERE id = ?1",
        )?;
        for (worker, job, copy, state, finished) in &rows {
            if !payouts.contains_key(worker) {
                let Ok(worker_id) = worker.parse() else {
                    continue;
                };
                let (name, owner, device_class, strikes, blocklisted) = workers
                    .query_row([worker], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })
                    .optional()?
                    .unwrap_or_default();
                payouts.insert(
                    worker.clone(),
                    Payout {
                        worker_id,
                        name,
                        owner,
                        device_class,
                        frames_delivered: 0,
                        frames_verified: 0,
                        frames_wrong: 0,
                        earned_micros: Money::ZERO,
                        held_micros: Money::ZERO,
                        forfeited_micros: Money::ZERO,
                        strikes,
                        blocklisted,
                    },
                );
            }
            let payout = payouts.get_mut(worker).expect("inserted above");
            payout.frames_delivered += 1;
            let window_closed =
                state.is_final() && finished.is_some_and(|at| at + window_ms <= now);
            match copy.status {
                ResultStatus::Verified => {
                    payout.frames_verified += 1;
                    let claim = claims
                        .get(&(job.as_str(), copy.frame))
                        .copied()
                        .unwrap_or(copy.cost);
                    payout.earned_micros = payout.earned_micros.checked_add(claim)?;
                }
                ResultStatus::Wrong | ResultStatus::Rejected => {
                    payout.frames_wrong += 1;
                    payout.forfeited_micros = payout.forfeited_micros.checked_add(copy.cost)?;
                }
                ResultStatus::Unverified | ResultStatus::Disputed if window_closed => {
                    payout.earned_micros = payout.earned_micros.checked_add(copy.cost)?;
                }
                ResultStatus::Unverified | ResultStatus::Disputed => {
                    payout.held_micros = payout.held_micros.checked_add(copy.cost)?;
                }
            }
        }
        let mut payouts: Vec<Payout> = payouts.into_values().collect();
        payouts.sort_by(|a, b| a.name.cmp(&b.name).then(a.worker_id.cmp(&b.worker_id)));
        Ok(payouts)
    }

    /// Final jobs whose cost report is not written yet.
    pub fn jobs_missing_report(&self) -> Result<Vec<JobId>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id FROM jobs WHERE state IN ('done', 'failed', 'cancelled') AND report_key IS NULL",
        )?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .filter_map(|id| id.ok()?.parse().ok())
            .collect();
        Ok(ids)
    }

    /// Record that a job's report was written at `key` (unless the job
    /// reopened meanwhile).
    pub fn report_written(&self, job: JobId, key: &str) -> Result<(), DbError> {
        self.lock().execute(
            "UPDATE jobs SET report_key = ?2 WHERE id = ?1 AND state IN ('done', 'failed', 'cancelled')",
            params![job.to_string(), key],
        )?;
        Ok(())
    }
}
