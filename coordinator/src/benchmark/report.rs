//! The side-by-side report of a benchmark, assembled from each run's cost
//! report, the coordinator's own timestamps and the stored comparisons,
//! and its CSV.

use std::collections::HashMap;
use std::fmt::Write as _;

use protocol::JobId;
use serde::{Deserialize, Serialize};

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
    /// Its node classes, the baseline first.
    pub node_classes: Vec<String>,
    /// Its jobs, one per node class, in the same order.
    pub job_ids: Vec<JobId>,
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
    /// Against the baseline's copy; absent for the baseline itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parity: Option<ParityCell>,
}

/// One frame, side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameRow {
    /// Frame number.
    pub frame: i32,
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
    /// Against the baseline; absent for the baseline itself.
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
    /// The runs, the baseline first.
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
    /// The comparisons stored.
    pub diffs: Vec<StoredDiff>,
}

/// Where run `run`'s copy of `frame` stands against the baseline's.
fn cell(
    baseline: &RunFacts,
    run: &RunFacts,
    frame: i32,
    diffs: &HashMap<(i32, u32), &StoredDiff>,
) -> ParityCell {
    let pending = ParityCell {
        status: ParityStatus::Pending,
        numbers: None,
    };
    match (baseline.accepted.get(&frame), run.accepted.get(&frame)) {
        (Some(a), Some(b)) => match diffs.get(&(frame, run.position)) {
            Some(d) if d.hash_a == *a && d.hash_b == *b => ParityCell {
                status: d.diff.verdict.into(),
                numbers: Some(d.diff.numbers.clone()),
            },
            _ => pending,
        },
        (a, b) => {
            let never =
                |copy: Option<&String>, of: &RunFacts| copy.is_none() && of.cost.state.is_final();
            if never(a, baseline) || never(b, run) {
                ParityCell {
                    status: ParityStatus::Unavailable,
                    numbers: None,
                }
            } else {
                pending
            }
        }
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
        diffs,
    } = facts;
    let diffs: HashMap<(i32, u32), &StoredDiff> =
        diffs.iter().map(|d| ((d.frame, d.position), d)).collect();
    let by_frame: Vec<HashMap<i32, &FrameCost>> = runs
        .iter()
        .map(|run| run.cost.frames.iter().map(|f| (f.frame, f)).collect())
        .collect();
    let mut frames = Vec::new();
    let mut pending_frames = Vec::new();
    if let Some(baseline) = runs.first() {
        for frame in baseline.cost.frames.iter().map(|f| f.frame) {
            let row: Vec<RunFrame> = runs
                .iter()
                .zip(&by_frame)
                .map(|(run, costs)| {
                    let cost = costs.get(&frame);
                    RunFrame {
                        state: cost.map_or(FrameState::Pending, |c| c.state),
                        render_seconds: cost.map_or(0.0, |c| c.render_seconds),
                        cost_micros: cost.map_or(Money::ZERO, |c| c.cost_micros),
                        parity: (run.position > 0).then(|| cell(baseline, run, frame, &diffs)),
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
            frames.push(FrameRow { frame, runs: row });
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
            parity: (run.position > 0).then(|| {
                totals(
                    frames
                        .iter()
                        .filter_map(|row| row.runs.get(index)?.parity.as_ref()),
                )
            }),
        });
    }
    BenchmarkReport {
        id: summary.id,
        name: summary.name,
        tenant: summary.tenant,
        created_ms: summary.created_ms,
        currency,
        complete: pending_frames.is_empty() && reports.iter().all(|r| r.state.is_final()),
        runs: reports,
        frames,
        pending_frames,
    }
}

/// Quote a CSV field when it needs it.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// A number with `decimals`, or an empty field.
fn number(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(String::new, |v| format!("{v:.decimals$}"))
}

impl BenchmarkReport {
    /// The report as CSV: a header, one line per frame (per run its state,
    /// render seconds and cost; per run but the baseline its parity against
    /// the baseline), and a total line per run's figures.
    pub fn to_csv(&self) -> String {
        let mut header = vec!["frame".to_owned()];
        for run in &self.runs {
            let class = &run.node_class;
            for column in ["state", "render_seconds", "cost", "cost_micros"] {
                header.push(csv_field(&format!("{class}_{column}")));
            }
            if run.position > 0 {
                for column in [
                    "parity",
                    "mean_flip",
                    "max_flip",
                    "worst_tile_flip",
                    "worst_tile",
                    "psnr",
                ] {
                    header.push(csv_field(&format!("{class}_{column}")));
                }
            }
        }
        let mut out = header.join(",");
        out.push('\n');
        for row in &self.frames {
            let mut fields = vec![row.frame.to_string()];
            for run in &row.runs {
                fields.push(run.state.to_string());
                fields.push(format!("{:.3}", run.render_seconds));
                fields.push(run.cost_micros.to_string());
                fields.push(run.cost_micros.micros().to_string());
                if let Some(parity) = &run.parity {
                    let numbers = parity.numbers.as_ref();
                    let worst = numbers
                        .and_then(|n| n.worst_tiles.first())
                        .map(|t| format!("{}:{}:{}x{}", t.x, t.y, t.width, t.height));
                    fields.push(parity.status.to_string());
                    fields.push(number(numbers.and_then(|n| n.mean_flip), 6));
                    fields.push(number(numbers.and_then(|n| n.max_flip), 6));
                    fields.push(number(numbers.and_then(|n| n.worst_tile_flip), 6));
                    fields.push(worst.unwrap_or_default());
                    fields.push(number(numbers.and_then(|n| n.psnr), 2));
                }
            }
            let _ = writeln!(out, "{}", fields.join(","));
        }
        let mut fields = vec!["total".to_owned()];
        for run in &self.runs {
            fields.push(run.state.to_string());
            fields.push(format!("{:.3}", run.render_seconds));
            fields.push(run.cost_micros.to_string());
            fields.push(run.cost_micros.micros().to_string());
            if let Some(parity) = &run.parity {
                fields.push(format!(
                    "{} identical {} within tolerance {} inconclusive {} mismatch {} pending",
                    parity.identical,
                    parity.within_tolerance,
                    parity.inconclusive,
                    parity.mismatch,
                    parity.pending
                ));
                fields.push(number(parity.mean_flip, 6));
                fields.push(number(parity.max_flip, 6));
                fields.push(number(parity.worst_tile_flip, 6));
                fields.push(String::new());
                fields.push(String::new());
            }
        }
        let _ = writeln!(out, "{}", fields.join(","));
        out
    }
}
