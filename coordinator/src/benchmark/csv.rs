//! A benchmark's report as CSV: a header, one line per frame, a total line.

use std::fmt::Write as _;

use super::report::BenchmarkReport;

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

/// The parity columns of a run compared with the baseline.
const PARITY_COLUMNS: [&str; 6] = [
    "parity",
    "mean_flip",
    "max_flip",
    "worst_tile_flip",
    "worst_tile",
    "psnr",
];

/// The reference's columns: per frame whether it was uploaded, then the
/// figures stated by the studio (per frame on every line, the time to
/// complete on the total line).
const REFERENCE_COLUMNS: [&str; 4] = [
    "reference_uploaded",
    "reference_stated_seconds_per_frame",
    "reference_stated_cost_per_frame",
    "reference_stated_time_to_complete_secs",
];

impl BenchmarkReport {
    /// The report as CSV: a header, one line per frame (the reference's
    /// upload state and stated figures when there is one; per run its
    /// state, render seconds and cost, and for every run compared its
    /// parity against the baseline), and a total line per run's figures.
    pub fn to_csv(&self) -> String {
        let mut header = vec!["frame".to_owned()];
        if self.reference.is_some() {
            header.extend(REFERENCE_COLUMNS.map(str::to_owned));
        }
        for run in &self.runs {
            let class = &run.node_class;
            for column in ["state", "render_seconds", "cost", "cost_micros"] {
                header.push(csv_field(&format!("{class}_{column}")));
            }
            if run.parity.is_some() {
                for column in PARITY_COLUMNS {
                    header.push(csv_field(&format!("{class}_{column}")));
                }
            }
        }
        let mut out = header.join(",");
        out.push('\n');
        let stated = self.reference.as_ref().map(|r| &r.stated_by_studio);
        let stated_cost = || {
            stated
                .and_then(|s| s.cost_per_frame_micros)
                .map_or_else(String::new, |m| m.to_string())
        };
        for row in &self.frames {
            let mut fields = vec![row.frame.to_string()];
            if let Some(frame) = &row.reference {
                fields.push(if frame.uploaded { "yes" } else { "no" }.to_owned());
                fields.push(number(stated.and_then(|s| s.seconds_per_frame), 3));
                fields.push(stated_cost());
                fields.push(String::new());
            }
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
        if let Some(reference) = &self.reference {
            fields.push(format!(
                "{} of {} uploaded",
                reference.frames_uploaded,
                self.frames.len()
            ));
            fields.push(number(stated.and_then(|s| s.seconds_per_frame), 3));
            fields.push(stated_cost());
            fields.push(number(stated.and_then(|s| s.time_to_complete_secs), 3));
        }
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
