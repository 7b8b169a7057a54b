//! The HTTP API under `/api/v1`.

pub(crate) mod auth;
mod benchmark_reference;
pub(crate) mod benchmarks;
mod billing;
mod bundles;
mod enrollments;
mod error;
mod estimate;
mod events;
mod frames;
mod jobs;
mod node_classes;
mod openapi;
mod previews;
mod scenes;
pub mod session;
mod spool;
mod submit;
mod tokens;
mod workers;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};

pub use auth::Unauthenticated;
pub use error::ApiError;
pub(crate) use jobs::job_id;

use crate::farm::Farm;

/// JSON bodies (job submissions) are small; scenes are streamed separately.
const JSON_BODY_LIMIT: usize = 1 << 20;

/// A bundle manifest lists up to `jobs.max_bundle_files` files (about 150
/// bytes each).
const MANIFEST_BODY_LIMIT: usize = 16 << 20;

/// The API router. Every route but health, the OpenAPI document and a
/// worker's enrollment (which carries its enrollment token) needs a bearer
/// token.
pub fn router(farm: Farm) -> Router {
    let protected = Router::new()
        .route(
            "/api/v1/scenes",
            post(scenes::upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/v1/bundles",
            post(bundles::create).layer(DefaultBodyLimit::max(MANIFEST_BODY_LIMIT)),
        )
        .route("/api/v1/bundles/{id}", get(bundles::show))
        .route(
            "/api/v1/blobs/{hash}",
            axum::routing::put(bundles::upload_blob).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/farm", get(submit::offer))
        .route("/api/v1/events", get(events::stream))
        .route("/api/v1/sign-in-links", post(session::create_link))
        .route("/api/v1/jobs", post(submit::create).get(jobs::list))
        .route("/api/v1/jobs/validate", post(submit::validate_submission))
        .route("/api/v1/jobs/estimate", post(estimate::estimate))
        .route("/api/v1/jobs/{id}", get(jobs::show))
        .route(
            "/api/v1/benchmarks",
            post(benchmarks::create).get(benchmarks::list),
        )
        .route("/api/v1/benchmarks/{id}", get(benchmarks::show))
        .route(
            "/api/v1/benchmarks/{id}/report.csv",
            get(benchmarks::report_csv),
        )
        .route(
            "/api/v1/benchmarks/{id}/reference/{frame}",
            axum::routing::put(benchmark_reference::upload).layer(DefaultBodyLimit::max(
                benchmark_reference::REFERENCE_FRAME_LIMIT,
            )),
        )
        .route("/api/v1/jobs/{id}/cancel", post(jobs::cancel))
        .route("/api/v1/jobs/{id}/pause", post(jobs::pause))
        .route("/api/v1/jobs/{id}/resume", post(jobs::resume))
        .route("/api/v1/jobs/{id}/requeue", post(jobs::requeue))
        .route("/api/v1/jobs/{id}/priority", post(jobs::set_priority))
        .route(
            "/api/v1/jobs/{id}/frames/{frame}/download",
            get(frames::download),
        )
        .route(
            "/api/v1/jobs/{id}/frames/{frame}/copies/{replica}/preview",
            get(previews::preview),
        )
        .route(
            "/api/v1/jobs/{id}/frames/{frame}/heatmap",
            get(previews::heatmap),
        )
        .route("/api/v1/jobs/{id}/report", get(billing::report))
        .route("/api/v1/jobs/{id}/report.csv", get(billing::report_csv))
        .route("/api/v1/jobs/{id}/verdicts", get(billing::verdicts))
        .route("/api/v1/workers", get(workers::list))
        .route("/api/v1/workers/{id}/reinstate", post(workers::reinstate))
        .route("/api/v1/workers/{id}/blocklist", post(workers::blocklist))
        .route("/api/v1/workers/{id}/drain", post(workers::drain))
        .route("/api/v1/workers/{id}/undrain", post(workers::undrain))
        .route("/api/v1/node-classes", get(node_classes::list))
        .route(
            "/api/v1/node-classes/{name}",
            axum::routing::put(node_classes::put).delete(node_classes::delete),
        )
        .route("/api/v1/payouts", get(billing::payouts))
        .route("/api/v1/tokens", post(tokens::create).get(tokens::list))
        .route("/api/v1/tokens/{id}/revoke", post(tokens::revoke))
        .route(
            "/api/v1/enrollments",
            post(enrollments::create).get(enrollments::list),
        )
        .route("/api/v1/enrollments/{id}/revoke", post(enrollments::revoke))
        .route_layer(middleware::from_fn_with_state(
            farm.clone(),
            auth::require_token,
        ));
    // A local-folder store is served here; its grants are the credential.
    let storage = farm.storage.router().unwrap_or_default();
    Router::new()
        .route("/api/v1/health", get(|| async { "ok" }))
        .route("/api/v1/openapi.json", get(openapi::spec))
        // The enrollment token in the body is this route's credential.
        .route("/api/v1/workers/enroll", post(enrollments::enroll))
        .merge(protected)
        .merge(crate::ui::router(farm.clone()))
        .with_state(farm)
        .merge(storage)
        .fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "no_such_route",
                "no such API route; see /api/v1/openapi.json for the routes",
            )
        })
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
}
