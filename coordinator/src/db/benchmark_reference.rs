//! A benchmark's reference in the database: the figures the studio states
//! (on the benchmark's row), the frames it uploaded (one row each, keyed by
//! frame, replaced by a re-upload), and which benchmarks have a run's copy
//! not yet compared with the reference frame uploaded now.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::benchmarks::parsed;
use super::{Db, DbError};
use crate::benchmark::{BenchmarkId, Reference, ReferenceCopy, StatedFigures};
use crate::money::Money;

/// What an upload of a reference frame is checked against: the
/// benchmark's reference, if it has one, and its frames.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceTarget {
    /// The reference; `None` for a benchmark without one.
    pub reference: Option<Reference>,
    /// The benchmark's frames (its first run's), in order.
    pub frames: Vec<i32>,
}

/// The reference stored with benchmark `id`, if it has one.
pub(super) fn reference_of(
    conn: &Connection,
    id: BenchmarkId,
) -> Result<Option<Reference>, DbError> {
    type Row = (Option<String>, Option<f64>, Option<i64>, Option<f64>);
    let row: Row = conn
        .query_row(
            "SELECT reference_name, reference_seconds_per_frame, reference_cost_micros, \
             reference_time_to_complete_secs FROM benchmarks WHERE id = ?1",
            [id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?
        .ok_or_else(|| DbError::NotFound(format!("benchmark {id}")))?;
    let (name, seconds_per_frame, cost, time_to_complete_secs) = row;
    Ok(name.map(|name| Reference {
        name,
        stated_by_studio: StatedFigures {
            seconds_per_frame,
            cost_per_frame_micros: cost.map(Money),
            time_to_complete_secs,
        },
    }))
}

/// The reference frames uploaded for benchmark `id`, by frame.
pub(super) fn reference_frames(
    conn: &Connection,
    id: BenchmarkId,
) -> Result<HashMap<i32, ReferenceCopy>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT frame, object_key, pixel_hash, bytes, uploaded_ms \
         FROM benchmark_reference_frames WHERE benchmark_id = ?1",
    )?;
    let rows = stmt
        .query_map([id.to_string()], |r| {
            Ok((
                r.get::<_, i32>(0)?,
                ReferenceCopy {
                    object_key: r.get(1)?,
                    pixel_hash: r.get(2)?,
                    bytes: r.get(3)?,
                    uploaded_ms: r.get(4)?,
                },
            ))
        })?
        .collect::<Result<HashMap<_, _>, _>>()?;
    Ok(rows)
}

/// Benchmarks with a reference frame uploaded and a run's accepted copy of
/// that frame not compared with exactly that upload. The acceptance rule
/// is [`super::jobs::accepted`]'s, in SQL.
pub(super) fn reference_benchmarks_missing_diffs(
    conn: &Connection,
) -> Result<Vec<BenchmarkId>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT b.benchmark_id FROM benchmark_runs b \
         JOIN jobs jb ON jb.id = b.job_id \
         JOIN benchmark_reference_frames rf ON rf.benchmark_id = b.benchmark_id \
         JOIN frames fb ON fb.job_id = b.job_id AND fb.frame = rf.frame AND fb.state = 'done' \
         JOIN results rb ON rb.job_id = fb.job_id AND rb.frame = fb.frame \
              AND rb.replica = fb.primary_replica AND rb.intake_ms IS NOT NULL \
         LEFT JOIN benchmark_diffs d ON d.benchmark_id = b.benchmark_id \
              AND d.frame = fb.frame AND d.position = b.position \
         WHERE (fb.check_state = 'verified' OR (jb.state IN ('done', 'failed', 'cancelled') \
                AND fb.check_state IN ('unchecked', 'unverifiable'))) \
           AND (d.frame IS NULL OR d.hash_a IS NOT rf.pixel_hash \
                OR d.hash_b IS NOT COALESCE(rb.checked_hash, rb.pixel_hash))",
    )?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    ids.into_iter()
        .map(|id| parsed(id, "benchmark id"))
        .collect()
}

impl Db {
    /// What an upload of a reference frame of benchmark `id` is checked
    /// against; `NotFound` for no such benchmark.
    pub fn benchmark_reference_target(&self, id: BenchmarkId) -> Result<ReferenceTarget, DbError> {
        let conn = self.lock();
        let reference = reference_of(&conn, id)?;
        let mut stmt = conn.prepare_cached(
            "SELECT f.frame FROM frames f \
             JOIN benchmark_runs r ON r.job_id = f.job_id \
             WHERE r.benchmark_id = ?1 AND r.position = 0 ORDER BY f.frame",
        )?;
        let frames = stmt
            .query_map([id.to_string()], |r| r.get(0))?
            .collect::<Result<Vec<i32>, _>>()?;
        Ok(ReferenceTarget { reference, frames })
    }

    /// Record the upload of benchmark `id`'s reference `frame`, replacing
    /// an earlier one (its comparisons, filed under the earlier pixel hash,
    /// are then out of date). True when it replaced one. A benchmark
    /// without a reference is a `Conflict`.
    pub fn record_reference_frame(
        &self,
        id: BenchmarkId,
        frame: i32,
        copy: &ReferenceCopy,
    ) -> Result<bool, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        if reference_of(&tx, id)?.is_none() {
            return Err(DbError::Conflict(format!(
                "benchmark {id} has no reference to upload frames to"
            )));
        }
        let replaced = tx
            .query_row(
                "SELECT 1 FROM benchmark_reference_frames WHERE benchmark_id = ?1 AND frame = ?2",
                params![id.to_string(), frame],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        tx.execute(
            "INSERT OR REPLACE INTO benchmark_reference_frames \
             (benchmark_id, frame, object_key, pixel_hash, bytes, uploaded_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id.to_string(),
                frame,
                copy.object_key,
                copy.pixel_hash,
                copy.bytes,
                copy.uploaded_ms
            ],
        )?;
        tx.commit()?;
        Ok(replaced)
    }

    /// The reference frames uploaded for benchmark `id`, by frame.
    pub fn benchmark_reference_frames(
        &self,
        id: BenchmarkId,
    ) -> Result<HashMap<i32, ReferenceCopy>, DbError> {
        reference_frames(&self.lock(), id)
    }
}
