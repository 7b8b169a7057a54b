//! Enrollment tokens (providers and admins) and the worker's enrollment.
//!
//! `POST /api/v1/enrollments` issues a token that fixes the owner, region
//! and classes of the workers that enroll with it; `POST
//! /api/v1/workers/enroll` is how a worker presents it (the token is that
//! request's only credential) and gets its id and its own queue user.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use protocol::{EnrollRequest, EnrollResponse, now_ms};
use queue::Granted;
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::owner_scope;
use crate::auth::{Owner, Principal, Token};
use crate::db::{EnrollmentTerms, EnrollmentView};
use crate::enroll::EnrollError;
use crate::farm::Farm;

/// A request for an enrollment token.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEnrollment {
    /// Whose workers: an admin must name the owner; a provider's is its own.
    #[serde(default)]
    pub owner: Option<String>,
    /// The workers' region (`eu-west`).
    pub region: String,
    /// Node classes they may claim; `["standard"]` when absent.
    #[serde(default)]
    pub node_classes: Option<Vec<String>>,
    /// Billing device classes they may be paid at; `["cpu"]` when absent.
    #[serde(default)]
    pub device_classes: Option<Vec<String>>,
    /// How many workers may enroll with it; any number when absent.
    #[serde(default)]
    pub max_workers: Option<u32>,
    /// Seconds until it stops working; never when absent.
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
}

/// A new enrollment token: shown in this answer and never again.
#[derive(Debug, Serialize)]
pub struct IssuedEnrollment {
    /// The token to give the worker (`worker run --enroll-token`).
    pub token: String,
    /// What it is.
    #[serde(flatten)]
    pub enrollment: EnrollmentView,
}

/// A class or region name: 1 to 64 lowercase letters, digits, `-` or `_`.
pub(super) fn checked_name(what: &str, name: &str) -> Result<String, ApiError> {
    let fine = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if fine {
        Ok(name.to_owned())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_name",
            format!(
                "{what} {name:?} is not a name: use 1 to 64 lowercase letters, digits, '-' or '_'"
            ),
        ))
    }
}

/// `POST /api/v1/enrollments`.
pub async fn create(
    State(farm): State<Farm>,
    principal: Principal,
    body: Result<Json<CreateEnrollment>, JsonRejection>,
) -> Result<(StatusCode, Json<IssuedEnrollment>), ApiError> {
    let own = owner_scope(&principal, "issue enrollment tokens")?;
    let Json(body) = body?;
    let owner = match (own, &body.owner) {
        (Some(own), Some(asked)) if asked != own.as_str() => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("a provider enrolls workers for itself ({own}), not for {asked:?}"),
            ));
        }
        (Some(own), _) => own,
        (None, Some(asked)) => asked.parse::<Owner>()?,
        (None, None) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "missing_owner",
                "an admin names the owner of the workers: add \"owner\": \"<provider>\"",
            ));
        }
    };
    let names = |what: &str, given: Option<Vec<String>>, default: &str| {
        let given = given.unwrap_or_else(|| vec![default.to_owned()]);
        if given.is_empty() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_name",
                format!("give at least one {what}"),
            ));
        }
        given.iter().map(|name| checked_name(what, name)).collect()
    };
    let device_classes: Vec<String> = names("device class", body.device_classes, "cpu")?;
    let rates = &farm.config.billing.rates;
    if let Some(unknown) = device_classes
        .iter()
        .find(|class| *class != "cpu" && !rates.contains_key(*class))
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_device_class",
            format!(
                "device class {unknown:?} has no rate; known: cpu, {}",
                rates.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let node_classes: Vec<String> = names("node class", body.node_classes, "standard")?;
    super::node_classes::check_defined(&farm, &node_classes).await?;
    let terms = EnrollmentTerms {
        owner: owner.as_str().to_owned(),
        region: checked_name("region", &body.region)?,
        node_classes,
        device_classes,
    };
    let expires_ms = body
        .expires_in_secs
        .map(|secs| now_ms().saturating_add(i64::try_from(secs).unwrap_or(i64::MAX / 2) * 1000));
    let token = farm
        .issue_enrollment(
            terms,
            body.max_workers,
            expires_ms,
            principal.token_id.to_string(),
        )
        .await
        .map_err(enroll_error)?;
    let id = token.id().to_string();
    let listed = farm.db.call(|db| db.list_enrollments(None)).await?;
    let enrollment = listed
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(|| ApiError::from(crate::db::DbError::NotFound(format!("enrollment {id}"))))?;
    tracing::info!(enrollment = %id, owner = %owner, by = %principal.token_id, "enrollment token issued");
    Ok((
        StatusCode::CREATED,
        Json(IssuedEnrollment {
            token: token.expose().to_owned(),
            enrollment,
        }),
    ))
}

/// `GET /api/v1/enrollments`: a provider's own, or all for an admin.
pub async fn list(
    State(farm): State<Farm>,
    principal: Principal,
) -> Result<Json<Vec<EnrollmentView>>, ApiError> {
    let owner = owner_scope(&principal, "list enrollment tokens")?;
    let listed = farm
        .db
        .call(move |db| db.list_enrollments(owner.as_ref().map(Owner::as_str)))
        .await?;
    Ok(Json(listed))
}

/// `POST /api/v1/enrollments/{id}/revoke`: no worker enrolls with it any
/// more (those enrolled stay).
pub async fn revoke(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let owner = owner_scope(&principal, "revoke enrollment tokens")?;
    let Path(id) = path?;
    farm.db
        .call(move |db| db.revoke_enrollment(&id, owner.as_ref().map(Owner::as_str)))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The API's answer to an enrollment failure.
fn enroll_error(error: EnrollError) -> ApiError {
    match error {
        EnrollError::BadToken => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_enrollment_token",
            error.to_string(),
        ),
        EnrollError::Random(_) => {
            tracing::error!(%error, "enrollment failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the coordinator could not make credentials; see its log",
            )
        }
        EnrollError::Farm(error) => error.into(),
    }
}

/// `POST /api/v1/workers/enroll`: a worker presents its enrollment token
/// and gets its id and its own queue credentials.
pub async fn enroll(
    State(farm): State<Farm>,
    body: Result<Json<EnrollRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<EnrollResponse>), ApiError> {
    let Json(request) = body?;
    if matches!(farm.config.queue, queue::QueueConfig::Embedded { .. }) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "embedded_queue",
            "this coordinator runs the embedded queue: only workers inside its process can join; \
             run the coordinator on RabbitMQ for remote workers",
        ));
    }
    let token = Token::parse(&request.token).map_err(|_| enroll_error(EnrollError::BadToken))?;
    let name = request.name.trim();
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_name",
            "a worker's name is 1 to 128 characters without control characters",
        ));
    }
    let enrolled = farm.enroll(&token, name).await.map_err(enroll_error)?;
    let Granted::Url(queue_url) = enrolled.queue else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the queue gave no URL for the worker; see the coordinator's log",
        ));
    };
    let terms = enrolled.worker.terms;
    Ok((
        StatusCode::CREATED,
        Json(EnrollResponse {
            worker_id: enrolled.worker.id,
            owner: terms.owner,
            region: terms.region,
            node_classes: terms.node_classes,
            device_classes: terms.device_classes,
            queue_url,
        }),
    ))
}

/// The enrollment routes in the OpenAPI document.
pub(super) fn openapi_paths() -> serde_json::Value {
    let error = |description: &str| {
        serde_json::json!({"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
    };
    let terms = serde_json::json!({"type": "object", "required": ["region"], "properties": {
        "owner": {"type": "string", "description": "admins only; a provider's is its own"},
        "region": {"type": "string"}, "node_classes": {"type": "array", "items": {"type": "string"}},
        "device_classes": {"type": "array", "items": {"type": "string"}},
        "max_workers": {"type": "integer"}, "expires_in_secs": {"type": "integer"}}});
    serde_json::json!({
        "/api/v1/enrollments": {
            "post": {
                "summary": "Issue an enrollment token fixing the owner, region and classes of the workers that enroll with it (provider or admin); shown this once",
                "requestBody": {"required": true, "content": {"application/json": {"schema": terms}}},
                "responses": {"201": {"description": "the token and its terms"},
                    "422": error("bad name, class without a rate, or no owner")}
            },
            "get": {"summary": "Enrollment tokens: a provider's own, all for an admin (never the tokens)",
                "responses": {"200": {"description": "enrollments"}}}
        },
        "/api/v1/enrollments/{id}/revoke": {"post": {
            "summary": "Revoke an enrollment token: no worker enrolls with it any more",
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {"204": {"description": "revoked"}, "404": error("no such enrollment of yours")}
        }},
        "/api/v1/workers/enroll": {"post": {
            "summary": "A worker presents its enrollment token (its only credential here) and gets its id and its own queue user",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["token", "name"],
                "properties": {"token": {"type": "string"}, "name": {"type": "string"}}}}}},
            "responses": {
                "201": {"description": "worker_id, owner, region, node_classes, device_classes, queue_url"},
                "401": error("unknown, revoked, expired or used-up enrollment token"),
                "409": error("the coordinator runs the embedded queue")
            }
        }}
    })
}
