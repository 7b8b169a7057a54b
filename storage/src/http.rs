//! Transfers through grants: a worker's side of [`crate::Grants`]. Files are
//! streamed, never held in memory.

use std::path::Path;

use futures::TryStreamExt;

use crate::StoreError;
use crate::transfer::io;

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
    let stream = response.bytes_stream().map_err(http);
    crate::transfer::write_verified(stream, file, &shown(url), expected_blake3).await
}
