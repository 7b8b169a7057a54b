//! A benchmark's comparisons, made in the background: every frame whose
//! copies are accepted in the baseline (or uploaded as the reference, when
//! the benchmark has one) and another run is fetched from the
//! coordinator's own store, decoded off the async threads and compared with
//! `frame-diff`, one pair at a time per benchmark and within the checker's
//! slots (`verification.max_concurrent_checks`), which bounds the memory
//! decoded frames take.

use std::path::Path;
use std::sync::Arc;

use frame_diff::{CompareConfig, FrameImage};
use object_store::{ObjectStore, ObjectStoreExt};
use protocol::JobId;
use tracing::Instrument;

use super::{BenchmarkId, Diff};
use crate::checker::CheckError;
use crate::db::DiffPlan;
use crate::farm::Farm;

/// Compare the baseline's copy `a` of a frame with another run's copy `b`
/// (FLIP's exposures are chosen from `a`).
pub fn diff_images(a: &FrameImage, b: &FrameImage) -> Diff {
    let (comparison, flip_map) = frame_diff::compare_with(
        a,
        b,
        &CompareConfig::default(),
        &frame_diff::flip::CpuBackend,
    );
    Diff::from_comparison(&comparison, flip_map.as_deref())
}

/// Fetch and decode the copy at `key`: the image, or why it cannot be
/// compared (missing, unreadable); a store outage is an error.
async fn fetch(
    store: &Arc<dyn ObjectStore>,
    key: &str,
) -> Result<Result<FrameImage, String>, CheckError> {
    let path = object_store::path::Path::from(key);
    let bytes = match store.get(&path).await {
        Ok(result) => result.bytes().await?,
        Err(object_store::Error::NotFound { .. }) => {
            return Ok(Err(format!("the copy at {key} is missing from the store")));
        }
        Err(error) => return Err(error.into()),
    };
    let key = key.to_owned();
    Ok(tokio::task::spawn_blocking(move || {
        frame_diff::read_image_bytes(&bytes, Path::new(&key))
            .map_err(|e| format!("the copy at {key} cannot be read: {e}"))
    })
    .await?)
}

/// Compare the two copies of `plan`. A decoded copy whose pixels are not
/// the hash the comparison is filed under says so among the reasons.
async fn diff_pair(store: &Arc<dyn ObjectStore>, plan: &DiffPlan) -> Result<Diff, CheckError> {
    let (a, b) = (
        fetch(store, &plan.a.object_key).await?,
        fetch(store, &plan.b.object_key).await?,
    );
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(why), _) | (_, Err(why)) => return Ok(Diff::unreadable(why)),
    };
    let expected = (plan.a.pixel_hash.clone(), plan.b.pixel_hash.clone());
    Ok(tokio::task::spawn_blocking(move || {
        let mut diff = diff_images(&a, &b);
        for (image, hash, which) in [(&a, &expected.0, "baseline's"), (&b, &expected.1, "run's")] {
            let actual = image.pixel_hash().to_hex().to_string();
            if actual != *hash {
                diff.numbers.reasons.push(format!(
                    "the {which} stored copy's pixels hash to {actual}, not the {hash} recorded"
                ));
            }
        }
        diff
    })
    .await?)
}

impl Farm {
    /// Compare a benchmark's frames that lack a comparison of their
    /// current copies, in the background. Once at a time per benchmark:
    /// asked again while it runs, it runs once more afterwards.
    pub fn spawn_benchmark_diffs(&self, id: BenchmarkId) {
        {
            let mut running = self.benchmarking.lock().expect("not poisoned");
            if let Some(again) = running.get_mut(&id) {
                *again = true;
                return;
            }
            running.insert(id, false);
        }
        let farm = self.clone();
        tokio::spawn(
            async move {
                loop {
                    if let Err(error) = farm.diff_benchmark(id).await {
                        tracing::warn!(%error,
                            "benchmark comparisons failed; retried at the next watchdog round");
                    }
                    let mut running = farm.benchmarking.lock().expect("not poisoned");
                    if running.get(&id) == Some(&true) {
                        running.insert(id, false);
                        continue;
                    }
                    running.remove(&id);
                    break;
                }
            }
            .instrument(tracing::info_span!("benchmark", benchmark_id = %id)),
        );
    }

    /// When `job` is a run of a benchmark, compare what its end made
    /// comparable, in the background.
    pub fn spawn_benchmark_of_job(&self, job: JobId) {
        let farm = self.clone();
        tokio::spawn(
            async move {
                match farm.db.call(move |db| db.benchmark_of_job(job)).await {
                    Ok(Some(id)) => farm.spawn_benchmark_diffs(id),
                    Ok(None) => {}
                    Err(error) => tracing::warn!(%error,
                        "cannot tell whether the job is a benchmark run; the watchdog looks again"),
                }
            }
            .instrument(tracing::info_span!("benchmark_of_job", job_id = %job)),
        );
    }

    /// Make and record every comparison a benchmark still needs.
    async fn diff_benchmark(&self, id: BenchmarkId) -> Result<(), CheckError> {
        let plans = self.db.call(move |db| db.benchmark_diff_plan(id)).await?;
        for plan in plans {
            let span =
                tracing::info_span!("benchmark_diff", frame = plan.frame, run = plan.position);
            let diff = async {
                let _slot = self
                    .checks
                    .acquire()
                    .await
                    .expect("the semaphore is never closed");
                diff_pair(&self.store, &plan).await
            }
            .instrument(span.clone())
            .await?;
            span.in_scope(|| {
                tracing::info!(verdict = %diff.verdict, mean_flip = ?diff.numbers.mean_flip,
                    "benchmark frame compared")
            });
            self.db
                .call(move |db| db.record_benchmark_diff(id, &plan, &diff))
                .await?;
        }
        Ok(())
    }

    /// Compare, in the background, every benchmark's frames still missing
    /// a comparison of their current copies (after a restart, an outage, or
    /// a copy accepted anew).
    pub async fn catch_up_benchmarks(&self) {
        match self.db.call(|db| db.benchmarks_missing_diffs()).await {
            Ok(ids) => {
                for id in ids {
                    self.spawn_benchmark_diffs(id);
                }
            }
            Err(error) => tracing::error!(%error, "cannot list benchmarks to compare"),
        }
    }
}

#[cfg(test)]
mod tests {
    use frame_diff::Channel;

    use super::*;
    use crate::state::VerdictKind;

    /// A 128x128 RGB gradient, sorted B, G, R as decoded.
    fn gradient() -> FrameImage {
        let (w, h) = (128u32, 128u32);
        let plane = |scale: f32| -> Vec<f32> {
            (0..w * h)
                .map(|i| scale * ((i % w) as f32 + (i / w) as f32) / 256.0)
                .collect()
        };
        FrameImage {
            width: w,
            height: h,
            channels: vec![
                Channel {
                    name: "B".into(),
                    samples: plane(0.3),
                },
                Channel {
                    name: "G".into(),
                    samples: plane(0.6),
                },
                Channel {
                    name: "R".into(),
                    samples: plane(0.9),
                },
            ],
        }
    }

    #[test]
    fn identical_frames_compare_as_identical_with_flip_zero() {
        let diff = diff_images(&gradient(), &gradient());
        assert_eq!(diff.verdict, VerdictKind::Identical);
        assert_eq!(diff.numbers.mean_flip, Some(0.0));
        assert_eq!(diff.numbers.max_flip, Some(0.0));
        assert!(diff.numbers.worst_tiles.is_empty());
    }

    #[test]
    fn a_painted_patch_is_a_mismatch_located_in_its_tile() {
        let a = gradient();
        let mut b = gradient();
        // A bright 16x16 patch at (80, 80): inside the tile at (64, 64).
        for channel in &mut b.channels {
            for y in 80..96 {
                for x in 80..96 {
                    channel.samples[y * 128 + x] = 5.0;
                }
            }
        }
        let diff = diff_images(&a, &b);
        assert_eq!(diff.verdict, VerdictKind::Mismatch, "{diff:?}");
        let numbers = &diff.numbers;
        assert!(numbers.mean_flip.unwrap() > 0.0, "{numbers:?}");
        assert!(numbers.max_flip.unwrap() > numbers.mean_flip.unwrap());
        assert!(numbers.worst_tile_flip.unwrap() >= numbers.mean_flip.unwrap());
        let worst = &numbers.worst_tiles[0];
        assert_eq!(
            (worst.x, worst.y, worst.width, worst.height),
            (64, 64, 64, 64)
        );
        assert!(numbers.worst_tiles.len() <= crate::benchmark::WORST_TILES);
        assert!(worst.flip_mean.unwrap() > 0.0 && worst.mean_error > 0.0);
        assert!(numbers.psnr.is_some() && numbers.max_error.unwrap() > 1.0);
    }

    #[test]
    fn frames_of_another_size_are_a_mismatch_saying_so() {
        let mut b = gradient();
        b.width = 64;
        b.height = 256;
        let diff = diff_images(&gradient(), &b);
        assert_eq!(diff.verdict, VerdictKind::Mismatch);
        assert!(diff.numbers.mean_flip.is_none());
        assert!(!diff.numbers.reasons.is_empty());
    }
}
