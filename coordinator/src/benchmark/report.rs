//! The side-by-side report of a benchmark, assembled from each run's cost
//! report, the coordinator's own timestamps, the reference frames uploaded
//! and the stored comparisons (its CSV is in `csv`).

use std::collections::HashMap;

use protocol::JobId;
use serde::{Deserialize, Serialize};

use super::reference::{
    REFERENCE_NOT_UPLOADED, Reference, ReferenceCopy, ReferenceFrame, ReferenceReport,
};
use super::{BenchmarkId, Diff, DiffNumbers};
use crate::billing::{CostReport, FrameCost};
use crate::money::Money;
use crate::state::{FrameState, JobState, VerdictKind};

/// A benchmark in a listing, and the answer to its creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkSummary {
    /// The benchmark.
    pub id: BenchmarkId,
    /// Its name.
    pub name: String,
    /// The tenant it belongs to; absent for an admin's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// When it was created, ms since the epoch.
    pub created_ms: i64,
    /// Its node classes, the baseline first (without a reference).
    pub node_classes: Vec<String>,
    /// Its jobs, one per node class, in the same order.
    pub job_ids: Vec<JobId>,
    /// The studio's reference, the baseline when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Reference>,
}

/// Where a run's copy of a frame stands against the baseline's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParityStatus {
    /// Not both copies accepted yet, or accepted and not compared yet.
    Pending,
    /// One of the two runs ended without an accepted copy of the frame:
    /// it will never be compared.
    Unavailable,
    /// Same pixels, bit for bit.
    Identical,
    /// Different pixels, within tolerance.
    WithinTolerance,
    /// Between tolerance and mismatch.
    Inconclusive,
    /// The two copies disagree.
    Mismatch,
}

impl ParityStatus {
    /// The name shown in the API and the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            ParityStatus::Pending => "pending",
            ParityStatus::Unavailable => "unavailable",
            ParityStatus::Identical => "identical",
            ParityStatus::WithinTolerance => "within_tolerance",
            ParityStatus::Inconclusive => "inconclusive",
            ParityStatus::Mismatch => "mismatch",
        }
    }
}

impl From<VerdictKind> for ParityStatus {
    fn from(verdict: VerdictKind) -> Self {
        match verdict {
            VerdictKind::Identical => ParityStatus::Identical,
            VerdictKind::WithinTolerance => ParityStatus::WithinTolerance,
            VerdictKind::Inconclusive => ParityStatus::Inconclusive,
            VerdictKind::Mismatch => ParityStatus::Mismatch,
        }
    }
}

impl std::fmt::Display for ParityStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run's copy of a frame against the baseline's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParityCell {
    /// Pending, unavailable, or the verdict.
    pub status: ParityStatus,
    /// The comparison's numbers, once compared.
    #[serde(flatten)]
    pub numbers: Option<DiffNumbers>,
    /// Why it is pending (`reference frame not uploaded`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_reason: Option<String>,
}

/// One frame of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFrame {
    /// Its render state in the run's job.
    pub state: FrameState,
    /// Render seconds billed.
    pub render_seconds: f64,
    /// What it costs, as the run's cost report bills it.
    pub cost_micros: Money,
    /// Against the baseline's copy (the reference's when there is one);
    /// absent for the baseline run itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parity: Option<ParityCell>,
}

/// One frame, side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameRow {
    /// Frame number.
    pub frame: i32,
    /// The reference's frame, when the benchmark has a reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceFrame>,
    /// One entry per run, in run order.
    pub runs: Vec<RunFrame>,
}

/// A run's parity against the baseline, over its frames.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParityTotals {
    /// Frames compared.
    pub compared: u64,
    /// Frames still to compare.
    pub pending: u64,
    /// Frames that will never be compared.
    pub unavailable: u64,
    /// Compared frames with identical pixels.
    pub identical: u64,
    /// Compared frames within tolerance.
    pub within_tolerance: u64,
    /// Compared frames between tolerance and mismatch.
    pub inconclusive: u64,
    /// Compared frames that disagree.
    pub mismatch: u64,
    /// Mean of the compared frames' mean FLIP.
    pub mean_flip: Option<f64>,
    /// Largest per-pixel FLIP of any compared frame.
    pub max_flip: Option<f64>,
    /// Largest worst-tile mean FLIP of any compared frame.
    pub worst_tile_flip: Option<f64>,
}

/// One run: a node class and its job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// 0 for the baseline, then in the order asked.
    pub position: u32,
    /// The node class it rendered on.
    pub node_class: String,
    /// Its job.
    pub job_id: JobId,
    /// The job's name.
    pub job_name: String,
    /// The job's state.
    pub state: JobState,
    /// Frames of the job.
    pub frames: u64,
    /// Frames rendered.
    pub frames_done: u64,
    /// From the job's creation to its last accepted frame's delivery, as
    /// the coordinator observed both; once the job ended.
    pub time_to_complete_secs: Option<f64>,
    /// What the job is billed so far (its cost report's total).
    pub cost_micros: Money,
    /// That over the frames rendered (rounded to the micro-unit).
    pub cost_per_frame_micros: Option<Money>,
    /// Render seconds billed.
    pub render_seconds: f64,
    /// That over the frames rendered.
    pub render_seconds_per_frame: Option<f64>,
    /// Against the baseline (the reference when there is one); absent for
    /// the baseline run itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parity: Option<ParityTotals>,
}

/// The side-by-side report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkReport {
    /// The benchmark.
    pub id: BenchmarkId,
    /// Its name.
    pub name: String,
    /// Its tenant; absent for an admin's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// When it was created.
    pub created_ms: i64,
    /// Currency of every amount.
    pub currency: String,
    /// Every run has ended and every frame that can be compared is.
    pub complete: bool,
    /// The studio's reference, the baseline when present: its stated
    /// figures and which frames were uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceReport>,
    /// The runs, the baseline first (without a reference).
    pub runs: Vec<RunReport>,
    /// Every frame, in the baseline's render order.
    pub frames: Vec<FrameRow>,
    /// Frames with a comparison still to come.
    pub pending_frames: Vec<i32>,
}

/// What the database knows of one run.
#[derive(Debug, Clone)]
pub struct RunFacts {
    /// Its position (0: the baseline).
    pub position: u32,
    /// Its node class.
    pub node_class: String,
    /// Its job's cost report, as of now.
    pub cost: CostReport,
    /// When its job was created.
    pub created_ms: i64,
    /// When its last accepted copy was delivered, if any was.
    pub last_delivered_ms: Option<i64>,
    /// Per frame with an accepted copy, that copy's pixel hash.
    pub accepted: HashMap<i32, String>,
}

/// A stored comparison.
#[derive(Debug, Clone)]
pub struct StoredDiff {
    /// The frame.
    pub frame: i32,
    /// The run compared with the baseline.
    pub position: u32,
    /// Pixel hash of the baseline's copy compared.
    pub hash_a: String,
    /// Pixel hash of the run's copy compared.
    pub hash_b: String,
    /// What the comparison found.
    pub diff: Diff,
}

/// Everything a report is assembled from.
#[derive(Debug, Clone)]
pub struct BenchmarkFacts {
    /// The benchmark and its runs.
    pub summary: BenchmarkSummary,
    /// Currency of the amounts.
    pub currency: String,
    /// The runs, the baseline first.
    pub runs: Vec<RunFacts>,
    /// The reference frames uploaded (none without a reference).
    pub reference_frames: HashMap<i32, ReferenceCopy>,
    /// The comparisons stored.
    pub diffs: Vec<StoredDiff>,
}

/// What run copies are compared with: the baseline run's accepted copies,
/// or the reference's uploaded frames.
struct Baseline<'a> {
    /// Per frame, the pixel hash of the copy compared with.
    hashes: HashMap<i32, &'a str>,
    /// A missing copy will never come (the baseline run ended); never for
    /// a reference, whose frames can be uploaded at any time.
    settled: bool,
    /// Why a frame is pending when its copy here is missing.
    missing: &'static str,
}

/// A pending cell, saying why.
fn pending(reason: &str) -> ParityCell {
    ParityCell {
        status: ParityStatus::Pending,
        numbers: None,
        pending_reason: Some(reason.to_owned()),
    }
}

/// Where run `run`'s copy of `frame` stands against the baseline's.
fn cell(
    baseline: &Baseline<'_>,
    run: &RunFacts,
    frame: i32,
    diffs: &HashMap<(i32, u32), &StoredDiff>,
) -> ParityCell {
    let (a, b) = (baseline.hashes.get(&frame), run.accepted.get(&frame));
    let ended = run.cost.state.is_final();
    if (a.is_none() && baseline.settled) || (b.is_none() && ended) {
        return ParityCell {
            status: ParityStatus::Unavailable,
            numbers: None,
            pending_reason: None,
        };
    }
    match (a, b) {
        (Some(a), Some(b)) => match diffs.get(&(frame, run.position)) {
            Some(d) if d.hash_a == *a && d.hash_b == *b => ParityCell {
                status: d.diff.verdict.into(),
                numbers: Some(d.diff.numbers.clone()),
                pending_reason: None,
            },
            _ => pending("not compared yet"),
        },
        (None, _) => pending(baseline.missing),
        (Some(_), None) => pending("this run's copy is not accepted yet"),
    }
}

/// `total / count` rounded to the nearest micro-unit, `None` for no count.
fn per(total: Money, count: u64) -> Option<Money> {
    let count = i128::from(count);
    (count > 0).then(|| {
        let total = i128::from(total.micros());
        Money(((2 * total + count) / (2 * count)) as i64)
    })
}

/// The parity totals of a run's cells.
fn totals<'a>(cells: impl Iterator<Item = &'a ParityCell>) -> ParityTotals {
    let mut t = ParityTotals::default();
    let mut flips = Vec::new();
    for cell in cells {
        match cell.status {
            ParityStatus::Pending => t.pending += 1,
            ParityStatus::Unavailable => t.unavailable += 1,
            ParityStatus::Identical => t.identical += 1,
            ParityStatus::WithinTolerance => t.within_tolerance += 1,
            ParityStatus::Inconclusive => t.inconclusive += 1,
            ParityStatus::Mismatch => t.mismatch += 1,
        }
        if let Some(numbers) = &cell.numbers {
            t.compared += 1;
            flips.extend(numbers.mean_flip);
            let larger = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            t.max_flip = larger(t.max_flip, numbers.max_flip);
            t.worst_tile_flip = larger(t.worst_tile_flip, numbers.worst_tile_flip);
        }
    }
    t.mean_flip = (!flips.is_empty()).then(|| flips.iter().sum::<f64>() / flips.len() as f64);
    t
}

/// Assemble the report from what the database knows.
pub fn assemble(facts: BenchmarkFacts) -> BenchmarkReport {
    let BenchmarkFacts {
        summary,
        currency,
        runs,
        reference_frames,
        diffs,
    } = facts;
    let has_reference = summary.reference.is_some();
    let baseline = match runs.first() {
        Some(first) if !has_reference => Baseline {
            hashes: first
                .accepted
                .iter()
                .map(|(f, h)| (*f, h.as_str()))
                .collect(),
            settled: first.cost.state.is_final(),
            missing: "the baseline run's copy is not accepted yet",
        },
        _ => Baseline {
            hashes: reference_frames
                .iter()
                .map(|(f, c)| (*f, c.pixel_hash.as_str()))
                .collect(),
            settled: false,
            missing: REFERENCE_NOT_UPLOADED,
        },
    };
    // Without a reference the first run is the baseline, compared with
    // nothing; with one every run is compared with it.
    let compared = |run: &RunFacts| has_reference || run.position > 0;
    let diffs: HashMap<(i32, u32), &StoredDiff> =
        diffs.iter().map(|d| ((d.frame, d.position), d)).collect();
    let by_frame: Vec<HashMap<i32, &FrameCost>> = runs
        .iter()
        .map(|run| run.cost.frames.iter().map(|f| (f.frame, f)).collect())
        .collect();
    let mut frames = Vec::new();
    let mut pending_frames = Vec::new();
    if let Some(first) = runs.first() {
        for frame in first.cost.frames.iter().map(|f| f.frame) {
            let row: Vec<RunFrame> = runs
                .iter()
                .zip(&by_frame)
                .map(|(run, costs)| {
                    let cost = costs.get(&frame);
                    RunFrame {
                        state: cost.map_or(FrameState::Pending, |c| c.state),
                        render_seconds: cost.map_or(0.0, |c| c.render_seconds),
                        cost_micros: cost.map_or(Money::ZERO, |c| c.cost_micros),
                        parity: compared(run).then(|| cell(&baseline, run, frame, &diffs)),
                    }
                })
                .collect();
            if row.iter().any(|r| {
                r.parity
                    .as_ref()
                    .is_some_and(|p| p.status == ParityStatus::Pending)
            }) {
                pending_frames.push(frame);
            }
            frames.push(FrameRow {
                frame,
                reference: has_reference.then(|| ReferenceFrame::of(reference_frames.get(&frame))),
                runs: row,
            });
        }
    }
    let mut reports = Vec::with_capacity(runs.len());
    for (index, run) in runs.iter().enumerate() {
        let t = &run.cost.totals;
        let done = t.frames_done;
        let ended = run.cost.state.is_final();
        reports.push(RunReport {
            position: run.position,
            node_class: run.node_class.clone(),
            job_id: run.cost.job_id,
            job_name: run.cost.job_name.clone(),
            state: run.cost.state,
            frames: t.frames,
            frames_done: done,
            time_to_complete_secs: run
                .last_delivered_ms
                .filter(|_| ended)
                .map(|last| (last - run.created_ms).max(0) as f64 / 1000.0),
            cost_micros: t.cost_micros,
            cost_per_frame_micros: per(t.cost_micros, done),
            render_seconds: t.billed_render_seconds,
            render_seconds_per_frame: (done > 0).then(|| t.billed_render_seconds / done as f64),
            parity: compared(run).then(|| {
                totals(
                    frames
                        .iter()
                        .filter_map(|row| row.runs.get(index)?.parity.as_ref()),
                )
            }),
        });
    }
    let reference = summary.reference.map(|r| ReferenceReport {
        name: r.name,
        stated_by_studio: r.stated_by_studio,
        frames_uploaded: frames
            .iter()
            .filter(|row| row.reference.as_ref().is_some_and(|f| f.uploaded))
            .count() as u64,
        frames_missing: frames
            .iter()
            .filter(|row| row.reference.as_ref().is_some_and(|f| !f.uploaded))
            .map(|row| row.frame)
            .collect(),
    });
    BenchmarkReport {
        id: summary.id,
        name: summary.name,
        tenant: summary.tenant,
        created_ms: summary.created_ms,
        currency,
        complete: pending_frames.is_empty() && reports.iter().all(|r| r.state.is_final()),
        reference,
        runs: reports,
        frames,
        pending_frames,
    }
}
