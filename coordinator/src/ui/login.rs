//! Signing in: a form that takes an API token, and one-time sign-in links
//! (`POST /api/v1/sign-in-links` makes them); both start a session whose
//! cookie stands for the token. Signing out ends it.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use protocol::now_ms;
use serde::Deserialize;

use super::layout::{Section, page};
use crate::api::ApiError;
use crate::api::auth::{TokenRefused, check_token};
use crate::api::session::{self, UiSession, clear_cookie, session_secret};
use crate::auth::session::Secret;
use crate::auth::{AuthError, Token};
use crate::farm::Farm;

/// Where to go after signing in: a UI path of this site, nothing else.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path) if path.starts_with("/ui/") && !path.starts_with("//") => path,
        _ => "/ui/jobs",
    }
}

/// `?next=` of the sign-in page.
#[derive(Debug, Deserialize)]
pub struct Next {
    /// The page asked for before signing in.
    pub next: Option<String>,
}

/// The sign-in page, with `error` shown above the form.
fn sign_in_page(next: &str, error: Option<&str>) -> maud::Markup {
    page(
        "Sign in",
        Section::SignIn,
        None,
        html! {
            section class="card narrow" {
                h1 { "Sign in" }
                p { "Paste your API token. The browser keeps only a session cookie; the token is not stored in it." }
                @if let Some(error) = error {
                    p class="error" role="alert" { (error) }
                }
                form method="post" action="/ui/login" {
                    input type="hidden" name="next" value=(next);
                    label for="token" { "API token" }
                    input id="token" name="token" type="password" autocomplete="off" required placeholder="rf_…";
                    button type="submit" { "Sign in" }
                }
            }
        },
    )
}

/// `GET /ui/login`.
pub async fn form(Query(next): Query<Next>) -> maud::Markup {
    sign_in_page(safe_next(next.next.as_deref()), None)
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct SignIn {
    /// The API token.
    pub token: String,
    /// Where to go afterwards.
    pub next: Option<String>,
}

/// Whether a form post comes from this site: its `Origin`, when sent,
/// names the host it was sent to (a page elsewhere cannot sign a browser in
/// as the attacker's token).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest == host)
}

/// A redirect to `next` that hands the browser its session cookie.
fn signed_in(cookie: axum::http::HeaderValue, next: &str) -> Response {
    let mut response = Redirect::to(next).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

/// `POST /ui/login`: check the token, start a session.
pub async fn submit(
    State(farm): State<Farm>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    let next = safe_next(form.next.as_deref()).to_owned();
    let refuse = |status: StatusCode, message: &str| {
        (status, sign_in_page(&next, Some(message))).into_response()
    };
    if !same_origin(&headers) {
        return refuse(
            StatusCode::FORBIDDEN,
            "This sign-in did not come from the farm's own page.",
        );
    }
    let token = match Token::parse(form.token.trim()) {
        Ok(token) => token,
        Err(error) => return refuse(StatusCode::UNAUTHORIZED, &ApiError::from(error).message),
    };
    match check_token(&farm, &token).await {
        Ok((info, _)) => match session::start(&farm, &info).await {
            Ok(cookie) => signed_in(cookie, &next),
            Err(error) => error.into_response(),
        },
        Err(TokenRefused::Auth(error)) => {
            refuse(StatusCode::UNAUTHORIZED, &ApiError::from(error).message)
        }
        Err(TokenRefused::Api(error)) => error.into_response(),
    }
}

/// `GET /ui/login/{code}`: a one-time sign-in link; the answer sets the
/// session cookie and moves on to the jobs.
pub async fn link(State(farm): State<Farm>, Path(code): Path<String>) -> Response {
    let expired = || {
        (
            StatusCode::UNAUTHORIZED,
            sign_in_page(
                "/ui/jobs",
                Some("This sign-in link was used already or has expired; ask for a new one, or sign in with your token."),
            ),
        )
            .into_response()
    };
    let Some(code) = Secret::parse(&code) else {
        return expired();
    };
    let (hash, now) = (code.hash(), now_ms());
    let token = match farm
        .db
        .call(move |db| db.redeem_sign_in_link(&hash, now))
        .await
    {
        Ok(Some(token)) => token,
        Ok(None) => return expired(),
        Err(error) => return ApiError::from(error).into_response(),
    };
    if token.principal_at(now).is_err() {
        let message = ApiError::from(AuthError::Revoked(token.id.clone())).message;
        return (
            StatusCode::UNAUTHORIZED,
            sign_in_page("/ui/jobs", Some(&message)),
        )
            .into_response();
    }
    match session::start(&farm, &token).await {
        Ok(cookie) => {
            // A link followed from another site (a mail, a chat) arrives as
            // a cross-site navigation, and a redirect from it would still be
            // one: the SameSite=Strict cookie would not go with it. A page
            // of this site that moves on by itself starts a same-site one.
            let onward = html! {
                (maud::DOCTYPE)
                html lang="en" {
                    head {
                        meta charset="utf-8";
                        meta http-equiv="refresh" content="0;url=/ui/jobs";
                        title { "Signed in · Render farm" }
                    }
                    body { p { "Signed in. " a href="/ui/jobs" { "Go to the jobs" } } }
                }
            };
            let mut response = onward.into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(error) => error.into_response(),
    }
}

/// `POST /ui/logout` (with the page's CSRF token): end the session.
pub async fn logout(
    State(farm): State<Farm>,
    _session: UiSession,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(Some(secret)) = session_secret(&headers) {
        let hash = secret.hash();
        farm.db.call(move |db| db.end_session(&hash)).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    Ok(response)
}
