//! Previews of rendered copies and parity heat maps, as PNG from the store:
//! the coordinator made them in the background (`crate::preview`, the
//! checker), so answering decodes nothing.

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use object_store::ObjectStoreExt;
use serde::Deserialize;
use storage::PreviewSize;

use super::ApiError;
use super::auth::check_job;
use crate::auth::Principal;
use crate::farm::Farm;

/// How long a browser may keep a preview: made once, never changed.
const CACHE_CONTROL: &str = "private, max-age=3600";

/// The query of a copy's preview.
#[derive(Debug, Deserialize)]
pub struct PreviewQuery {
    /// `thumb` (the default) or `full`.
    size: Option<String>,
}

/// The query of a heat map: the two copies compared.
#[derive(Debug, Deserialize)]
pub struct HeatmapQuery {
    /// One copy's replica number.
    a: u32,
    /// The other copy's replica number.
    b: u32,
}

/// The PNG object at `key`, or a 404 saying `missing` when there is none.
async fn png(farm: &Farm, key: storage::ObjectPath, missing: String) -> Result<Response, ApiError> {
    let bytes: Bytes = match farm.store.get(&key).await {
        Ok(found) => found.bytes().await,
        Err(error) => Err(error),
    }
    .map_err(|error| match error {
        object_store::Error::NotFound { .. } => {
            ApiError::new(StatusCode::NOT_FOUND, "no_preview", missing)
        }
        error => {
            tracing::error!(%error, %key, "cannot read a preview");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the store cannot be read now; try again",
            )
        }
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, CACHE_CONTROL),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /api/v1/jobs/{id}/frames/{frame}/copies/{replica}/preview?size=thumb|full`:
/// the tone-mapped PNG of one rendered copy (thumbnail by default).
pub async fn preview(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<(String, i32, u32)>, PathRejection>,
    query: Result<Query<PreviewQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path((id, frame, replica)) = path.map_err(|_| {
        ApiError::bad_request(
            "bad_preview_path",
            "the path is /api/v1/jobs/{job id}/frames/{frame number}/copies/{replica number}/preview",
        )
    })?;
    let Query(query) = query?;
    let size = match query.size.as_deref() {
        None => PreviewSize::Thumb,
        Some(text) => PreviewSize::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "bad_preview_size",
                format!("size must be `thumb` or `full`, not {text:?}"),
            )
        })?,
    };
    let id = super::jobs::job_id(Ok(Path(id)))?;
    check_job(&farm, &principal, id, "see previews").await?;
    let missing = format!(
        "copy {replica} of frame {frame} of job {id} has no preview: previews are made shortly \
         after a copy is delivered and taken in; try again later"
    );
    png(
        &farm,
        storage::preview_key(id, frame, replica, size),
        missing,
    )
    .await
}

/// `GET /api/v1/jobs/{id}/frames/{frame}/heatmap?a=0&b=1`: the parity heat
/// map of two copies of a frame (either order), as the checker drew it.
pub async fn heatmap(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<(String, i32)>, PathRejection>,
    query: Result<Query<HeatmapQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path((id, frame)) = path.map_err(|_| {
        ApiError::bad_request(
            "bad_frame_path",
            "the path is /api/v1/jobs/{job id}/frames/{frame number}/heatmap",
        )
    })?;
    let pair = query
        .ok()
        .map(|Query(q)| (q.a.min(q.b), q.a.max(q.b)))
        .filter(|(a, b)| a != b);
    let Some((a, b)) = pair else {
        return Err(ApiError::bad_request(
            "bad_heatmap_pair",
            "name the two copies compared by their replica numbers, as ?a=0&b=1 (two different ones)",
        ));
    };
    let id = super::jobs::job_id(Ok(Path(id)))?;
    check_job(&farm, &principal, id, "see heat maps").await?;
    let missing = format!(
        "copies {a} and {b} of frame {frame} of job {id} have no heat map: it is drawn when the \
         parity checker compares the two copies, after both are delivered"
    );
    png(&farm, storage::heatmap_key(id, frame, a, b), missing).await
}
