//! Workers: the list, and taking one off the blocklist.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use protocol::WorkerId;

use super::ApiError;
use super::auth::{owner_scope, require};
use crate::auth::{Principal, Role};
use crate::farm::Farm;
use crate::model::WorkerView;

/// Every worker the coordinator has seen, most recently seen first: all
/// of them for admins, a provider's own.
pub async fn list(
    State(farm): State<Farm>,
    principal: Principal,
) -> Result<Json<Vec<WorkerView>>, ApiError> {
    let owner = owner_scope(&principal, "list workers")?;
    let mut workers = farm.db.call(|db| db.list_workers()).await?;
    if let Some(owner) = owner {
        workers.retain(|worker| worker.info.owner == owner.as_str());
    }
    Ok(Json(workers))
}

/// `POST /api/v1/workers/{id}/reinstate`: take a worker off the blocklist
/// with a clean record; every frame it renders is verified again until it
/// has earned trust.
pub async fn reinstate(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<WorkerView>, ApiError> {
    require(&principal, "reinstate workers", &[Role::Admin])?;
    let Path(text) = path?;
    let id: WorkerId = text.parse().map_err(|_| {
        ApiError::bad_request(
            "bad_worker_id",
            format!("{text:?} is not a worker id; GET /api/v1/workers lists them"),
        )
    })?;
    let followup = farm.db.call(move |db| db.reinstate_worker(id)).await?;
    farm.follow(followup).await;
    let workers = farm.db.call(|db| db.list_workers()).await?;
    let view = workers
        .into_iter()
        .find(|w| w.info.id == id)
        .ok_or_else(|| ApiError::from(crate::db::DbError::NotFound(format!("worker {id}"))))?;
    Ok(Json(view))
}
