//! `farm benchmark --class A --class B <scene>`: the same frames of a
//! .blend rendered on two or more node classes, one job per class, for a
//! side-by-side comparison; the scene is read, bundled, checked on every
//! class and uploaded as `farm submit` does. `farm benchmark-report ID`
//! prints the comparison: per class its time to complete, cost per frame
//! and parity with the first class; per frame each class's render time,
//! cost, verdict, FLIP and worst tile.

use std::time::Duration;

use protocol::JobId;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::Api;
use crate::args::BenchmarkArgs;
use crate::error::Failure;
use crate::output::Output;
use crate::show;
use crate::submit::{job_request, prepare};
use crate::table::{Align, Table};
use crate::upload;
use crate::views::Validated;

/// How often `--watch` reads the report.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// The API's answer to a benchmark's creation.
#[derive(Debug, Deserialize)]
struct Created {
    id: String,
    name: String,
    node_classes: Vec<String>,
    job_ids: Vec<JobId>,
}

/// A run's parity with the baseline, over its frames.
#[derive(Debug, Deserialize)]
struct Totals {
    identical: u64,
    within_tolerance: u64,
    inconclusive: u64,
    mismatch: u64,
    pending: u64,
    mean_flip: Option<f64>,
    max_flip: Option<f64>,
}

/// One run, as the report gives it.
#[derive(Debug, Deserialize)]
struct Run {
    position: u32,
    node_class: String,
    job_id: JobId,
    state: String,
    frames: u64,
    frames_done: u64,
    time_to_complete_secs: Option<f64>,
    cost_micros: i64,
    cost_per_frame_micros: Option<i64>,
    render_seconds_per_frame: Option<f64>,
    #[serde(default)]
    parity: Option<Totals>,
}

/// One of a comparison's worst tiles.
#[derive(Debug, Deserialize)]
struct Tile {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
}

/// A frame of a run against the baseline's.
#[derive(Debug, Deserialize)]
struct Parity {
    status: String,
    mean_flip: Option<f64>,
    max_flip: Option<f64>,
    #[serde(default)]
    worst_tiles: Vec<Tile>,
}

/// A frame of one run.
#[derive(Debug, Deserialize)]
struct Cell {
    render_seconds: f64,
    cost_micros: i64,
    #[serde(default)]
    parity: Option<Parity>,
}

/// A frame, side by side.
#[derive(Debug, Deserialize)]
struct Row {
    frame: i32,
    runs: Vec<Cell>,
}

/// The report, as `GET /api/v1/benchmarks/{id}` gives it.
#[derive(Debug, Deserialize)]
struct Report {
    id: String,
    name: String,
    currency: String,
    complete: bool,
    runs: Vec<Run>,
    frames: Vec<Row>,
    pending_frames: Vec<i32>,
}

/// A FLIP figure, or `-`.
fn flip(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"))
}

/// An amount without its currency (the header names it).
fn amount(micros: i64) -> String {
    show::money(micros, "").trim_end().to_owned()
}

impl Report {
    /// The runs' totals.
    fn runs_table(&self) -> Table {
        let mut table = Table::new(&[
            ("NODE CLASS", Align::Left),
            ("JOB", Align::Left),
            ("STATE", Align::Left),
            ("FRAMES", Align::Right),
            ("TIME TO COMPLETE", Align::Right),
            ("COST", Align::Right),
            ("PER FRAME", Align::Right),
            ("RENDER/FRAME", Align::Right),
            ("PARITY WITH BASELINE", Align::Left),
            ("MEAN FLIP", Align::Right),
            ("MAX FLIP", Align::Right),
        ]);
        for run in &self.runs {
            let (parity, mean, max) = match &run.parity {
                None => ("baseline".to_owned(), "-".to_owned(), "-".to_owned()),
                Some(p) => (
                    format!(
                        "{} identical, {} within tolerance, {} inconclusive, {} mismatch{}",
                        p.identical,
                        p.within_tolerance,
                        p.inconclusive,
                        p.mismatch,
                        if p.pending > 0 {
                            format!(", {} pending", p.pending)
                        } else {
                            String::new()
                        }
                    ),
                    flip(p.mean_flip),
                    flip(p.max_flip),
                ),
            };
            table.row(vec![
                run.node_class.clone(),
                run.job_id.to_string(),
                run.state.clone(),
                format!("{}/{}", run.frames_done, run.frames),
                run.time_to_complete_secs
                    .map_or_else(|| "-".to_owned(), show::duration),
                show::money(run.cost_micros, &self.currency),
                run.cost_per_frame_micros
                    .map_or_else(|| "-".to_owned(), |m| show::money(m, &self.currency)),
                run.render_seconds_per_frame
                    .map_or_else(|| "-".to_owned(), |s| format!("{s:.2}s")),
                parity,
                mean,
                max,
            ]);
        }
        table
    }

    /// Every frame, the runs side by side.
    fn frames_table(&self) -> Table {
        let mut headers = vec![("FRAME".to_owned(), Align::Right)];
        for run in &self.runs {
            let class = run.node_class.to_uppercase();
            headers.push((format!("{class} S"), Align::Right));
            headers.push((format!("{class} {}", self.currency), Align::Right));
            if run.position > 0 {
                headers.push((format!("{class} PARITY"), Align::Left));
                headers.push(("MEAN FLIP".to_owned(), Align::Right));
                headers.push(("MAX FLIP".to_owned(), Align::Right));
                headers.push(("WORST TILE".to_owned(), Align::Left));
            }
        }
        let columns: Vec<(&str, Align)> = headers.iter().map(|(h, a)| (h.as_str(), *a)).collect();
        let mut table = Table::new(&columns);
        for row in &self.frames {
            let mut cells = vec![row.frame.to_string()];
            for cell in &row.runs {
                cells.push(format!("{:.2}", cell.render_seconds));
                cells.push(amount(cell.cost_micros));
                if let Some(parity) = &cell.parity {
                    cells.push(parity.status.clone());
                    cells.push(flip(parity.mean_flip));
                    cells.push(flip(parity.max_flip));
                    cells.push(parity.worst_tiles.first().map_or_else(
                        || "-".to_owned(),
                        |t| format!("{},{} {}x{}", t.x, t.y, t.width, t.height),
                    ));
                }
            }
            table.row(cells);
        }
        table
    }

    /// The whole report for people.
    fn text(&self) -> String {
        let state = if self.complete {
            "complete".to_owned()
        } else if self.pending_frames.is_empty() {
            "rendering".to_owned()
        } else {
            format!(
                "in progress; frames still to compare: {}",
                self.pending_frames
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        format!(
            "benchmark {} {:?} ({state})\n\n{}\n{}",
            self.id,
            self.name,
            self.runs_table(),
            self.frames_table()
        )
    }
}

/// Run `farm benchmark`.
pub async fn run(api: &Api, args: &BenchmarkArgs, output: &Output) -> Result<(), Failure> {
    let submit = &args.submit;
    if submit.node_class.is_some() {
        return Err(Failure::usage(
            "farm benchmark takes its node classes as --class A --class B; leave --node-class out",
        ));
    }
    if args.classes.len() < 2 {
        return Err(Failure::usage(
            "a benchmark compares two or more node classes: give --class twice or more, the baseline first",
        ));
    }
    let prepared = prepare(&submit.blender, &submit.scene, output).await?;
    let described = prepared.describe(api).await?;
    let request = serde_json::to_value(job_request(submit, &prepared, &described.id))
        .map_err(|e| Failure::usage(format!("the benchmark request: {e}")))?;
    // Every class is checked as a job before anything is uploaded.
    let mut validated = None;
    for class in &args.classes {
        let mut job = request.clone();
        job["node_class"] = json!(class);
        validated = Some(api.post::<Validated>("/api/v1/jobs/validate", &job).await?);
    }
    let uploaded = upload::upload_missing(api, &prepared.local, &described.missing, output).await?;
    let mut body = request;
    if let Some(fields) = body.as_object_mut() {
        fields.remove("node_class");
        fields.insert("node_classes".into(), json!(args.classes));
    }
    let value: Value = api.post("/api/v1/benchmarks", &body).await?;
    let created: Created = api.parse(&value, "/api/v1/benchmarks")?;
    let url = api.url(&format!("/ui/benchmarks/{}", created.id));
    if output.json {
        output.json_line(
            &json!({"benchmark": value, "url": url, "uploaded_files": uploaded.paths}),
        )?;
    } else {
        let runs: Vec<String> = created
            .node_classes
            .iter()
            .zip(&created.job_ids)
            .map(|(class, job)| format!("  {class:<16} job {job}"))
            .collect();
        output.say(&format!(
            "benchmark {} {:?}: {} frame(s) on {} node classes ({} the baseline)\n{}\n  {url}",
            created.id,
            created.name,
            validated.map_or(0, |v| v.frame_count),
            created.node_classes.len(),
            created.node_classes[0],
            runs.join("\n"),
        ))?;
    }
    if submit.watch {
        let spinner = output.spinner("rendering and comparing");
        let path = format!("/api/v1/benchmarks/{}", created.id);
        let (value, report) = loop {
            let (value, report): (Value, Report) = api.get_both(&path).await?;
            if report.complete {
                break (value, report);
            }
            tokio::time::sleep(WATCH_EVERY).await;
        };
        spinner.finish_and_clear();
        if output.json {
            output.json_line(&value)?;
        } else {
            output.say(&report.text())?;
        }
    }
    Ok(())
}

/// `farm benchmark-report ID [--csv]`.
pub async fn report(api: &Api, id: &str, csv: bool, output: &Output) -> Result<(), Failure> {
    if csv {
        let text = api
            .get_text(&format!("/api/v1/benchmarks/{id}/report.csv"))
            .await?;
        return Ok(output.raw(&text)?);
    }
    let (value, report): (Value, Report) =
        api.get_both(&format!("/api/v1/benchmarks/{id}")).await?;
    if output.json {
        return Ok(output.json_line(&value)?);
    }
    Ok(output.say(&report.text())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_reads_side_by_side() {
        let value = json!({
            "id": "0190a1b2-0000-7000-8000-000000000000", "name": "shot", "currency": "EUR",
            "complete": true, "pending_frames": [],
            "runs": [
                {"position": 0, "node_class": "cpu-a", "job_id": "0190a1b2-0000-7000-8000-000000000001",
                 "state": "done", "frames": 1, "frames_done": 1, "time_to_complete_secs": 12.0,
                 "cost_micros": 400, "cost_per_frame_micros": 400, "render_seconds_per_frame": 2.0},
                {"position": 1, "node_class": "cpu-b", "job_id": "0190a1b2-0000-7000-8000-000000000002",
                 "state": "done", "frames": 1, "frames_done": 1, "time_to_complete_secs": 20.0,
                 "cost_micros": 200, "cost_per_frame_micros": 200, "render_seconds_per_frame": 4.0,
                 "parity": {"identical": 0, "within_tolerance": 0, "inconclusive": 0, "mismatch": 1,
                   "pending": 0, "mean_flip": 0.02, "max_flip": 0.9}}],
            "frames": [{"frame": 7, "runs": [
                {"render_seconds": 2.0, "cost_micros": 400},
                {"render_seconds": 4.0, "cost_micros": 200, "parity": {"status": "mismatch",
                  "mean_flip": 0.02, "max_flip": 0.9, "newer_field": 1,
                  "worst_tiles": [{"x": 64, "y": 0, "width": 64, "height": 64, "mean_error": 0.5}]}}]}]
        });
        let report: Report = serde_json::from_value(value).unwrap();
        let text = report.text();
        assert!(text.contains("(complete)"), "{text}");
        assert!(text.contains("CPU-B PARITY"), "{text}");
        assert!(text.contains("0.000200 EUR"), "{text}");
        let frame = text.lines().last().unwrap();
        assert!(frame.starts_with("    7"), "{text}");
        for cell in ["0.000400", "mismatch", "0.0200", "0.9000", "64,0 64x64"] {
            assert!(frame.contains(cell), "{cell}: {text}");
        }
    }
}
