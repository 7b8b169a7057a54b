//! The parity checker: fetches every copy of a frame from the key the
//! coordinator derived for it, refuses a copy of the wrong size from its
//! header alone, decodes the rest and hashes their pixels itself (a copy
//! whose pixels are not what its worker reported is a lie, and a strike),
//! compares the honest copies with `frame-diff` and records the verdicts,
//! writing each compared pair's heat map beside the frame's previews.
//! It also writes cost reports of finished jobs. At most
//! `verification.max_concurrent_checks` frames are examined at once, which
//! bounds the memory decoded frames take.

use std::path::Path;
use std::sync::Arc;

use frame_diff::{CompareConfig, FrameImage};
use object_store::{ObjectStore, ObjectStoreExt};
use protocol::JobId;
use tracing::Instrument;

use crate::db::{ComparisonPlan, CopyCheck, PlannedCopy, VerdictNumbers};
use crate::farm::Farm;

/// Why a comparison could not be made now (it is retried later).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
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

/// A copy as the checker found it at the key the coordinator derived for
/// it: decoded with the pixel hash the checker computed, or why not.
struct Examined {
    replica: u32,
    image: Result<(FrameImage, String), String>,
    /// Why the copy is a lie (not: merely wrong), if it is one.
    lie: Option<String>,
}

/// The width and height in an EXR's header, read without decoding it, or
/// why the header is unreadable.
pub(crate) fn header_size(bytes: &[u8]) -> Result<(u32, u32), String> {
    let meta = exr::meta::MetaData::read_from_buffered(std::io::Cursor::new(bytes), false)
        .map_err(|e| format!("not an OpenEXR file: {e}"))?;
    let header = meta
        .headers
        .first()
        .ok_or_else(|| "an OpenEXR file without a part".to_owned())?;
    let size = header.layer_size;
    Ok((size.width() as u32, size.height() as u32))
}

/// Fetch a copy, refuse it unread when its header says another size than
/// the frame's, then decode it and hash its pixels. A missing, undecodable
/// or wrongly sized object is the worker's fault (an `Err` image); a copy
/// whose header or pixels are not what its worker reported is a lie; a
/// store outage is an error.
async fn examine(
    store: &Arc<dyn ObjectStore>,
    copy: &PlannedCopy,
    expected: (u32, u32),
) -> Result<Examined, CheckError> {
    let replica = copy.replica;
    let refused = |why: String, lie: Option<String>| Examined {
        replica,
        image: Err(why),
        lie,
    };
    let path = object_store::path::Path::from(copy.object_key.as_str());
    let bytes = match store.get(&path).await {
        Ok(result) => result.bytes().await?,
        Err(object_store::Error::NotFound { .. }) => {
            let why = format!("copy {replica} is missing from the store");
            return Ok(refused(why.clone(), Some(why)));
        }
        Err(error) => return Err(error.into()),
    };
    let size = match header_size(&bytes) {
        Ok(size) => size,
        Err(why) => {
            let why = format!("copy {replica}: {why}");
            return Ok(refused(why.clone(), Some(why)));
        }
    };
    if size != expected || size != copy.reported_size {
        let why = format!(
            "copy {replica} is {}x{}, the frame is {}x{} (its worker reported {}x{})",
            size.0, size.1, expected.0, expected.1, copy.reported_size.0, copy.reported_size.1
        );
        let lie = (size != copy.reported_size).then(|| why.clone());
        return Ok(refused(why, lie));
    }
    let key = copy.object_key.clone();
    let decoded = tokio::task::spawn_blocking(move || {
        frame_diff::read_image_bytes(&bytes, Path::new(&key)).map(|image| {
            let hash = image.pixel_hash().to_hex().to_string();
            (image, hash)
        })
    })
    .await?;
    Ok(match decoded {
        Err(e) => {
            let why = format!("copy {replica} cannot be read: {e}");
            refused(why.clone(), Some(why))
        }
        Ok((image, hash)) => {
            let lie = (hash != copy.pixel_hash).then(|| {
                format!(
                    "copy {replica}: its worker reported pixel hash {}, its pixels hash to {hash}",
                    copy.pixel_hash
                )
            });
            Examined {
                replica,
                image: Ok((image, hash)),
                lie,
            }
        }
    })
}

/// What the checker established about a frame's copies.
#[derive(Debug)]
pub struct Judged {
    /// Per copy: its replica, the pixel hash the checker computed, and why
    /// it is a lie, if it is one.
    pub checks: Vec<CopyCheck>,
    /// Verdicts on pairs of honest copies.
    pub verdicts: Vec<(u32, u32, VerdictNumbers)>,
    /// The heat map PNG of each pair judged whose copies both decoded,
    /// lower replica first (drawn from the images already decoded).
    pub heat_maps: Vec<(u32, u32, Vec<u8>)>,
}

/// Examine every copy of the plan and judge every missing pair of copies
/// that are not lies, by the hashes the checker computed itself. Public for
/// the checker's benchmark; the farm calls it through its comparisons.
pub async fn judge(
    store: &Arc<dyn ObjectStore>,
    plan: &ComparisonPlan,
) -> Result<Judged, CheckError> {
    let mut examined = Vec::with_capacity(plan.copies.len());
    for copy in &plan.copies {
        examined.push(Arc::new(examine(store, copy, plan.expected_size).await?));
    }
    let checks = examined
        .iter()
        .map(|e| CopyCheck {
            replica: e.replica,
            checked_hash: e.image.as_ref().ok().map(|(_, hash)| hash.clone()),
            lie: e.lie.clone(),
        })
        .collect();
    let find = |replica: u32| examined.iter().find(|e| e.replica == replica);
    let mut verdicts = Vec::new();
    let mut heat_maps = Vec::new();
    for &(a, b) in &plan.missing {
        let (Some(copy_a), Some(copy_b)) = (find(a), find(b)) else {
            continue;
        };
        if copy_a.lie.is_some() || copy_b.lie.is_some() {
            continue;
        }
        let (copy_a, copy_b) = (Arc::clone(copy_a), Arc::clone(copy_b));
        let (numbers, heat_map) =
            tokio::task::spawn_blocking(move || match (&copy_a.image, &copy_b.image) {
                (Ok((image_a, hash_a)), Ok((image_b, hash_b))) => {
                    let numbers = if hash_a == hash_b {
                        VerdictNumbers::same_hash()
                    } else {
                        VerdictNumbers::from_comparison(&frame_diff::compare(
                            image_a,
                            image_b,
                            &CompareConfig::default(),
                        ))
                    };
                    let map = frame_diff::preview::heat_map_png(image_a, image_b);
                    (numbers, Some(map))
                }
                (Err(why), _) | (_, Err(why)) => (VerdictNumbers::unreadable(why.clone()), None),
            })
            .await?;
        match heat_map {
            Some(Ok(png)) => heat_maps.push((a.min(b), a.max(b), png)),
            Some(Err(error)) => {
                tracing::warn!(%error, replica_a = a, replica_b = b, "no heat map of this pair")
            }
            None => {}
        }
        verdicts.push((a, b, numbers));
    }
    Ok(Judged {
        checks,
        verdicts,
        heat_maps,
    })
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
        let judged = {
            let _slot = self
                .checks
                .acquire()
                .await
                .expect("the semaphore is never closed");
            judge(&self.store, &plan).await?
        };
        let Judged {
            checks,
            verdicts,
            heat_maps,
        } = judged;
        let policy = Arc::clone(&self.policy);
        let key = job.to_owned();
        let followup = self
            .db
            .call(move |db| db.record_verdicts(&key, frame, &checks, &verdicts, &policy))
            .await?;
        if let Ok(job) = job.parse() {
            self.write_heat_maps(job, frame, heat_maps).await;
        }
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
    /// comparisons and intake checks not recorded, reports not written,
    /// copies not placed.
    pub async fn catch_up(&self) {
        match self.db.call(|db| db.frames_to_compare()).await {
            Ok(frames) => {
                for (job, frame) in frames {
                    self.spawn_comparison(job, frame);
                }
            }
            Err(error) => tracing::error!(%error, "cannot list frames to compare"),
        }
        match self.db.call(|db| db.results_awaiting_intake()).await {
            Ok(results) => {
                for (job, frame, replica) in results {
                    self.spawn_intake(job, frame, replica);
                }
            }
            Err(error) => {
                tracing::error!(%error, "cannot list results awaiting their intake check")
            }
        }
        match self.db.call(|db| db.jobs_missing_report()).await {
            Ok(jobs) => {
                for job in jobs {
                    self.spawn_report(job);
                }
            }
            Err(error) => tracing::error!(%error, "cannot list reports to write"),
        }
        self.catch_up_benchmarks().await;
        self.wake_dispatcher();
    }
}
