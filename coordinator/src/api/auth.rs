//! Bearer tokens on the API: the middleware that turns `Authorization:
//! Bearer rf_…` into a [`Principal`], and the checks handlers make with it.
//!
//! No token, or one that is malformed, unknown, revoked or expired: 401 with
//! `WWW-Authenticate: Bearer`. A role without the right: 403. Another
//! tenant's job: 404, exactly as a job that does not exist.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use protocol::{JobId, now_ms};

use super::ApiError;
use crate::auth::{self, AuthError, Grant, Owner, Principal, Role, Tenant};
use crate::db::DbError;
use crate::farm::Farm;

/// How to get a token, for the messages.
const HOW_TO_GET_ONE: &str =
    "an admin creates tokens with `coordinator token create` or POST /api/v1/tokens";

/// A 401: the request carries no token that works.
#[derive(Debug)]
pub struct Unauthenticated(pub AuthError);

impl IntoResponse for Unauthenticated {
    fn into_response(self) -> Response {
        let challenge = match self.0 {
            AuthError::Missing => r#"Bearer realm="renderfarm""#,
            _ => r#"Bearer realm="renderfarm", error="invalid_token""#,
        };
        let mut response = ApiError::from(self.0).into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        response
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        let unauthenticated =
            |message: String| Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message);
        match error {
            AuthError::Missing => unauthenticated(format!(
                "this API route needs a token: send `Authorization: Bearer rf_<id>_<secret>`; {HOW_TO_GET_ONE}"
            )),
            AuthError::Malformed(why) => unauthenticated(format!(
                "the API token is malformed ({why}); send `Authorization: Bearer rf_<id>_<secret>` with the token exactly as it was shown"
            )),
            AuthError::Unknown => unauthenticated(format!(
                "this API token is not known to the coordinator; check it was copied whole, or ask for a new one ({HOW_TO_GET_ONE})"
            )),
            AuthError::Revoked(id) => unauthenticated(format!(
                "API token {id} was revoked; ask an admin for a new one"
            )),
            AuthError::Expired(id) => unauthenticated(format!(
                "API token {id} has expired; ask an admin for a new one"
            )),
            AuthError::BadName(message) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_name", message)
            }
            AuthError::BadGrant(message) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_grant", message)
            }
            error @ AuthError::BadLabel => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_label",
                error.to_string(),
            ),
            error @ AuthError::BadExpiry(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_expiry",
                error.to_string(),
            ),
            error @ AuthError::Random(_) => {
                tracing::error!(%error, "cannot make a token");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the coordinator cannot make random tokens right now; try again",
                )
            }
        }
    }
}

/// Middleware on every route but health and the OpenAPI document: find the
/// caller's token (a bearer token, or a browser session standing for one,
/// see [`super::session`]) and put its [`Principal`] in the request.
pub async fn require_token(State(farm): State<Farm>, mut request: Request, next: Next) -> Response {
    if !request.headers().contains_key(header::AUTHORIZATION) {
        match super::session::from_cookie(&farm, request.method(), request.headers()).await {
            Ok(Some((principal, session))) => {
                request.extensions_mut().insert(principal);
                request.extensions_mut().insert(session);
                return next.run(request).await;
            }
            Ok(None) => {}
            Err(refusal) => return refusal,
        }
    }
    match authenticate(&farm, request.headers()).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(refusal) => refusal,
    }
}

/// The caller these headers name, or the response refusing them.
async fn authenticate(farm: &Farm, headers: &HeaderMap) -> Result<Principal, Response> {
    let refuse = |error: AuthError| Unauthenticated(error).into_response();
    let value = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str())
        .transpose()
        .map_err(|_| refuse(AuthError::Malformed("the header is not plain ASCII")))?;
    let token = auth::token_from_header(value).map_err(refuse)?;
    let (_, principal) = check_token(farm, &token)
        .await
        .map_err(|error| match error {
            TokenRefused::Auth(error) => refuse(error),
            TokenRefused::Api(error) => error.into_response(),
        })?;
    Ok(principal)
}

/// Why [`check_token`] refused.
pub(crate) enum TokenRefused {
    /// The token does not work (a 401).
    Auth(AuthError),
    /// The database failed.
    Api(ApiError),
}

/// The stored token `token` is and the caller it makes, unless it is
/// unknown, revoked or expired.
pub(crate) async fn check_token(
    farm: &Farm,
    token: &auth::Token,
) -> Result<(auth::TokenInfo, Principal), TokenRefused> {
    let hash = token.hash();
    let stored = farm
        .db
        .call(move |db| db.token_by_hash(&hash))
        .await
        .map_err(|e| TokenRefused::Api(e.into()))?
        .ok_or(TokenRefused::Auth(AuthError::Unknown))?;
    if stored.id != token.id() {
        return Err(TokenRefused::Auth(AuthError::Unknown));
    }
    let principal = stored.principal_at(now_ms()).map_err(|error| {
        tracing::info!(token_id = %stored.id, %error, "API token refused");
        TokenRefused::Auth(error)
    })?;
    Ok((stored, principal))
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Unauthenticated;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Only routes behind `require_token` have one; anywhere else a
        // handler asking for a caller refuses.
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(Unauthenticated(AuthError::Missing))
    }
}

/// Whose workers a principal may see or manage: `None` for all (an
/// admin), a provider's own owner; a submitter gets 403 for `action`.
pub(crate) fn owner_scope(principal: &Principal, action: &str) -> Result<Option<Owner>, ApiError> {
    match &principal.grant {
        Grant::Admin => Ok(None),
        Grant::Provider { owner } => Ok(Some(owner.clone())),
        Grant::Submitter { .. } => {
            Err(forbidden(principal, action, &[Role::Provider, Role::Admin]))
        }
    }
}

/// A 403 for a role that may not do `action`.
pub(super) fn forbidden(principal: &Principal, action: &str, allowed: &[Role]) -> ApiError {
    let allowed: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!(
            "a {} token cannot {action}; that takes a {} token ({HOW_TO_GET_ONE})",
            principal.role(),
            allowed.join(" or ")
        ),
    )
}

/// 403 unless the caller has one of `allowed` roles.
pub(super) fn require(
    principal: &Principal,
    action: &str,
    allowed: &[Role],
) -> Result<(), ApiError> {
    if allowed.contains(&principal.role()) {
        Ok(())
    } else {
        Err(forbidden(principal, action, allowed))
    }
}

/// Whose jobs the caller sees: `None` for every tenant's (admins), a
/// submitter's own tenant, 403 for providers.
pub(crate) fn job_scope<'a>(
    principal: &'a Principal,
    action: &str,
) -> Result<Option<&'a Tenant>, ApiError> {
    match &principal.grant {
        Grant::Admin => Ok(None),
        Grant::Submitter { tenant } => Ok(Some(tenant)),
        Grant::Provider { .. } => Err(forbidden(
            principal,
            action,
            &[Role::Submitter, Role::Admin],
        )),
    }
}

/// 404, as for a job that does not exist, unless the caller may see job
/// `id`. Admins see every job (the handler answers 404 for missing ones).
pub(crate) async fn check_job(
    farm: &Farm,
    principal: &Principal,
    id: JobId,
    action: &str,
) -> Result<(), ApiError> {
    let Some(tenant) = job_scope(principal, action)? else {
        return Ok(());
    };
    let owner = farm.db.call(move |db| db.job_tenant(id)).await?;
    if owner.as_ref() == Some(tenant) {
        Ok(())
    } else {
        Err(DbError::NotFound(format!("job {id}")).into())
    }
}
