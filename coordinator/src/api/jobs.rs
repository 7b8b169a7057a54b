//! Jobs: create, list, show, and the wrangler's controls.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use protocol::{Control, FrameSpec, JobId, OutputSpec, Overrides, Renderer, SceneHash};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::{check_job, forbidden, job_scope, require};
use crate::auth::{Grant, Principal, Role, Tenant};
use crate::db::NewJob;
use crate::farm::Farm;
use crate::model::{JobDetail, JobSummary};
use crate::state::JobState;

/// Largest chunk size accepted.
const MAX_CHUNK: u32 = 10_000;
/// Highest frame number Blender renders (its `MAXFRAME`).
const BLENDER_MAX_FRAME: i32 = 1_048_574;
/// Largest override resolution on either axis.
const MAX_RESOLUTION: u32 = 16_384;

/// A job submission.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    /// Display name; defaults to the scene hash's first digits.
    #[serde(default)]
    pub name: Option<String>,
    /// Scene hash returned by `POST /api/v1/scenes`.
    pub scene: String,
    /// `blender`, `octane` or `cinema4d`.
    pub renderer: String,
    /// Frame spec: `1-100`, `1-100x5`, `1,5,10-12`, `100-1`.
    pub frames: String,
    /// Frames per task; defaults to the coordinator's `jobs.default_chunk_size`.
    #[serde(default)]
    pub chunk_size: Option<u32>,
    /// 0 (lowest) to 100; default 50.
    #[serde(default)]
    pub priority: Option<u8>,
    /// Output format.
    #[serde(default)]
    pub output: OutputSpec,
    /// Render setting overrides.
    #[serde(default)]
    pub overrides: Overrides,
    /// Render time limit per task; defaults to `jobs.default_task_timeout_secs`.
    #[serde(default)]
    pub task_timeout_secs: Option<u64>,
    /// Share of frames rendered a second time by another worker to verify
    /// them, in percent (0 to 100, up to two decimals); defaults to
    /// `verification.default_parity_percent`. 0 turns verification off.
    #[serde(default)]
    pub parity_percent: Option<f64>,
    /// The tenant the job belongs to. Only admins set it (a submitter's jobs
    /// belong to its tenant); an admin's job without one belongs to no
    /// tenant and only admins see it.
    #[serde(default)]
    pub tenant: Option<String>,
}

pub(super) fn job_id(path: Result<Path<String>, PathRejection>) -> Result<JobId, ApiError> {
    let Path(text) = path?;
    text.parse().map_err(|_| {
        ApiError::bad_request(
            "bad_job_id",
            format!("{text:?} is not a job id; job ids look like 0190a1b2-…"),
        )
    })
}

fn validate(farm: &Farm, body: CreateJob) -> Result<NewJob, ApiError> {
    let limits = &farm.config.jobs;
    let scene: SceneHash = body.scene.parse().map_err(|e: protocol::SceneHashError| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_scene", e.to_string())
    })?;
    let renderer: Renderer = body.renderer.parse().map_err(|e: String| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_renderer", e)
    })?;
    let frames = FrameSpec::parse(&body.frames, limits.max_frames_per_job).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_frame_spec",
            e.to_string(),
        )
    })?;
    if renderer == Renderer::Blender
        && let Some(bad) = frames
            .frames()
            .iter()
            .find(|f| !(0..=BLENDER_MAX_FRAME).contains(*f))
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_frame_spec",
            format!("frame {bad} is outside Blender's frame range 0 to {BLENDER_MAX_FRAME}"),
        ));
    }
    let chunk_size = body.chunk_size.unwrap_or(limits.default_chunk_size);
    if !(1..=MAX_CHUNK).contains(&chunk_size) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_chunk_size",
            format!("chunk_size must be 1 to {MAX_CHUNK} frames per task, got {chunk_size}"),
        ));
    }
    let priority = body.priority.unwrap_or(50);
    if priority > 100 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_priority",
            format!("priority must be 0 to 100, got {priority}"),
        ));
    }
    if let Some([w, h]) = body.overrides.resolution
        && !((1..=MAX_RESOLUTION).contains(&w) && (1..=MAX_RESOLUTION).contains(&h))
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_resolution",
            format!(
                "overrides.resolution must be two sizes from 1 to {MAX_RESOLUTION}, got {w}x{h}"
            ),
        ));
    }
    if body.overrides.samples == Some(0) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_samples",
            "overrides.samples must be at least 1",
        ));
    }
    let task_timeout_secs = body
        .task_timeout_secs
        .unwrap_or(limits.default_task_timeout_secs);
    if task_timeout_secs == 0 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_timeout",
            "task_timeout_secs must be at least 1",
        ));
    }
    let name = body
        .name
        .unwrap_or_else(|| format!("{renderer} {}", &scene.as_str()[..8]));
    if name.len() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_name",
            "name must be at most 200 characters without control characters",
        ));
    }
    let parity = body
        .parity_percent
        .unwrap_or(farm.config.verification.default_parity_percent);
    if !(0.0..=100.0).contains(&parity) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_parity",
            format!("parity_percent must be 0 to 100 (0 turns verification off), got {parity}"),
        ));
    }
    Ok(NewJob {
        parity_bp: (parity * 100.0).round() as u32,
        name,
        scene,
        renderer,
        frames,
        chunk_size,
        priority,
        output: body.output,
        overrides: body.overrides,
        task_timeout_secs,
    })
}

/// The tenant a new job belongs to: a submitter's own; the one an admin
/// names, if any. Providers cannot submit.
fn job_tenant(principal: &Principal, asked: Option<String>) -> Result<Option<Tenant>, ApiError> {
    match (&principal.grant, asked) {
        (Grant::Provider { .. }, _) => Err(forbidden(
            principal,
            "submit jobs",
            &[Role::Submitter, Role::Admin],
        )),
        (Grant::Submitter { tenant }, Some(asked)) if asked != tenant.as_str() => {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this token submits for tenant {tenant:?} only; leave `tenant` out or set it to {tenant:?}"
                ),
            ))
        }
        (Grant::Submitter { tenant }, _) => Ok(Some(tenant.clone())),
        (Grant::Admin, asked) => Ok(asked.map(|text| text.parse::<Tenant>()).transpose()?),
    }
}

/// `POST /api/v1/jobs`.
pub async fn create(
    State(farm): State<Farm>,
    principal: Principal,
    body: Result<Json<CreateJob>, JsonRejection>,
) -> Result<(StatusCode, Json<JobSummary>), ApiError> {
    require(&principal, "submit jobs", &[Role::Submitter, Role::Admin])?;
    let Json(mut body) = body?;
    let tenant = job_tenant(&principal, body.tenant.take())?;
    let job = validate(&farm, body)?;
    let scene = job.scene.clone();
    // A submitter may use only scenes its tenant uploaded; an admin any.
    let uploader = principal.grant.tenant().cloned();
    let known = farm
        .db
        .call(move |db| match uploader {
            Some(uploader) => db.scene_uploaded_by(&scene, &uploader),
            None => Ok(db.scene_ext(&scene)?.is_some()),
        })
        .await?;
    if !known {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_scene",
            format!(
                "no scene with hash {} was uploaded; upload it first with POST /api/v1/scenes",
                job.scene
            ),
        ));
    }
    let detail = farm
        .db
        .call(move |db| {
            let id = db.create_job_for(&job, tenant.as_ref())?;
            db.job_detail(id)
        })
        .await?;
    tracing::info!(job_id = %detail.job.id, frames = detail.job.frame_count, "job created");
    farm.wake_dispatcher();
    Ok((StatusCode::CREATED, Json(detail.job)))
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
