//! `GET /api/v1/workers`.

use axum::Json;
use axum::extract::State;

use super::ApiError;
use crate::farm::Farm;
use crate::model::WorkerView;

/// Every worker the coordinator has seen, most recently seen first.
pub async fn list(State(farm): State<Farm>) -> Result<Json<Vec<WorkerView>>, ApiError> {
    Ok(Json(farm.db.call(|db| db.list_workers()).await?))
}
