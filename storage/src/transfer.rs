//! Streaming file transfers: multipart uploads for large files, hashed
//! downloads.

use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::StoreError;

/// Parts of a multipart upload; files smaller than this go in one PUT.
const PART_SIZE: usize = 8 * 1024 * 1024;

/// Maps an I/O error to [`StoreError::Io`] with what was being done.
pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Io { context, source }
}

/// Upload a local file, as a multipart upload when it is larger than one part.
/// Returns the number of bytes sent.
pub async fn upload_file(
    store: &Arc<dyn ObjectStore>,
    key: &Path,
    file: &std::path::Path,
) -> Result<u64, StoreError> {
    let mut reader = tokio::fs::File::open(file)
        .await
        .map_err(io(format!("cannot open {}", file.display())))?;
    let mut writer = BufWriter::with_capacity(Arc::clone(store), key.clone(), PART_SIZE);
    let sent = tokio::io::copy(&mut reader, &mut writer)
        .await
        .map_err(io(format!("cannot upload {} to {key}", file.display())))?;
    writer
        .shutdown()
        .await
        .map_err(io(format!("cannot finish the upload of {key}")))?;
    Ok(sent)
}

/// Download `key` into `file` (written under a temporary name, then renamed),
/// checking its blake3 against `expected_blake3` (hex) when given. Returns the
/// hex blake3 of what was downloaded.
pub async fn download_to_file(
    store: &Arc<dyn ObjectStore>,
    key: &Path,
    file: &std::path::Path,
    expected_blake3: Option<&str>,
) -> Result<String, StoreError> {
    use futures::TryStreamExt;

    let stream = store
        .get(key)
        .await?
        .into_stream()
        .map_err(StoreError::from);
    write_verified(stream, file, key.as_ref(), expected_blake3).await
}

/// Write `stream` (the object `shown`) into `file` under a temporary name,
/// then rename it, checking its blake3 against `expected_blake3` (hex) when
/// given; a mismatch leaves nothing behind. Returns the hex blake3.
pub(crate) async fn write_verified(
    mut stream: impl futures::Stream<Item = Result<bytes::Bytes, StoreError>> + Unpin,
    file: &std::path::Path,
    shown: &str,
    expected_blake3: Option<&str>,
) -> Result<String, StoreError> {
    use futures::StreamExt;

    let partial = file.with_extension("partial");
    let mut out = tokio::fs::File::create(&partial)
        .await
        .map_err(io(format!("cannot create {}", partial.display())))?;
    let mut hasher = blake3::Hasher::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
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
            key: shown.to_owned(),
            expected: expected.to_owned(),
            actual,
        });
    }
    tokio::fs::rename(&partial, file)
        .await
        .map_err(io(format!("cannot move {} into place", partial.display())))?;
    Ok(actual)
}

/// Read a whole small local file (helper for tests and reports).
pub async fn read_file(file: &std::path::Path) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::new();
    tokio::fs::File::open(file)
        .await
        .map_err(io(format!("cannot open {}", file.display())))?
        .read_to_end(&mut bytes)
        .await
        .map_err(io(format!("cannot read {}", file.display())))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trips_a_multipart_sized_file_with_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::open(&crate::StoreConfig::local(&dir.path().join("store"))).unwrap();
        let src = dir.path().join("big.bin");
        let data: Vec<u8> = (0..(PART_SIZE + 12345)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&src, &data).unwrap();
        let key = Path::from("scenes/big.bin");
        assert_eq!(
            upload_file(&store, &key, &src).await.unwrap(),
            data.len() as u64
        );

        let dst = dir.path().join("copy.bin");
        let hash = blake3::hash(&data).to_hex().to_string();
        assert_eq!(
            download_to_file(&store, &key, &dst, Some(&hash))
                .await
                .unwrap(),
            hash
        );
        assert_eq!(read_file(&dst).await.unwrap(), data);

        let wrong = "0".repeat(64);
        let err = download_to_file(&store, &key, &dir.path().join("bad.bin"), Some(&wrong))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::HashMismatch { .. }));
        assert!(!dir.path().join("bad.partial").exists());
    }
}
