//! `farm benchmark --class A --class B <scene>`: the same frames of a
//! .blend rendered on two or more node classes, one job per class, for a
//! side-by-side comparison; the scene is read, bundled, checked on every
//! class and uploaded as `farm submit` does. With `--reference DIR` one
//! class is enough: the studio's own renders in `DIR` are the baseline,
//! checked against the job's frames before anything is created and
//! uploaded once the benchmark is. `farm benchmark-report ID` prints the
//! comparison: the reference's stated figures and uploads; per class its
//! time to complete, cost per frame and parity with the baseline; per
//! frame each class's render time, cost, verdict, FLIP and worst tile.

use std::time::Duration;

use protocol::JobId;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::Api;
use crate::args::BenchmarkArgs;
use crate::benchmark_reference;
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
    #[serde(default)]
    pending_reason: Option<String>,
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

/// The reference's frame.
#[derive(Debug, Deserialize)]
struct ReferenceFrame {
    uploaded: bool,
}

/// A frame, side by side.
#[derive(Debug, Deserialize)]
struct Row {
    frame: i32,
    #[serde(default)]
    reference: Option<ReferenceFrame>,
    runs: Vec<Cell>,
}

/// The figures the studio states for its own farm.
#[derive(Debug, Deserialize)]
struct Stated {
    seconds_per_frame: Option<f64>,
    cost_per_frame_micros: Option<i64>,
    time_to_complete_secs: Option<f64>,
}

/// The studio's reference, the baseline when present.
#[derive(Debug, Deserialize)]
struct Reference {
    name: String,
    stated_by_studio: Stated,
    frames_uploaded: u64,
    frames_missing: Vec<i32>,
}

/// The report, as `GET /api/v1/benchmarks/{id}` gives it.
#[derive(Debug, Deserialize)]
pub(crate) struct Report {
    id: String,
    name: String,
    currency: String,
    complete: bool,
    #[serde(default)]
    reference: Option<Reference>,
    runs: Vec<Run>,
    frames: Vec<Row>,
    pending_frames: Vec<i32>,
}

/// A FLIP figure, or `-`.
fn flip(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"))
}

/// A list of frames, `1, 2, 5`.
fn frame_list(frames: &[i32]) -> String {
    frames
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A figure the studio stated, marked so, or `-`.
fn stated(value: Option<String>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v} (stated)"))
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
        if let Some(reference) = &self.reference {
            let figures = &reference.stated_by_studio;
            table.row(vec![
                format!("{} (reference)", reference.name),
                "the studio's farm".to_owned(),
                format!("{} uploaded", reference.frames_uploaded),
                format!("{}/{}", reference.frames_uploaded, self.frames.len()),
                stated(figures.time_to_complete_secs.map(show::duration)),
                "-".to_owned(),
                stated(
                    figures
                        .cost_per_frame_micros
                        .map(|m| show::money(m, &self.currency)),
                ),
                stated(figures.seconds_per_frame.map(|s| format!("{s:.2}s"))),
                "baseline".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
            ]);
        }
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
        if self.reference.is_some() {
            headers.push(("REFERENCE".to_owned(), Align::Left));
        }
        for run in &self.runs {
            let class = run.node_class.to_uppercase();
            headers.push((format!("{class} S"), Align::Right));
            headers.push((format!("{class} {}", self.currency), Align::Right));
            if run.parity.is_some() {
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
            if let Some(frame) = &row.reference {
                cells.push(
                    if frame.uploaded {
                        "uploaded"
                    } else {
                        "not uploaded"
                    }
                    .to_owned(),
                );
            }
            for cell in &row.runs {
                cells.push(format!("{:.2}", cell.render_seconds));
                cells.push(amount(cell.cost_micros));
                if let Some(parity) = &cell.parity {
                    cells.push(match &parity.pending_reason {
                        Some(why) => format!("{} ({why})", parity.status),
                        None => parity.status.clone(),
                    });
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
    pub(crate) fn text(&self) -> String {
        let state = if self.complete {
            "complete".to_owned()
        } else if self.pending_frames.is_empty() {
            "rendering".to_owned()
        } else {
            format!(
                "in progress; frames still to compare: {}",
                frame_list(&self.pending_frames)
            )
        };
        let reference = match &self.reference {
            None => String::new(),
            Some(r) => format!(
                "compared with the reference {:?}; its figures are as stated by the studio, not observed{}\n",
                r.name,
                if r.frames_missing.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; reference frames not uploaded: {}",
                        frame_list(&r.frames_missing)
                    )
                }
            ),
        };
        format!(
            "benchmark {} {:?} ({state})\n{reference}\n{}\n{}",
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
    if args.classes.len() < 2 && args.reference.is_none() {
        return Err(Failure::usage(
            "a benchmark compares two or more node classes: give --class twice or more, the baseline first, or compare one with your own renders (--reference DIR)",
        ));
    }
    let reference = match &args.reference {
        Some(dir) => Some((dir, benchmark_reference::scan(dir)?)),
        None => None,
    };
    let prepared = prepare(&submit.blender, &submit.scene, submit.renderer, output).await?;
    // The reference's files are checked against the job's frames before
    // anything is described, uploaded or created.
    let not_referenced = match &reference {
        Some((_, files)) => {
            benchmark_reference::check_frames(files, &prepared.frame_spec(submit)?)?
        }
        None => Vec::new(),
    };
    prepared.frame_spec(submit)?;
    let described = prepared.describe(api).await?;
    let request = serde_json::to_value(job_request(submit, &prepared, &described.id)?)
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
        if let Some((dir, _)) = &reference {
            fields.insert("reference".into(), benchmark_reference::request(args, dir));
        }
    }
    let value: Value = api.post("/api/v1/benchmarks", &body).await?;
    let created: Created = api.parse(&value, "/api/v1/benchmarks")?;
    let url = api.url(&format!("/ui/benchmarks/{}", created.id));
    let reference_frames = match &reference {
        Some((_, files)) => benchmark_reference::upload(api, &created.id, files, output).await?,
        None => Vec::new(),
    };
    if output.json {
        output.json_line(&json!({"benchmark": value, "url": url,
            "uploaded_files": uploaded.paths, "reference_frames": reference_frames}))?;
    } else {
        let runs: Vec<String> = created
            .node_classes
            .iter()
            .zip(&created.job_ids)
            .map(|(class, job)| format!("  {class:<16} job {job}"))
            .collect();
        let baseline = match &reference {
            Some(_) => format!(
                "the reference the baseline: {} frame(s) uploaded{}",
                reference_frames.len(),
                if not_referenced.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; frames {} have no reference file and stay pending until uploaded",
                        frame_list(&not_referenced)
                    )
                }
            ),
            None => format!("{} the baseline", created.node_classes[0]),
        };
        output.say(&format!(
            "benchmark {} {:?}: {} frame(s) on {} node class(es) ({baseline})\n{}\n  {url}",
            created.id,
            created.name,
            validated.map_or(0, |v| v.frame_count),
            created.node_classes.len(),
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
