//! One benchmark, side by side: per run (node class) its job, time to
//! complete, cost and cost per frame, render time per frame and its parity
//! with the baseline; per frame, each run's render time and cost and its
//! verdict, mean and max FLIP and worst tile against the baseline's copy;
//! and the CSV. Read from the same report as `GET /api/v1/benchmarks/{id}`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use maud::{Markup, html};

use super::error::PageError;
use super::format::duration;
use super::layout::{Section, page};
use crate::api::benchmarks::{benchmark_id, report_of};
use crate::api::session::UiSession;
use crate::auth::Principal;
use crate::benchmark::{ParityCell, RunReport};
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

/// A run's totals as a table row.
fn run_row(run: &RunReport, currency: &str) -> Markup {
    html! {
        tr {
            td { (run.node_class) @if run.position == 0 { " " span class="badge" { "baseline" } } }
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
        td { span class={ "badge " (cell.status) } { (cell.status) } }
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
            tbody { @for run in &report.runs { (run_row(run, currency)) } }
        }
        h2 { "Frames side by side" }
        table id="frames" {
            thead {
                tr {
                    th scope="col" rowspan="2" { "Frame" }
                    @for run in &report.runs {
                        th scope="colgroup" colspan=(if run.position == 0 { 2 } else { 6 }) { (run.node_class) }
                    }
                }
                tr {
                    @for run in &report.runs {
                        th scope="col" { "Seconds" } th scope="col" { "Cost" }
                        @if run.position > 0 {
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
                        @for run in &row.runs {
                            td class="num" { (format!("{:.2}", run.render_seconds)) }
                            td class="num" { (run.cost_micros) }
                            @if let Some(cell) = &run.parity { (parity_cells(cell)) }
                        }
                    }
                }
            }
        }
        p class="empty" { "Every frame of a run is compared with the baseline's (the first node class) through frame-diff once both copies are accepted; FLIP 0 is the same picture. Costs are in " (currency) ", as each run's job is billed." }
    };
    Ok(page(
        &format!("Benchmark {}", report.name),
        Section::Jobs,
        Some((&principal, &session)),
        body,
    ))
}
