//! One job: its numbers, controls, and a grid of every frame coloured by
//! render state and verdict (queued, rendering, rendered, verified,
//! disagreed, failed), drawn on a canvas so 10,000 frames stay cheap. The
//! frames travel in the page as three compact arrays; the script follows
//! the job's change feed from the position they were read at. When no
//! online worker can render the job, the page says why its frames wait.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use maud::{Markup, PreEscaped, html};
use serde::Serialize;

use super::error::PageError;
use super::format::{ago, eta, progress_bar};
use super::layout::{Section, page};
use crate::api::auth::check_job;
use crate::api::session::UiSession;
use crate::auth::Principal;
use crate::farm::Farm;
use crate::model::JobDetail;
use crate::state::{CheckState, FrameState};

/// One letter per render state, as the script reads them.
pub fn state_code(state: FrameState) -> char {
    match state {
        FrameState::Pending => 'p',
        FrameState::Rendering => 'r',
        FrameState::Done => 'd',
        FrameState::Failed => 'f',
        FrameState::Cancelled => 'c',
    }
}

/// One letter per verification state, as the script reads them.
pub fn check_code(state: CheckState) -> char {
    match state {
        CheckState::Unchecked => 'u',
        CheckState::Awaiting => 'a',
        CheckState::Comparing => 'c',
        CheckState::Arbitrating => 'b',
        CheckState::Verified => 'v',
        CheckState::NonDeterministic => 'n',
        CheckState::Rerendering => 'e',
        CheckState::Unverifiable => 'x',
    }
}

/// The grid's data: frame numbers in render order, and a letter per frame
/// for its render and verification states.
#[derive(Debug, Serialize)]
struct Grid {
    job: String,
    after: i64,
    frames: Vec<i32>,
    state: String,
    check: String,
}

/// `</` would end the script element the JSON sits in.
fn script_safe(json: String) -> String {
    json.replace("</", "<\\/")
}

/// `GET /ui/jobs/{id}`.
pub async fn page_job(
    State(farm): State<Farm>,
    principal: Principal,
    session: UiSession,
    path: Result<Path<String>, PathRejection>,
) -> Result<Markup, PageError> {
    let id = crate::api::job_id(path)?;
    check_job(&farm, &principal, id, "see jobs").await?;
    let (after, detail): (i64, JobDetail) = farm
        .db
        .call(move |db| db.snapshot(|db| db.job_detail(id)))
        .await?;
    let benchmark = farm.db.call(move |db| db.benchmark_of_job(id)).await?;
    let job = &detail.job;
    let grid = Grid {
        job: job.id.to_string(),
        after,
        frames: detail.frame_list.iter().map(|f| f.frame).collect(),
        state: detail
            .frame_list
            .iter()
            .map(|f| state_code(f.state))
            .collect(),
        check: detail
            .frame_list
            .iter()
            .map(|f| check_code(f.verification))
            .collect(),
    };
    let data = script_safe(serde_json::to_string(&grid).expect("the grid serialises"));
    let now = protocol::now_ms();
    let p = &job.progress;
    let body = html! {
        nav class="crumbs" aria-label="Breadcrumb" { a href="/ui/jobs" { "Jobs" } " / " (job.name) }
        header class="job-head" {
            h1 { (job.name) " " span class={ "badge " (job.state) } id="job-state" { (job.state) } }
            div class="bulk" role="toolbar" aria-label="Job actions" {
                @for action in ["pause", "resume", "cancel", "requeue"] {
                    button type="button" data-action=(action) data-job=(job.id) { (action) }
                }
            }
        }
        @if let Some(reason) = &job.waiting {
            p class="waiting" id="job-waiting" role="status" { strong { "Waiting: " } (reason) }
        }
        dl class="facts" {
            div { dt { "Frames" } dd id="frames-done" { (p.done) " / " (job.frame_count) " rendered" } }
            div { dt { "Verified" } dd id="frames-verified" { (job.verification.verified) } }
            div { dt { "Failed" } dd id="frames-failed" { (p.failed) } }
            div { dt { "Renderer" } dd {
                (job.renderer.as_str())
                @if let Some(versions) = &job.renderer_version { " " (versions) }
            } }
            @if let Some(take) = &job.scene_options.take { div { dt { "Take" } dd { (take) } } }
            @if let Some(target) = &job.scene_options.render_target { div { dt { "Render target" } dd { (target) } } }
            div { dt { "Priority" } dd { (job.priority) } }
            div { dt { "Parity" } dd { (job.parity_percent) "%" } }
            div { dt { "Node class" } dd { (job.node_class.as_deref().unwrap_or("any")) } }
            div { dt { "Region" } dd { (job.region.as_deref().unwrap_or("any")) } }
            @if let Some(model) = &job.gpu_model { div { dt { "GPU model" } dd { (model) } } }
            @if let Some(vram) = job.min_vram_mib { div { dt { "GPU memory" } dd { "≥ " (vram) " MiB" } } }
            div { dt { "Submitted" } dd { (ago(now - job.created_ms)) } }
            div { dt { "ETA" } dd { (eta(job, now)) } }
            @if let Some(benchmark) = benchmark { div { dt { "Benchmark" } dd { a href={ "/ui/benchmarks/" (benchmark) } { "side by side" } } } }
            div { dt { "Cost report" } dd { a href={ "/ui/jobs/" (job.id) "/costs" } { "costs" } " · " a href={ "/api/v1/jobs/" (job.id) "/report.csv" } download { "CSV" } } }
        }
        (progress_bar(job.frame_count, p.done, job.verification.verified, p.failed))
        ul class="legend" aria-label="Frame colours" {
            @for (class, label) in [("queued", "queued"), ("rendering", "rendering"), ("rendered", "rendered"),
                ("verified", "verified"), ("disagreed", "disagreed"), ("failed", "failed"), ("cancelled", "cancelled")] {
                li { span class={ "swatch " (class) } {} (label) }
            }
        }
        div class="grid-wrap" {
            canvas id="grid" tabindex="0" role="img"
                aria-label="Every frame of the job, coloured by state; arrow keys move, Enter opens a frame" {}
            p id="grid-hover" aria-live="polite" {}
        }
        script type="application/json" id="grid-data" { (PreEscaped(data)) }
    };
    Ok(page(
        &job.name,
        Section::Jobs,
        Some((&principal, &session)),
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_cannot_end_its_script_element() {
        assert_eq!(
            script_safe(r#"{"name":"</script><b>"}"#.into()),
            r#"{"name":"<\/script><b>"}"#
        );
    }
}
