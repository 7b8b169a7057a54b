//! `POST /api/v1/jobs/estimate`: before a job is submitted, how long it
//! would take and what it would cost on each node class its placement
//! admits (see [`crate::estimate`]). Submitting a job stores the same
//! estimate with it, for its report to set against the actual figures.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use protocol::{RenderDevice, SceneHash};

use super::ApiError;
use super::submit::{Checked, CreateJob, SceneSource, check_scene, check_submission};
use crate::auth::Principal;
use crate::db::{Basis, CopyPrice, NodeClass, RenderTimes};
use crate::estimate::{ClassEstimate, Estimate, figures, scaled};
use crate::farm::Farm;
use crate::money::Money;

/// The price a job's frames would be billed at on `class`: the class's
/// own price when it has one (a GPU class's only when the job renders on
/// GPUs), else the dearest device class rate among its workers, so the
/// bill is never above the estimate for the rate's sake.
fn class_price(class: Option<&NodeClass>, wants_gpu: bool, device_rates: &[Money]) -> CopyPrice {
    let device_rate = || CopyPrice {
        per_hour: device_rates.iter().copied().max().unwrap_or(Money::ZERO),
        minimum: Money::ZERO,
    };
    let Some(class) = class else {
        return device_rate();
    };
    match class.price_micros_per_second {
        Some(per_second) if class.device == RenderDevice::Cpu || wants_gpu => CopyPrice {
            per_hour: Money(per_second.micros().saturating_mul(3600)),
            minimum: class.min_micros_per_frame,
        },
        _ => device_rate(),
    }
}

/// The render times standing in for a class without any: the known times
/// of another class (this scene's first, then the most samples), scaled
/// by the two classes' speed scores.
fn stand_in(
    class: &str,
    known: &BTreeMap<String, RenderTimes>,
    speeds: &BTreeMap<String, f64>,
) -> Option<(String, RenderTimes)> {
    let speed = *speeds.get(class)?;
    known
        .iter()
        .filter(|(name, times)| *name != class && times.basis != Basis::None)
        .filter_map(|(name, times)| Some((name, times, *speeds.get(name)?)))
        .max_by_key(|(_, times, _)| (times.basis == Basis::Scene, times.samples))
        .map(|(name, times, source_speed)| (name.clone(), scaled(times, source_speed / speed)))
}

/// The estimate of `checked` (rendering `scene`, when known) on every
/// node class its placement admits that has workers online.
pub(super) async fn estimate_for(
    farm: &Farm,
    checked: &Checked,
    scene: Option<SceneHash>,
) -> Result<Estimate, ApiError> {
    let frames = checked.frames.frames().len();
    let parity_percent = f64::from(checked.parity_bp) / 100.0;
    let placement = checked.options.placement.clone();
    let (seats, defined) = farm
        .db
        .call(move |db| Ok((db.available(&placement)?, db.node_classes()?)))
        .await?;
    let defined: BTreeMap<String, NodeClass> =
        defined.into_iter().map(|c| (c.name.clone(), c)).collect();
    let placement = &checked.options.placement;
    let wants_gpu = placement.gpu_model.is_some()
        || placement.min_vram_mib.is_some()
        || placement.node_classes.iter().any(|name| {
            defined
                .get(name)
                .is_some_and(|c| c.device == RenderDevice::Gpu)
        });
    // Per class: its online workers' hourly rates, by their device class.
    let mut rates: BTreeMap<String, Vec<Money>> = BTreeMap::new();
    for seat in &seats {
        let device = seat.device_classes.first().map_or("cpu", String::as_str);
        let device = if wants_gpu { device } else { "cpu" };
        let rate = farm.config.billing.rate(device);
        for class in &seat.node_classes {
            rates.entry(class.clone()).or_default().push(rate);
        }
    }
    let mut known = BTreeMap::new();
    for class in defined.keys().chain(rates.keys()) {
        if known.contains_key(class) {
            continue;
        }
        let (name, scene) = (class.clone(), scene.clone());
        let times = farm
            .db
            .call(move |db| db.render_times(&name, scene.as_ref()))
            .await?;
        known.insert(class.clone(), times);
    }
    let speeds: BTreeMap<String, f64> = defined
        .values()
        .map(|c| (c.name.clone(), c.speed_score))
        .collect();
    let copies = frames as f64 * parity_percent / 100.0;
    let mut answer: Vec<ClassEstimate> = Vec::new();
    for (class, class_rates) in &rates {
        let own = &known[class];
        let (times, scaled_from) = match own.basis {
            Basis::None => match stand_in(class, &known, &speeds) {
                Some((source, times)) => (times, Some(source)),
                None => (own.clone(), None),
            },
            Basis::Scene | Basis::Farm => (own.clone(), None),
        };
        let price = class_price(defined.get(class), wants_gpu, class_rates);
        let mut estimate = figures(&times, frames, copies, class_rates.len(), price)
            .map_err(crate::db::DbError::from)?;
        estimate.node_class = class.clone();
        estimate.scaled_from = scaled_from;
        answer.push(estimate);
    }
    let order = &placement.node_classes;
    answer.sort_by_key(|e| {
        (
            order
                .iter()
                .position(|c| *c == e.node_class)
                .unwrap_or(usize::MAX),
            e.cost_micros.map(|c| c.typical),
        )
    });
    Ok(Estimate {
        frames,
        parity_percent,
        currency: farm.config.billing.currency.clone(),
        classes: answer,
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
    Ok(Json(estimate_for(&farm, &checked, scene).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, device: RenderDevice, speed: f64) -> NodeClass {
        NodeClass {
            name: name.into(),
            device,
            price_micros_per_second: Some(Money(1_000)),
            min_micros_per_frame: Money(500),
            speed_score: speed,
            benchmark_max_secs: None,
            description: String::new(),
        }
    }

    #[test]
    fn a_class_price_applies_on_its_device() {
        let rates = [Money(400_000), Money(1_200_000)];
        let gpu = class("gpu-fast", RenderDevice::Gpu, 4.0);
        let price = class_price(Some(&gpu), true, &rates);
        assert_eq!(
            (price.per_hour, price.minimum),
            (Money(3_600_000), Money(500))
        );
        // A job not on GPUs renders on the CPU: billed by device rates.
        assert_eq!(
            class_price(Some(&gpu), false, &rates).per_hour,
            Money(1_200_000)
        );
        assert_eq!(class_price(None, false, &rates).per_hour, Money(1_200_000));
    }

    #[test]
    fn a_class_without_history_borrows_scaled_times() {
        let times = |basis, samples, ms| RenderTimes {
            basis,
            samples,
            low_ms: ms,
            typical_ms: ms,
            high_ms: ms,
        };
        let known = BTreeMap::from([
            ("cpu-cheap".to_owned(), times(Basis::Farm, 50, 8_000)),
            ("cpu-std".to_owned(), times(Basis::Scene, 5, 4_000)),
            ("gpu-fast".to_owned(), times(Basis::None, 0, 0)),
        ]);
        let speeds = BTreeMap::from([
            ("cpu-cheap".to_owned(), 0.5),
            ("cpu-std".to_owned(), 1.0),
            ("gpu-fast".to_owned(), 4.0),
        ]);
        // This scene's history wins over more samples of other scenes.
        let (source, scaled) = stand_in("gpu-fast", &known, &speeds).unwrap();
        assert_eq!(source, "cpu-std");
        assert_eq!((scaled.typical_ms, scaled.basis), (1_000, Basis::Scene));
        let speeds = BTreeMap::from([("gpu-fast".to_owned(), 4.0)]);
        assert!(stand_in("gpu-fast", &known, &speeds).is_none());
    }
}
