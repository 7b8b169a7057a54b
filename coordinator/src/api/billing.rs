//! Money: a job's cost report (JSON or CSV), its verdicts, and worker payouts.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;

use super::ApiError;
use super::auth::{check_job, owner_scope};
use super::jobs::job_id;
use crate::auth::Principal;
use crate::billing::{CostReport, Payout};
use crate::farm::Farm;
use crate::model::VerdictView;

/// `GET /api/v1/jobs/{id}/report`: every frame with its cost, and totals.
pub async fn report(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<CostReport>, ApiError> {
    let id = job_id(path)?;
    check_job(&farm, &principal, id, "read cost reports").await?;
    let currency = farm.config.billing.currency.clone();
    Ok(Json(
        farm.db
            .call(move |db| db.cost_report(id, &currency))
            .await?,
    ))
}

/// `GET /api/v1/jobs/{id}/report.csv`: the same report as CSV.
pub async fn report_csv(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let id = job_id(path)?;
    check_job(&farm, &principal, id, "read cost reports").await?;
    let currency = farm.config.billing.currency.clone();
    let report = farm
        .db
        .call(move |db| db.cost_report(id, &currency))
        .await?;
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        report.to_csv(),
    ))
}

/// `GET /api/v1/jobs/{id}/verdicts`: every comparison of copies, with numbers.
pub async fn verdicts(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<VerdictView>>, ApiError> {
    let id = job_id(path)?;
    check_job(&farm, &principal, id, "read verdicts").await?;
    farm.db.call(move |db| db.job_state_of(id)).await?;
    Ok(Json(farm.db.call(move |db| db.list_verdicts(id)).await?))
}

/// `GET /api/v1/payouts`: per worker, what it earned, holds in escrow and
/// forfeited. Every worker's for admins; a provider's own workers'.
pub async fn payouts(
    State(farm): State<Farm>,
    principal: Principal,
) -> Result<Json<Vec<Payout>>, ApiError> {
    let owner = owner_scope(&principal, "read payouts")?;
    let window_ms = farm
        .config
        .billing
        .verification_window_secs
        .saturating_mul(1000) as i64;
    let mut payouts = farm.db.call(move |db| db.payouts(window_ms)).await?;
    if let Some(owner) = owner {
        payouts.retain(|payout| payout.owner == owner.as_str());
    }
    Ok(Json(payouts))
}
