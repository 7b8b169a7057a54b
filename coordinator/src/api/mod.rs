//! The HTTP API under `/api/v1`.

mod billing;
mod error;
mod jobs;
mod openapi;
mod scenes;
mod workers;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use error::ApiError;

use crate::farm::Farm;

/// JSON bodies (job submissions) are small; scenes are streamed separately.
const JSON_BODY_LIMIT: usize = 1 << 20;

/// The API router.
pub fn router(farm: Farm) -> Router {
    Router::new()
        .route("/api/v1/health", get(|| async { "ok" }))
        .route("/api/v1/openapi.json", get(openapi::spec))
        .route(
            "/api/v1/scenes",
            post(scenes::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/jobs", post(jobs::create).get(jobs::list))
        .route("/api/v1/jobs/{id}", get(jobs::show))
        .route("/api/v1/jobs/{id}/cancel", post(jobs::cancel))
        .route("/api/v1/jobs/{id}/pause", post(jobs::pause))
        .route("/api/v1/jobs/{id}/resume", post(jobs::resume))
        .route("/api/v1/jobs/{id}/requeue", post(jobs::requeue))
        .route("/api/v1/jobs/{id}/report", get(billing::report))
        .route("/api/v1/jobs/{id}/report.csv", get(billing::report_csv))
        .route("/api/v1/jobs/{id}/verdicts", get(billing::verdicts))
        .route("/api/v1/workers", get(workers::list))
        .route("/api/v1/workers/{id}/reinstate", post(workers::reinstate))
        .route("/api/v1/payouts", get(billing::payouts))
        .fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "no_such_route",
                "no such API route; see /api/v1/openapi.json for the routes",
            )
        })
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .with_state(farm)
}
