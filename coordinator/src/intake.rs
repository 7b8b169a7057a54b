//! The coordinator looks at every delivered result, replicated or not. It
//! first copies the upload (at the key it granted the worker) to a key no
//! worker is ever granted, so what it checks, compares and hands to the
//! submitter cannot be replaced afterwards; then that copy must be of the
//! size its worker reported, with a header saying the frame's size. Only the
//! start of the file is read (a ranged GET); the parity checker decodes the
//! copies it compares, and an accepted copy's previews are made in the
//! background (`preview.rs`).

use std::sync::Arc;

use object_store::{ObjectStore, ObjectStoreExt};
use tracing::Instrument;

use crate::checker::header_size;
use crate::class_reference::ClassReference;
use crate::db::{IntakeFinding, IntakePlan};
use crate::farm::Farm;

/// Bytes read from the start of an EXR for its header; a larger header is
/// read whole.
const HEADER_BYTES: u64 = 256 * 1024;

/// Why the coordinator's copy is not what its worker reported, or `None`
/// when it is. A store outage is an error (the check is retried).
async fn inspect(
    store: &Arc<dyn ObjectStore>,
    plan: &IntakePlan,
) -> Result<Option<String>, object_store::Error> {
    let path = object_store::path::Path::from(plan.stored_key.as_str());
    let meta = store.head(&path).await?;
    if meta.size != plan.bytes {
        return Ok(Some(format!(
            "the upload is {} bytes, its worker reported {}",
            meta.size, plan.bytes
        )));
    }
    let start = store
        .get_range(&path, 0..meta.size.min(HEADER_BYTES))
        .await?;
    let size = match header_size(&start) {
        Ok(size) => size,
        Err(_) if meta.size > HEADER_BYTES => {
            let whole = store.get(&path).await?.bytes().await?;
            match header_size(&whole) {
                Ok(size) => size,
                Err(why) => return Ok(Some(why)),
            }
        }
        Err(why) => return Ok(Some(why)),
    };
    if size != plan.reported_size {
        return Ok(Some(format!(
            "the upload is {}x{}, its worker reported {}x{}",
            size.0, size.1, plan.reported_size.0, plan.reported_size.1
        )));
    }
    if let Some(expected) = plan.expected_size.filter(|expected| *expected != size) {
        return Ok(Some(format!(
            "the upload is {}x{}, the job renders {}x{}",
            size.0, size.1, expected.0, expected.1
        )));
    }
    Ok(None)
}

/// Compare the benchmark frame `frame`, the coordinator's copy at `key`,
/// with its reference render (within the checker's slots: it decodes two
/// frames): its mean HDR-FLIP, or why it does not look like it.
async fn judge(
    store: &Arc<dyn ObjectStore>,
    reference: &Arc<ClassReference>,
    frame: i32,
    key: &str,
) -> Result<Result<f64, String>, crate::Error> {
    let path = object_store::path::Path::from(key);
    let bytes = store
        .get(&path)
        .await
        .map_err(storage::StoreError::from)?
        .bytes()
        .await
        .map_err(storage::StoreError::from)?;
    let reference = Arc::clone(reference);
    let verdict = tokio::task::spawn_blocking(move || reference.judge(frame, &bytes))
        .await
        .map_err(|e| crate::Error::ClassCheck(format!("comparing with the reference: {e}")))?;
    match &verdict {
        Ok(flip) => tracing::info!(mean_flip = flip, "benchmark frame looks like its reference"),
        Err(why) => tracing::warn!(%why, "benchmark frame does not look like its reference"),
    }
    Ok(verdict)
}

impl Farm {
    /// Look at a delivered result in the background (once at a time).
    pub fn spawn_intake(&self, job: String, frame: i32, replica: u32) {
        let key = (job.clone(), frame, replica);
        if !self
            .intaking
            .lock()
            .expect("not poisoned")
            .insert(key.clone())
        {
            return;
        }
        let farm = self.clone();
        let span = tracing::info_span!("intake", job_id = %job, frame, replica);
        tokio::spawn(
            async move {
                if let Err(error) = farm.intake(&job, frame, replica).await {
                    tracing::warn!(%error, "intake check failed; it is retried at the next watchdog round");
                }
                farm.intaking.lock().expect("not poisoned").remove(&key);
            }
            .instrument(span),
        );
    }

    /// Check one result's upload and record what was found.
    async fn intake(&self, job: &str, frame: i32, replica: u32) -> Result<(), crate::Error> {
        let key = job.to_owned();
        let Some(plan) = self
            .db
            .call(move |db| db.intake_plan(&key, frame, replica))
            .await?
        else {
            return Ok(());
        };
        let upload = object_store::path::Path::from(plan.object_key.as_str());
        let stored = object_store::path::Path::from(plan.stored_key.as_str());
        let (stored_key, lie) = match self.store.copy(&upload, &stored).await {
            Ok(()) => {
                let lie = inspect(&self.store, &plan)
                    .await
                    .map_err(storage::StoreError::from)?;
                (Some(plan.stored_key.clone()), lie)
            }
            Err(object_store::Error::NotFound { .. }) => (
                None,
                Some(format!("nothing was uploaded at {}", plan.object_key)),
            ),
            Err(error) => return Err(storage::StoreError::from(error).into()),
        };
        let accepted = stored_key.clone().filter(|_| lie.is_none());
        let reference = match (&self.class_reference, &accepted) {
            (Some(reference), Some(copy)) if plan.class_check => {
                Some(judge(&self.store, reference, frame, copy).await?)
            }
            _ => None,
        };
        let found = IntakeFinding {
            stored_key,
            lie,
            reference,
        };
        let policy = Arc::clone(&self.policy);
        let key = job.to_owned();
        let followup = self
            .db
            .call(move |db| db.record_intake(&key, frame, replica, &found, &policy))
            .await?;
        // The worker's grant may still be good for a while; what it writes
        // there now is never read.
        if let Err(error) = self.store.delete(&upload).await {
            tracing::debug!(%error, key = %plan.object_key, "the upload could not be removed");
        }
        if let (Some(copy), Ok(job)) = (accepted, job.parse()) {
            self.spawn_previews(job, frame, replica, copy);
        }
        self.follow(followup).await;
        Ok(())
    }
}
