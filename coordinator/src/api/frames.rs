//! Downloading accepted frames: the API answers with a redirect to a
//! short-lived link to the coordinator's own copy, never with a store key or
//! credentials.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::auth::check_job;
use crate::auth::Principal;
use crate::farm::Farm;

/// `GET /api/v1/jobs/{id}/frames/{frame}/download`: `303 See Other` to a
/// link good for `grants.download_link_secs`.
pub async fn download(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<(String, i32)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((id, frame)) = path.map_err(|_| {
        ApiError::bad_request(
            "bad_frame_path",
            "the path is /api/v1/jobs/{job id}/frames/{frame number}/download",
        )
    })?;
    let id = super::jobs::job_id(Ok(Path(id)))?;
    check_job(&farm, &principal, id, "download frames").await?;
    let Some(key) = farm.db.call(move |db| db.accepted_copy(id, frame)).await? else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "frame_not_accepted",
            format!(
                "frame {frame} of job {id} has no accepted copy yet: it is downloadable once \
                 verified, or once the job is finished when it was not replicated"
            ),
        ));
    };
    let link = farm.download_link(&key).await.map_err(|error| {
        tracing::error!(%error, key, "cannot sign a download link");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the store cannot issue a download link now; try again",
        )
    })?;
    Ok((
        StatusCode::SEE_OTHER,
        [(header::LOCATION, link.to_string())],
    )
        .into_response())
}
