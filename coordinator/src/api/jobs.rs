//! Jobs: list, show, and the wrangler's controls.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use protocol::{Control, JobId};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::{check_job, job_scope};
use super::submit::checked_priority;
use crate::auth::Principal;
use crate::farm::Farm;
use crate::model::{JobDetail, JobSummary};
use crate::state::JobState;

pub(crate) fn job_id(path: Result<Path<String>, PathRejection>) -> Result<JobId, ApiError> {
    let Path(text) = path?;
    text.parse().map_err(|_| {
        ApiError::bad_request(
            "bad_job_id",
            format!("{text:?} is not a job id; job ids look like 0190a1b2-…"),
        )
    })
}

/// `GET /api/v1/jobs`: every job for admins, a submitter's tenant's jobs.
pub async fn list(
    State(farm): State<Farm>,
    principal: Principal,
) -> Result<Json<Vec<JobSummary>>, ApiError> {
    let tenant = job_scope(&principal, "list jobs")?.cloned();
    Ok(Json(
        farm.db
            .call(move |db| match tenant {
                Some(tenant) => db.list_tenant_jobs(&tenant),
                None => db.list_jobs(),
            })
            .await?,
    ))
}

/// `GET /api/v1/jobs/{id}`.
pub async fn show(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<JobDetail>, ApiError> {
    let id = job_id(path)?;
    check_job(&farm, &principal, id, "see jobs").await?;
    Ok(Json(farm.db.call(move |db| db.job_detail(id)).await?))
}

/// A control's answer: the job's state afterwards.
#[derive(Debug, Serialize, Deserialize)]
pub struct ControlAnswer {
    /// The job.
    pub id: JobId,
    /// Its state now.
    pub state: JobState,
    /// Frames put back in the queue (requeue only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requeued_frames: Option<u64>,
}

/// `POST /api/v1/jobs/{id}/cancel`.
pub async fn cancel(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ControlAnswer>, ApiError> {
    let id = job_id(path)?;
    check_job(&farm, &principal, id, "cancel jobs").await?;
    let state = farm.db.call(move |db| db.cancel_job(id)).await?;
    farm.broadcast(Control::JobCancelled { job_id: id }).await?;
    Ok(Json(ControlAnswer {
        id,
        state,
        requeued_frames: None,
    }))
}

/// `POST /api/v1/jobs/{id}/pause`.
pub async fn pause(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ControlAnswer>, ApiError> {
    let id = job_id(path)?;
    check_job(&farm, &principal, id, "pause jobs").await?;
    let state = farm.db.call(move |db| db.pause_job(id)).await?;
    farm.broadcast(Control::JobPaused { job_id: id }).await?;
    Ok(Json(ControlAnswer {
        id,
        state,
        requeued_frames: None,
    }))
}

/// `POST /api/v1/jobs/{id}/resume`.
pub async fn resume(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ControlAnswer>, ApiError> {
    let id = job_id(path)?;
    check_job(&farm, &principal, id, "resume jobs").await?;
    let state = farm.db.call(move |db| db.resume_job(id)).await?;
    farm.broadcast(Control::JobResumed { job_id: id }).await?;
    farm.wake_dispatcher();
    Ok(Json(ControlAnswer {
        id,
        state,
        requeued_frames: None,
    }))
}

/// `POST /api/v1/jobs/{id}/requeue`: failed frames go back in the queue.
pub async fn requeue(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ControlAnswer>, ApiError> {
    let id = job_id(path)?;
    check_job(&farm, &principal, id, "requeue jobs").await?;
    let frames = farm.db.call(move |db| db.requeue_failed(id)).await?;
    let state = farm.db.call(move |db| db.job_detail(id)).await?.job.state;
    farm.wake_dispatcher();
    Ok(Json(ControlAnswer {
        id,
        state,
        requeued_frames: Some(frames),
    }))
}

/// The body of `POST /api/v1/jobs/{id}/priority`.
#[derive(Debug, Serialize, Deserialize)]
pub struct PriorityRequest {
    /// The new priority, 0 (lowest) to 100.
    pub priority: u64,
}

/// The answer to a priority change.
#[derive(Debug, Serialize, Deserialize)]
pub struct PriorityAnswer {
    /// The job.
    pub id: JobId,
    /// Its priority now.
    pub priority: u8,
    /// Tasks published again under the new queue priority.
    pub republished_tasks: u64,
}

/// `POST /api/v1/jobs/{id}/priority`: frames not yet taken follow the new
/// priority; frames being rendered finish where they are.
pub async fn set_priority(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<PriorityRequest>, JsonRejection>,
) -> Result<Json<PriorityAnswer>, ApiError> {
    let id = job_id(path)?;
    check_job(&farm, &principal, id, "change job priorities").await?;
    let Json(request) = body?;
    let priority = checked_priority(request.priority)?;
    let republished_tasks = farm
        .db
        .call(move |db| db.set_priority(id, priority))
        .await?;
    if republished_tasks > 0 {
        farm.wake_dispatcher();
    }
    Ok(Json(PriorityAnswer {
        id,
        priority,
        republished_tasks,
    }))
}
