//! One frame: its states, every delivered copy side by side (a tone-mapped
//! preview with an exposure slider, who rendered it, on what device, in how
//! long, at what cost, how the checker judged it, its log tail), and for a
//! replicated frame each comparison's numbers and frame-diff heat map, so a
//! person can see why a worker was outvoted. Images come from the preview
//! routes; nothing is decoded to show this page.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use maud::{Markup, html};

use super::error::PageError;
use super::format::ago;
use super::layout::{Section, page};
use crate::api::ApiError;
use crate::api::auth::check_job;
use crate::api::session::UiSession;
use crate::auth::Principal;
use crate::db::CopyView;
use crate::farm::Farm;
use crate::model::VerdictView;

/// `GET /ui/jobs/{id}/frames/{frame}`.
pub async fn page_frame(
    State(farm): State<Farm>,
    principal: Principal,
    session: UiSession,
    path: Result<Path<(String, i32)>, PathRejection>,
) -> Result<Markup, PageError> {
    let Path((text, number)) = path.map_err(ApiError::from)?;
    let id = text
        .parse()
        .map_err(|_| ApiError::bad_request("bad_job_id", format!("{text:?} is not a job id")))?;
    check_job(&farm, &principal, id, "see jobs").await?;
    let (detail, copies, verdicts) = farm
        .db
        .call(move |db| {
            let verdicts: Vec<VerdictView> = db
                .list_verdicts(id)?
                .into_iter()
                .filter(|v| v.frame == number)
                .collect();
            Ok((db.job_detail(id)?, db.frame_copies(id, number)?, verdicts))
        })
        .await?;
    let frame = detail
        .frame_list
        .iter()
        .find(|f| f.frame == number)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_such_frame",
                format!("job {id} has no frame {number}"),
            )
        })?;
    let job = &detail.job;
    let now = protocol::now_ms();
    let base = format!("/api/v1/jobs/{id}/frames/{number}");
    let body = html! {
        nav class="crumbs" aria-label="Breadcrumb" {
            a href="/ui/jobs" { "Jobs" } " / " a href={ "/ui/jobs/" (id) } { (job.name) } " / frame " (number)
        }
        h1 { "Frame " (number) " "
            span class={ "badge " (frame.state) } { (frame.state) } " "
            span class={ "badge " (frame.verification) } { (frame.verification) }
        }
        @if let Some(error) = &frame.error {
            details open { summary { "Why it failed" } pre class="log" { (error) } }
        }
        div class="exposure" {
            label for="exposure" { "Exposure" }
            input id="exposure" type="range" min="-4" max="4" step="0.5" value="0" aria-describedby="exposure-value";
            output id="exposure-value" for="exposure" { "0 EV" }
        }
        @if copies.is_empty() {
            p class="empty" { "No copy of this frame has been delivered yet." }
        }
        div class="copies" {
            @for copy in &copies { (copy_card(&base, copy, now)) }
        }
        @for verdict in &verdicts { (verdict_card(&base, verdict)) }
    };
    Ok(page(
        &format!("{} frame {number}", job.name),
        Section::Jobs,
        Some((&principal, &session)),
        body,
    ))
}

/// One copy: its preview and what the coordinator knows of it.
fn copy_card(base: &str, copy: &CopyView, now: i64) -> Markup {
    let who = copy
        .worker_name
        .clone()
        .unwrap_or_else(|| copy.worker_id.to_string());
    html! {
        figure class="card copy" data-replica=(copy.replica) {
            a href={ (base) "/copies/" (copy.replica) "/preview?size=full" } {
                img class="preview" src={ (base) "/copies/" (copy.replica) "/preview?size=full" }
                    alt={ "Copy " (copy.replica) " of the frame, rendered by " (who) };
            }
            figcaption {
                strong { "Copy " (copy.replica) } " · " span class={ "badge " (copy.status) } { (copy.status) }
                dl class="facts" {
                    div { dt { "Worker" } dd { (who) } }
                    div { dt { "Device" } dd { (copy.device) } }
                    div { dt { "Render time" } dd { (format!("{:.2} s", copy.render_ms as f64 / 1000.0)) } }
                    div { dt { "Cost" } dd { (copy.cost_micros) } }
                    div { dt { "Delivered" } dd { (ago(now - copy.created_ms)) } }
                }
                @if let Some(tail) = &copy.log_tail {
                    details { summary { "Log tail" } pre class="log" { (tail) } }
                }
            }
        }
    }
}

/// One comparison: the verdict, its numbers and the heat map.
fn verdict_card(base: &str, verdict: &VerdictView) -> Markup {
    let n = &verdict.numbers;
    let number = |value: Option<f64>| value.map_or_else(|| "—".to_owned(), |v| format!("{v:.6}"));
    html! {
        section class="card verdict" data-verdict=(n.verdict) {
            h2 { "Copy " (verdict.replica_a) " against copy " (verdict.replica_b) ": " (n.verdict) }
            div class="verdict-body" {
                img class="heatmap" src={ (base) "/heatmap?a=" (verdict.replica_a) "&b=" (verdict.replica_b) }
                    alt="Where the two copies differ: dark where they agree, bright where they differ";
                div {
                    dl class="facts" {
                        div { dt { "Mean error" } dd { (number(n.mean_error)) } }
                        div { dt { "RMS error" } dd { (number(n.rms_error)) } }
                        div { dt { "PSNR" } dd { (number(n.psnr)) } }
                        div { dt { "Max error" } dd { (number(n.max_error)) } }
                        div { dt { "FLIP, mean" } dd { (number(n.flip_mean)) } }
                        div { dt { "FLIP, worst tile" } dd { (number(n.flip_worst_tile_mean)) } }
                        @if let Some((x, y, error)) = n.worst_tile {
                            div { dt { "Worst tile" } dd { "(" (x) ", " (y) "): " (format!("{error:.6}")) } }
                        }
                    }
                    @if !n.reasons.is_empty() {
                        ul class="reasons" { @for reason in &n.reasons { li { (reason) } } }
                    }
                }
            }
        }
    }
}
