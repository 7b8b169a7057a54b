//! A benchmark's reference: the `reference` object of
//! `POST /api/v1/benchmarks` (a name and the figures the studio states for
//! its own farm, stored as its statement, never as observed), and
//! `PUT /api/v1/benchmarks/{id}/reference/{frame}`, which takes one frame
//! of the studio's sequence as EXR bytes, checks that `frame-diff` decodes
//! it, stores it at `benchmarks/<id>/reference/<frame>.exr` with its pixel
//! hash, and has every run's copy of the frame compared with it (again
//! after a re-upload: comparisons are filed under pixel hashes).

use std::path::Path as FsPath;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use object_store::{ObjectStoreExt, PutPayload};
use protocol::now_ms;
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::benchmarks::check_benchmark;
use crate::auth::Principal;
use crate::benchmark::{BenchmarkId, Reference, ReferenceCopy, StatedFigures, reference_key};
use crate::farm::Farm;
use crate::money::Money;

/// The largest reference frame taken, bytes (1 GiB); the route's body
/// limit.
pub const REFERENCE_FRAME_LIMIT: usize = 1 << 30;

/// Longest reference name, characters.
const MAX_NAME_CHARS: usize = 80;

/// The first bytes of every OpenEXR file.
const EXR_MAGIC: [u8; 4] = [0x76, 0x2f, 0x31, 0x01];

/// The `reference` of a benchmark request: the studio's own statement.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceRequest {
    /// What the studio calls it ("our farm"), 1 to 80 characters.
    pub name: String,
    /// Render seconds per frame, as the studio states them.
    #[serde(default)]
    pub seconds_per_frame: Option<f64>,
    /// Cost per frame, a decimal string in the farm's currency.
    #[serde(default)]
    pub cost_per_frame: Option<String>,
    /// Time to complete the sequence, seconds, as the studio states it.
    #[serde(default)]
    pub time_to_complete_secs: Option<f64>,
}

/// A 422 about the reference.
fn bad_reference(message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_reference", message)
}

/// A stated figure: absent, or a finite number not below zero.
fn figure(value: Option<f64>, field: &str) -> Result<Option<f64>, ApiError> {
    match value {
        Some(v) if !v.is_finite() || v < 0.0 => Err(bad_reference(format!(
            "reference.{field} is {v}: give a number of seconds, 0 or more"
        ))),
        other => Ok(other),
    }
}

/// The reference asked for, checked: a name of 1 to 80 characters without
/// control characters, figures that are numbers not below zero, a cost
/// that is a decimal amount.
pub(super) fn checked_reference(request: &ReferenceRequest) -> Result<Reference, ApiError> {
    let name = request.name.trim();
    let chars = name.chars().count();
    if !(1..=MAX_NAME_CHARS).contains(&chars) || name.chars().any(char::is_control) {
        return Err(bad_reference(format!(
            "reference.name must be 1 to {MAX_NAME_CHARS} characters without control characters, got {chars}"
        )));
    }
    let cost = request
        .cost_per_frame
        .as_deref()
        .map(|text| {
            let amount: Money = text
                .parse()
                .map_err(|e| bad_reference(format!("reference.cost_per_frame: {e}")))?;
            if amount < Money::ZERO {
                return Err(bad_reference(format!(
                    "reference.cost_per_frame is {text}: a cost is 0 or more"
                )));
            }
            Ok(amount)
        })
        .transpose()?;
    Ok(Reference {
        name: name.to_owned(),
        stated_by_studio: StatedFigures {
            seconds_per_frame: figure(request.seconds_per_frame, "seconds_per_frame")?,
            cost_per_frame_micros: cost,
            time_to_complete_secs: figure(request.time_to_complete_secs, "time_to_complete_secs")?,
        },
    })
}

/// The answer to an upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Uploaded {
    /// The benchmark.
    pub benchmark_id: BenchmarkId,
    /// The frame.
    pub frame: i32,
    /// Where it is stored.
    pub object_key: String,
    /// Its pixel hash.
    pub pixel_hash: String,
    /// Its size, bytes.
    pub bytes: u64,
    /// Whether it replaced an earlier upload of the frame.
    pub replaced: bool,
}

/// A 413 for a frame over [`REFERENCE_FRAME_LIMIT`].
fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("a reference frame is at most {REFERENCE_FRAME_LIMIT} bytes"),
    )
}

/// A 422 for a body that is not a frame `frame-diff` reads.
fn unreadable(message: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "unreadable_frame",
        message,
    )
}

/// The benchmark id and frame in the path, or a 400.
fn target(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(BenchmarkId, i32), ApiError> {
    let Path((id, frame)) = path?;
    let id = id.parse().map_err(|_| {
        ApiError::bad_request(
            "bad_benchmark_id",
            format!("{id:?} is not a benchmark id; benchmark ids look like 0190a1b2-…"),
        )
    })?;
    let frame = frame.parse().map_err(|_| {
        ApiError::bad_request("bad_frame", format!("{frame:?} is not a frame number"))
    })?;
    Ok((id, frame))
}

/// `PUT /api/v1/benchmarks/{id}/reference/{frame}`: the EXR of one frame
/// of the reference. Another tenant's benchmark is a 404, one without a
/// reference a 409, a frame the benchmark does not render or bytes
/// `frame-diff` cannot decode a 422, over the limit a 413; all of it
/// checked before the body is read but the decoding. 201 for a first
/// upload, 200 for a replacement.
pub async fn upload(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<(String, String)>, PathRejection>,
    request: Request,
) -> Result<(StatusCode, Json<Uploaded>), ApiError> {
    let (id, frame) = target(path)?;
    check_benchmark(&farm, &principal, id).await?;
    let facts = farm
        .db
        .call(move |db| db.benchmark_reference_target(id))
        .await?;
    if facts.reference.is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_reference",
            format!(
                "benchmark {id} has no reference: create the benchmark with a `reference` to upload reference frames"
            ),
        ));
    }
    if !facts.frames.contains(&frame) {
        let span = match (facts.frames.first(), facts.frames.last()) {
            (Some(first), Some(last)) => format!(
                "its {} frames run from {first} to {last}",
                facts.frames.len()
            ),
            _ => "it has no frames".to_owned(),
        };
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "frame_not_in_benchmark",
            format!("frame {frame} is not among benchmark {id}'s frames; {span}"),
        ));
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > REFERENCE_FRAME_LIMIT as u64) {
        return Err(too_large());
    }
    let bytes = Bytes::from_request(request, &farm)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::bad_request(
                    "upload_interrupted",
                    format!("the upload broke off: {}", rejection.body_text()),
                )
            }
        })?;
    if !bytes.starts_with(&EXR_MAGIC) {
        return Err(unreadable(format!(
            "the body of {} bytes is not an OpenEXR file: send frame {frame}'s EXR as the body",
            bytes.len()
        )));
    }
    let pixel_hash = {
        let _slot = farm
            .checks
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let bytes = bytes.clone();
        tokio::task::spawn_blocking(move || {
            let name = format!("{frame}.exr");
            frame_diff::read_image_bytes(&bytes, FsPath::new(&name))
                .map(|image| image.pixel_hash().to_hex().to_string())
                .map_err(|e| unreadable(format!("frame-diff cannot decode the frame: {e}")))
        })
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("decoding the frame failed: {e}"),
            )
        })??
    };
    let key = reference_key(id, frame);
    let size = bytes.len() as u64;
    farm.store
        .put(
            &object_store::path::Path::from(key.as_str()),
            PutPayload::from(bytes),
        )
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_failed",
                format!("cannot store the reference frame: {e}"),
            )
        })?;
    let copy = ReferenceCopy {
        object_key: key,
        pixel_hash,
        bytes: size,
        uploaded_ms: now_ms(),
    };
    let recorded = copy.clone();
    let replaced = farm
        .db
        .call(move |db| db.record_reference_frame(id, frame, &recorded))
        .await?;
    tracing::info!(benchmark_id = %id, frame, pixel_hash = %copy.pixel_hash, bytes = size,
        replaced, "reference frame uploaded");
    farm.spawn_benchmark_diffs(id);
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(Uploaded {
            benchmark_id: id,
            frame,
            object_key: copy.object_key,
            pixel_hash: copy.pixel_hash,
            bytes: size,
            replaced,
        }),
    ))
}

/// The `reference` object of a benchmark request, for the OpenAPI document.
pub(super) fn request_schema() -> serde_json::Value {
    serde_json::json!({"type": "object", "required": ["name"], "additionalProperties": false,
        "description": "the studio's own sequence, the baseline every run is compared with; its figures are stored and shown as stated by the studio, never as observed; upload its frames with PUT /api/v1/benchmarks/{id}/reference/{frame}",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS},
            "seconds_per_frame": {"type": "number", "minimum": 0},
            "cost_per_frame": {"type": "string", "description": "decimal amount in the farm's currency, like \"0.40\""},
            "time_to_complete_secs": {"type": "number", "minimum": 0}}})
}

/// The upload route, for the OpenAPI document.
pub(super) fn openapi_paths() -> serde_json::Value {
    let error = |description: &str| {
        serde_json::json!({"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
    };
    let uploaded = serde_json::json!({"type": "object", "properties": {
        "benchmark_id": {"type": "string", "format": "uuid"}, "frame": {"type": "integer"},
        "object_key": {"type": "string"}, "pixel_hash": {"type": "string"},
        "bytes": {"type": "integer"}, "replaced": {"type": "boolean"}}});
    serde_json::json!({
        "/api/v1/benchmarks/{id}/reference/{frame}": {"put": {
            "summary": "Upload one frame of a benchmark's reference (the studio's own render) as EXR bytes; stored at benchmarks/<id>/reference/<frame>.exr, every run's copy of the frame is compared with it (again after a re-upload, which replaces it)",
            "parameters": [
                {"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}},
                {"name": "frame", "in": "path", "required": true, "schema": {"type": "integer"}}],
            "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary", "maxLength": REFERENCE_FRAME_LIMIT}}}},
            "responses": {
                "201": {"description": "stored", "content": {"application/json": {"schema": uploaded}}},
                "200": {"description": "stored, replacing an earlier upload of the frame", "content": {"application/json": {"schema": uploaded}}},
                "400": error("not a benchmark id or frame number"),
                "404": error("no such benchmark (or another tenant's)"),
                "409": error("the benchmark has no reference (no_reference)"),
                "413": error("larger than 1 GiB"),
                "422": error("a frame the benchmark does not render (frame_not_in_benchmark), or bytes frame-diff cannot decode as an OpenEXR frame (unreadable_frame)")}}}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reference request named `name` with `cost`.
    fn request(name: &str, cost: Option<&str>) -> ReferenceRequest {
        ReferenceRequest {
            name: name.to_owned(),
            seconds_per_frame: Some(42.5),
            cost_per_frame: cost.map(str::to_owned),
            time_to_complete_secs: None,
        }
    }

    #[test]
    fn a_reference_is_a_name_and_the_studio_s_figures() {
        let reference = checked_reference(&request(" our farm ", Some("0.40"))).unwrap();
        assert_eq!(reference.name, "our farm");
        assert_eq!(
            reference.stated_by_studio.cost_per_frame_micros,
            Some(Money(400_000))
        );
        assert_eq!(reference.stated_by_studio.seconds_per_frame, Some(42.5));
        for bad in [
            request("", None),
            request(&"x".repeat(81), None),
            request("tab\there", None),
            request("ok", Some("forty")),
            request("ok", Some("-1")),
            ReferenceRequest {
                seconds_per_frame: Some(-1.0),
                ..request("ok", None)
            },
        ] {
            let error = checked_reference(&bad).unwrap_err();
            assert_eq!(error.code, "bad_reference", "{bad:?}");
            assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
        }
        assert!(checked_reference(&request(&"é".repeat(80), None)).is_ok());
    }
}
