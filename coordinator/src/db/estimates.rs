//! The farm's history of render times, for estimates: per node class, how
//! long accepted copies took (as the coordinator observed, not as workers
//! claimed), for the same scene when it rendered here before, otherwise for
//! every scene; and the workers that could take a job now.

use protocol::SceneHash;
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::routing::online_workers;
use super::{Db, DbError};
use crate::placement::{Placement, Seat};
use crate::state::ResultStatus;

/// Fewer copies than this of the same scene on a class, and the estimate
/// falls back to every scene's.
pub const MIN_SAMPLES: usize = 3;

/// What an estimate for one node class is based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Frames of the same scene rendered on the class.
    Scene,
    /// Frames of any scene rendered on the class.
    Farm,
    /// Nothing rendered on the class yet.
    None,
}

/// Render times of one node class: the 10th, 50th and 90th percentile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderTimes {
    /// What they come from.
    pub basis: Basis,
    /// How many copies.
    pub samples: usize,
    /// Fast frames, ms.
    pub low_ms: i64,
    /// The typical frame, ms.
    pub typical_ms: i64,
    /// Slow frames, ms.
    pub high_ms: i64,
}

/// The `p`th percentile (0 to 100) of sorted `values`.
fn percentile(sorted: &[i64], p: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(((sorted.len() - 1) * p + 50) / 100).min(sorted.len() - 1)]
}

impl RenderTimes {
    /// Percentiles of `times` (any order) from `basis`.
    fn of(mut times: Vec<i64>, basis: Basis) -> Self {
        times.sort_unstable();
        Self {
            basis,
            samples: times.len(),
            low_ms: percentile(&times, 10),
            typical_ms: percentile(&times, 50),
            high_ms: percentile(&times, 90),
        }
    }
}

impl Db {
    /// Render times of accepted (not wrong, not rejected) copies on node
    /// class `class`: of `scene` when it has at least [`MIN_SAMPLES`] there,
    /// otherwise of every scene.
    pub fn render_times(
        &self,
        class: &str,
        scene: Option<&SceneHash>,
    ) -> Result<RenderTimes, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT r.render_ms FROM results r JOIN workers w ON w.id = r.worker_id \
             JOIN jobs j ON j.id = r.job_id \
             WHERE w.node_class = ?1 AND r.status NOT IN (?2, ?3) AND (?4 IS NULL OR j.scene_hash = ?4)",
        )?;
        let mut times = |scene: Option<&str>| -> Result<Vec<i64>, DbError> {
            Ok(stmt
                .query_map(
                    params![class, ResultStatus::Wrong, ResultStatus::Rejected, scene],
                    |r| r.get(0),
                )?
                .collect::<Result<_, _>>()?)
        };
        if let Some(scene) = scene {
            let same = times(Some(scene.as_str()))?;
            if same.len() >= MIN_SAMPLES {
                return Ok(RenderTimes::of(same, Basis::Scene));
            }
        }
        let all = times(None)?;
        let basis = if all.is_empty() {
            Basis::None
        } else {
            Basis::Farm
        };
        Ok(RenderTimes::of(all, basis))
    }

    /// The seats of online workers, not blocklisted nor draining, that
    /// `placement` admits.
    pub fn available(&self, placement: &Placement) -> Result<Vec<Seat>, DbError> {
        Ok(online_workers(&self.lock())?
            .into_iter()
            .map(|worker| worker.seat)
            .filter(|seat| placement.admits(seat))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_few_and_many() {
        assert_eq!(percentile(&[], 50), 0);
        assert_eq!(percentile(&[7], 90), 7);
        let times: Vec<i64> = (1..=11).collect();
        assert_eq!(
            (
                percentile(&times, 10),
                percentile(&times, 50),
                percentile(&times, 90)
            ),
            (2, 6, 10)
        );
        let times = RenderTimes::of(vec![30, 10, 20], Basis::Farm);
        assert_eq!(
            (times.low_ms, times.typical_ms, times.high_ms),
            (10, 20, 30)
        );
    }
}
