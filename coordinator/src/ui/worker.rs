//! One worker's page, bookmarkable: everything the workers table shows of
//! it (with the same actions), what it announced (hostname, renderers,
//! devices), its record with the parity checker, and the latest copies it
//! delivered with how each was judged. An admin sees any worker and the
//! jobs' names; a provider its own workers, with job ids only (job names
//! belong to the studios).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use maud::{Markup, html};

use super::error::PageError;
use super::format::{ago, duration};
use super::layout::{Section, page};
use super::workers::{row, standing, table};
use crate::api::ApiError;
use crate::api::auth::owner_scope;
use crate::api::session::UiSession;
use crate::auth::{Principal, Role};
use crate::db::DbError;
use crate::farm::Farm;

/// How many delivered copies the page lists.
const COPIES_SHOWN: usize = 100;

/// A render time: tenths of a second under a minute.
fn seconds(ms: i64) -> String {
    if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        duration(ms as f64 / 1000.0)
    }
}

/// `GET /ui/workers/{id}`.
pub async fn page_worker(
    State(farm): State<Farm>,
    principal: Principal,
    session: UiSession,
    path: Result<Path<String>, PathRejection>,
) -> Result<Markup, PageError> {
    let owner = owner_scope(&principal, "see workers")?;
    let Path(text) = path.map_err(ApiError::from)?;
    let id: protocol::WorkerId = text.parse().map_err(|_| {
        ApiError::bad_request(
            "bad_worker_id",
            format!("{text:?} is not a worker id; the workers page lists them"),
        )
    })?;
    let window_ms = farm
        .config
        .billing
        .verification_window_secs
        .saturating_mul(1000) as i64;
    let (after, (worker, payout, copies)) = farm
        .db
        .call(move |db| {
            db.snapshot(|db| {
                let worker = db.list_workers()?.into_iter().find(|w| w.info.id == id);
                let payout = db
                    .payouts(window_ms)?
                    .into_iter()
                    .find(|p| p.worker_id == id);
                Ok((worker, payout, db.worker_copies(id, COPIES_SHOWN)?))
            })
        })
        .await?;
    let not_found = || PageError::from(DbError::NotFound(format!("worker {id}")));
    let worker = worker.ok_or_else(not_found)?;
    if owner
        .as_ref()
        .is_some_and(|owner| worker.info.owner != owner.as_str())
    {
        return Err(not_found());
    }
    let admin = principal.role() == Role::Admin;
    let now = protocol::now_ms();
    let info = &worker.info;
    let reputation = &worker.reputation;
    let renderers: Vec<String> = info
        .renderers
        .iter()
        .map(|r| format!("{} {}", r.renderer.as_str(), r.version))
        .collect();
    let body = html! {
        p class="crumbs" { a href="/ui/workers" { "Workers" } " / " (info.name) }
        h1 { (info.name) " " span class={ "badge " (standing(&worker)) } { (standing(&worker)) } }
        (table(after, admin, row(&worker, payout.as_ref(), admin, now)))
        dl class="facts" {
            div { dt { "Id" } dd { code { (info.id) } } }
            div { dt { "Hostname" } dd { (info.hostname) } }
            div { dt { "Renderers" } dd { (renderers.join(", ")) } }
            div { dt { "CPU" } dd { (info.cpu.model) " (" (info.cpu.cores) " cores)" } }
            div { dt { "GPUs" } dd {
                @if info.gpus.is_empty() { "none" }
                @for gpu in &info.gpus { (gpu.name) " " (gpu.memory_mib) " MiB" br; }
            } }
            div { dt { "Billing class" } dd { (reputation.device_class) " (compared within " (reputation.device_family) ")" } }
            div { dt { "First seen" } dd { (ago(now - worker.first_seen_ms)) } }
            @if let Some(since) = worker.draining_ms { div { dt { "Draining since" } dd { (ago(now - since)) } } }
            @if let Some(check) = &worker.class_check {
                div { dt { "Class check" } dd id="class-check" {
                    span class={ "badge " (check.state.as_str()) } { (check.state.as_str()) }
                    @if let Some(note) = &check.note { " " (note) }
                } }
            }
            @if let Some(reason) = &reputation.blocklist_reason { div { dt { "Blocklisted" } dd { (reason) } } }
            @if let Some(refusal) = &reputation.last_refusal { div { dt { "Last refused event" } dd { (refusal) } } }
            @if let Some(p) = &payout {
                div { dt { "Frames" } dd { (p.frames_delivered) " delivered, " (p.frames_verified) " verified, " (p.frames_wrong) " wrong" } }
                div { dt { "Earned" } dd { (p.earned_micros) " (held " (p.held_micros) ", forfeited " (p.forfeited_micros) ")" } }
            }
        }
        h2 { "Latest copies" }
        div class="scroll" {
            table id="copies" {
                thead { tr {
                    th { "Job" } th { "Frame" } th { "Copy" } th { "Device" } th { "Render time" }
                    th { "Cost" } th { "Verdict" } th { "Delivered" }
                } }
                tbody {
                    @for copy in &copies {
                        tr {
                            @if admin {
                                td { a href={ "/ui/jobs/" (copy.job_id) } { (copy.job_name) } }
                                td { a href={ "/ui/jobs/" (copy.job_id) "/frames/" (copy.frame) } { (copy.frame) } }
                            } @else {
                                td { code { (copy.job_id) } }
                                td { (copy.frame) }
                            }
                            td { (copy.replica) }
                            td { (copy.device) }
                            td { (seconds(copy.render_ms)) }
                            td { (copy.cost_micros) }
                            td { span class={ "badge " (copy.status) } { (copy.status) } }
                            td { (ago(now - copy.created_ms)) }
                        }
                    }
                }
            }
        }
        @if copies.is_empty() {
            p class="empty" { "No copies delivered yet." }
        }
    };
    Ok(page(
        &info.name,
        Section::Workers,
        Some((&principal, &session)),
        body,
    ))
}
