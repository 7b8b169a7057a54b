//! Submitting jobs: every field checked against the limits and what the
//! farm offers, the scene (one uploaded file, or a bundle whose files are
//! all uploaded) checked to be the caller's, and a dry run that checks a
//! submission before anything is uploaded.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use protocol::{FrameSpec, OutputSpec, Overrides, Renderer, SceneHash, SceneOptions};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::{forbidden, require};
use crate::auth::{Grant, Principal, Role, Tenant};
use crate::db::{JobOptions, NewJob};
use crate::farm::Farm;
use crate::model::JobSummary;
use crate::placement::{Placement, Seat};
use crate::renderers::{Requirement, describe_all};

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
    /// Scene hash returned by `POST /api/v1/scenes` (or give `bundle`).
    #[serde(default)]
    pub scene: Option<String>,
    /// Bundle id returned by `POST /api/v1/bundles`, every file uploaded
    /// (or give `scene`).
    #[serde(default)]
    pub bundle: Option<String>,
    /// `blender`, `octane` or `cinema4d`.
    pub renderer: String,
    /// Frame spec: `1-100`, `1-100x5`, `1,5,10-12`, `100-1`.
    pub frames: String,
    /// Frames per task; defaults to the coordinator's `jobs.default_chunk_size`.
    #[serde(default)]
    pub chunk_size: Option<u32>,
    /// 0 (lowest) to 100; default 50.
    #[serde(default)]
    pub priority: Option<u64>,
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
    /// Create the job paused: nothing renders until it is resumed.
    #[serde(default)]
    pub paused: bool,
    /// Regions to render in, comma-separated: ISO country codes (`DE`),
    /// the groups `EU`, `EEA`, `UK`, `US`, or regions workers enrolled in.
    /// Enforced: only workers enrolled there render the job.
    #[serde(default)]
    pub region: Option<String>,
    /// Node classes to render on, comma-separated, cheapest first.
    #[serde(default)]
    pub node_class: Option<String>,
    /// GPU model to render on, as a device class (`rtx4090`, `h100`).
    #[serde(default)]
    pub gpu_model: Option<String>,
    /// Least GPU memory, MiB.
    #[serde(default)]
    pub min_vram_mib: Option<u64>,
    /// Renderer versions to render on: `>=2024.1, <2025`, `=3.6.2`, or a
    /// prefix such as `4.2`. Enforced: only workers that announced a
    /// version in the range render the job.
    #[serde(default)]
    pub renderer_version: Option<String>,
    /// Cinema 4D: the take to render (the main take when absent).
    #[serde(default)]
    pub take: Option<String>,
    /// Octane: the render target node to render (needed when the scene
    /// has several).
    #[serde(default)]
    pub render_target: Option<String>,
}

/// A submission whose fields all passed, waiting for its scene.
pub(super) struct Checked {
    name: Option<String>,
    renderer: Renderer,
    /// Its frames.
    pub(super) frames: FrameSpec,
    chunk_size: u32,
    priority: u8,
    output: OutputSpec,
    overrides: Overrides,
    task_timeout_secs: u64,
    /// Share of frames rendered twice, basis points.
    pub(super) parity_bp: u32,
    /// Its bundle, placement and starting state.
    pub(super) options: JobOptions,
}

impl Checked {
    /// The job, rendering `scene` (which names it unless it has a name).
    pub(super) fn into_job(self, scene: SceneHash) -> NewJob {
        let renderer = self.renderer;
        NewJob {
            name: self
                .name
                .unwrap_or_else(|| format!("{renderer} {}", &scene.as_str()[..8])),
            scene,
            renderer,
            frames: self.frames,
            chunk_size: self.chunk_size,
            priority: self.priority,
            output: self.output,
            overrides: self.overrides,
            task_timeout_secs: self.task_timeout_secs,
            parity_bp: self.parity_bp,
            options: self.options,
        }
    }
}

/// Check every field of a submission but its scene against the limits and
/// what the farm offers.
fn validate(farm: &Farm, body: CreateJob, seats: &[Seat]) -> Result<Checked, ApiError> {
    let limits = &farm.config.jobs;
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
    let priority = checked_priority(body.priority.unwrap_or(50))?;
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
    if let Some(name) = &body.name
        && (name.len() > 200 || name.chars().any(char::is_control))
    {
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
    let renderer_version = body
        .renderer_version
        .as_deref()
        .map(str::parse::<protocol::VersionRange>)
        .transpose()
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_renderer_version",
                format!("renderer_version: {e}"),
            )
        })?;
    let scene_options = scene_options(renderer, body.take, body.render_target)?;
    if renderer == Renderer::Cinema4d && body.overrides.samples.is_some() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_override",
            "overrides.samples cannot be applied to a Cinema 4D scene: Commandline has no \
             sampling switch; set the samples in the scene's render settings and leave it out",
        ));
    }
    let placement = Placement::parse(
        body.region.as_deref(),
        body.node_class.as_deref(),
        body.gpu_model.as_deref(),
        body.min_vram_mib,
    )
    .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_placement", e.0))?;
    if let Some(why) = placement.unplaceable(seats) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_placement",
            format!(
                "{why}; no worker could ever take this job, so it is refused rather than left queued"
            ),
        ));
    }
    Ok(Checked {
        parity_bp: (parity * 100.0).round() as u32,
        name: body.name,
        renderer,
        frames,
        chunk_size,
        priority,
        output: body.output,
        overrides: body.overrides,
        task_timeout_secs,
        options: JobOptions {
            bundle: None,
            placement,
            paused: body.paused,
            pinned_worker: None,
            renderer_version,
            scene_options,
        },
    })
}

/// The scene options of a `renderer` job: a take for Cinema 4D, a render
/// target for Octane, each a plain name; either for another renderer is
/// refused rather than ignored.
fn scene_options(
    renderer: Renderer,
    take: Option<String>,
    render_target: Option<String>,
) -> Result<SceneOptions, ApiError> {
    let refuse = |code: &'static str, message: String| {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            message,
        ))
    };
    for (field, value, owner) in [
        ("take", &take, Renderer::Cinema4d),
        ("render_target", &render_target, Renderer::Octane),
    ] {
        let Some(value) = value else { continue };
        if renderer != owner {
            return refuse(
                "unsupported_option",
                format!("`{field}` is for {owner} jobs; a {renderer} job cannot use it"),
            );
        }
        if let Err(why) = SceneOptions::check_name(value) {
            return refuse("bad_scene_option", format!("`{field}` {why}"));
        }
    }
    Ok(SceneOptions {
        take,
        render_target,
    })
}

impl Checked {
    /// Refuse a scene of format `ext` the job's renderer does not open, and
    /// a job no worker of the farm can render (a farm no worker has joined
    /// yet takes every job: they wait, with the reason shown, for the first
    /// worker that can).
    pub(super) async fn check_renderable(&self, farm: &Farm, ext: &str) -> Result<(), ApiError> {
        let renderer = self.renderer;
        if !renderer.formats().contains(&ext) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "scene_format",
                format!(
                    "a {renderer} job renders {} scenes, and this scene is a .{ext} file; \
                     submit it with the renderer that made it",
                    renderer
                        .formats()
                        .iter()
                        .map(|f| format!(".{f}"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ));
        }
        let requirement = Requirement {
            renderer,
            format: ext.to_owned(),
            versions: self.options.renderer_version.clone(),
        };
        let workers = farm.db.call(|db| db.registered_renderers()).await?;
        if workers.is_empty() || workers.iter().any(|w| requirement.met_by(w)) {
            return Ok(());
        }
        let mut seen: Vec<String> = workers.iter().map(|w| describe_all(w)).collect();
        seen.sort();
        seen.dedup();
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_renderer",
            format!(
                "no worker of this farm can render {}: its workers have {}; the job is refused \
                 rather than left queued (widen renderer_version, or enroll a worker that has it)",
                requirement.describe(),
                seen.join("; ")
            ),
        ))
    }
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

/// Where a submission's scene comes from.
pub(super) enum SceneSource {
    /// A single uploaded file.
    Scene(SceneHash),
    /// A described bundle, by id.
    Bundle(String),
}

/// The scene source a submission names, if any (both is an error).
fn scene_source(body: &mut CreateJob) -> Result<Option<SceneSource>, ApiError> {
    match (body.scene.take(), body.bundle.take()) {
        (Some(_), Some(_)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "scene_and_bundle",
            "give either `scene` (a single uploaded file) or `bundle` (a described bundle), not both",
        )),
        (Some(scene), None) => Ok(Some(SceneSource::Scene(scene.parse().map_err(
            |e: protocol::SceneHashError| {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_scene", e.to_string())
            },
        )?))),
        (None, Some(bundle)) => Ok(Some(SceneSource::Bundle(bundle))),
        (None, None) => Ok(None),
    }
}

/// Check a submission's fields, before its scene.
pub(super) async fn check_submission(
    farm: &Farm,
    principal: &Principal,
    mut body: CreateJob,
) -> Result<(Checked, Option<SceneSource>, Option<Tenant>), ApiError> {
    require(principal, "submit jobs", &[Role::Submitter, Role::Admin])?;
    let tenant = job_tenant(principal, body.tenant.take())?;
    let source = scene_source(&mut body)?;
    if let Some(classes) = &body.node_class {
        super::node_classes::check_defined(farm, &crate::placement::list(classes)).await?;
    }
    let seats = farm.db.call(|db| db.seats()).await?;
    Ok((validate(farm, body, &seats)?, source, tenant))
}

/// Whether the caller may use the uploaded scene `scene`: a submitter only
/// its tenant's, an admin any.
pub(super) async fn check_scene(
    farm: &Farm,
    principal: &Principal,
    scene: &SceneHash,
) -> Result<(), ApiError> {
    let (uploader, hash) = (principal.grant.tenant().cloned(), scene.clone());
    let known = farm
        .db
        .call(move |db| match uploader {
            Some(uploader) => db.scene_uploaded_by(&hash, &uploader),
            None => Ok(db.scene_ext(&hash)?.is_some()),
        })
        .await?;
    if known {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_scene",
        format!(
            "no scene with hash {scene} was uploaded; upload it first with POST /api/v1/scenes"
        ),
    ))
}

/// The format of uploaded scene `scene`, as its file extension.
pub(super) async fn scene_format(farm: &Farm, scene: &SceneHash) -> Result<String, ApiError> {
    let hash = scene.clone();
    Ok(farm
        .db
        .call(move |db| db.scene_ext(&hash))
        .await?
        .unwrap_or_default())
}

/// The format of a file at `path`: its extension, lowercase.
fn file_format(path: &str) -> String {
    path.rsplit_once('.')
        .filter(|(_, ext)| !ext.contains('/'))
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default()
}

/// `POST /api/v1/jobs`.
pub async fn create(
    State(farm): State<Farm>,
    principal: Principal,
    body: Result<Json<CreateJob>, JsonRejection>,
) -> Result<(StatusCode, Json<JobSummary>), ApiError> {
    let Json(body) = body?;
    let (mut checked, source, tenant) = check_submission(&farm, &principal, body).await?;
    let job = match source {
        None => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "missing_scene",
                "give the job's `scene` (POST /api/v1/scenes) or `bundle` (POST /api/v1/bundles)",
            ));
        }
        Some(SceneSource::Scene(scene)) => {
            check_scene(&farm, &principal, &scene).await?;
            scene
        }
        Some(SceneSource::Bundle(id)) => {
            let (scene, bundle) = super::bundles::job_scene(&farm, &principal, id).await?;
            checked.options.bundle = Some(bundle);
            scene
        }
    };
    let ext = scene_format(&farm, &job).await?;
    checked.check_renderable(&farm, &ext).await?;
    // The estimate the job's report sets against what it took; a job is
    // accepted even when no estimate can be made.
    let estimate = match super::estimate::estimate_for(&farm, &checked, Some(job.clone())).await {
        Ok(estimate) => Some(estimate),
        Err(error) => {
            tracing::warn!(error = %error.message, "no estimate stored with the job");
            None
        }
    };
    let job = checked.into_job(job);
    let detail = farm
        .db
        .call(move |db| {
            let id = db.create_job_for(&job, tenant.as_ref())?;
            if let Some(estimate) = &estimate {
                db.set_job_estimate(id, estimate)?;
            }
            db.job_detail(id)
        })
        .await?;
    tracing::info!(job_id = %detail.job.id, frames = detail.job.frame_count,
        bundle = ?detail.job.bundle, "job created");
    farm.wake_dispatcher();
    Ok((StatusCode::CREATED, Json(detail.job)))
}

/// What `POST /api/v1/jobs/validate` found.
#[derive(Debug, Serialize, Deserialize)]
pub struct Validated {
    /// Frames the job would have.
    pub frame_count: usize,
    /// Tasks it would be split into.
    pub tasks: usize,
}

/// A job priority as a request gave it: 0 (lowest) to 100, or a 422.
pub(super) fn checked_priority(priority: u64) -> Result<u8, ApiError> {
    u8::try_from(priority)
        .ok()
        .filter(|p| *p <= 100)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_priority",
                format!("priority must be 0 (lowest) to 100, got {priority}"),
            )
        })
}

/// `POST /api/v1/jobs/validate`: check a submission without creating
/// anything, before its files are uploaded. A `scene` must be uploaded; a
/// `bundle` need only be described; neither may be given yet.
pub async fn validate_submission(
    State(farm): State<Farm>,
    principal: Principal,
    body: Result<Json<CreateJob>, JsonRejection>,
) -> Result<Json<Validated>, ApiError> {
    let Json(body) = body?;
    let (checked, source, _) = check_submission(&farm, &principal, body).await?;
    let ext = match source {
        Some(SceneSource::Scene(scene)) => {
            check_scene(&farm, &principal, &scene).await?;
            Some(scene_format(&farm, &scene).await?)
        }
        Some(SceneSource::Bundle(id)) => {
            let manifest = super::bundles::described(&farm, &principal, &id).await?;
            Some(file_format(&manifest.main))
        }
        None => None,
    };
    if let Some(ext) = ext {
        checked.check_renderable(&farm, &ext).await?;
    }
    let frame_count = checked.frames.frames().len();
    Ok(Json(Validated {
        frame_count,
        tasks: frame_count.div_ceil(checked.chunk_size as usize),
    }))
}

/// `GET /api/v1/farm`: what a job may ask for.
pub async fn offer(
    State(farm): State<Farm>,
    _principal: Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (offer, classes) = farm
        .db
        .call(|db| Ok((db.farm_offer()?, db.node_classes()?)))
        .await?;
    Ok(Json(serde_json::json!({
        "renderers": offer.renderers,
        "regions": offer.regions,
        "node_classes": offer.node_classes,
        "classes": classes,
        "currency": farm.config.billing.currency,
    })))
}
