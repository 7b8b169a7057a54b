//! API tokens: create (the token is shown once), list, revoke. Admins only.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use protocol::now_ms;
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::require;
use crate::auth::{Grant, IssuedToken, Principal, Role, Token, TokenId, TokenInfo, TokenRequest};
use crate::farm::Farm;

/// A token request.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// `submitter`, `provider` or `admin`.
    pub role: Role,
    /// The tenant of a submitter token.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The owner (the workers' `owner`) of a provider token.
    #[serde(default)]
    pub owner: Option<String>,
    /// Who or what will hold it.
    #[serde(default)]
    pub label: String,
    /// Days until it stops working; never when absent.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// `POST /api/v1/tokens`: a new token, shown in the answer and never again.
pub async fn create(
    State(farm): State<Farm>,
    principal: Principal,
    body: Result<Json<CreateToken>, JsonRejection>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    require(&principal, "create tokens", &[Role::Admin])?;
    let Json(body) = body?;
    let grant = Grant::new(body.role, body.tenant.as_deref(), body.owner.as_deref())?;
    let request = TokenRequest::new(grant, &body.label, body.expires_in_days, now_ms())?;
    let token = Token::generate()?;
    let issued = {
        let token = token.clone();
        farm.db
            .call(move |db| db.insert_token(&token, &request))
            .await?
    };
    tracing::info!(token_id = %issued.id, role = %issued.grant.role(), by = %principal.token_id, "token created");
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            token,
            info: issued,
        }),
    ))
}

/// `GET /api/v1/tokens`: every token, newest first, without secrets.
pub async fn list(
    State(farm): State<Farm>,
    principal: Principal,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    require(&principal, "list tokens", &[Role::Admin])?;
    Ok(Json(farm.db.call(|db| db.list_tokens()).await?))
}

/// `POST /api/v1/tokens/{id}/revoke`: the token stops working at once.
pub async fn revoke(
    State(farm): State<Farm>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<TokenInfo>, ApiError> {
    require(&principal, "revoke tokens", &[Role::Admin])?;
    let Path(text) = path?;
    let id: TokenId = text.parse().map_err(|_| {
        ApiError::bad_request(
            "bad_token_id",
            format!(
                "{text:?} is not a token id; ids are the 12 hex digits after `rf_`, as GET /api/v1/tokens lists them"
            ),
        )
    })?;
    let info = farm.db.call(move |db| db.revoke_token(&id)).await?;
    tracing::info!(token_id = %info.id, by = %principal.token_id, "token revoked");
    Ok(Json(info))
}
