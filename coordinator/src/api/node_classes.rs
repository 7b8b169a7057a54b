//! Node classes: `GET /api/v1/node-classes` lists what the farm sells (any
//! token); admins define and remove classes with `PUT` and `DELETE
//! /api/v1/node-classes/{name}`.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use protocol::RenderDevice;
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::require;
use super::enrollments::checked_name;
use crate::auth::{Principal, Role};
use crate::db::NodeClass;
use crate::farm::Farm;
use crate::money::Money;

/// Longest description accepted.
const MAX_DESCRIPTION: usize = 500;

/// `PUT /api/v1/node-classes/{name}`'s body.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PutNodeClass {
    /// `cpu` or `gpu`.
    pub device: RenderDevice,
    /// Price per render second of a frame, micro-units; absent, frames are
    /// billed at the configuration's device class rates.
    #[serde(default)]
    pub price_micros_per_second: Option<i64>,
    /// Least a frame costs, micro-units (0 when absent).
    #[serde(default)]
    pub min_micros_per_frame: Option<i64>,
    /// Speed relative to the other classes, above 0 (1.0 when absent).
    #[serde(default)]
    pub speed_score: Option<f64>,
    /// Slowest registration benchmark frame that earns the class, seconds.
    #[serde(default)]
    pub benchmark_max_secs: Option<f64>,
    /// What it is, for buyers.
    #[serde(default)]
    pub description: Option<String>,
}

/// A 422 with `code` and `message`.
fn unprocessable(code: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

/// The class `name` that `body` defines, or what is wrong with it.
fn checked_class(name: &str, body: PutNodeClass) -> Result<NodeClass, ApiError> {
    let name = checked_name("node class", name)?;
    let amount = |what: &str, value: Option<i64>| match value {
        Some(micros) if micros < 0 => Err(unprocessable(
            "bad_price",
            format!("{what} must be 0 or more micro-units, got {micros}"),
        )),
        other => Ok(other.map(Money)),
    };
    let speed_score = body.speed_score.unwrap_or(1.0);
    if !(speed_score.is_finite() && speed_score > 0.0) {
        return Err(unprocessable(
            "bad_speed_score",
            format!(
                "speed_score must be a number above 0 (1.0 is the reference), got {speed_score}"
            ),
        ));
    }
    if let Some(secs) = body.benchmark_max_secs
        && !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0)
    {
        return Err(unprocessable(
            "bad_benchmark",
            format!("benchmark_max_secs must be above 0 and at most a day, got {secs}"),
        ));
    }
    let description = body.description.unwrap_or_default();
    if description.chars().count() > MAX_DESCRIPTION || description.chars().any(char::is_control) {
        return Err(unprocessable(
            "bad_description",
            format!(
                "description must be at most {MAX_DESCRIPTION} characters without control characters"
            ),
        ));
    }
    Ok(NodeClass {
        name,
        device: body.device,
        price_micros_per_second: amount("price_micros_per_second", body.price_micros_per_second)?,
        min_micros_per_frame: amount("min_micros_per_frame", body.min_micros_per_frame)?
            .unwrap_or(Money::ZERO),
        speed_score,
        benchmark_max_secs: body.benchmark_max_secs,
        description,
    })
}

/// `GET /api/v1/node-classes`: every class, by name.
pub async fn list(
    State(farm): State<Farm>,
    _principal: Principal,
) -> Result<Json<Vec<NodeClass>>, ApiError> {
    Ok(Json(farm.db.call(|db| db.node_classes()).await?))
}

/// `PUT /api/v1/node-classes/{name}`: define or redefine a class (admins).
/// Frames already rendered keep the price they were billed at.
pub async fn put(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<PutNodeClass>, JsonRejection>,
) -> Result<Json<NodeClass>, ApiError> {
    require(&principal, "define node classes", &[Role::Admin])?;
    let Path(name) = path?;
    let Json(body) = body?;
    let class = checked_class(&name, body)?;
    if class.benchmark_max_secs.is_some() && farm.class_check.is_none() {
        return Err(unprocessable(
            "no_benchmark_scene",
            "benchmark_max_secs needs the coordinator's benchmark scene: set class_check.scene in its configuration, or leave benchmark_max_secs out".to_owned(),
        ));
    }
    let stored = class.clone();
    farm.db.call(move |db| db.put_node_class(&stored)).await?;
    tracing::info!(node_class = %class.name, by = %principal.token_id, "node class defined");
    Ok(Json(class))
}

/// `DELETE /api/v1/node-classes/{name}`: remove a class no enrollment token
/// and no worker uses (admins).
pub async fn delete(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    require(&principal, "remove node classes", &[Role::Admin])?;
    let Path(name) = path?;
    let key = name.clone();
    if let Some(users) = farm.db.call(move |db| db.node_class_users(&key)).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "node_class_in_use",
            format!(
                "node class {name:?} is in use: {users}; revoke those tokens and retire those workers first"
            ),
        ));
    }
    let key = name.clone();
    if farm.db.call(move |db| db.delete_node_class(&key)).await? {
        tracing::info!(node_class = %name, by = %principal.token_id, "node class removed");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(crate::db::DbError::NotFound(format!("node class {name}")).into())
    }
}

/// Of `asked`, the first class that is not defined, as a 422 naming the
/// defined ones.
pub(super) async fn check_defined(farm: &Farm, asked: &[String]) -> Result<(), ApiError> {
    if asked.is_empty() {
        return Ok(());
    }
    let defined = farm.db.call(|db| db.node_classes()).await?;
    if let Some(unknown) = asked
        .iter()
        .find(|name| !defined.iter().any(|class| &class.name == *name))
    {
        let names: Vec<&str> = defined.iter().map(|class| class.name.as_str()).collect();
        return Err(unprocessable(
            "unknown_node_class",
            format!(
                "node class {unknown:?} is not defined; defined: {} (an admin defines classes with PUT /api/v1/node-classes/{{name}})",
                names.join(", ")
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(device: RenderDevice) -> PutNodeClass {
        PutNodeClass {
            device,
            price_micros_per_second: Some(400),
            min_micros_per_frame: None,
            speed_score: None,
            benchmark_max_secs: None,
            description: None,
        }
    }

    #[test]
    fn classes_are_checked() {
        let class = checked_class("gpu-fast", body(RenderDevice::Gpu)).unwrap();
        assert_eq!(class.speed_score, 1.0);
        assert_eq!(class.min_micros_per_frame, Money::ZERO);
        assert!(checked_class("GPU fast", body(RenderDevice::Gpu)).is_err());
        let mut negative = body(RenderDevice::Cpu);
        negative.price_micros_per_second = Some(-1);
        assert!(checked_class("cpu", negative).is_err());
        let mut slow = body(RenderDevice::Cpu);
        slow.speed_score = Some(0.0);
        assert!(checked_class("cpu", slow).is_err());
        let mut forever = body(RenderDevice::Cpu);
        forever.benchmark_max_secs = Some(f64::INFINITY);
        assert!(checked_class("cpu", forever).is_err());
    }
}
