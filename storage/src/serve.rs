//! The coordinator's server for a local-folder store: `GET` and `PUT`
//! `/storage/<key>`, each honoured only with a valid grant for that method
//! and key ([`LocalGrants`]). S3 stores need no such server: their grants are
//! presigned URLs the bucket checks itself.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::{StreamExt, TryStreamExt};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::io::AsyncWriteExt;

use crate::grant::{Access, GrantError, LocalGrants, unix_now};

/// Parts of an upload written at once.
const PART_SIZE: usize = 8 * 1024 * 1024;

/// What the routes need.
#[derive(Clone)]
struct Served {
    store: Arc<dyn ObjectStore>,
    grants: Arc<LocalGrants>,
}

/// The routes serving `store` under `/storage/`, checked against `grants`.
pub fn router(store: Arc<dyn ObjectStore>, grants: Arc<LocalGrants>) -> Router {
    Router::new()
        .route(
            "/storage/{*key}",
            get(read).put(write).layer(DefaultBodyLimit::disable()),
        )
        .with_state(Served { store, grants })
}

/// A JSON error in the API's shape.
fn error(status: StatusCode, code: &str, message: impl std::fmt::Display) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message.to_string() } });
    (status, axum::Json(body)).into_response()
}

/// The object key of the request, checked against its grant; the refusal
/// to send otherwise.
fn granted(
    served: &Served,
    access: Access,
    key: &str,
    query: &HashMap<String, String>,
) -> Result<Path, Box<Response>> {
    let path = Path::parse(key).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "bad_key",
            format!("bad key: {e}"),
        ))
    })?;
    served
        .grants
        .verify(
            access,
            path.as_ref(),
            query.get("expires").map(String::as_str),
            query.get("sig").map(String::as_str),
            unix_now(),
        )
        .map_err(|why| {
            tracing::warn!(key, ?access, %why, "storage request refused");
            let code = match why {
                GrantError::Missing => "no_grant",
                GrantError::Expired => "grant_expired",
                GrantError::Forged => "bad_grant",
            };
            Box::new(error(StatusCode::FORBIDDEN, code, why))
        })?;
    Ok(path)
}

async fn read(
    State(served): State<Served>,
    UrlPath(key): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let path = match granted(&served, Access::Read, &key, &query) {
        Ok(path) => path,
        Err(refused) => return *refused,
    };
    match served.store.get(&path).await {
        Ok(object) => {
            let size = object.meta.size;
            let stream = object.into_stream().map_err(std::io::Error::other);
            Response::builder()
                .header(header::CONTENT_LENGTH, size)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(Body::from_stream(stream))
                .expect("a valid response")
        }
        Err(object_store::Error::NotFound { .. }) => {
            error(StatusCode::NOT_FOUND, "no_such_object", "no such object")
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "store_failed", e),
    }
}

async fn write(
    State(served): State<Served>,
    UrlPath(key): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Body,
) -> Response {
    let path = match granted(&served, Access::Write, &key, &query) {
        Ok(path) => path,
        Err(refused) => return *refused,
    };
    let mut writer = BufWriter::with_capacity(Arc::clone(&served.store), path, PART_SIZE);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let written = match chunk {
            Ok(chunk) => writer.write_all(&chunk).await,
            Err(e) => Err(std::io::Error::other(e)),
        };
        if let Err(e) = written {
            let _ = writer.abort().await;
            return error(StatusCode::BAD_REQUEST, "upload_failed", e);
        }
    }
    match writer.shutdown().await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "store_failed", e),
    }
}
