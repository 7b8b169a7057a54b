//! The parity checker: compares the copies of a frame with `frame-diff` and
//! records the verdicts, and writes cost reports of finished jobs.

use std::path::Path;
use std::sync::Arc;

use frame_diff::{CompareConfig, FrameImage};
use object_store::{ObjectStore, ObjectStoreExt};
use protocol::JobId;
use tracing::Instrument;

use crate::db::{ComparisonPlan, PlannedCopy, VerdictNumbers};
use crate::farm::Farm;

/// Why a comparison could not be made now (it is retried later).
#[derive(Debug, thiserror::Error)]
enum CheckError {
    /// The object store failed (not: the object is missing).
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// The comparison thread died.
    #[error("comparison interrupted: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// A copy as the checker has it: decoded, or why it cannot be.
type Decoded = Result<FrameImage, String>;

/// Fetch and decode one copy. A missing or undecodable object is the
/// worker's fault (an `Err` inside); a store outage is an error.
async fn fetch(store: &Arc<dyn ObjectStore>, copy: &PlannedCopy) -> Result<Decoded, CheckError> {
    let path = object_store::path::Path::from(copy.object_key.as_str());
    let bytes = match store.get(&path).await {
        Ok(result) => result.bytes().await?,
        Err(object_store::Error::NotFound { .. }) => {
            return Ok(Err(format!(
                "copy {} is missing from the store",
                copy.replica
            )));
        }
        Err(error) => return Err(error.into()),
    };
    let key = copy.object_key.clone();
    let replica = copy.replica;
    Ok(tokio::task::spawn_blocking(move || {
        frame_diff::read_image_bytes(&bytes, Path::new(&key))
            .map_err(|e| format!("copy {replica} cannot be read: {e}"))
    })
    .await?)
}

/// Judge every missing pair of the plan.
async fn judge(
    store: &Arc<dyn ObjectStore>,
    plan: &ComparisonPlan,
) -> Result<Vec<(u32, u32, VerdictNumbers)>, CheckError> {
    let copy = |replica: u32| plan.copies.iter().find(|c| c.replica == replica);
    let mut decoded: Vec<(u32, Arc<Decoded>)> = Vec::new();
    let mut verdicts = Vec::new();
    for &(a, b) in &plan.missing {
        let (Some(copy_a), Some(copy_b)) = (copy(a), copy(b)) else {
            continue;
        };
        if copy_a.pixel_hash == copy_b.pixel_hash {
            verdicts.push((a, b, VerdictNumbers::same_hash()));
            continue;
        }
        let mut images = Vec::with_capacity(2);
        for planned in [copy_a, copy_b] {
            let image = match decoded.iter().find(|d| d.0 == planned.replica) {
                Some((_, image)) => Arc::clone(image),
                None => {
                    let image = Arc::new(fetch(store, planned).await?);
                    decoded.push((planned.replica, Arc::clone(&image)));
                    image
                }
            };
            images.push(image);
        }
        let (image_a, image_b) = (Arc::clone(&images[0]), Arc::clone(&images[1]));
        let numbers = tokio::task::spawn_blocking(move || match (&*image_a, &*image_b) {
            (Ok(a), Ok(b)) => VerdictNumbers::from_comparison(&frame_diff::compare(
                a,
                b,
                &CompareConfig::default(),
            )),
            (Err(why), _) | (_, Err(why)) => VerdictNumbers::unreadable(why.clone()),
        })
        .await?;
        verdicts.push((a, b, numbers));
    }
    Ok(verdicts)
}

impl Farm {
    /// Compare the copies of a frame in the background (once at a time).
    pub fn spawn_comparison(&self, job: String, frame: i32) {
        let key = (job.clone(), frame);
        if !self
            .comparing
            .lock()
            .expect("not poisoned")
            .insert(key.clone())
        {
            return;
        }
        let farm = self.clone();
        let span = tracing::info_span!("compare", job_id = %job, frame);
        tokio::spawn(
            async move {
                if let Err(error) = farm.compare_frame(&job, frame).await {
                    tracing::warn!(%error, "comparison failed; it is retried at the next watchdog round");
                }
                farm.comparing.lock().expect("not poisoned").remove(&key);
            }
            .instrument(span),
        );
    }

    /// Compare what a frame still needs compared and record the verdicts.
    async fn compare_frame(&self, job: &str, frame: i32) -> Result<(), CheckError> {
        let key = job.to_owned();
        let Some(plan) = self
            .db
            .call(move |db| db.comparison_plan(&key, frame))
            .await?
        else {
            return Ok(());
        };
        let verdicts = judge(&self.store, &plan).await?;
        let policy = Arc::clone(&self.policy);
        let key = job.to_owned();
        let followup = self
            .db
            .call(move |db| db.record_verdicts(&key, frame, &verdicts, &policy))
            .await?;
        self.follow(followup).await;
        Ok(())
    }

    /// Write a finished job's cost report to `reports/<job>/cost.csv`.
    pub fn spawn_report(&self, job: JobId) {
        let farm = self.clone();
        tokio::spawn(
            async move {
                if let Err(error) = farm.write_report(job).await {
                    tracing::warn!(%error, "cost report not written; retried at the next watchdog round");
                }
            }
            .instrument(tracing::info_span!("report", job_id = %job)),
        );
    }

    /// Write one job's cost report now.
    pub async fn write_report(&self, job: JobId) -> Result<(), crate::Error> {
        let currency = self.config.billing.currency.clone();
        let report = self
            .db
            .call(move |db| db.cost_report(job, &currency))
            .await?;
        if !report.state.is_final() {
            return Ok(());
        }
        let key = storage::report_key(job);
        self.store
            .put(&key, report.to_csv().into_bytes().into())
            .await
            .map_err(storage::StoreError::from)?;
        let written = key.to_string();
        self.db
            .call(move |db| db.report_written(job, &written))
            .await?;
        tracing::info!(key = %key, cost = %report.totals.cost_micros, "cost report written");
        Ok(())
    }

    /// Redo what may have been interrupted (by a restart or an outage):
    /// comparisons not recorded, reports not written, copies not placed.
    pub async fn catch_up(&self) {
        match self.db.call(|db| db.frames_to_compare()).await {
            Ok(frames) => {
                for (job, frame) in frames {
                    self.spawn_comparison(job, frame);
                }
            }
            Err(error) => tracing::error!(%error, "cannot list frames to compare"),
        }
        match self.db.call(|db| db.jobs_missing_report()).await {
            Ok(jobs) => {
                for job in jobs {
                    self.spawn_report(job);
                }
            }
            Err(error) => tracing::error!(%error, "cannot list reports to write"),
        }
        self.wake_dispatcher();
    }
}
