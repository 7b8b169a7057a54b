//! A job's costs: cost per frame with the running total, the render time
//! distribution, what verification cost on top, and the CSV; read from the
//! same report as `GET /api/v1/jobs/{id}/report`, computed afresh so it
//! shows the cost so far of a job still rendering.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use maud::{Markup, html};

use super::charts::{bars_with_cumulative, histogram};
use super::error::PageError;
use super::layout::{Section, page};
use crate::api::auth::check_job;
use crate::api::session::UiSession;
use crate::auth::Principal;
use crate::estimate::EstimateCheck;
use crate::farm::Farm;
use crate::money::MICROS_PER_UNIT;

/// The estimate a job was submitted with, against what it cost and took.
fn estimate_text(estimate: &EstimateCheck, currency: &str) -> String {
    let cost = match &estimate.estimated_cost_micros {
        Some(r) => format!("{} {currency} ({}–{})", r.typical, r.low, r.high),
        None => "no history for a cost".to_owned(),
    };
    let time = match &estimate.estimated_time_secs {
        Some(r) => format!(", {:.0} s ({:.0}–{:.0} s)", r.typical, r.low, r.high),
        None => String::new(),
    };
    let took = estimate
        .actual_time_secs
        .map(|secs| format!(", took {secs:.0} s"))
        .unwrap_or_default();
    format!(
        "{cost}{time}; billed {} {currency}{took}",
        estimate.actual_cost_micros
    )
}

/// `GET /ui/jobs/{id}/costs`.
pub async fn page_costs(
    State(farm): State<Farm>,
    principal: Principal,
    session: UiSession,
    path: Result<Path<String>, PathRejection>,
) -> Result<Markup, PageError> {
    let id = crate::api::job_id(path)?;
    check_job(&farm, &principal, id, "read cost reports").await?;
    let currency = farm.config.billing.currency.clone();
    let report = farm
        .db
        .call(move |db| db.cost_report(id, &currency))
        .await?;
    let totals = &report.totals;
    let billed: Vec<_> = report.frames.iter().filter(|f| f.copies > 0).collect();
    let labels: Vec<i32> = billed.iter().map(|f| f.frame).collect();
    let costs: Vec<f64> = billed
        .iter()
        .map(|f| f.cost_micros.0 as f64 / MICROS_PER_UNIT as f64)
        .collect();
    let seconds: Vec<f64> = billed.iter().map(|f| f.render_seconds).collect();
    // Where the billed frames were rendered: frames per region and class.
    let mut places: std::collections::BTreeMap<String, usize> = Default::default();
    for frame in &billed {
        let place = format!(
            "{} ({})",
            frame.region.as_deref().unwrap_or("?"),
            frame.node_class.as_deref().unwrap_or("?")
        );
        *places.entry(place).or_default() += 1;
    }
    let places: Vec<String> = places
        .into_iter()
        .map(|(place, n)| format!("{place}: {n}"))
        .collect();
    let body = html! {
        nav class="crumbs" aria-label="Breadcrumb" {
            a href="/ui/jobs" { "Jobs" } " / " a href={ "/ui/jobs/" (id) } { (report.job_name) } " / costs"
        }
        h1 { "Costs of " (report.job_name) " " span class={ "badge " (report.state) } { (report.state) } }
        dl class="facts" {
            div { dt { "Billed so far" } dd id="cost-total" { (totals.cost_micros) " " (report.currency) } }
            div { dt { "Frames billed" } dd { (billed.len()) " of " (totals.frames) } }
            div { dt { "Billed render time" } dd { (format!("{:.2} s", totals.billed_render_seconds)) } }
            div { dt { "Render time in all" } dd { (format!("{:.2} s", totals.total_render_seconds)) } }
            div { dt { "Verification overhead" } dd { (totals.verification_overhead_micros) " " (report.currency)
                " (" (format!("{:.1}", totals.verification_overhead_percent)) "%)" } }
            div { dt { "Rendered in" } dd id="rendered-in" { @if places.is_empty() { "—" } @else { (places.join(", ")) } } }
            @if let Some(estimate) = &report.estimate {
                div { dt { "Estimated on " (estimate.node_class) } dd id="estimate" { (estimate_text(estimate, &report.currency)) } }
            }
            div { dt { "Frames replicated" } dd { (totals.frames_replicated) " (" (format!("{:.0}", totals.replication_percent)) "%)" } }
            div { dt { "Report" } dd { a href={ "/api/v1/jobs/" (id) "/report.csv" } download { "CSV" } } }
        }
        (bars_with_cumulative("Cost per frame", &labels, &costs, &report.currency))
        (histogram("Render time per frame", &seconds, 10, "s"))
        p class="empty" { "Verification overhead is what the parity copies, arbitration and rejected renders cost the farm; you are billed one copy per frame." }
    };
    Ok(page(
        &format!("Costs of {}", report.job_name),
        Section::Jobs,
        Some((&principal, &session)),
        body,
    ))
}
