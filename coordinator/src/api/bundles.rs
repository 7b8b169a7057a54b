//! Scene bundles: `POST /api/v1/bundles` takes a manifest and answers which
//! blobs the caller's tenant still has to send; `PUT /api/v1/blobs/{hash}`
//! takes one, checked against its hash before it is kept. A manifest's
//! sizes are checked against the bytes uploaded: when it is described (for
//! blobs already sent) and when a job is made from it (for all).

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use object_store::ObjectStoreExt;
use protocol::SceneHash;
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::require;
use super::spool::{check_headers, spool};
use crate::auth::{Principal, Role};
use crate::bundle::{self, BundleLimits, Manifest, MissingBlob};
use crate::farm::Farm;

/// A bundle and what its tenant still has to upload.
#[derive(Debug, Serialize, Deserialize)]
pub struct BundleAnswer {
    /// The bundle's id (blake3 of its canonical manifest).
    pub id: String,
    /// The manifest, files sorted by path.
    pub manifest: Manifest,
    /// All files together, in bytes.
    pub bytes: u64,
    /// Blobs to `PUT /api/v1/blobs/{hash}` before a job can use the bundle.
    pub missing: Vec<MissingBlob>,
    /// Their bytes together.
    pub missing_bytes: u64,
}

/// Answer to a blob upload.
#[derive(Debug, Serialize, Deserialize)]
pub struct BlobAnswer {
    /// The blob's blake3.
    pub hash: SceneHash,
    /// Its size.
    pub bytes: u64,
    /// False when the caller's tenant had uploaded it before.
    pub created: bool,
}

/// The limits bundles are checked against.
fn limits(farm: &Farm) -> BundleLimits {
    BundleLimits {
        max_files: farm.config.jobs.max_bundle_files,
        max_file_bytes: farm.config.jobs.max_upload_bytes,
        max_bundle_bytes: farm.config.jobs.max_bundle_bytes,
    }
}

/// The sizes of `manifest`'s blobs that `principal`'s tenant uploaded: what
/// it lacks and whether the manifest's sizes are true both follow from it.
async fn uploaded(
    farm: &Farm,
    principal: &Principal,
    manifest: &Manifest,
) -> Result<BTreeMap<SceneHash, u64>, ApiError> {
    let (hashes, tenant) = (
        manifest.blobs().into_keys().collect::<Vec<_>>(),
        principal.grant.tenant().cloned(),
    );
    Ok(farm
        .db
        .call(move |db| db.uploaded_sizes(hashes, tenant.as_ref()))
        .await?)
}

/// The answer for `manifest`, with what the tenant whose uploads are
/// `stored` lacks.
fn answer(
    id: String,
    manifest: Manifest,
    bytes: u64,
    stored: &BTreeMap<SceneHash, u64>,
) -> BundleAnswer {
    let missing = bundle::missing(&manifest, stored);
    BundleAnswer {
        id,
        manifest,
        bytes,
        missing_bytes: missing.iter().map(|blob| blob.bytes).sum(),
        missing,
    }
}

/// `POST /api/v1/bundles`: check a manifest (paths, sizes, limits) before
/// anything is uploaded; `201` for a new bundle, `200` for a known one.
pub async fn create(
    State(farm): State<Farm>,
    principal: Principal,
    body: Result<Json<Manifest>, JsonRejection>,
) -> Result<(StatusCode, Json<BundleAnswer>), ApiError> {
    require(&principal, "upload scenes", &[Role::Submitter, Role::Admin])?;
    let Json(manifest) = body?;
    let checked = bundle::check(&manifest, &limits(&farm)).map_err(|error| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_bundle",
            error.to_string(),
        )
    })?;
    let uploads = uploaded(&farm, &principal, &checked.manifest).await?;
    sizes_match(&checked.manifest, &uploads)?;
    let (record, tenant) = (checked.clone(), principal.grant.tenant().cloned());
    let created = farm
        .db
        .call(move |db| db.record_bundle(&record, tenant.as_ref()))
        .await?;
    let answer = answer(checked.id, checked.manifest, checked.bytes, &uploads);
    tracing::info!(bundle = %answer.id, files = answer.manifest.files.len(),
        missing = answer.missing.len(), "bundle described");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(answer)))
}

/// Refuse `manifest` (`422 bundle_size_mismatch`, naming the files) when a
/// file's declared size is not the size of the blob its tenant uploaded
/// under its hash (`stored`): limits and figures are only as true as the
/// sizes they add up.
fn sizes_match(manifest: &Manifest, stored: &BTreeMap<SceneHash, u64>) -> Result<(), ApiError> {
    let mismatches = bundle::size_mismatches(manifest, stored);
    if mismatches.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "bundle_size_mismatch",
        bundle::describe_mismatches(&mismatches),
    ))
}

/// `GET /api/v1/bundles/{id}`: the caller's tenant's bundle and what it
/// still lacks; another tenant's is a 404.
pub async fn show(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<BundleAnswer>, ApiError> {
    require(&principal, "see bundles", &[Role::Submitter, Role::Admin])?;
    let Path(id) = path?;
    let (key, tenant) = (id.clone(), principal.grant.tenant().cloned());
    let manifest = farm
        .db
        .call(move |db| db.bundle(&key, tenant.as_ref()))
        .await?
        .ok_or_else(|| crate::db::DbError::NotFound(format!("bundle {id}")))?;
    let stored = uploaded(&farm, &principal, &manifest).await?;
    let bytes = manifest.files.iter().map(|file| file.bytes).sum();
    Ok(Json(answer(id, manifest, bytes, &stored)))
}

/// `PUT /api/v1/blobs/{hash}`: one file of a bundle. The bytes must hash to
/// the URL's blake3, or nothing is kept (`422`).
pub async fn upload_blob(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<BlobAnswer>), ApiError> {
    require(&principal, "upload scenes", &[Role::Submitter, Role::Admin])?;
    let Path(text) = path?;
    let expected: SceneHash = text.parse().map_err(|_| {
        ApiError::bad_request(
            "bad_hash",
            format!("{text:?} is not a blake3 hash: PUT /api/v1/blobs/<64 hex digits>"),
        )
    })?;
    let limit = farm.config.jobs.max_upload_bytes;
    check_headers(&headers, "the file", limit)?;
    let spooled = spool(body, "the file", limit).await?;
    if spooled.hash != expected {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "hash_mismatch",
            format!(
                "the bytes sent hash to {}, not {expected}: send the file whose blake3 the URL names",
                spooled.hash
            ),
        ));
    }
    let hash = spooled.hash.clone();
    let stored = {
        let hash = hash.clone();
        farm.db.call(move |db| db.blob_stored(&hash)).await?
    };
    if !stored {
        storage::upload_file(&farm.store, &storage::blob_key(&hash), spooled.file.path())
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_failed",
                    format!("cannot store the file: {e}"),
                )
            })?;
    }
    let (record, bytes, tenant) = (
        hash.clone(),
        spooled.bytes,
        principal.grant.tenant().cloned(),
    );
    let created = farm
        .db
        .call(move |db| db.record_blob(&record, bytes, tenant.as_ref()))
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(BlobAnswer {
            hash,
            bytes,
            created,
        }),
    ))
}

/// The manifest of bundle `id` as `principal`'s tenant described it; a 422
/// `unknown_bundle` when that tenant never described it (another tenant's
/// bundle included).
pub(super) async fn described(
    farm: &Farm,
    principal: &Principal,
    id: &str,
) -> Result<Manifest, ApiError> {
    let lookup = (id.to_owned(), principal.grant.tenant().cloned());
    farm.db
        .call(move |db| db.bundle(&lookup.0, lookup.1.as_ref()))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_bundle",
                format!(
                    "no bundle {id:?} was described; describe it first with POST /api/v1/bundles"
                ),
            )
        })
}

/// The scene of a job made from `tenant`'s bundle `id`: every blob must be
/// uploaded (`409` naming the files that are not), and the main file
/// becomes the job's scene (copied to its scene key once, so the scene's
/// record always has its object).
pub(super) async fn job_scene(
    farm: &Farm,
    principal: &Principal,
    id: String,
) -> Result<(SceneHash, bundle::CheckedManifest), ApiError> {
    let tenant = principal.grant.tenant().cloned();
    let manifest = described(farm, principal, &id).await?;
    let stored = uploaded(farm, principal, &manifest).await?;
    let missing = bundle::missing(&manifest, &stored);
    if !missing.is_empty() {
        let paths: Vec<&str> = missing
            .iter()
            .flat_map(|blob| blob.paths.iter().map(String::as_str))
            .collect();
        let shown = paths
            .iter()
            .take(10)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        let more = paths.len().saturating_sub(10);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "bundle_incomplete",
            format!(
                "bundle {id} lacks {} file(s): {shown}{more}; upload each with PUT /api/v1/blobs/<hash> first",
                paths.len()
            ),
        ));
    }
    // Every blob is uploaded now, so every size is known: a bundle
    // described before its blobs were sent is checked here.
    sizes_match(&manifest, &stored)?;
    let main = manifest
        .files
        .iter()
        .find(|file| file.path == manifest.main)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "corrupt_bundle",
                format!("bundle {id} has no main file"),
            )
        })?
        .clone();
    let ext = manifest
        .main
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_owned())
        .unwrap_or_default();
    let hash = main.hash.clone();
    let known = {
        let hash = hash.clone();
        farm.db.call(move |db| db.scene_ext(&hash)).await?
    };
    if known.is_none() {
        farm.store
            .copy(&storage::blob_key(&hash), &storage::scene_key(&hash, &ext))
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_failed",
                    format!("cannot store the bundle's main file as the job's scene: {e}"),
                )
            })?;
        let (hash, ext) = (hash.clone(), ext.clone());
        farm.db
            .call(move |db| db.record_scene(&hash, &ext, main.bytes))
            .await?;
    }
    let scene = hash.clone();
    farm.db
        .call(move |db| db.record_scene_tenant(&scene, tenant.as_ref()))
        .await?;
    let bytes = manifest.files.iter().map(|file| file.bytes).sum();
    Ok((
        hash,
        bundle::CheckedManifest {
            id,
            manifest,
            bytes,
        },
    ))
}
