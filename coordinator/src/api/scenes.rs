//! `POST /api/v1/scenes`: streamed, content-addressed scene upload.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use protocol::SceneHash;
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::require;
use super::spool::{Spooled, check_headers, spool};
use crate::auth::{Principal, Role};
use crate::farm::Farm;

/// Query string of an upload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The scene's file name (`shot010.blend`); only its extension is kept.
    pub filename: String,
}

/// Answer to an upload.
#[derive(Debug, Serialize, Deserialize)]
pub struct Uploaded {
    /// blake3 of the bytes: use it as `scene` when creating a job.
    pub hash: SceneHash,
    /// Extension kept from the file name.
    pub ext: String,
    /// Size in bytes.
    pub bytes: u64,
    /// False when the uploader's tenant uploaded the same bytes before.
    /// Bytes are stored once whoever uploads them, and whether another
    /// tenant has them is not shown.
    pub created: bool,
}

/// The extension of an uploaded file name, refusing anything path-like.
fn extension(filename: &str) -> Result<String, ApiError> {
    if filename.contains(['/', '\\', '\0']) || filename.contains("..") || filename.starts_with('.')
    {
        return Err(ApiError::bad_request(
            "bad_filename",
            format!(
                "filename {filename:?} looks like a path; send only the file's name, like `shot010.blend`"
            ),
        ));
    }
    let ext = filename
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    if !storage::valid_extension(&ext) {
        return Err(ApiError::bad_request(
            "bad_filename",
            format!("filename {filename:?} needs a plain extension such as `.blend`"),
        ));
    }
    Ok(ext)
}

/// Stream the body to a spool file while hashing it, then store it under
/// `scenes/<blake3>.<ext>` unless those bytes are already known. Either way
/// the uploader's tenant may use the scene from now on (admins record no
/// tenant and may use any scene).
pub async fn upload(
    State(farm): State<Farm>,
    principal: Principal,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Uploaded>), ApiError> {
    require(&principal, "upload scenes", &[Role::Submitter, Role::Admin])?;
    let Query(query) = query.map_err(|_| {
        ApiError::bad_request(
            "missing_filename",
            "add the scene's file name: POST /api/v1/scenes?filename=shot010.blend",
        )
    })?;
    let ext = extension(&query.filename)?;
    let limit = farm.config.jobs.max_upload_bytes;
    check_headers(&headers, "the scene", limit)?;
    let Spooled {
        file: spool,
        hash,
        bytes,
    } = spool(body, "the scene", limit).await?;
    if bytes == 0 {
        return Err(ApiError::bad_request(
            "empty_scene",
            "the upload is empty; send the scene file's bytes",
        ));
    }

    let known = {
        let hash = hash.clone();
        farm.db.call(move |db| db.scene_ext(&hash)).await?
    };
    if known.is_none() {
        let key = storage::scene_key(&hash, &ext);
        storage::upload_file(&farm.store, &key, spool.path())
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_failed",
                    format!("cannot store the scene: {e}"),
                )
            })?;
        let (hash, ext) = (hash.clone(), ext.clone());
        farm.db
            .call(move |db| db.record_scene(&hash, &ext, bytes))
            .await?;
    }
    let ext = match known {
        Some(stored) => stored,
        None => ext,
    };
    let (scene, tenant) = (hash.clone(), principal.grant.tenant().cloned());
    let created = farm
        .db
        .call(move |db| db.record_scene_tenant(&scene, tenant.as_ref()))
        .await?;
    tracing::info!(%hash, bytes, created, "scene uploaded");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(Uploaded {
            hash,
            ext,
            bytes,
            created,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_give_plain_extensions_only() {
        assert_eq!(extension("shot.blend").unwrap(), "blend");
        assert_eq!(extension("Shot.BLEND").unwrap(), "blend");
        for bad in [
            "../../etc/passwd.blend",
            "a/b.blend",
            "..\\x.blend",
            ".blend",
            "noext",
            "x.bl end",
        ] {
            assert!(extension(bad).is_err(), "{bad}");
        }
    }
}
