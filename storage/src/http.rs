//! Transfers through grants: a worker's side of [`crate::Grants`]. Files are
//! streamed, never held in memory.

use std::path::Path;

use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::StoreError;

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Io { context, source }
}

/// The URL without its query (the grant's signature), for messages and logs.
fn shown(url: &url::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}

/// Why the server refused: its status and the start of its answer.
async fn refused(url: &url::Url, response: reqwest::Response) -> StoreError {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    StoreError::Refused {
        url: shown(url),
        status,
        body: body.chars().take(500).collect(),
    }
}

/// `PUT` a local file to a granted URL. Returns the number of bytes sent.
pub async fn put_file(
    client: &reqwest::Client,
    url: &url::Url,
    file: &Path,
) -> Result<u64, StoreError> {
    let handle = tokio::fs::File::open(file)
        .await
        .map_err(io(format!("cannot open {}", file.display())))?;
    let size = handle
        .metadata()
        .await
        .map_err(io(format!("cannot read {}", file.display())))?
        .len();
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(handle));
    let response = client
        .put(url.clone())
        .header(reqwest::header::CONTENT_LENGTH, size)
        .body(body)
        .send()
        .await
        .map_err(|source| StoreError::Http {
            url: shown(url),
            source,
        })?;
    if !response.status().is_success() {
        return Err(refused(url, response).await);
    }
    Ok(size)
}

/// `GET` a granted URL into `file` (written under a temporary name, then
/// renamed), checking its blake3 against `expected_blake3` (hex) when given.
/// Returns the hex blake3 of what was downloaded.
pub async fn get_file(
    client: &reqwest::Client,
    url: &url::Url,
    file: &Path,
    expected_blake3: Option<&str>,
) -> Result<String, StoreError> {
    let http = |source| StoreError::Http {
        url: shown(url),
        source,
    };
    let response = client.get(url.clone()).send().await.map_err(http)?;
    if !response.status().is_success() {
        return Err(refused(url, response).await);
    }
    let partial = file.with_extension("partial");
    let mut out = tokio::fs::File::create(&partial)
        .await
        .map_err(io(format!("cannot create {}", partial.display())))?;
    let mut hasher = blake3::Hasher::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(http)?;
        hasher.update(&chunk);
        out.write_all(&chunk)
            .await
            .map_err(io(format!("cannot write {}", partial.display())))?;
    }
    out.sync_all()
        .await
        .map_err(io(format!("cannot flush {}", partial.display())))?;
    let actual = hasher.finalize().to_hex().to_string();
    if let Some(expected) = expected_blake3.filter(|e| *e != actual) {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(StoreError::HashMismatch {
            key: shown(url),
            expected: expected.to_owned(),
            actual,
        });
    }
    tokio::fs::rename(&partial, file)
        .await
        .map_err(io(format!("cannot move {} into place", partial.display())))?;
    Ok(actual)
}
