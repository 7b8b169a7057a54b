//! Signing in to the web UI, as an attacker would try it: a session cookie
//! is HttpOnly and SameSite=Strict and stands for exactly its token (its
//! tenant's jobs, nobody else's); a request that changes something without
//! the page's CSRF token is refused; a sign-in form posted from another
//! site is refused; a sign-in link works once; revoking the token ends its
//! sessions; signing out ends the session.

mod support;

use serde_json::{Value, json};
use support::app::local_config;
use support::{TestApp, sample_scene};

/// `pairs` as a form body.
fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Sign in with `token` through the form; the session cookie (`name=value`).
async fn sign_in(app: &TestApp, token: &str) -> String {
    let response = browser()
        .post(format!("{}/ui/login", app.api))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", token), ("next", "/ui/jobs")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    assert_eq!(response.headers()["location"], "/ui/jobs");
    session_cookie(&response)
}

/// The session cookie a response sets, checked for its attributes.
fn session_cookie(response: &reqwest::Response) -> String {
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("farm_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    cookie.split(';').next().unwrap().to_owned()
}

/// GET `path` with `cookie`: status and body.
async fn get(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let response = browser()
        .get(format!("{}{path}", app.api))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The CSRF token in a page.
fn csrf(page: &str) -> String {
    let start = page
        .find(r#"name="csrf-token" content=""#)
        .expect("a CSRF meta tag")
        + 27;
    page[start..start + 64].to_owned()
}

/// A three-frame job of tenant `tenant`'s, named `name`; its id.
async fn job_of(app: &TestApp, token: &str, name: &str) -> String {
    let http = app.client_as(token);
    let scene = app.upload_as(&http, &sample_scene()).await;
    let job = app
        .submit_as(
            &http,
            json!({"name": name, "scene": scene, "renderer": "blender", "frames": "1-3", "paused": true}),
        )
        .await;
    job.id.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_sees_and_does_what_its_token_may_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let alice_token = app.submitter("alice").await;
    let bob_token = app.submitter("bob").await;
    let alices = job_of(&app, &alice_token, "alice-shot-010").await;
    let bobs = job_of(&app, &bob_token, "bob-shot-020").await;

    // Not signed in: pages send the browser to sign in and back.
    let (status, _) = get(&app, "", "/ui/jobs?state=active").await;
    assert_eq!(status, 303);
    let response = browser()
        .get(format!("{}/ui/jobs?state=active", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["location"],
        "/ui/login?next=/ui/jobs%3Fstate%3Dactive"
    );

    let cookie = sign_in(&app, &alice_token).await;
    let (status, page) = get(&app, &cookie, "/ui/jobs").await;
    assert_eq!(status, 200);
    assert!(page.contains("alice-shot-010"), "{page}");
    assert!(
        !page.contains("bob-shot-020"),
        "another tenant's job is not listed"
    );
    let (status, page) = get(&app, &cookie, &format!("/ui/jobs/{alices}")).await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"id="grid-data""#));
    let (status, _) = get(&app, &cookie, &format!("/ui/jobs/{bobs}")).await;
    assert_eq!(status, 404, "another tenant's job page is not found");
    // The API answers the session as it answers the token.
    let (status, body) = get(&app, &cookie, &format!("/api/v1/jobs/{bobs}")).await;
    assert_eq!(status, 404, "{body}");

    // A change without the page's CSRF token is refused, with it done.
    let resume = format!("{}/api/v1/jobs/{alices}/resume", app.api);
    let response = browser()
        .post(&resume)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "csrf_failed");
    let response = browser()
        .post(&resume)
        .header("cookie", &cookie)
        .header("x-csrf-token", "0".repeat(64))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "a wrong CSRF token is refused");
    let page = get(&app, &cookie, "/ui/jobs").await.1;
    let response = browser()
        .post(&resume)
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf(&page))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // ...and the CSRF token of one session does not work for another.
    let other = sign_in(&app, &alice_token).await;
    let response = browser()
        .post(format!("{}/api/v1/jobs/{alices}/pause", app.api))
        .header("cookie", &other)
        .header("x-csrf-token", csrf(&page))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // Signing out ends the session.
    let response = browser()
        .post(format!("{}/ui/logout", app.api))
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf(&page))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, body) = get(&app, &cookie, "/api/v1/jobs").await;
    assert_eq!(status, 401, "{body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_refuses_other_sites_bad_tokens_and_used_links() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let token = app.submitter("alice").await;

    // A form on another site cannot sign the browser in (as anyone).
    let response = browser()
        .post(format!("{}/ui/login", app.api))
        .header("origin", "http://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", token.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.headers().get("set-cookie").is_none());
    // A wrong token gets the page again with the reason, and no cookie.
    let response = browser()
        .post(format!("{}/ui/login", app.api))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", "rf_000000000000_nope")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("set-cookie").is_none());
    assert!(response.text().await.unwrap().contains("malformed"));
    // An outside `next` is not followed.
    let response = browser()
        .post(format!("{}/ui/login", app.api))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("token", token.as_str()),
            ("next", "//evil.example/"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], "/ui/jobs");

    // A sign-in link works once.
    let link: Value = app
        .client_as(&token)
        .post(format!("{}/api/v1/sign-in-links", app.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = link["path"].as_str().unwrap();
    assert!(path.starts_with("/ui/login/"), "{link}");
    let response = browser()
        .get(format!("{}{path}", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = session_cookie(&response);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains(r#"http-equiv="refresh" content="0;url=/ui/jobs""#),
        "the page moves on to the jobs by itself"
    );
    assert_eq!(get(&app, &cookie, "/ui/jobs").await.0, 200);
    let again = browser()
        .get(format!("{}{path}", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401);
    assert!(again.headers().get("set-cookie").is_none());

    // Revoking the token ends its sessions.
    let id = &token[3..15];
    let response = app
        .http
        .post(format!("{}/api/v1/tokens/{id}/revoke", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(get(&app, &cookie, "/ui/jobs").await.0, 303);
    assert_eq!(get(&app, &cookie, "/api/v1/jobs").await.0, 401);
    app.stop().await;
}

#[tokio::test]
async fn a_workers_page_is_for_admins_and_its_own_provider() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let enrollment = app.enrollment_token("acme-gpus").await;
    let id = app
        .farm
        .enroll(&enrollment, "gpu-7")
        .await
        .unwrap()
        .worker
        .id;
    let path = format!("/ui/workers/{id}");
    let own = sign_in(&app, &app.provider("acme-gpus").await).await;
    let (status, page) = get(&app, &own, &path).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("gpu-7") && page.contains("No copies delivered yet"));
    assert!(page.contains(r#"data-worker-action="drain""#));
    assert!(
        !page.contains(r#"data-worker-action="blocklist""#),
        "only an admin blocklists"
    );
    let rival = sign_in(&app, &app.provider("rival-gpus").await).await;
    let (status, page) = get(&app, &rival, &path).await;
    assert_eq!(status, 404, "a rival's worker is not found: {page}");
    let studio = sign_in(&app, &app.submitter("studio").await).await;
    let (status, page) = get(&app, &studio, &path).await;
    assert_eq!(status, 403, "{page}");
    let admin = sign_in(&app, app.admin_token.expose()).await;
    let (status, page) = get(&app, &admin, &path).await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"data-worker-action="blocklist""#));
    let (status, _) = get(&app, &admin, "/ui/workers/nope").await;
    assert_eq!(status, 400);
    let (status, _) = get(
        &app,
        &admin,
        &format!("/ui/workers/{}", protocol::WorkerId::new()),
    )
    .await;
    assert_eq!(status, 404);
    app.stop().await;
}
