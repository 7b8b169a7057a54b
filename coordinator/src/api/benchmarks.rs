//! Benchmarks: `POST /api/v1/benchmarks` renders the same frames on two or
//! more node classes (one is enough with a studio's `reference`), one job
//! per class, created together or not at all; `GET` lists them and shows
//! the side-by-side report, as JSON or CSV. Tenants see only their own
//! (another tenant's is a 404, as for jobs). The reference's frames are
//! uploaded through [`super::benchmark_reference`].

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use protocol::{OutputSpec, Overrides};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::job_scope;
use super::benchmark_reference::{ReferenceRequest, checked_reference};
use super::submit::{CreateJob, SceneSource, check_scene, check_submission};
use crate::auth::Principal;
use crate::benchmark::{BenchmarkId, BenchmarkReport, BenchmarkSummary};
use crate::db::DbError;
use crate::farm::Farm;

/// Most node classes one benchmark compares.
pub const MAX_RUNS: usize = 8;

/// A benchmark request: a job submission's fields, with the node classes
/// to compare instead of `node_class`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBenchmark {
    /// Display name; each run's job is named `<name> on <class>`.
    #[serde(default)]
    pub name: Option<String>,
    /// Scene hash returned by `POST /api/v1/scenes` (or give `bundle`).
    #[serde(default)]
    pub scene: Option<String>,
    /// Bundle id returned by `POST /api/v1/bundles` (or give `scene`).
    #[serde(default)]
    pub bundle: Option<String>,
    /// `blender`, `octane` or `cinema4d`.
    pub renderer: String,
    /// Frame spec, rendered on every class.
    pub frames: String,
    /// Frames per task.
    #[serde(default)]
    pub chunk_size: Option<u32>,
    /// 0 (lowest) to 100.
    #[serde(default)]
    pub priority: Option<u64>,
    /// Output format.
    #[serde(default)]
    pub output: OutputSpec,
    /// Render setting overrides.
    #[serde(default)]
    pub overrides: Overrides,
    /// Render time limit per task.
    #[serde(default)]
    pub task_timeout_secs: Option<u64>,
    /// Share of each run's frames rendered twice, percent.
    #[serde(default)]
    pub parity_percent: Option<f64>,
    /// The tenant (admins only), as for a job.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Create every run paused.
    #[serde(default)]
    pub paused: bool,
    /// Regions every run renders in.
    #[serde(default)]
    pub region: Option<String>,
    /// GPU model every run renders on.
    #[serde(default)]
    pub gpu_model: Option<String>,
    /// Least GPU memory, MiB.
    #[serde(default)]
    pub min_vram_mib: Option<u64>,
    /// The node classes to compare, distinct: at least two, the first the
    /// baseline every other run is compared with; or, with a `reference`,
    /// at least one, each compared with the reference.
    pub node_classes: Vec<String>,
    /// The studio's own sequence, uploaded frame by frame after creation:
    /// the baseline every run is compared with.
    #[serde(default)]
    pub reference: Option<ReferenceRequest>,
}

impl CreateBenchmark {
    /// The job submission of the run on `class`.
    fn job_on(&self, class: &str) -> CreateJob {
        CreateJob {
            name: self.name.clone(),
            scene: self.scene.clone(),
            bundle: self.bundle.clone(),
            renderer: self.renderer.clone(),
            frames: self.frames.clone(),
            chunk_size: self.chunk_size,
            priority: self.priority,
            output: self.output,
            overrides: self.overrides,
            task_timeout_secs: self.task_timeout_secs,
            parity_percent: self.parity_percent,
            tenant: self.tenant.clone(),
            paused: self.paused,
            region: self.region.clone(),
            node_class: Some(class.to_owned()),
            gpu_model: self.gpu_model.clone(),
            min_vram_mib: self.min_vram_mib,
            renderer_version: None,
            take: None,
            render_target: None,
        }
    }
}

/// A 422 about the node classes.
fn bad_classes(message: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad_node_classes",
        message,
    )
}

/// The node classes asked for, trimmed: two to [`MAX_RUNS`] (one is
/// enough `with_reference`), distinct, each one name (no comma).
fn checked_classes(classes: &[String], with_reference: bool) -> Result<Vec<String>, ApiError> {
    let classes: Vec<String> = classes.iter().map(|c| c.trim().to_owned()).collect();
    if with_reference && !(1..=MAX_RUNS).contains(&classes.len()) {
        return Err(bad_classes(format!(
            "a benchmark with a reference renders on 1 to {MAX_RUNS} node classes, got {}; list them in `node_classes`",
            classes.len()
        )));
    }
    if !with_reference && !(2..=MAX_RUNS).contains(&classes.len()) {
        return Err(bad_classes(format!(
            "a benchmark compares 2 to {MAX_RUNS} node classes, got {}; list them in `node_classes`, the baseline first, or give a `reference`",
            classes.len()
        )));
    }
    for (index, class) in classes.iter().enumerate() {
        if class.is_empty()
            || class.len() > 64
            || class.contains(',')
            || class.chars().any(char::is_control)
        {
            return Err(bad_classes(format!(
                "{class:?} is not a node class name: one name per entry, 1 to 64 characters, no commas"
            )));
        }
        if classes[..index].contains(class) {
            return Err(bad_classes(format!(
                "node class {class:?} is listed twice; a benchmark compares distinct classes"
            )));
        }
    }
    Ok(classes)
}

/// A refusal of the run on `class`, saying so when it is about where the
/// run may render.
fn on_class(error: ApiError, class: &str) -> ApiError {
    if matches!(error.code, "unknown_placement" | "bad_placement") || error.code.contains("class") {
        ApiError {
            message: format!("the run on node class {class}: {}", error.message),
            ..error
        }
    } else {
        error
    }
}

/// `POST /api/v1/benchmarks`: one job per node class, each checked as a
/// job submission is (a class no worker could ever take is refused, naming
/// it), created with the benchmark in one transaction.
pub async fn create(
    State(farm): State<Farm>,
    principal: Principal,
    body: Result<Json<CreateBenchmark>, JsonRejection>,
) -> Result<(StatusCode, Json<BenchmarkSummary>), ApiError> {
    let Json(body) = body?;
    let reference = body.reference.as_ref().map(checked_reference).transpose()?;
    let classes = checked_classes(&body.node_classes, reference.is_some())?;
    let mut runs = Vec::with_capacity(classes.len());
    let (mut source, mut tenant) = (None, None);
    for class in &classes {
        let (checked, run_source, run_tenant) =
            check_submission(&farm, &principal, body.job_on(class))
                .await
                .map_err(|e| on_class(e, class))?;
        runs.push((class.clone(), checked));
        (source, tenant) = (run_source, run_tenant);
    }
    let (scene, bundle) = match source {
        None => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "missing_scene",
                "give the benchmark's `scene` (POST /api/v1/scenes) or `bundle` (POST /api/v1/bundles)",
            ));
        }
        Some(SceneSource::Scene(scene)) => {
            check_scene(&farm, &principal, &scene).await?;
            (scene, None)
        }
        Some(SceneSource::Bundle(id)) => {
            let (scene, bundle) = super::bundles::job_scene(&farm, &principal, id).await?;
            (scene, Some(bundle))
        }
    };
    let name = body
        .name
        .clone()
        .unwrap_or_else(|| format!("benchmark {}", &scene.as_str()[..8]));
    let jobs: Vec<_> = runs
        .into_iter()
        .map(|(class, mut checked)| {
            checked.options.bundle = bundle.clone();
            let mut job = checked.into_job(scene.clone());
            job.name = format!("{name} on {class}");
            (class, job)
        })
        .collect();
    let summary = farm
        .db
        .call(move |db| db.create_benchmark(&name, tenant.as_ref(), reference.as_ref(), &jobs))
        .await?;
    tracing::info!(benchmark_id = %summary.id, jobs = ?summary.job_ids,
        classes = ?summary.node_classes, reference = ?summary.reference.as_ref().map(|r| &r.name),
        "benchmark created");
    farm.wake_dispatcher();
    Ok((StatusCode::CREATED, Json(summary)))
}

/// The benchmark id in a path, or a 400.
pub(crate) fn benchmark_id(
    path: Result<Path<String>, PathRejection>,
) -> Result<BenchmarkId, ApiError> {
    let Path(text) = path?;
    text.parse().map_err(|_| {
        ApiError::bad_request(
            "bad_benchmark_id",
            format!("{text:?} is not a benchmark id; benchmark ids look like 0190a1b2-…"),
        )
    })
}

/// 404, as for a benchmark that does not exist, unless the caller may see
/// benchmark `id`: admins see every one, a submitter its tenant's.
pub(crate) async fn check_benchmark(
    farm: &Farm,
    principal: &Principal,
    id: BenchmarkId,
) -> Result<(), ApiError> {
    let tenant = job_scope(principal, "see benchmarks")?.cloned();
    let owner = farm.db.call(move |db| db.benchmark_tenant(id)).await?;
    match tenant {
        Some(tenant) if owner.as_ref() != Some(&tenant) => {
            Err(DbError::NotFound(format!("benchmark {id}")).into())
        }
        _ => Ok(()),
    }
}

/// `GET /api/v1/benchmarks`: every benchmark for admins, a submitter's
/// tenant's, newest first.
pub async fn list(
    State(farm): State<Farm>,
    principal: Principal,
) -> Result<Json<Vec<BenchmarkSummary>>, ApiError> {
    let tenant = job_scope(&principal, "list benchmarks")?.cloned();
    Ok(Json(
        farm.db
            .call(move |db| db.list_benchmarks(tenant.as_ref()))
            .await?,
    ))
}

/// The report of a benchmark the caller may see.
pub(crate) async fn report_of(
    farm: &Farm,
    principal: &Principal,
    id: BenchmarkId,
) -> Result<BenchmarkReport, ApiError> {
    check_benchmark(farm, principal, id).await?;
    let currency = farm.config.billing.currency.clone();
    Ok(farm
        .db
        .call(move |db| db.benchmark_report(id, &currency))
        .await?)
}

/// `GET /api/v1/benchmarks/{id}`: the side-by-side report.
pub async fn show(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<BenchmarkReport>, ApiError> {
    let id = benchmark_id(path)?;
    Ok(Json(report_of(&farm, &principal, id).await?))
}

/// `GET /api/v1/benchmarks/{id}/report.csv`: the report as CSV.
pub async fn report_csv(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let id = benchmark_id(path)?;
    let report = report_of(&farm, &principal, id).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        report.to_csv(),
    ))
}

/// The benchmark routes, for the OpenAPI document.
pub(super) fn openapi_paths() -> serde_json::Value {
    let error = |description: &str| {
        serde_json::json!({"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
    };
    let id = serde_json::json!([{"name": "id", "in": "path", "required": true,
        "schema": {"type": "string", "format": "uuid"}}]);
    let summary = serde_json::json!({"type": "object", "properties": {
        "id": {"type": "string", "format": "uuid"}, "name": {"type": "string"},
        "tenant": {"type": "string", "description": "absent for an admin's own"},
        "created_ms": {"type": "integer"},
        "node_classes": {"type": "array", "items": {"type": "string"}, "description": "the baseline first"},
        "job_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}, "description": "one job per node class, same order"},
        "reference": {"type": "object", "description": "with a reference: {name, stated_by_studio: {seconds_per_frame, cost_per_frame_micros, time_to_complete_secs}}, figures as stated by the studio, never observed"}}});
    let mut request = serde_json::json!({"allOf": [{"$ref": "#/components/schemas/CreateJob"}]});
    request["description"] = serde_json::json!(
        "the fields of a job submission, without `node_class`, with `node_classes`: 2 to 8 distinct node classes, the first the baseline; or, with a `reference` (the studio's own sequence, then the baseline), 1 to 8"
    );
    request["required"] = serde_json::json!(["renderer", "frames", "node_classes"]);
    request["properties"] = serde_json::json!({"node_classes": {"type": "array", "minItems": 1,
        "maxItems": MAX_RUNS, "uniqueItems": true, "items": {"type": "string"},
        "description": "2 or more without a reference"},
        "reference": super::benchmark_reference::request_schema()});
    let report = serde_json::json!({"type": "object", "description":
        "runs[{position, node_class, job_id, job_name, state, frames, frames_done, time_to_complete_secs (job created to its last accepted frame delivered, as the coordinator observed them; once the job ended), cost_micros, cost_per_frame_micros, render_seconds, render_seconds_per_frame, parity (not on the baseline): {compared, pending, unavailable, identical, within_tolerance, inconclusive, mismatch, mean_flip, max_flip, worst_tile_flip}}], \
         frames[{frame, runs[{state, render_seconds, cost_micros, parity (not on the baseline): {status (pending, unavailable, identical, within_tolerance, inconclusive, mismatch), mean_flip, max_flip, worst_tile_flip, worst_tiles[{x, y, width, height, mean_error, max_error, flip_mean}], mean_error, max_error, psnr, reasons}}]}], \
         pending_frames (frames with a comparison still to come), complete (every run ended, every comparable frame compared), currency. \
         With a reference: reference {name, stated_by_studio {seconds_per_frame, cost_per_frame_micros, time_to_complete_secs} (as stated by the studio, not observed), frames_uploaded, frames_missing}, each frame's reference {uploaded, pixel_hash, bytes, uploaded_ms}, and every run (the first too) has parity against the reference; a cell pending says why in pending_reason (`reference frame not uploaded`, ...)",
        "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "currency": {"type": "string"},
            "complete": {"type": "boolean"}, "reference": {"type": "object"}, "runs": {"type": "array"}, "frames": {"type": "array"},
            "pending_frames": {"type": "array", "items": {"type": "integer"}}}});
    serde_json::json!({
        "/api/v1/benchmarks": {
            "post": {
                "summary": "Benchmark node classes: render the same frames on each (one job per class, all created or none), then compare time to complete, cost per frame and every frame's parity through frame-diff with the first class's, or with the studio's reference sequence when a `reference` is given (its frames uploaded afterwards)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": request}}},
                "responses": {
                    "201": {"description": "created", "content": {"application/json": {"schema": summary}}},
                    "400": error("not JSON"),
                    "409": error("the bundle lacks blobs (the message names the files)"),
                    "422": error("fewer than 2 (1 with a reference) or repeated node classes (bad_node_classes), a bad reference (bad_reference), a class no worker could ever take (unknown_placement, naming it), or any refusal of a job submission")}},
            "get": {"summary": "List benchmarks, newest first: every tenant's for admins, its own tenant's for a submitter",
                "responses": {"200": {"description": "benchmarks", "content": {"application/json": {"schema": {"type": "array", "items": summary}}}}}}
        },
        "/api/v1/benchmarks/{id}": {"get": {
            "summary": "A benchmark's side-by-side report: per run, time to complete and cost per frame; per frame, each run's render time and cost and its parity with the baseline (verdict, mean and max FLIP, worst tiles), `pending` until compared",
            "parameters": id,
            "responses": {
                "200": {"description": "the report", "content": {"application/json": {"schema": report}}},
                "400": error("not a benchmark id"),
                "404": error("no such benchmark (or another tenant's)")}}},
        "/api/v1/benchmarks/{id}/report.csv": {"get": {
            "summary": "A benchmark's report as CSV: a header, one line per frame (per run: state, render seconds, cost; per run but the baseline: parity, mean FLIP, max FLIP, worst tile FLIP, worst tile x:y:wxh, PSNR), then a total line",
            "parameters": id,
            "responses": {
                "200": {"description": "the report", "content": {"text/csv": {"schema": {"type": "string"}}}},
                "400": error("not a benchmark id"),
                "404": error("no such benchmark (or another tenant's)")}}}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_classes_are_two_or_more_distinct_names() {
        let list = |classes: &[&str]| {
            checked_classes(
                &classes.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>(),
                false,
            )
        };
        assert_eq!(list(&[" cpu-a", "cpu-b "]).unwrap(), ["cpu-a", "cpu-b"]);
        for bad in [
            &["cpu-a"][..],
            &[],
            &["cpu-a", "cpu-a"],
            &["cpu-a", "cpu-b,cpu-c"],
            &["cpu-a", ""],
        ] {
            let error = list(bad).unwrap_err();
            assert_eq!(error.code, "bad_node_classes", "{bad:?}");
            assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
        }
        let nine: Vec<String> = (0..9).map(|i| format!("c{i}")).collect();
        assert!(checked_classes(&nine, false).is_err());
        assert!(checked_classes(&nine, true).is_err());
    }

    #[test]
    fn with_a_reference_one_node_class_is_enough() {
        let one = vec!["cpu-a".to_owned()];
        assert_eq!(checked_classes(&one, true).unwrap(), ["cpu-a"]);
        assert!(checked_classes(&one, false).is_err());
        let error = checked_classes(&[], true).unwrap_err();
        assert_eq!(error.code, "bad_node_classes");
        let twice = vec!["cpu-a".to_owned(), "cpu-a".to_owned()];
        assert!(checked_classes(&twice, true).is_err());
    }
}
