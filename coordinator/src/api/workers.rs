//! Workers: the list, draining, the blocklist and reinstating.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
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

/// `POST /api/v1/workers/{id}/blocklist`'s body.
#[derive(Debug, serde::Deserialize)]
pub struct BlocklistRequest {
    /// Why, for the worker's record and its operator (1 to 500 characters).
    pub reason: String,
}

/// The worker `text` names, or a 400 saying how worker ids look.
fn worker_id(text: &str) -> Result<WorkerId, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request(
            "bad_worker_id",
            format!("{text:?} is not a worker id; GET /api/v1/workers lists them"),
        )
    })
}

/// The worker `id` as listed.
async fn view(farm: &Farm, id: WorkerId) -> Result<WorkerView, ApiError> {
    let workers = farm.db.call(|db| db.list_workers()).await?;
    workers
        .into_iter()
        .find(|w| w.info.id == id)
        .ok_or_else(|| ApiError::from(crate::db::DbError::NotFound(format!("worker {id}"))))
}

/// `POST /api/v1/workers/{id}/blocklist`: an admin takes a worker off the
/// farm: no more tasks, its current task goes elsewhere, its unverified
/// frames are rendered again.
pub async fn blocklist(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<BlocklistRequest>, JsonRejection>,
) -> Result<Json<WorkerView>, ApiError> {
    require(&principal, "blocklist workers", &[Role::Admin])?;
    let Path(text) = path?;
    let id = worker_id(&text)?;
    let Json(request) = body?;
    let reason = request.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "bad_reason",
            "say why the worker is blocklisted in `reason` (1 to 500 characters); its operator sees it",
        ));
    }
    let reason = format!("blocklisted by an admin: {reason}");
    let followup = farm
        .db
        .call(move |db| db.blocklist_worker(id, &reason))
        .await?;
    farm.follow(followup).await;
    view(&farm, id).await.map(Json)
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
    let id = worker_id(&text)?;
    let followup = farm.db.call(move |db| db.reinstate_worker(id)).await?;
    farm.follow(followup).await;
    view(&farm, id).await.map(Json)
}

/// The worker `id`, if the principal may act on it: any worker for an
/// admin, its own for a provider (another's is not found).
async fn own_worker(
    farm: &Farm,
    principal: &Principal,
    text: &str,
    action: &str,
) -> Result<WorkerId, ApiError> {
    let owner = owner_scope(principal, action)?;
    let id = worker_id(text)?;
    let worker = view(farm, id).await?;
    match owner {
        Some(owner) if worker.info.owner != owner.as_str() => {
            Err(crate::db::DbError::NotFound(format!("worker {id}")).into())
        }
        _ => Ok(id),
    }
}

/// `POST /api/v1/workers/{id}/drain`: an admin, or the worker's provider,
/// takes it off the farm gently: the task it is rendering finishes and is
/// paid, copies directed at it go to other workers, it takes nothing more.
pub async fn drain(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<WorkerView>, ApiError> {
    let Path(text) = path?;
    let id = own_worker(&farm, &principal, &text, "drain workers").await?;
    let followup = farm.db.call(move |db| db.drain_worker(id)).await?;
    farm.follow(followup).await;
    view(&farm, id).await.map(Json)
}

/// `POST /api/v1/workers/{id}/undrain`: the drain is over; it takes tasks
/// again.
pub async fn undrain(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<WorkerView>, ApiError> {
    let Path(text) = path?;
    let id = own_worker(&farm, &principal, &text, "undrain workers").await?;
    let followup = farm.db.call(move |db| db.undrain_worker(id)).await?;
    farm.follow(followup).await;
    view(&farm, id).await.map(Json)
}
