//! Previews of every rendered copy, made once by the coordinator from its
//! own copy of the upload (workers are not trusted to make them) and stored
//! beside the frames: a thumbnail and a full-size PNG at
//! [`storage::preview_key`]. They are made in the background after the
//! intake check accepts a copy, a few at a time, the decode on a blocking
//! thread; no request decodes a frame. A preview that cannot be made is
//! logged and changes nothing else.

use std::path::Path;

use object_store::ObjectStoreExt;
use protocol::JobId;
use storage::PreviewSize;
use tracing::Instrument;

use crate::farm::Farm;

/// Longer side of a thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 256;

/// Longer side of a full-size preview, at most, in pixels (a 4K frame's
/// preview is 2048 wide).
pub const FULL_SIDE: u32 = 2048;

/// Previews made at once: each holds a decoded frame in memory.
pub const PREVIEW_SLOTS: usize = 1;

/// Why a copy has no previews.
#[derive(Debug, thiserror::Error)]
pub enum PreviewFailure {
    /// The store failed.
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// The copy does not decode.
    #[error("the copy cannot be read: {0}")]
    Decode(#[from] frame_diff::FrameDiffError),
    /// The decoded copy cannot be shown.
    #[error(transparent)]
    Preview(#[from] frame_diff::preview::PreviewError),
    /// The preview thread died.
    #[error("preview interrupted: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// The thumbnail and full-size PNGs of an encoded frame (`key` names it in
/// errors).
pub fn render_previews(bytes: &[u8], key: &str) -> Result<(Vec<u8>, Vec<u8>), PreviewFailure> {
    let image = frame_diff::read_image_bytes(bytes, Path::new(key))?;
    let png = |side| {
        frame_diff::preview::tone_map(&image, 0.0, Some(side))
            .and_then(|shown| frame_diff::preview::encode_png(&shown))
    };
    Ok((png(THUMB_SIDE)?, png(FULL_SIDE)?))
}

impl Farm {
    /// Make the previews of an accepted copy, whose coordinator-owned copy
    /// is at `copy_key`, in the background.
    pub(crate) fn spawn_previews(&self, job: JobId, frame: i32, replica: u32, copy_key: String) {
        let farm = self.clone();
        let span = tracing::info_span!("preview", job_id = %job, frame, replica);
        tokio::spawn(
            async move {
                match farm.make_previews(job, frame, replica, &copy_key).await {
                    Ok(true) => tracing::debug!("previews written"),
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(%error, copy = copy_key, "no preview of this copy")
                    }
                }
            }
            .instrument(span),
        );
    }

    /// Write a copy's previews unless its thumbnail exists; whether they
    /// were written. The full-size preview is written first, so a thumbnail
    /// means both are there.
    async fn make_previews(
        &self,
        job: JobId,
        frame: i32,
        replica: u32,
        copy_key: &str,
    ) -> Result<bool, PreviewFailure> {
        let _slot = self
            .previews
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let thumb = storage::preview_key(job, frame, replica, PreviewSize::Thumb);
        match self.store.head(&thumb).await {
            Ok(_) => return Ok(false),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(error.into()),
        }
        let bytes = self
            .store
            .get(&object_store::path::Path::from(copy_key))
            .await?
            .bytes()
            .await?;
        let key = copy_key.to_owned();
        let (small, full) =
            tokio::task::spawn_blocking(move || render_previews(&bytes, &key)).await??;
        let full_key = storage::preview_key(job, frame, replica, PreviewSize::Full);
        self.store.put(&full_key, full.into()).await?;
        self.store.put(&thumb, small.into()).await?;
        Ok(true)
    }

    /// Write the heat maps (`(replica_a, replica_b, png)`) the checker drew
    /// for a frame; a failure is logged, the verdicts stand.
    pub(crate) async fn write_heat_maps(
        &self,
        job: JobId,
        frame: i32,
        maps: Vec<(u32, u32, Vec<u8>)>,
    ) {
        for (a, b, png) in maps {
            let key = storage::heatmap_key(job, frame, a, b);
            if let Err(error) = self.store.put(&key, png.into()).await {
                tracing::warn!(%error, replica_a = a, replica_b = b, "heat map not written");
            }
        }
    }
}
