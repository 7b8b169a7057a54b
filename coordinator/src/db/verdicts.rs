//! Verdicts: which copies of a frame must be compared, and what the
//! comparisons decide (verified, arbitration, outvoted workers).

use frame_diff::Comparison;
use protocol::now_ms;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use super::events::Followup;
use super::{Db, DbError, Policy, from_json, to_json};
use crate::model::VerdictView;
use crate::state::{CheckState, ResultStatus, TaskKind, VerdictKind};
use crate::verify::{Resolution, resolve};

/// The numbers behind one verdict, stored with it and shown by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictNumbers {
    /// The verdict.
    pub verdict: VerdictKind,
    /// Why it is not identical or within tolerance, one line each.
    pub reasons: Vec<String>,
    /// Mean absolute error over every value (idiff's mean error).
    pub mean_error: Option<f64>,
    /// RMS error.
    pub rms_error: Option<f64>,
    /// PSNR in dB (absent when identical).
    pub psnr: Option<f64>,
    /// Largest absolute error.
    pub max_error: Option<f64>,
    /// The tile with the largest relative bias: `[x, y, bias]`.
    pub worst_tile: Option<(u32, u32, f64)>,
    /// Mean HDR-FLIP over the frame.
    pub flip_mean: Option<f64>,
    /// Mean HDR-FLIP of the worst tile.
    pub flip_worst_tile_mean: Option<f64>,
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

impl VerdictNumbers {
    /// Two copies with the same pixel hash: identical without decoding.
    pub fn same_hash() -> Self {
        Self {
            verdict: VerdictKind::Identical,
            reasons: vec!["same pixel hash".to_owned()],
            mean_error: Some(0.0),
            rms_error: Some(0.0),
            psnr: None,
            max_error: Some(0.0),
            worst_tile: None,
            flip_mean: Some(0.0),
            flip_worst_tile_mean: Some(0.0),
        }
    }

    /// A copy that cannot be read as an image disagrees with everything.
    pub fn unreadable(what: String) -> Self {
        Self {
            verdict: VerdictKind::Mismatch,
            reasons: vec![what],
            mean_error: None,
            rms_error: None,
            psnr: None,
            max_error: None,
            worst_tile: None,
            flip_mean: None,
            flip_worst_tile_mean: None,
        }
    }

    /// The summary of a `frame-diff` comparison.
    pub fn from_comparison(comparison: &Comparison) -> Self {
        let overall = comparison.overall.as_ref();
        Self {
            verdict: comparison.verdict.into(),
            reasons: comparison
                .reasons
                .iter()
                .map(|r| r.message.clone())
                .collect(),
            mean_error: overall.and_then(|o| finite(o.mean_error)),
            rms_error: overall.and_then(|o| finite(o.rms_error)),
            psnr: overall.and_then(|o| finite(o.psnr)),
            max_error: overall.and_then(|o| finite(o.max_error)),
            worst_tile: comparison
                .worst_bias_tile()
                .map(|t| (t.x, t.y, if t.bias.is_finite() { t.bias } else { f64::MAX })),
            flip_mean: comparison.flip.as_ref().and_then(|f| finite(f.mean)),
            flip_worst_tile_mean: comparison
                .flip
                .as_ref()
                .and_then(|f| finite(f.worst_tile_mean)),
        }
    }
}

/// One copy of a frame that takes part in a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCopy {
    /// Replica number.
    pub replica: u32,
    /// Where its EXR is: the key the coordinator derived for the attempt.
    pub object_key: String,
    /// Its pixel hash as the worker reported it (only checked against).
    pub pixel_hash: String,
    /// Its size as the worker reported it.
    pub reported_size: (u32, u32),
}

/// The comparisons a frame still needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComparisonPlan {
    /// The copies taking part.
    pub copies: Vec<PlannedCopy>,
    /// Pairs of replica numbers (lower first) without a verdict yet.
    pub missing: Vec<(u32, u32)>,
    /// The frame's size: the job's resolution override, or else what the
    /// frame's first copy reported.
    pub expected_size: (u32, u32),
}

/// What the checker found of one copy by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyCheck {
    /// Replica number.
    pub replica: u32,
    /// The pixel hash the checker computed, when the copy decoded.
    pub checked_hash: Option<String>,
    /// Why the copy is a lie (missing, unreadable, or not what its worker
    /// reported), if it is one.
    pub lie: Option<String>,
}

/// One live copy as stored.
struct LiveCopy {
    replica: u32,
    object_key: String,
    pixel_hash: String,
    worker: String,
    size: (u32, u32),
    /// Whether the coordinator has taken its own copy of the upload.
    taken_in: bool,
}

/// Copies of a frame that count: not rejected, not found wrong, and one per
/// worker (its latest), so a worker never outvotes with its own copies.
fn live_copies(tx: &Transaction<'_>, job: &str, frame: i32) -> Result<Vec<LiveCopy>, DbError> {
    let mut stmt = tx.prepare_cached(
        "SELECT replica, object_key, pixel_hash, worker_id, width, height, intake_ms IS NOT NULL \
         FROM results r \
         WHERE job_id = ?1 AND frame = ?2 AND status NOT IN (?3, ?4) \
         AND NOT EXISTS (SELECT 1 FROM results n WHERE n.job_id = r.job_id AND n.frame = r.frame \
                         AND n.worker_id = r.worker_id AND n.replica > r.replica) \
         ORDER BY replica",
    )?;
    let copies = stmt
        .query_map(
            params![job, frame, ResultStatus::Rejected, ResultStatus::Wrong],
            |r| {
                Ok(LiveCopy {
                    replica: r.get(0)?,
                    object_key: r.get(1)?,
                    pixel_hash: r.get(2)?,
                    worker: r.get(3)?,
                    size: (r.get(4)?, r.get(5)?),
                    taken_in: r.get(6)?,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    Ok(copies)
}

/// A frame's verification state, `None` for an unknown frame.
pub(super) fn check_state(
    tx: &Transaction<'_>,
    job: &str,
    frame: i32,
) -> Result<Option<CheckState>, DbError> {
    Ok(tx
        .query_row(
            "SELECT check_state FROM frames WHERE job_id = ?1 AND frame = ?2",
            params![job, frame],
            |r| r.get(0),
        )
        .optional()?)
}

/// Stored verdicts between copies of a frame: (a, b) → agrees.
fn stored_agreements(
    tx: &Transaction<'_>,
    job: &str,
    frame: i32,
) -> Result<Vec<(u32, u32, bool)>, DbError> {
    let mut stmt = tx.prepare_cached(
        "SELECT replica_a, replica_b, verdict FROM verdicts WHERE job_id = ?1 AND frame = ?2",
    )?;
    let rows = stmt
        .query_map(params![job, frame], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, VerdictKind>(2)?.agrees()))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

impl Db {
    /// Frames whose copies are waiting to be compared (asked every watchdog
    /// round; the partial index `frames_comparing` keeps it off the frames
    /// table, hence the literal state).
    pub fn frames_to_compare(&self) -> Result<Vec<(String, i32)>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT f.job_id, f.frame FROM frames f JOIN jobs j ON j.id = f.job_id \
             WHERE f.check_state = 'comparing' AND j.state != 'cancelled'",
        )?;
        let frames = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(frames)
    }

    /// What must be compared for a frame, or `None` when it is not waiting
    /// for a comparison.
    pub fn comparison_plan(
        &self,
        job: &str,
        frame: i32,
    ) -> Result<Option<ComparisonPlan>, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        if check_state(&tx, job, frame)? != Some(CheckState::Comparing) {
            return Ok(None);
        }
        let copies = live_copies(&tx, job, frame)?;
        // Copies are compared from the coordinator's own copies, taken at
        // intake (which asks for the comparison again when it is done).
        if copies.iter().any(|copy| !copy.taken_in) {
            return Ok(None);
        }
        let done = stored_agreements(&tx, job, frame)?;
        let mut missing = Vec::new();
        for (i, a) in copies.iter().enumerate() {
            for b in &copies[i + 1..] {
                if !done.iter().any(|d| (d.0, d.1) == (a.replica, b.replica)) {
                    missing.push((a.replica, b.replica));
                }
            }
        }
        let overrides: String =
            tx.query_row("SELECT overrides FROM jobs WHERE id = ?1", [job], |r| {
                r.get(0)
            })?;
        let overrides: protocol::Overrides = from_json(&overrides)?;
        let expected_size = match overrides.resolution {
            Some([width, height]) => (width, height),
            None => copies.first().map_or((0, 0), |c| c.size),
        };
        Ok(Some(ComparisonPlan {
            copies: copies
                .into_iter()
                .map(|copy| PlannedCopy {
                    replica: copy.replica,
                    object_key: copy.object_key,
                    pixel_hash: copy.pixel_hash,
                    reported_size: copy.size,
                })
                .collect(),
            missing,
            expected_size,
        }))
    }

    /// Store verdicts on pairs of copies of a frame, and act on them once
    /// every pair is judged. Recording the same verdicts twice changes
    /// nothing the second time.
    ///
    /// First the checker's own findings on each copy are stored: the pixel
    /// hash it computed, and for a copy that is a lie (missing, unreadable,
    /// or not what its worker reported) the copy is `wrong`, its worker
    /// gets a strike and the frame is rendered or copied again without it.
    pub fn record_verdicts(
        &self,
        job: &str,
        frame: i32,
        checks: &[CopyCheck],
        verdicts: &[(u32, u32, VerdictNumbers)],
        policy: &Policy,
    ) -> Result<Followup, DbError> {
        let mut followup = Followup::default();
        let mut jobs = vec![job.to_owned()];
        {
            let mut conn = self.lock();
            let tx = conn.transaction()?;
            for check in checks {
                tx.execute(
                    "UPDATE results SET checked_hash = ?4 WHERE job_id = ?1 AND frame = ?2 AND replica = ?3",
                    params![job, frame, check.replica, check.checked_hash],
                )?;
            }
            if check_state(&tx, job, frame)? == Some(CheckState::Comparing) {
                for check in checks {
                    if let Some(lie) = &check.lie {
                        self.caught_lying(
                            &tx,
                            job,
                            frame,
                            check.replica,
                            lie,
                            policy,
                            &mut followup,
                            &mut jobs,
                        )?;
                    }
                }
            }
            for (a, b, numbers) in verdicts {
                tx.execute(
                    "INSERT OR IGNORE INTO verdicts (job_id, frame, replica_a, replica_b, verdict, numbers, created_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![job, frame, a, b, numbers.verdict, to_json(numbers), now_ms()],
                )?;
                tracing::info!(job_id = job, frame, replica_a = a, replica_b = b, verdict = %numbers.verdict, "verdict");
            }
            if check_state(&tx, job, frame)? == Some(CheckState::Comparing) {
                self.decide(&tx, job, frame, policy, &mut followup, &mut jobs)?;
            }
            tx.commit()?;
        }
        jobs.sort();
        jobs.dedup();
        for job in jobs {
            self.refresh_into(&job, &mut followup)?;
        }
        Ok(followup)
    }

    /// Resolve a frame whose copies are all compared.
    fn decide(
        &self,
        tx: &Transaction<'_>,
        job: &str,
        frame: i32,
        policy: &Policy,
        followup: &mut Followup,
        jobs: &mut Vec<String>,
    ) -> Result<(), DbError> {
        let copies = live_copies(tx, job, frame)?;
        let agreements = stored_agreements(tx, job, frame)?;
        let replicas: Vec<u32> = copies.iter().map(|c| c.replica).collect();
        let judged = |a: u32, b: u32| {
            agreements
                .iter()
                .find(|d| (d.0, d.1) == (a.min(b), a.max(b)))
                .map(|d| d.2)
        };
        if replicas.len() < 2 {
            return Ok(());
        }
        for (i, &a) in replicas.iter().enumerate() {
            for &b in &replicas[i + 1..] {
                if judged(a, b).is_none() {
                    followup.comparisons.push((job.to_owned(), frame));
                    return Ok(());
                }
            }
        }
        let worker_of = |replica: u32| {
            copies
                .iter()
                .find(|c| c.replica == replica)
                .map(|c| c.worker.clone())
                .unwrap_or_default()
        };
        match resolve(&replicas, |a, b| judged(a, b).unwrap_or(false)) {
            Resolution::Verified { agreeing, outvoted } => {
                for &replica in &agreeing {
                    let changed = tx.execute(
                        "UPDATE results SET status = ?4 WHERE job_id = ?1 AND frame = ?2 AND replica = ?3 AND status != ?4",
                        params![job, frame, replica, ResultStatus::Verified],
                    )?;
                    if changed > 0 {
                        tx.execute(
                            "UPDATE workers SET verified_streak = verified_streak + 1 WHERE id = ?1",
                            [worker_of(replica)],
                        )?;
                    }
                }
                for &replica in &outvoted {
                    tx.execute(
                        "UPDATE results SET status = ?4 WHERE job_id = ?1 AND frame = ?2 AND replica = ?3",
                        params![job, frame, replica, ResultStatus::Wrong],
                    )?;
                    let worker = worker_of(replica);
                    tracing::warn!(job_id = job, frame, replica, %worker, "worker outvoted: its frame is wrong");
                    self.strike(tx, &worker, job, frame, replica, policy, followup, jobs)?;
                }
                let primary: u32 = tx.query_row(
                    "SELECT primary_replica FROM frames WHERE job_id = ?1 AND frame = ?2",
                    params![job, frame],
                    |r| r.get(0),
                )?;
                let primary = if agreeing.contains(&primary) {
                    primary
                } else {
                    agreeing[0]
                };
                tx.execute(
                    "UPDATE frames SET check_state = ?3, primary_replica = ?4 WHERE job_id = ?1 AND frame = ?2",
                    params![job, frame, CheckState::Verified, primary],
                )?;
            }
            Resolution::Arbitrate => {
                tracing::warn!(
                    job_id = job,
                    frame,
                    "copies disagree; asking a third worker"
                );
                self.replicate(tx, job, frame, TaskKind::Arbiter, followup)?;
            }
            Resolution::NonDeterministic => {
                tracing::warn!(
                    job_id = job,
                    frame,
                    "every copy differs: the frame is not deterministic"
                );
                for replica in replicas {
                    tx.execute(
                        "UPDATE results SET status = ?4 WHERE job_id = ?1 AND frame = ?2 AND replica = ?3",
                        params![job, frame, replica, ResultStatus::Disputed],
                    )?;
                }
                tx.execute(
                    "UPDATE frames SET check_state = ?3 WHERE job_id = ?1 AND frame = ?2",
                    params![job, frame, CheckState::NonDeterministic],
                )?;
            }
        }
        Ok(())
    }

    /// Every verdict of a job, by frame.
    pub fn list_verdicts(&self, job: protocol::JobId) -> Result<Vec<VerdictView>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT v.frame, v.replica_a, v.replica_b, ra.worker_id, rb.worker_id, v.numbers, v.created_ms \
             FROM verdicts v \
             LEFT JOIN results ra ON ra.job_id = v.job_id AND ra.frame = v.frame AND ra.replica = v.replica_a \
             LEFT JOIN results rb ON rb.job_id = v.job_id AND rb.frame = v.frame AND rb.replica = v.replica_b \
             WHERE v.job_id = ?1 ORDER BY v.frame, v.replica_a, v.replica_b",
        )?;
        let rows = stmt
            .query_map([job.to_string()], |r| {
                Ok((
                    r.get::<_, i32>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, u32>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(
                |(frame, replica_a, replica_b, worker_a, worker_b, numbers, created_ms)| {
                    Ok(VerdictView {
                        frame,
                        replica_a,
                        replica_b,
                        worker_a: worker_a.and_then(|w| w.parse().ok()),
                        worker_b: worker_b.and_then(|w| w.parse().ok()),
                        numbers: from_json(&numbers)?,
                        created_ms,
                    })
                },
            )
            .collect()
    }
}
