//! One benchmark, side by side: the studio's reference when there is one
//! (its figures labelled as stated by the studio, each frame's upload
//! state); per run (node class) its job, time to complete, cost and cost
//! per frame, render time per frame and its parity with the baseline (the
//! reference, else the first run); per frame, each run's render time and
//! cost and its verdict, mean and max FLIP and worst tile against the
//! baseline's copy; and the CSV. Read from the same report as
//! `GET /api/v1/benchmarks/{id}`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use maud::{Markup, html};

use super::error::PageError;
use super::format::duration;
use super::layout::{Section, page};
use crate::api::benchmarks::{benchmark_id, report_of};
use crate::api::session::UiSession;
use crate::auth::Principal;
use crate::benchmark::{ParityCell, ReferenceReport, RunReport};
use crate::farm::Farm;
use crate::money::Money;

/// A FLIP figure with four decimals, or `—`.
fn flip(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.4}"))
}

/// An amount with its currency, or `—`.
fn money(amount: Option<Money>, currency: &str) -> String {
    amount.map_or_else(|| "—".to_owned(), |m| format!("{m} {currency}"))
}

/// The reference as the first row of the runs table: every figure is the
/// studio's statement, labelled so.
fn reference_row(reference: &ReferenceReport, frames: usize, currency: &str) -> Markup {
    let stated = &reference.stated_by_studio;
    let label = |value: Option<String>| {
        html! { @match value { Some(v) => { (v) " " span class="badge" { "stated by the studio" } } None => { "not stated" } } }
    };
    html! {
        tr id="reference" {
            td { (reference.name) " " span class="badge" { "reference, baseline" } }
            td { "the studio's own farm" }
            td { (reference.frames_uploaded) " / " (frames) " frames uploaded" }
            td class="num" { (reference.frames_uploaded) " / " (frames) }
            td class="num" { (label(stated.time_to_complete_secs.map(duration))) }
            td class="num" { "—" }
            td class="num" { (label(stated.cost_per_frame_micros.map(|m| format!("{m} {currency}")))) }
            td class="num" { (label(stated.seconds_per_frame.map(|s| format!("{s:.2} s")))) }
            td { "—" } td class="num" { "—" } td class="num" { "—" }
        }
    }
}

/// A run's totals as a table row; `first_is_baseline` without a reference.
fn run_row(run: &RunReport, currency: &str, first_is_baseline: bool) -> Markup {
    html! {
        tr {
            td { (run.node_class) @if first_is_baseline && run.position == 0 { " " span class="badge" { "baseline" } } }
            td { a href={ "/ui/jobs/" (run.job_id) } { (run.job_name) } }
            td { span class={ "badge " (run.state) } { (run.state) } }
            td class="num" { (run.frames_done) " / " (run.frames) }
            td class="num" { (run.time_to_complete_secs.map_or_else(|| "—".to_owned(), duration)) }
            td class="num" { (money(Some(run.cost_micros), currency)) }
            td class="num" { (money(run.cost_per_frame_micros, currency)) }
            td class="num" { (run.render_seconds_per_frame.map_or_else(|| "—".to_owned(), |s| format!("{s:.2} s"))) }
            @match &run.parity {
                None => { td { "—" } td class="num" { "—" } td class="num" { "—" } }
                Some(p) => {
                    td { (p.identical) " identical, " (p.within_tolerance) " within tolerance, "
                        (p.inconclusive) " inconclusive, " (p.mismatch) " mismatch"
                        @if p.pending > 0 { ", " (p.pending) " pending" } }
                    td class="num" { (flip(p.mean_flip)) }
                    td class="num" { (flip(p.max_flip)) }
                }
            }
        }
    }
}

/// A frame's parity cell: verdict, FLIP and worst tile.
fn parity_cells(cell: &ParityCell) -> Markup {
    let numbers = cell.numbers.as_ref();
    let worst = numbers.and_then(|n| n.worst_tiles.first());
    html! {
        td { span class={ "badge " (cell.status) } { (cell.status) }
            @if let Some(why) = &cell.pending_reason { br; small { (why) } } }
        td class="num" { (flip(numbers.and_then(|n| n.mean_flip))) }
        td class="num" { (flip(numbers.and_then(|n| n.max_flip))) }
        td { @if let Some(t) = worst { (t.x) "," (t.y) " " (t.width) "×" (t.height) } @else { "—" } }
    }
}

/// `GET /ui/benchmarks/{id}`.
pub async fn page_benchmark(
    State(farm): State<Farm>,
    principal: Principal,
    session: UiSession,
    path: Result<Path<String>, PathRejection>,
) -> Result<Markup, PageError> {
    let id = benchmark_id(path)?;
    let report = report_of(&farm, &principal, id).await?;
    let currency = &report.currency;
    let body = html! {
        nav class="crumbs" aria-label="Breadcrumb" { a href="/ui/jobs" { "Jobs" } " / benchmark " (report.name) }
        h1 { "Benchmark " (report.name) " "
            @if report.complete { span class="badge done" { "complete" } } @else { span class="badge running" { "in progress" } } }
        dl class="facts" {
            div { dt { "Node classes" } dd { (report.runs.iter().map(|r| r.node_class.as_str()).collect::<Vec<_>>().join(" vs ")) } }
            div { dt { "Baseline" } dd id="baseline" { @match &report.reference {
                Some(r) => { "the reference " (r.name) " (uploaded by the studio)" }
                None => { "the first node class's run" } } } }
            @if let Some(r) = &report.reference {
                div { dt { "Reference frames not uploaded" } dd id="reference-missing" {
                    @if r.frames_missing.is_empty() { "none" }
                    @else { (r.frames_missing.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")) } } }
            }
            div { dt { "Frames" } dd { (report.frames.len()) } }
            div { dt { "Still to compare" } dd id="pending-frames" {
                @if report.pending_frames.is_empty() { "none" }
                @else { (report.pending_frames.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")) } } }
            div { dt { "Report" } dd { a href={ "/api/v1/benchmarks/" (id) "/report.csv" } download { "CSV" } } }
        }
        h2 { "Runs" }
        table id="runs" {
            thead { tr {
                th scope="col" { "Node class" } th scope="col" { "Job" } th scope="col" { "State" }
                th scope="col" { "Frames" } th scope="col" { "Time to complete" } th scope="col" { "Cost" }
                th scope="col" { "Per frame" } th scope="col" { "Render time per frame" }
                th scope="col" { "Parity with the baseline" } th scope="col" { "Mean FLIP" } th scope="col" { "Max FLIP" }
            } }
            tbody {
                @if let Some(reference) = &report.reference { (reference_row(reference, report.frames.len(), currency)) }
                @for run in &report.runs { (run_row(run, currency, report.reference.is_none())) }
            }
        }
        h2 { "Frames side by side" }
        table id="frames" {
            thead {
                tr {
                    th scope="col" rowspan="2" { "Frame" }
                    @if let Some(reference) = &report.reference { th scope="col" rowspan="2" { "Reference " (reference.name) } }
                    @for run in &report.runs {
                        th scope="colgroup" colspan=(if run.parity.is_none() { 2 } else { 6 }) { (run.node_class) }
                    }
                }
                tr {
                    @for run in &report.runs {
                        th scope="col" { "Seconds" } th scope="col" { "Cost" }
                        @if run.parity.is_some() {
                            th scope="col" { "Parity" } th scope="col" { "Mean FLIP" }
                            th scope="col" { "Max FLIP" } th scope="col" { "Worst tile" }
                        }
                    }
                }
            }
            tbody {
                @for row in &report.frames {
                    tr {
                        th scope="row" { (row.frame) }
                        @if let Some(frame) = &row.reference {
                            td { @if frame.uploaded { span class="badge done" { "uploaded" } } @else { span class="badge pending" { "not uploaded" } } }
                        }
                        @for run in &row.runs {
                            td class="num" { (format!("{:.2}", run.render_seconds)) }
                            td class="num" { (run.cost_micros) }
                            @if let Some(cell) = &run.parity { (parity_cells(cell)) }
                        }
                    }
                }
            }
        }
        p class="empty" { "Every frame of a run is compared with the baseline's (the reference's uploaded frame when there is a reference, else the first node class's) through frame-diff once both copies are there; FLIP 0 is the same picture. Costs are in " (currency) ", as each run's job is billed; the reference's figures are as stated by the studio, not observed by the farm." }
    };
    Ok(page(
        &format!("Benchmark {}", report.name),
        Section::Jobs,
        Some((&principal, &session)),
        body,
    ))
}
