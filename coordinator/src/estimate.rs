//! Estimates: how long a job would take and what it would cost on a node
//! class, from the render times the coordinator observed (the same scene
//! on the class, else every scene on it, else another class's times scaled
//! by the two classes' speed scores), with a range (the 10th to 90th
//! percentile frame); and, once the job ran, its estimate against what it
//! actually took and cost.

use serde::{Deserialize, Serialize};

use crate::db::{Basis, CopyPrice, RenderTimes};
use crate::money::{Money, MoneyOverflow};

/// A low, typical and high figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Range<T> {
    /// With fast frames (10th percentile).
    pub low: T,
    /// With the typical frame (median).
    pub typical: T,
    /// With slow frames (90th percentile).
    pub high: T,
}

impl<T: PartialOrd> Range<T> {
    /// Whether `value` lies within low to high.
    pub fn contains(&self, value: &T) -> bool {
        self.low <= *value && *value <= self.high
    }
}

/// The estimate on one node class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassEstimate {
    /// The node class.
    pub node_class: String,
    /// Its workers online now that the job's placement admits.
    pub workers: usize,
    /// What the figures come from: `scene` (this scene rendered before),
    /// `farm` (any scene), `none` (nothing yet: no figures); on the class
    /// itself, or on `scaled_from` when that is set.
    pub basis: Basis,
    /// The class whose render times, scaled by the speed scores, stand in
    /// for this class's, which has none yet.
    #[serde(default)]
    pub scaled_from: Option<String>,
    /// Copies the figures come from.
    pub samples: usize,
    /// Render seconds per frame.
    pub seconds_per_frame: Option<Range<f64>>,
    /// Wall seconds until every frame and parity copy is rendered, with
    /// the class's online workers rendering side by side.
    pub time_to_complete_secs: Option<Range<f64>>,
    /// What the job would be billed, micro-units of `currency`.
    pub cost_micros: Option<Range<Money>>,
}

/// An estimate of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Frames of the job.
    pub frames: usize,
    /// Share of them rendered twice, percent.
    pub parity_percent: f64,
    /// Currency of the costs.
    pub currency: String,
    /// One entry per node class its placement admits, cheapest first.
    pub classes: Vec<ClassEstimate>,
}

/// A job's estimate at submission against what it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EstimateCheck {
    /// The class compared: the one most of its frames rendered on.
    pub node_class: String,
    /// What the estimate was based on.
    pub basis: Basis,
    /// Estimated cost, micro-units.
    pub estimated_cost_micros: Option<Range<Money>>,
    /// Estimated time to complete, seconds.
    pub estimated_time_secs: Option<Range<f64>>,
    /// What the job is billed, micro-units.
    pub actual_cost_micros: Money,
    /// Seconds from submission to the last frame, once it finished.
    pub actual_time_secs: Option<f64>,
    /// Whether the bill lies within the estimated range.
    pub cost_within_range: Option<bool>,
    /// Whether the time to complete lies within the estimated range.
    pub time_within_range: Option<bool>,
}

impl Estimate {
    /// This estimate against a job billed `cost` that took `time_secs`
    /// (once finished), on `class` (else the first class estimated).
    pub fn check(
        &self,
        class: Option<&str>,
        cost: Money,
        time_secs: Option<f64>,
    ) -> Option<EstimateCheck> {
        let estimate = class
            .and_then(|class| self.classes.iter().find(|c| c.node_class == class))
            .or_else(|| self.classes.first())?;
        Some(EstimateCheck {
            node_class: estimate.node_class.clone(),
            basis: estimate.basis,
            estimated_cost_micros: estimate.cost_micros,
            estimated_time_secs: estimate.time_to_complete_secs,
            actual_cost_micros: cost,
            actual_time_secs: time_secs,
            cost_within_range: estimate.cost_micros.map(|range| range.contains(&cost)),
            time_within_range: estimate
                .time_to_complete_secs
                .zip(time_secs)
                .map(|(range, secs)| range.contains(&secs)),
        })
    }
}

/// `times` as they would be on a class `factor` times slower (a source
/// class's speed score over the target's).
pub fn scaled(times: &RenderTimes, factor: f64) -> RenderTimes {
    let scale = |ms: i64| (ms as f64 * factor).round() as i64;
    RenderTimes {
        basis: times.basis,
        samples: times.samples,
        low_ms: scale(times.low_ms),
        typical_ms: scale(times.typical_ms),
        high_ms: scale(times.high_ms),
    }
}

/// Figures for `frames` frames (and `copies` more parity copies) on
/// `workers` workers at `price`, from `times`.
pub fn figures(
    times: &RenderTimes,
    frames: usize,
    copies: f64,
    workers: usize,
    price: CopyPrice,
) -> Result<ClassEstimate, MoneyOverflow> {
    let per = |ms: i64| ms as f64 / 1000.0;
    let wall = |ms: i64| (frames as f64 + copies) * per(ms) / workers.max(1) as f64;
    let count = i64::try_from(frames).map_err(|_| MoneyOverflow("an estimate's frames"))?;
    let cost = |ms: i64| -> Result<Money, MoneyOverflow> {
        let total = count
            .checked_mul(ms)
            .ok_or(MoneyOverflow("an estimate's render time"))?;
        let floor = price
            .minimum
            .micros()
            .checked_mul(count)
            .map(Money)
            .ok_or(MoneyOverflow("an estimate's minimum"))?;
        Ok(price.per_hour.per_hour_for_ms(total)?.max(floor))
    };
    let known = times.basis != Basis::None;
    Ok(ClassEstimate {
        node_class: String::new(),
        workers,
        basis: times.basis,
        scaled_from: None,
        samples: times.samples,
        seconds_per_frame: known.then(|| Range {
            low: per(times.low_ms),
            typical: per(times.typical_ms),
            high: per(times.high_ms),
        }),
        time_to_complete_secs: (known && workers > 0).then(|| Range {
            low: wall(times.low_ms),
            typical: wall(times.typical_ms),
            high: wall(times.high_ms),
        }),
        cost_micros: if known {
            Some(Range {
                low: cost(times.low_ms)?,
                typical: cost(times.typical_ms)?,
                high: cost(times.high_ms)?,
            })
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(basis: Basis) -> RenderTimes {
        RenderTimes {
            basis,
            samples: 10,
            low_ms: 1_000,
            typical_ms: 2_000,
            high_ms: 4_000,
        }
    }

    fn hourly(micros: i64) -> CopyPrice {
        CopyPrice {
            per_hour: Money(micros),
            minimum: Money::ZERO,
        }
    }

    #[test]
    fn figures_spread_frames_over_workers_and_bill_every_frame_once() {
        // 100 frames and 10 parity copies on 2 workers at 3.60 an hour.
        let e = figures(&times(Basis::Scene), 100, 10.0, 2, hourly(3_600_000)).unwrap();
        let wall = e.time_to_complete_secs.unwrap();
        assert_eq!((wall.low, wall.typical, wall.high), (55.0, 110.0, 220.0));
        let cost = e.cost_micros.unwrap();
        // 100 frames × 2 s = 200 s at 0.001 a second.
        assert_eq!(cost.typical, Money(200_000));
        assert_eq!((cost.low, cost.high), (Money(100_000), Money(400_000)));
        let e = figures(&times(Basis::None), 100, 0.0, 2, hourly(3_600_000)).unwrap();
        assert_eq!(e.basis, Basis::None);
        assert!(e.seconds_per_frame.is_none() && e.cost_micros.is_none());
    }

    #[test]
    fn a_minimum_per_frame_floors_the_cost() {
        let price = CopyPrice {
            per_hour: Money(3_600_000),
            minimum: Money(3_000),
        };
        // 1 s a frame costs 0.001, under the 0.003 minimum; 4 s costs 0.004.
        let cost = figures(&times(Basis::Farm), 10, 0.0, 1, price)
            .unwrap()
            .cost_micros
            .unwrap();
        assert_eq!(
            (cost.low, cost.typical, cost.high),
            (Money(30_000), Money(30_000), Money(40_000))
        );
    }

    #[test]
    fn times_scale_and_estimates_check_against_actuals() {
        let slow = scaled(&times(Basis::Scene), 4.0);
        assert_eq!((slow.low_ms, slow.high_ms), (4_000, 16_000));
        let mut class = figures(&times(Basis::Scene), 10, 0.0, 1, hourly(3_600_000)).unwrap();
        class.node_class = "cpu-a".into();
        let estimate = Estimate {
            frames: 10,
            parity_percent: 0.0,
            currency: "USD".into(),
            classes: vec![class],
        };
        let check = estimate
            .check(Some("cpu-a"), Money(25_000), Some(25.0))
            .unwrap();
        assert_eq!(check.cost_within_range, Some(true));
        assert_eq!(check.time_within_range, Some(true));
        let check = estimate.check(None, Money(90_000), None).unwrap();
        assert_eq!(check.cost_within_range, Some(false));
        assert_eq!(check.time_within_range, None);
    }
}
