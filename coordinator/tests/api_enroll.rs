//! Enrollment tokens through the API: who may issue them and for whom,
//! listing and revoking, and a worker's enrollment refused for a bad token
//! or a coordinator on the embedded queue. (A worker enrolling for real, on
//! RabbitMQ, is in `adversarial.rs` and the end-to-end tests.)

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::TestApp;
use support::app::local_config;

/// POST `body` to `path` with `http`.
async fn post(app: &TestApp, http: &reqwest::Client, path: &str, body: Value) -> reqwest::Response {
    http.post(format!("{}{path}", app.api))
        .json(&body)
        .send()
        .await
        .expect("request sent")
}

/// The error code of an answer, checking its status.
async fn code(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("JSON error");
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_issue_enrollment_tokens_for_themselves_only() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let bob = app.client_as(&app.provider("bob").await);
    let eve = app.client_as(&app.provider("eve").await);
    let submitter = app.client_as(&app.submitter("acme").await);

    let issued = post(
        &app,
        &bob,
        "/api/v1/enrollments",
        json!({"region": "eu-west"}),
    )
    .await;
    assert_eq!(issued.status(), StatusCode::CREATED);
    let issued: Value = issued.json().await.unwrap();
    assert!(issued["token"].as_str().unwrap().starts_with("rf_"));
    assert_eq!(issued["owner"], "bob");
    assert_eq!(issued["device_classes"], json!(["cpu"]));

    let for_eve = post(
        &app,
        &bob,
        "/api/v1/enrollments",
        json!({"region": "eu-west", "owner": "eve"}),
    )
    .await;
    assert_eq!(code(for_eve, StatusCode::FORBIDDEN).await, "forbidden");
    let unpriced = json!({"region": "eu-west", "device_classes": ["quantum9000"]});
    let unpriced = post(&app, &bob, "/api/v1/enrollments", unpriced).await;
    assert_eq!(
        code(unpriced, StatusCode::UNPROCESSABLE_ENTITY).await,
        "unknown_device_class"
    );
    let by_submitter = post(
        &app,
        &submitter,
        "/api/v1/enrollments",
        json!({"region": "x"}),
    )
    .await;
    assert_eq!(code(by_submitter, StatusCode::FORBIDDEN).await, "forbidden");
    let no_owner = post(
        &app,
        &app.http,
        "/api/v1/enrollments",
        json!({"region": "x"}),
    )
    .await;
    assert_eq!(
        code(no_owner, StatusCode::UNPROCESSABLE_ENTITY).await,
        "missing_owner"
    );

    let listed: Value = eve
        .get(format!("{}/api/v1/enrollments", app.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]), "eve sees none of bob's");
    let listed = serde_json::to_string(
        &bob.get(format!("{}/api/v1/enrollments", app.api))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        !listed.contains(issued["token"].as_str().unwrap()),
        "never the token"
    );

    let id = issued["id"].as_str().unwrap();
    let revoke = format!("/api/v1/enrollments/{id}/revoke");
    assert_eq!(
        post(&app, &eve, &revoke, json!({})).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(&app, &bob, &revoke, json!({})).await.status(),
        StatusCode::NO_CONTENT
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_on_the_embedded_queue_enrolls_no_remote_worker() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let token = app.enrollment_token("bob").await;
    let anonymous = app.anonymous();
    let enroll = json!({"token": token.expose(), "name": "render-01"});
    let answer = post(&app, &anonymous, "/api/v1/workers/enroll", enroll).await;
    assert_eq!(code(answer, StatusCode::CONFLICT).await, "embedded_queue");
    assert!(app.workers().await.is_empty(), "nobody was enrolled");
    app.stop().await;
}
