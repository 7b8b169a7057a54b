//! Sending the blobs the coordinator lacks, one `PUT /api/v1/blobs/{hash}`
//! each, with a bytes progress bar on a terminal.

use indicatif::{ProgressBar, ProgressStyle};

use crate::api::{Api, ApiError};
use crate::output::Output;
use crate::scene::bundle::LocalBundle;
use crate::views::MissingBlob;

/// What was uploaded.
#[derive(Debug, Clone, Default)]
pub struct Uploaded {
    /// Bundle paths whose bytes were sent (a blob at two paths names both).
    pub paths: Vec<String>,
    /// Blobs sent.
    pub blobs: usize,
    /// Bytes sent.
    pub bytes: u64,
}

/// The bar for `total` bytes; hidden unless drawn on a terminal.
fn bar(output: &Output, total: u64) -> ProgressBar {
    if !output.bars() || total == 0 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "uploading [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {wide_msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar
}

/// Upload each of `missing` from `bundle`'s files.
pub async fn upload_missing(
    api: &Api,
    bundle: &LocalBundle,
    missing: &[MissingBlob],
    output: &Output,
) -> Result<Uploaded, ApiError> {
    let total = missing.iter().map(|blob| blob.bytes).sum();
    let progress = bar(output, total);
    let mut uploaded = Uploaded::default();
    for blob in missing {
        let file = bundle
            .source_of(&blob.hash)
            .ok_or_else(|| ApiError::Unexpected {
                url: api.url("/api/v1/bundles"),
                reason: format!(
                    "it asks for blob {}, which this bundle does not have",
                    blob.hash
                ),
            })?;
        progress.set_message(file.path.clone());
        let sent = progress.clone();
        api.put_file(
            &format!("/api/v1/blobs/{}", blob.hash),
            &file.source,
            file.bytes,
            move |n| sent.inc(n),
        )
        .await?;
        uploaded.paths.extend(blob.paths.iter().cloned());
        uploaded.blobs += 1;
        uploaded.bytes += blob.bytes;
    }
    progress.finish_and_clear();
    Ok(uploaded)
}
