//! Cost reports for customers and payouts for workers: what they contain
//! and how they are written as CSV.
//!
//! A frame costs its render seconds × the hourly rate of the device class
//! that rendered it / 3600, in integer micro-units. A verified frame is
//! billed at the lower of its agreeing copies (BOINC grants the lower
//! claim). Every other render (parity copies, arbitration, renders found
//! wrong or rejected) is verification overhead, shown apart.

use std::fmt::Write as _;

use protocol::{JobId, WorkerId};
use serde::{Deserialize, Serialize};

use crate::estimate::EstimateCheck;
use crate::money::Money;
use crate::state::{CheckState, FrameState, JobState};

/// One frame of a cost report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameCost {
    /// Frame number.
    pub frame: i32,
    /// Render state.
    pub state: FrameState,
    /// Verification state.
    pub verification: CheckState,
    /// Who rendered the delivered copy.
    pub worker_id: Option<WorkerId>,
    /// That worker's name.
    pub worker_name: Option<String>,
    /// Its device class.
    pub device_class: Option<String>,
    /// Where it was rendered: that worker's enrolled region.
    #[serde(default)]
    pub region: Option<String>,
    /// On what: that worker's enrolled node class.
    #[serde(default)]
    pub node_class: Option<String>,
    /// Render seconds billed.
    pub render_seconds: f64,
    /// What the frame costs.
    pub cost_micros: Money,
    /// Copies rendered in all (1 when not replicated).
    pub copies: u32,
}

/// The sums of a cost report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostTotals {
    /// Frames in the job.
    pub frames: u64,
    /// Frames rendered.
    pub frames_done: u64,
    /// Frames two workers agree on.
    pub frames_verified: u64,
    /// Frames chosen for a parity copy.
    pub frames_replicated: u64,
    /// `frames_replicated` over `frames_done`, in percent: the effective
    /// replication rate.
    pub replication_percent: f64,
    /// Render seconds billed (one copy per frame).
    pub billed_render_seconds: f64,
    /// Render seconds of every copy, replicas and rejected renders included.
    pub total_render_seconds: f64,
    /// What the customer pays: the sum of the frames' costs.
    pub cost_micros: Money,
    /// Cost of every render beyond the billed copy: parity copies,
    /// arbitration, and renders found wrong.
    pub verification_overhead_micros: Money,
    /// The overhead over the billed cost, in percent (also the extra render
    /// time, when all copies ran on one device class).
    pub verification_overhead_percent: f64,
}

/// A job's cost report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostReport {
    /// The job.
    pub job_id: JobId,
    /// Its name.
    pub job_name: String,
    /// Its state when the report was made.
    pub state: JobState,
    /// Currency of every amount.
    pub currency: String,
    /// Every frame, in render order.
    pub frames: Vec<FrameCost>,
    /// Sums.
    pub totals: CostTotals,
    /// The estimate the job was submitted with against what it took and
    /// cost, when one was made.
    #[serde(default)]
    pub estimate: Option<EstimateCheck>,
}

/// What one worker earned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payout {
    /// The worker.
    pub worker_id: WorkerId,
    /// Its name.
    pub name: String,
    /// Its operator.
    pub owner: String,
    /// Its device class.
    pub device_class: String,
    /// Frames (copies) it delivered.
    pub frames_delivered: u64,
    /// Of those, verified by another worker.
    pub frames_verified: u64,
    /// Of those, found wrong or rejected: never paid.
    pub frames_wrong: u64,
    /// Payable now: verified frames (at the lower claim) and unverified
    /// frames whose job's verification window has closed.
    pub earned_micros: Money,
    /// Held in escrow: unverified frames still inside the window.
    pub held_micros: Money,
    /// Not paid: the cost of its frames found wrong or rejected.
    pub forfeited_micros: Money,
    /// Strikes.
    pub strikes: u32,
    /// Whether it is blocklisted.
    pub blocklisted: bool,
}

/// Percentage `part / whole`, 0 when `whole` is 0.
pub fn percent(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        100.0 * part / whole
    } else {
        0.0
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

impl CostReport {
    /// The report as CSV: one line per frame, then a total line and a
    /// verification overhead line. Amounts in currency units with six
    /// decimals, and in micro-units.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "frame,state,verification,worker_id,worker_name,device_class,region,node_class,render_seconds,copies,cost,cost_micros\n",
        );
        for f in &self.frames {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{:.3},{},{},{}",
                f.frame,
                f.state,
                f.verification,
                f.worker_id.map(|w| w.to_string()).unwrap_or_default(),
                csv_field(f.worker_name.as_deref().unwrap_or("")),
                csv_field(f.device_class.as_deref().unwrap_or("")),
                csv_field(f.region.as_deref().unwrap_or("")),
                csv_field(f.node_class.as_deref().unwrap_or("")),
                f.render_seconds,
                f.copies,
                f.cost_micros,
                f.cost_micros.micros()
            );
        }
        let t = &self.totals;
        let _ = writeln!(
            out,
            "total,{},,,,,,,{:.3},,{},{}",
            self.state,
            t.billed_render_seconds,
            t.cost_micros,
            t.cost_micros.micros()
        );
        let _ = writeln!(
            out,
            "verification_overhead,{:.2}%,,,,,,,{:.3},,{},{}",
            t.verification_overhead_percent,
            t.total_render_seconds - t.billed_render_seconds,
            t.verification_overhead_micros,
            t.verification_overhead_micros.micros()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_line_per_frame_and_totals() {
        let report = CostReport {
            job_id: JobId::new(),
            job_name: "shot".into(),
            state: JobState::Done,
            currency: "USD".into(),
            frames: vec![FrameCost {
                frame: 7,
                state: FrameState::Done,
                verification: CheckState::Verified,
                worker_id: None,
                worker_name: Some("a,b".into()),
                device_class: Some("cpu".into()),
                region: Some("DE".into()),
                node_class: Some("standard".into()),
                render_seconds: 1.5,
                cost_micros: Money(167),
                copies: 2,
            }],
            totals: CostTotals {
                frames: 1,
                frames_done: 1,
                frames_verified: 1,
                frames_replicated: 1,
                replication_percent: 100.0,
                billed_render_seconds: 1.5,
                total_render_seconds: 3.1,
                cost_micros: Money(167),
                verification_overhead_micros: Money(178),
                verification_overhead_percent: 106.6,
            },
            estimate: None,
        };
        let csv = report.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[1],
            "7,done,verified,,\"a,b\",cpu,DE,standard,1.500,2,0.000167,167"
        );
        assert!(lines[2].starts_with("total,done,"));
        assert!(lines[2].ends_with(",0.000167,167"));
        assert!(lines[3].starts_with("verification_overhead,106.60%"));
    }

    #[test]
    fn percent_of_nothing_is_zero() {
        assert_eq!(percent(1.0, 0.0), 0.0);
        assert_eq!(percent(1.0, 4.0), 25.0);
    }
}
