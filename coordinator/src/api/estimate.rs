//! `POST /api/v1/jobs/estimate`: before a job is submitted, how long it
//! would take and what it would cost on each node class its placement
//! admits, from the farm's own history of render times (the coordinator's
//! observed times of accepted copies: the same scene when it rendered here
//! before, otherwise every scene), with a range (the 10th to 90th
//! percentile frame).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::submit::{CreateJob, SceneSource, check_scene, check_submission};
use crate::auth::Principal;
use crate::db::{Basis, RenderTimes};
use crate::farm::Farm;
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

/// The estimate on one node class.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassEstimate {
    /// The node class.
    pub node_class: String,
    /// Its workers online now that the job's placement admits.
    pub workers: usize,
    /// What the figures come from: `scene` (this scene rendered on the
    /// class before), `farm` (any scene), `none` (nothing yet: no figures).
    pub basis: Basis,
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

/// The answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// Figures for `frames` frames (and `copies` more parity copies) on
/// `workers` workers at `rate` per hour, from `times`.
fn figures(
    times: &RenderTimes,
    frames: usize,
    copies: f64,
    workers: usize,
    rate: Money,
) -> Result<ClassEstimate, MoneyOverflow> {
    let per = |ms: i64| ms as f64 / 1000.0;
    let wall = |ms: i64| (frames as f64 + copies) * per(ms) / workers.max(1) as f64;
    let cost = |ms: i64| -> Result<Money, MoneyOverflow> {
        let total = i64::try_from(frames)
            .ok()
            .and_then(|n| n.checked_mul(ms))
            .ok_or(MoneyOverflow("an estimate's render time"))?;
        rate.per_hour_for_ms(total)
    };
    let known = times.basis != Basis::None;
    Ok(ClassEstimate {
        node_class: String::new(),
        workers,
        basis: times.basis,
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

/// `POST /api/v1/jobs/estimate`: the body of a job (checked as a job is,
/// nothing is created); per admitted node class, time to complete and cost.
pub async fn estimate(
    State(farm): State<Farm>,
    principal: Principal,
    body: Result<Json<CreateJob>, JsonRejection>,
) -> Result<Json<Estimate>, ApiError> {
    let Json(body) = body?;
    let (checked, source, _) = check_submission(&farm, &principal, body).await?;
    let scene = match source {
        Some(SceneSource::Scene(scene)) => {
            check_scene(&farm, &principal, &scene).await?;
            Some(scene)
        }
        Some(SceneSource::Bundle(id)) => {
            let manifest = super::bundles::described(&farm, &principal, &id).await?;
            manifest
                .files
                .iter()
                .find(|f| f.path == manifest.main)
                .map(|f| f.hash.clone())
        }
        None => None,
    };
    let frames = checked.frames.frames().len();
    let parity_percent = f64::from(checked.parity_bp) / 100.0;
    let placement = checked.options.placement.clone();
    let seats = farm.db.call(move |db| db.available(&placement)).await?;
    // Per class: its online workers' hourly rates, by their device class.
    let mut classes: BTreeMap<String, Vec<Money>> = BTreeMap::new();
    for seat in &seats {
        let device = seat.device_classes.first().map_or("cpu", String::as_str);
        let rate = farm.config.billing.rate(device);
        for class in &seat.node_classes {
            classes.entry(class.clone()).or_default().push(rate);
        }
    }
    let mut answer = Vec::new();
    for (class, rates) in classes {
        // The dearest rate among the class's workers: the bill is never
        // above the estimate for the rate's sake.
        let rate = rates.iter().copied().max().unwrap_or(Money::ZERO);
        let (name, scene) = (class.clone(), scene.clone());
        let times = farm
            .db
            .call(move |db| db.render_times(&name, scene.as_ref()))
            .await?;
        let copies = frames as f64 * parity_percent / 100.0;
        let mut estimate =
            figures(&times, frames, copies, rates.len(), rate).map_err(crate::db::DbError::from)?;
        estimate.node_class = class;
        answer.push(estimate);
    }
    let order = &checked.options.placement.node_classes;
    answer.sort_by_key(|e| {
        (
            order
                .iter()
                .position(|c| *c == e.node_class)
                .unwrap_or(usize::MAX),
            e.cost_micros.map(|c| c.typical),
        )
    });
    Ok(Json(Estimate {
        frames,
        parity_percent,
        currency: farm.config.billing.currency.clone(),
        classes: answer,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_spread_frames_over_workers_and_bill_every_frame_once() {
        let times = RenderTimes {
            basis: Basis::Scene,
            samples: 10,
            low_ms: 1_000,
            typical_ms: 2_000,
            high_ms: 4_000,
        };
        // 100 frames and 10 parity copies on 2 workers at 3.60 an hour.
        let e = figures(&times, 100, 10.0, 2, Money(3_600_000)).unwrap();
        let wall = e.time_to_complete_secs.unwrap();
        assert_eq!((wall.low, wall.typical, wall.high), (55.0, 110.0, 220.0));
        let cost = e.cost_micros.unwrap();
        // 100 frames × 2 s = 200 s at 0.001 a second.
        assert_eq!(cost.typical, Money(200_000));
        assert_eq!((cost.low, cost.high), (Money(100_000), Money(400_000)));
        let none = RenderTimes {
            basis: Basis::None,
            samples: 0,
            low_ms: 0,
            typical_ms: 0,
            high_ms: 0,
        };
        let e = figures(&none, 100, 0.0, 2, Money(3_600_000)).unwrap();
        assert_eq!(e.basis, Basis::None);
        assert!(e.seconds_per_frame.is_none() && e.cost_micros.is_none());
    }
}
