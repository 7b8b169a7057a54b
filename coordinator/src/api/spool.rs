//! Streaming an upload's body to a spool file while hashing it, so nothing
//! reaches the store before its size and hash are known.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use futures::StreamExt;
use protocol::SceneHash;
use tokio::io::AsyncWriteExt;

use super::ApiError;

/// An upload in a spool file, with its blake3 and size.
pub struct Spooled {
    /// The spool file (deleted when dropped).
    pub file: tempfile::NamedTempFile,
    /// blake3 of the bytes.
    pub hash: SceneHash,
    /// Size in bytes.
    pub bytes: u64,
}

/// 413 for an upload over `limit` bytes; `what` names it ("the scene").
fn too_large(what: &str, limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "{what} is larger than the coordinator's limit of {limit} bytes (`jobs.max_upload_bytes`)"
        ),
    )
}

fn spool_failed(e: std::io::Error) -> ApiError {
    ApiError::new(
        StatusCode::INSUFFICIENT_STORAGE,
        "spool_failed",
        format!("cannot spool the upload: {e}"),
    )
}

/// Refuse a body that is not raw bytes or declares more than `limit` bytes.
pub fn check_headers(headers: &HeaderMap, what: &str, limit: u64) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some("application/octet-stream") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "wrong_content_type",
            format!("send {what}'s raw bytes with `Content-Type: application/octet-stream`"),
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(what, limit));
    }
    Ok(())
}

/// Stream `body` (`what`, for messages) to a spool file while hashing it,
/// stopping at `limit` bytes.
pub async fn spool(body: Body, what: &str, limit: u64) -> Result<Spooled, ApiError> {
    let spool = tempfile::NamedTempFile::new().map_err(spool_failed)?;
    let mut file = tokio::fs::File::from_std(spool.reopen().map_err(spool_failed)?);
    let mut hasher = blake3::Hasher::new();
    let mut bytes = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("upload_interrupted", format!("the upload broke off: {e}"))
        })?;
        bytes += chunk.len() as u64;
        if bytes > limit {
            return Err(too_large(what, limit));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(spool_failed)?;
    }
    file.flush().await.map_err(spool_failed)?;
    Ok(Spooled {
        file: spool,
        hash: SceneHash::from_blake3(hasher.finalize().as_bytes()),
        bytes,
    })
}
