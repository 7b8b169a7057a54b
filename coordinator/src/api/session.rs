//! Browser sessions on the API: a request without `Authorization` but with
//! the session cookie acts as the session's token; one that changes
//! something (any method but GET, HEAD, OPTIONS) must also carry the
//! session's CSRF token in `X-CSRF-Token`, or it is refused with 403. The
//! cookie is `HttpOnly` and `SameSite=Strict`, so a page elsewhere can
//! neither read it nor send it.
//!
//! `POST /api/v1/sign-in-links` makes a one-time link that signs a browser
//! in as the caller's own token (the demo prints one).

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::now_ms;
use serde::Serialize;

use super::ApiError;
use crate::auth::session::{
    CSRF_HEADER, SESSION_COOKIE, SESSION_TTL_MS, SIGN_IN_TTL_MS, Secret, cookie,
};
use crate::auth::{Principal, TokenId, TokenInfo};
use crate::farm::Farm;

/// The session a request came with, for pages that make requests of their
/// own (they need its CSRF token).
#[derive(Debug, Clone)]
pub struct UiSession {
    /// What changing requests must carry in `X-CSRF-Token`.
    pub csrf: Secret,
    /// The token the session acts as.
    pub token_id: TokenId,
}

impl<S: Send + Sync> FromRequestParts<S> for UiSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<UiSession>()
            .cloned()
            .ok_or_else(session_ended)
    }
}

/// 401 for a session cookie that names no live session.
pub fn session_ended() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "session_ended",
        "your sign-in session has ended (or its token was revoked); sign in again at /ui/login",
    )
}

/// The session secret in `headers`' cookies, if any.
pub fn session_secret(headers: &HeaderMap) -> Option<Option<Secret>> {
    let header = headers.get(header::COOKIE)?.to_str().ok()?;
    let value = cookie(header, SESSION_COOKIE)?;
    Some(Secret::parse(value))
}

/// The caller a session cookie names: `None` when there is no session
/// cookie; the refusal when the session ended or a changing request lacks
/// its CSRF token.
pub async fn from_cookie(
    farm: &Farm,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<(Principal, UiSession)>, Response> {
    let Some(secret) = session_secret(headers) else {
        return Ok(None);
    };
    let secret = secret.ok_or_else(|| session_ended().into_response())?;
    let (hash, now) = (secret.hash(), now_ms());
    let view = farm
        .db
        .call(move |db| db.session(&hash, now))
        .await
        .map_err(|e| ApiError::from(e).into_response())?
        .ok_or_else(|| session_ended().into_response())?;
    let principal = view
        .token
        .principal_at(now)
        .map_err(|_| session_ended().into_response())?;
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !sent.is_some_and(|sent| view.csrf.matches(sent)) {
            tracing::warn!(token_id = %view.token.id, %method, "request without its session's CSRF token refused");
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "a signed-in browser's request that changes something must carry the page's CSRF token in X-CSRF-Token; reload the page",
            )
            .into_response());
        }
    }
    let session = UiSession {
        csrf: view.csrf,
        token_id: view.token.id.clone(),
    };
    Ok(Some((principal, session)))
}

/// Start a session for `token`: the `Set-Cookie` header that hands it to
/// the browser.
pub async fn start(farm: &Farm, token: &TokenInfo) -> Result<HeaderValue, ApiError> {
    let (secret, csrf) = (Secret::generate()?, Secret::generate()?);
    let (stored, id) = (secret.clone(), token.id.clone());
    farm.db
        .call(move |db| db.create_session(&stored, &csrf, &id, now_ms(), SESSION_TTL_MS))
        .await?;
    tracing::info!(token_id = %token.id, "browser session started");
    let cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        secret.expose(),
        SESSION_TTL_MS / 1000
    );
    Ok(HeaderValue::from_str(&cookie).expect("hex and ASCII make a header"))
}

/// The `Set-Cookie` header that removes the session cookie.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    ))
    .expect("a valid header")
}

/// `POST /api/v1/sign-in-links`'s answer.
#[derive(Debug, Serialize)]
pub struct SignInLink {
    /// The path that signs a browser in, once.
    pub path: String,
    /// When it stops working, ms since the epoch.
    pub expires_ms: i64,
}

/// `POST /api/v1/sign-in-links`: a one-time link that signs a browser in
/// as the caller's own token, for ten minutes.
pub async fn create_link(
    State(farm): State<Farm>,
    principal: Principal,
) -> Result<(StatusCode, Json<SignInLink>), ApiError> {
    let code = Secret::generate()?;
    let (stored, id, now) = (code.clone(), principal.token_id.clone(), now_ms());
    farm.db
        .call(move |db| db.create_sign_in_link(&stored, &id, now, SIGN_IN_TTL_MS))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(SignInLink {
            path: format!("/ui/login/{}", code.expose()),
            expires_ms: now + SIGN_IN_TTL_MS,
        }),
    ))
}
