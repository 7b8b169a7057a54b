//! The jobs table: state, progress (rendered, verified, failed), name,
//! tenant, frames, priority (edited in place), renderer, node class, region,
//! submitted, ETA, cost so far, and why a job waits when no online worker
//! can render it; filters by state and text kept in the URL;
//! bulk pause, resume, cancel, requeue and priority.
//! The page reads the same scoped lists as `GET /api/v1/jobs`, and its
//! script follows the change feed from the position the table was read at.

use std::collections::HashMap;

use axum::extract::{Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::error::PageError;
use super::format::{ago, eta, progress_bar};
use super::layout::{Section, page};
use crate::api::auth::job_scope;
use crate::api::session::UiSession;
use crate::auth::Principal;
use crate::farm::Farm;
use crate::model::JobSummary;
use crate::money::Money;
use protocol::JobId;

/// The table's filters, from the URL.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    /// Only jobs in this state (`active` for queued, running and paused).
    pub state: Option<String>,
    /// Only jobs whose name or id contains this.
    pub q: Option<String>,
}

impl Filters {
    /// Whether `job` passes.
    fn keeps(&self, job: &JobSummary) -> bool {
        let state = match self.state.as_deref() {
            None | Some("") | Some("all") => true,
            Some("active") => !job.state.is_final(),
            Some(name) => job.state.as_str() == name,
        };
        let text = self.q.as_deref().map(str::trim).unwrap_or_default();
        let lower = text.to_lowercase();
        state
            && (text.is_empty()
                || job.name.to_lowercase().contains(&lower)
                || job.id.to_string().contains(&lower))
    }
}

/// States the filter offers.
const STATES: [&str; 8] = [
    "all",
    "active",
    "queued",
    "running",
    "paused",
    "done",
    "failed",
    "cancelled",
];

/// `GET /ui/jobs`.
pub async fn page_jobs(
    State(farm): State<Farm>,
    principal: Principal,
    session: UiSession,
    Query(filters): Query<Filters>,
) -> Result<Markup, PageError> {
    let tenant = job_scope(&principal, "list jobs")?.cloned();
    let chosen = filters.state.clone().unwrap_or_else(|| "all".to_owned());
    let query = filters.q.clone().unwrap_or_default();
    let (after, (shown, costs)) = farm
        .db
        .call(move |db| {
            db.snapshot(|db| {
                let jobs = match &tenant {
                    Some(tenant) => db.list_tenant_jobs(tenant)?,
                    None => db.list_jobs()?,
                };
                let shown: Vec<JobSummary> =
                    jobs.into_iter().filter(|job| filters.keeps(job)).collect();
                let costs = shown
                    .iter()
                    .map(|job| Ok((job.id, db.billed_so_far(job.id)?)))
                    .collect::<Result<HashMap<JobId, Money>, crate::db::DbError>>()?;
                Ok((shown, costs))
            })
        })
        .await?;
    let now = protocol::now_ms();
    let currency = &farm.config.billing.currency;
    let body = html! {
        h1 { "Jobs" }
        form class="filters" method="get" action="/ui/jobs" role="search" {
            label for="state" { "State" }
            select id="state" name="state" {
                @for state in STATES {
                    option value=(state) selected[state == chosen.as_str()] { (state) }
                }
            }
            label for="q" { "Search" }
            input id="q" name="q" type="search" value=(query) placeholder="name or id";
            button type="submit" { "Filter" }
        }
        div class="bulk" role="toolbar" aria-label="Actions on the selected jobs" {
            @for action in ["pause", "resume", "cancel", "requeue"] {
                button type="button" data-bulk=(action) { (action) }
            }
            label for="bulk-priority" { "Priority" }
            input id="bulk-priority" type="number" min="0" max="100" value="50";
            button type="button" data-bulk="priority" { "set priority" }
        }
        div class="scroll" {
            table id="jobs" data-after=(after) {
                thead { tr {
                    th { input type="checkbox" id="select-all" aria-label="Select every job shown"; }
                    th { "State" } th { "Progress" } th { "Name" } th { "Tenant" } th { "Frames" } th { "Priority" }
                    th { "Renderer" } th { "Node class" } th { "Region" } th { "Submitted" } th { "ETA" }
                    th { "Cost so far (" (currency) ")" }
                } }
                tbody {
                    @for job in &shown { (row(job, costs.get(&job.id).copied().unwrap_or(Money::ZERO), now)) }
                }
            }
        }
        @if shown.is_empty() {
            p class="empty" { "No jobs match. Submit one with `farm submit` or Blender's Submit to Farm." }
        }
    };
    Ok(page(
        "Jobs",
        Section::Jobs,
        Some((&principal, &session)),
        body,
    ))
}

/// One job's row; its counts travel as data attributes for the script.
fn row(job: &JobSummary, cost: Money, now: i64) -> Markup {
    let p = &job.progress;
    let v = &job.verification;
    let counts = serde_json::json!({
        "pending": p.pending, "rendering": p.rendering, "done": p.done,
        "failed": p.failed, "cancelled": p.cancelled, "verified": v.verified,
    });
    html! {
        tr data-job=(job.id) data-counts=(counts) data-created=(job.created_ms) data-total=(job.frame_count) {
            td { input type="checkbox" class="pick" aria-label={ "Select " (job.name) }; }
            td { span class={ "badge " (job.state) } data-field="state" { (job.state) } }
            td data-field="progress" { (progress_bar(job.frame_count, p.done, v.verified, p.failed)) }
            td {
                a href={ "/ui/jobs/" (job.id) } { (job.name) }
                @if let Some(reason) = &job.waiting { small class="waiting" data-field="waiting" { "waiting: " (reason) } }
            }
            td { (job.tenant.as_deref().unwrap_or("admin")) }
            td data-field="frames" { (p.done) " / " (job.frame_count) }
            td {
                input type="number" class="priority" min="0" max="100" value=(job.priority)
                    disabled[job.state.is_final()] aria-label={ "Priority of " (job.name) };
            }
            td { (job.renderer.as_str()) }
            td { (job.node_class.as_deref().unwrap_or("any")) }
            td { (job.region.as_deref().unwrap_or("any")) }
            td { time datetime=(job.created_ms) { (ago(now - job.created_ms)) } }
            td data-field="eta" { (eta(job, now)) }
            td data-field="cost" { (cost) }
        }
    }
}
