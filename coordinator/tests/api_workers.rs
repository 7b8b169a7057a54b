//! An admin blocklisting a worker by hand: only admins may (a provider may
//! not blocklist, or spare, its own or a rival's workers), a reason is
//! required, an unknown worker is a 404, a blocklisted one a 409, and
//! reinstating restores it.

mod support;

use serde_json::{Value, json};
use support::TestApp;
use support::app::local_config;

/// POST `body` to `/api/v1/workers/{id}/{action}` as `http`.
async fn act(
    app: &TestApp,
    http: &reqwest::Client,
    id: &str,
    action: &str,
    body: Value,
) -> (u16, Value) {
    let response = http
        .post(format!("{}/api/v1/workers/{id}/{action}", app.api))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_admin_blocklists_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let token = app.enrollment_token("acme-gpus").await;
    let id = app
        .farm
        .enroll(&token, "gpu-1")
        .await
        .unwrap()
        .worker
        .id
        .to_string();
    let provider = app.client_as(&app.provider("acme-gpus").await);
    let submitter = app.client_as(&app.submitter("studio").await);
    let reason = json!({"reason": "renders the wrong frames"});

    for http in [&provider, &submitter] {
        let (status, body) = act(&app, http, &id, "blocklist", reason.clone()).await;
        assert_eq!(status, 403, "{body}");
    }
    let (status, body) = act(&app, &app.http, &id, "blocklist", json!({"reason": "  "})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("bad_reason"))
    );
    let unknown = "01900000-0000-7000-8000-000000000000";
    assert_eq!(
        act(&app, &app.http, unknown, "blocklist", reason.clone())
            .await
            .0,
        404
    );
    assert_eq!(
        act(&app, &app.http, "nope", "blocklist", reason.clone())
            .await
            .0,
        400
    );

    let (status, worker) = act(&app, &app.http, &id, "blocklist", reason.clone()).await;
    assert_eq!(status, 200, "{worker}");
    assert_eq!(
        worker["reputation"]["blocklist_reason"],
        "blocklisted by an admin: renders the wrong frames"
    );
    assert_eq!(act(&app, &app.http, &id, "blocklist", reason).await.0, 409);
    assert_eq!(
        act(&app, &provider, &id, "reinstate", json!({})).await.0,
        403
    );
    let (status, worker) = act(&app, &app.http, &id, "reinstate", json!({})).await;
    assert_eq!(status, 200);
    assert!(worker["reputation"]["blocklisted_ms"].is_null());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_or_the_workers_own_provider_drains_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let token = app.enrollment_token("acme-gpus").await;
    let enrolled = app.farm.enroll(&token, "gpu-1").await.unwrap();
    let id = enrolled.worker.id.to_string();
    let provider = app.client_as(&app.provider("acme-gpus").await);
    let rival = app.client_as(&app.provider("rival-gpus").await);
    let submitter = app.client_as(&app.submitter("studio").await);

    let (status, body) = act(&app, &submitter, &id, "drain", json!({})).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = act(&app, &rival, &id, "drain", json!({})).await;
    assert_eq!(status, 404, "a rival's worker is not found: {body}");
    assert_eq!(
        act(&app, &provider, "nope", "drain", json!({})).await.0,
        400
    );

    let (status, worker) = act(&app, &provider, &id, "drain", json!({})).await;
    assert_eq!(status, 200, "{worker}");
    assert!(worker["draining_ms"].is_i64(), "{worker}");
    let (status, body) = act(&app, &app.http, &id, "drain", json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    assert_eq!(act(&app, &rival, &id, "undrain", json!({})).await.0, 404);
    let (status, worker) = act(&app, &app.http, &id, "undrain", json!({})).await;
    assert_eq!(status, 200, "{worker}");
    assert!(worker["draining_ms"].is_null());
    assert_eq!(act(&app, &provider, &id, "undrain", json!({})).await.0, 409);
    app.stop().await;
}
