//! Benchmarks: storing one with its jobs (all or nothing), listing them by
//! tenant, the accepted copies their comparisons need (against the first
//! run's, or the reference's uploaded frames when there is a reference),
//! the comparisons made, and the facts the side-by-side report is
//! assembled from.

use std::collections::HashMap;

use protocol::{JobId, now_ms};
use rusqlite::{Connection, OptionalExtension, params};

use super::benchmark_reference::{
    reference_benchmarks_missing_diffs, reference_frames, reference_of,
};
use super::{Db, DbError, NewJob, from_json, to_json};
use crate::auth::Tenant;
use crate::benchmark::{
    BenchmarkFacts, BenchmarkId, BenchmarkReport, BenchmarkSummary, Diff, Reference, RunFacts,
    StoredDiff, assemble,
};
use crate::state::{CheckState, JobState, VerdictKind};

/// A frame's accepted copy, as a comparison fetches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedCopy {
    /// Where its EXR is.
    pub object_key: String,
    /// Its pixel hash: the one the checker computed, else the one its
    /// worker reported (and the intake check saw uploaded).
    pub pixel_hash: String,
    /// When it was delivered, as the coordinator observed it.
    pub delivered_ms: i64,
}

/// A comparison a benchmark still needs: a frame of run `position`
/// against the baseline's (the reference's frame when there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffPlan {
    /// The frame.
    pub frame: i32,
    /// The run compared with the baseline (1 or more).
    pub position: u32,
    /// The baseline's accepted copy, or the reference frame uploaded
    /// (delivered when it was uploaded).
    pub a: AcceptedCopy,
    /// The run's accepted copy.
    pub b: AcceptedCopy,
}

/// One run as stored: position, node class, job, and the job's state and
/// creation time.
struct Run {
    position: u32,
    node_class: String,
    job_id: JobId,
    state: JobState,
    created_ms: i64,
}

/// A stored id column as a typed id.
pub(super) fn parsed<T: std::str::FromStr>(text: String, what: &str) -> Result<T, DbError> {
    text.parse()
        .map_err(|_| DbError::Corrupt(format!("bad {what} {text:?}")))
}

/// The accepted copy of every frame of `job` that has one (verified, or
/// settled unreplicated or unverifiable in an ended job, exactly as
/// downloads are).
fn accepted_copies(
    conn: &Connection,
    job: JobId,
    state: JobState,
) -> Result<HashMap<i32, AcceptedCopy>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT f.frame, f.check_state, r.object_key, COALESCE(r.checked_hash, r.pixel_hash), r.created_ms \
         FROM frames f \
         JOIN results r ON r.job_id = f.job_id AND r.frame = f.frame AND r.replica = f.primary_replica \
         WHERE f.job_id = ?1 AND f.state = 'done' AND r.intake_ms IS NOT NULL",
    )?;
    let rows = stmt
        .query_map([job.to_string()], |r| {
            Ok((
                r.get::<_, i32>(0)?,
                r.get::<_, CheckState>(1)?,
                AcceptedCopy {
                    object_key: r.get(2)?,
                    pixel_hash: r.get(3)?,
                    delivered_ms: r.get(4)?,
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let settled = state.is_final();
    Ok(rows
        .into_iter()
        .filter(|(_, check, _)| super::jobs::accepted(*check, settled))
        .map(|(frame, _, copy)| (frame, copy))
        .collect())
}

impl Db {
    /// Store a benchmark named `name` of `tenant` (`None`: an admin's),
    /// its `reference` if it has one (then the baseline), and one job per
    /// run, each with its node class, the first the baseline without a
    /// reference, in one transaction: all of it, or nothing.
    pub fn create_benchmark(
        &self,
        name: &str,
        tenant: Option<&Tenant>,
        reference: Option<&Reference>,
        runs: &[(String, NewJob)],
    ) -> Result<BenchmarkSummary, DbError> {
        let id = BenchmarkId::new();
        let created_ms = now_ms();
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO benchmarks (id, name, tenant, created_ms, reference_name, \
             reference_seconds_per_frame, reference_cost_micros, reference_time_to_complete_secs) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id.to_string(),
                name,
                tenant.map_or("", Tenant::as_str),
                created_ms,
                reference.map(|r| r.name.as_str()),
                reference.and_then(|r| r.stated_by_studio.seconds_per_frame),
                reference
                    .and_then(|r| r.stated_by_studio.cost_per_frame_micros.map(|m| m.micros())),
                reference.and_then(|r| r.stated_by_studio.time_to_complete_secs),
            ],
        )?;
        let mut job_ids = Vec::with_capacity(runs.len());
        for (position, (class, job)) in runs.iter().enumerate() {
            let job_id = Self::insert_job(&tx, job, tenant)?;
            tx.execute(
                "INSERT INTO benchmark_runs (benchmark_id, position, node_class, job_id) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![id.to_string(), position, class, job_id.to_string()],
            )?;
            job_ids.push(job_id);
        }
        tx.commit()?;
        Ok(BenchmarkSummary {
            id,
            name: name.to_owned(),
            tenant: tenant.map(|t| t.as_str().to_owned()),
            created_ms,
            node_classes: runs.iter().map(|(class, _)| class.clone()).collect(),
            job_ids,
            reference: reference.cloned(),
        })
    }

    /// Every benchmark (`None`) or one tenant's, newest first.
    pub fn list_benchmarks(
        &self,
        tenant: Option<&Tenant>,
    ) -> Result<Vec<BenchmarkSummary>, DbError> {
        let ids: Vec<String> = {
            let conn = self.lock();
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM benchmarks WHERE ?1 IS NULL OR tenant = ?1 \
                 ORDER BY created_ms DESC, id DESC",
            )?;
            stmt.query_map([tenant.map(Tenant::as_str)], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        ids.into_iter()
            .map(|id| self.benchmark_summary(parsed(id, "benchmark id")?))
            .collect()
    }

    /// One benchmark with its runs' node classes and jobs.
    pub fn benchmark_summary(&self, id: BenchmarkId) -> Result<BenchmarkSummary, DbError> {
        let conn = self.lock();
        let (name, tenant, created_ms): (String, String, i64) = conn
            .query_row(
                "SELECT name, tenant, created_ms FROM benchmarks WHERE id = ?1",
                [id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("benchmark {id}")))?;
        let runs = runs_of(&conn, id)?;
        Ok(BenchmarkSummary {
            id,
            name,
            tenant: Some(tenant).filter(|t| !t.is_empty()),
            created_ms,
            node_classes: runs.iter().map(|r| r.node_class.clone()).collect(),
            job_ids: runs.iter().map(|r| r.job_id).collect(),
            reference: reference_of(&conn, id)?,
        })
    }

    /// The tenant a benchmark belongs to (`None`: an admin's own).
    pub fn benchmark_tenant(&self, id: BenchmarkId) -> Result<Option<Tenant>, DbError> {
        let tenant: String = self
            .lock()
            .query_row(
                "SELECT tenant FROM benchmarks WHERE id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("benchmark {id}")))?;
        if tenant.is_empty() {
            return Ok(None);
        }
        tenant
            .parse()
            .map(Some)
            .map_err(|_| DbError::Corrupt(format!("bad tenant {tenant:?}")))
    }

    /// The benchmark a job is a run of, if any.
    pub fn benchmark_of_job(&self, job: JobId) -> Result<Option<BenchmarkId>, DbError> {
        let id: Option<String> = self
            .lock()
            .query_row(
                "SELECT benchmark_id FROM benchmark_runs WHERE job_id = ?1",
                [job.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        id.map(|id| parsed(id, "benchmark id")).transpose()
    }

    /// The comparisons a benchmark still needs: every frame whose copies
    /// are accepted in the baseline and in another run, without a
    /// comparison of exactly those two copies. With a reference, every
    /// run's accepted copies against the reference frames uploaded.
    pub fn benchmark_diff_plan(&self, id: BenchmarkId) -> Result<Vec<DiffPlan>, DbError> {
        let conn = self.lock();
        let runs = runs_of(&conn, id)?;
        let (base, others) = if reference_of(&conn, id)?.is_some() {
            let uploaded = reference_frames(&conn, id)?
                .into_iter()
                .map(|(frame, copy)| {
                    let copy = AcceptedCopy {
                        object_key: copy.object_key,
                        pixel_hash: copy.pixel_hash,
                        delivered_ms: copy.uploaded_ms,
                    };
                    (frame, copy)
                })
                .collect();
            (uploaded, &runs[..])
        } else {
            let Some((baseline, others)) = runs.split_first() else {
                return Ok(Vec::new());
            };
            (
                accepted_copies(&conn, baseline.job_id, baseline.state)?,
                others,
            )
        };
        let done: HashMap<(i32, u32), (String, String)> = stored_diffs(&conn, id)?
            .into_iter()
            .map(|d| ((d.frame, d.position), (d.hash_a, d.hash_b)))
            .collect();
        let mut plans = Vec::new();
        for run in others {
            for (frame, b) in accepted_copies(&conn, run.job_id, run.state)? {
                let Some(a) = base.get(&frame) else { continue };
                let current = done
                    .get(&(frame, run.position))
                    .is_some_and(|(ha, hb)| *ha == a.pixel_hash && *hb == b.pixel_hash);
                if !current {
                    plans.push(DiffPlan {
                        frame,
                        position: run.position,
                        a: a.clone(),
                        b,
                    });
                }
            }
        }
        plans.sort_by_key(|p| (p.position, p.frame));
        Ok(plans)
    }

    /// Record what comparing `plan`'s two copies found, replacing an
    /// older comparison of the frame.
    pub fn record_benchmark_diff(
        &self,
        id: BenchmarkId,
        plan: &DiffPlan,
        diff: &Diff,
    ) -> Result<(), DbError> {
        self.lock().execute(
            "INSERT OR REPLACE INTO benchmark_diffs (benchmark_id, frame, position, hash_a, hash_b, \
             verdict, mean_flip, max_flip, numbers, created_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                id.to_string(),
                plan.frame,
                plan.position,
                plan.a.pixel_hash,
                plan.b.pixel_hash,
                diff.verdict,
                diff.numbers.mean_flip,
                diff.numbers.max_flip,
                to_json(&diff.numbers),
                now_ms(),
            ],
        )?;
        Ok(())
    }

    /// Benchmarks with a frame accepted in the baseline and another run
    /// but no comparison of those two copies, or with a reference frame
    /// uploaded and a run's accepted copy not compared with it (the
    /// watchdog's catch-up). The acceptance rule is
    /// [`super::jobs::accepted`]'s, in SQL.
    pub fn benchmarks_missing_diffs(&self) -> Result<Vec<BenchmarkId>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT DISTINCT b.benchmark_id FROM benchmark_runs b \
             JOIN benchmarks bm ON bm.id = b.benchmark_id AND bm.reference_name IS NULL \
             JOIN benchmark_runs base ON base.benchmark_id = b.benchmark_id AND base.position = 0 \
             JOIN jobs jb ON jb.id = b.job_id \
             JOIN jobs ja ON ja.id = base.job_id \
             JOIN frames fb ON fb.job_id = b.job_id AND fb.state = 'done' \
             JOIN results rb ON rb.job_id = fb.job_id AND rb.frame = fb.frame \
                  AND rb.replica = fb.primary_replica AND rb.intake_ms IS NOT NULL \
             JOIN frames fa ON fa.job_id = base.job_id AND fa.frame = fb.frame AND fa.state = 'done' \
             JOIN results ra ON ra.job_id = fa.job_id AND ra.frame = fa.frame \
                  AND ra.replica = fa.primary_replica AND ra.intake_ms IS NOT NULL \
             LEFT JOIN benchmark_diffs d ON d.benchmark_id = b.benchmark_id \
                  AND d.frame = fb.frame AND d.position = b.position \
             WHERE b.position > 0 \
               AND (fa.check_state = 'verified' OR (ja.state IN ('done', 'failed', 'cancelled') \
                    AND fa.check_state IN ('unchecked', 'unverifiable'))) \
               AND (fb.check_state = 'verified' OR (jb.state IN ('done', 'failed', 'cancelled') \
                    AND fb.check_state IN ('unchecked', 'unverifiable'))) \
               AND (d.frame IS NULL OR d.hash_a IS NOT COALESCE(ra.checked_hash, ra.pixel_hash) \
                    OR d.hash_b IS NOT COALESCE(rb.checked_hash, rb.pixel_hash))",
        )?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut ids = ids
            .into_iter()
            .map(|id| parsed(id, "benchmark id"))
            .collect::<Result<Vec<BenchmarkId>, _>>()?;
        ids.extend(reference_benchmarks_missing_diffs(&conn)?);
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// The side-by-side report of a benchmark, as of now; amounts in
    /// `currency`.
    pub fn benchmark_report(
        &self,
        id: BenchmarkId,
        currency: &str,
    ) -> Result<BenchmarkReport, DbError> {
        let summary = self.benchmark_summary(id)?;
        let runs = runs_of(&self.lock(), id)?;
        let mut facts = Vec::with_capacity(runs.len());
        for run in runs {
            // The cost report reads the job's state itself: the run's
            // acceptance and its bill see the same state.
            let cost = self.cost_report(run.job_id, currency)?;
            let accepted = accepted_copies(&self.lock(), run.job_id, cost.state)?;
            facts.push(RunFacts {
                position: run.position,
                node_class: run.node_class,
                created_ms: run.created_ms,
                last_delivered_ms: accepted.values().map(|c| c.delivered_ms).max(),
                accepted: accepted
                    .into_iter()
                    .map(|(frame, copy)| (frame, copy.pixel_hash))
                    .collect(),
                cost,
            });
        }
        let (reference_frames, diffs) = {
            let conn = self.lock();
            (reference_frames(&conn, id)?, stored_diffs(&conn, id)?)
        };
        Ok(assemble(BenchmarkFacts {
            summary,
            currency: currency.to_owned(),
            runs: facts,
            reference_frames,
            diffs,
        }))
    }
}

/// A benchmark's runs, the baseline first.
fn runs_of(conn: &Connection, id: BenchmarkId) -> Result<Vec<Run>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.position, r.node_class, r.job_id, j.state, j.created_ms \
         FROM benchmark_runs r JOIN jobs j ON j.id = r.job_id \
         WHERE r.benchmark_id = ?1 ORDER BY r.position",
    )?;
    let rows = stmt
        .query_map([id.to_string()], |r| {
            Ok((
                r.get::<_, u32>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, JobState>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(position, node_class, job, state, created_ms)| {
            Ok(Run {
                position,
                node_class,
                job_id: parsed(job, "job id")?,
                state,
                created_ms,
            })
        })
        .collect()
}

/// Every comparison stored for a benchmark.
fn stored_diffs(conn: &Connection, id: BenchmarkId) -> Result<Vec<StoredDiff>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT frame, position, hash_a, hash_b, verdict, numbers FROM benchmark_diffs \
         WHERE benchmark_id = ?1",
    )?;
    let rows = stmt
        .query_map([id.to_string()], |r| {
            Ok((
                r.get::<_, i32>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, VerdictKind>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(frame, position, hash_a, hash_b, verdict, numbers)| {
            Ok(StoredDiff {
                frame,
                position,
                hash_a,
                hash_b,
                diff: Diff {
                    verdict,
                    numbers: from_json(&numbers)?,
                },
            })
        })
        .collect()
}
