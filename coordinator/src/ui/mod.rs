//! The render queue web UI, served by the coordinator itself: HTML made on
//! the server (maud), one stylesheet and one script of our own, no build
//! step. A person signs in with an API token and then sees exactly what
//! that token may see through the API: pages read through the same scoped
//! queries, and the script acts through the API itself (the session cookie
//! and the page's CSRF token) and follows `GET /api/v1/events`.

mod assets;
mod benchmark;
mod charts;
mod costs;
mod error;
mod format;
mod frame;
mod job;
mod jobs;
mod layout;
mod login;
mod worker;
mod workers;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::farm::Farm;

/// The UI's routes: the sign-in pages and assets for anyone, the rest for
/// a signed-in browser.
pub fn router(farm: Farm) -> Router<Farm> {
    let pages = Router::new()
        .route("/ui/jobs", get(jobs::page_jobs))
        .route("/ui/jobs/{id}", get(job::page_job))
        .route("/ui/jobs/{id}/frames/{frame}", get(frame::page_frame))
        .route("/ui/jobs/{id}/costs", get(costs::page_costs))
        .route("/ui/benchmarks/{id}", get(benchmark::page_benchmark))
        .route("/ui/workers", get(workers::page_workers))
        .route("/ui/workers/{id}", get(worker::page_worker))
        .route("/ui/logout", post(login::logout))
        .route_layer(middleware::from_fn_with_state(farm, require_session));
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/jobs") }))
        .route("/ui", get(|| async { Redirect::to("/ui/jobs") }))
        .route("/ui/login", get(login::form).post(login::submit))
        .route("/ui/login/{code}", get(login::link))
        .route("/ui/assets/{name}", get(assets::serve))
        .merge(pages)
}

/// Pages need a session: without one (or with one that ended) a page
/// request goes to the sign-in page and comes back afterwards; any other
/// request is refused as the API refuses it.
async fn require_session(State(farm): State<Farm>, mut request: Request, next: Next) -> Response {
    match crate::api::session::from_cookie(&farm, request.method(), request.headers()).await {
        Ok(Some((principal, session))) => {
            request.extensions_mut().insert(principal);
            request.extensions_mut().insert(session);
            next.run(request).await
        }
        Ok(None) if request.method() == axum::http::Method::GET => {
            let next = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            Redirect::to(&format!("/ui/login?next={}", encode(&next))).into_response()
        }
        Ok(None) => crate::api::session::session_ended().into_response(),
        Err(_) if request.method() == axum::http::Method::GET => {
            Redirect::to("/ui/login").into_response()
        }
        Err(refusal) => refusal,
    }
}

/// `text` percent-encoded for a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_next_path_is_encoded() {
        assert_eq!(
            super::encode("/ui/jobs?state=done&q=a b"),
            "/ui/jobs%3Fstate%3Ddone%26q%3Da%20b"
        );
    }
}
