//! Bad input through the HTTP API gets a 4xx with a JSON message that says
//! what was wrong, and never touches jobs already accepted.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::app::local_config;
use support::{TestApp, sample_scene};

async fn expect_error(response: reqwest::Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status, "for code {code}");
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"]
        .as_str()
        .expect("a message")
        .to_owned();
    assert!(message.len() > 10, "message too thin: {message:?}");
    message
}

async fn start() -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (TestApp::start(local_config(dir.path())).await, dir)
}

#[tokio::test]
async fn bad_input_is_refused_and_accepted_jobs_are_untouched() {
    let (app, _dir) = start().await;
    let hash = app.upload(&sample_scene()).await;
    let accepted = app
        .submit(json!({"scene": hash, "renderer": "blender", "frames": "1-3", "name": "keep me"}))
        .await;
    let before = app
        .wait_for(accepted.id, std::time::Duration::from_secs(10), |job| {
            job.tasks.queued == 3
        })
        .await;

    let jobs = format!("{}/api/v1/jobs", app.api);
    let post = |body: Value| app.http.post(&jobs).json(&body).send();

    for (frames, needle) in [
        ("1-", "1-"),
        ("", "empty"),
        ("a-b", "a-b"),
        ("1-10x0", "step"),
        ("1-5,3", "more than once"),
        ("1-20000", "10000"),
        ("-5-5", "Blender's frame range"),
    ] {
        let message = expect_error(
            post(json!({"scene": hash, "renderer": "blender", "frames": frames}))
                .await
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_frame_spec",
        )
        .await;
        assert!(message.contains(needle), "{frames:?}: {message}");
    }
    let message = expect_error(
        post(json!({"scene": hash, "renderer": "maya", "frames": "1"}))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_renderer",
    )
    .await;
    assert!(message.contains("blender"), "{message}");
    let unknown = "0".repeat(64);
    let message = expect_error(
        post(json!({"scene": unknown, "renderer": "blender", "frames": "1"}))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_scene",
    )
    .await;
    assert!(message.contains("POST /api/v1/scenes"), "{message}");
    expect_error(
        post(json!({"scene": "../../etc/passwd", "renderer": "blender", "frames": "1"}))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad_scene",
    )
    .await;
    expect_error(
        post(json!({"scene": hash, "renderer": "blender", "frames": "1", "chunk_size": 0}))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad_chunk_size",
    )
    .await;
    expect_error(
        post(json!({"scene": hash, "renderer": "blender", "frames": "1", "priority": 101}))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad_priority",
    )
    .await;
    expect_error(
        post(json!({"scene": hash, "renderer": "blender", "frames": "1", "frmaes": "2"}))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad_field",
    )
    .await;
    expect_error(
        app.http
            .post(&jobs)
            .header("content-type", "text/plain")
            .body("frames=1")
            .send()
            .await
            .unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "wrong_content_type",
    )
    .await;
    expect_error(
        app.http
            .post(&jobs)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_json",
    )
    .await;

    let scenes = |query: &str| format!("{}/api/v1/scenes{query}", app.api);
    let octets = |url: String, body: Vec<u8>| {
        app.http
            .post(url)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
    };
    expect_error(
        app.http
            .post(scenes("?filename=a.blend"))
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "wrong_content_type",
    )
    .await;
    expect_error(
        octets(scenes("?filename=../../etc/passwd.blend"), b"x".to_vec())
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_filename",
    )
    .await;
    expect_error(
        octets(scenes(""), b"x".to_vec()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "missing_filename",
    )
    .await;
    expect_error(
        octets(scenes("?filename=a.blend"), Vec::new())
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "empty_scene",
    )
    .await;
    let oversized = vec![7u8; (app.config.jobs.max_upload_bytes + 1) as usize];
    expect_error(
        octets(scenes("?filename=big.blend"), oversized)
            .await
            .unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;

    expect_error(
        app.http
            .get(format!("{jobs}/not-a-job"))
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_job_id",
    )
    .await;
    expect_error(
        app.http
            .get(format!("{jobs}/{}", protocol::JobId::new()))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.control(accepted.id, "resume").await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    for parity in [-1.0, 100.5] {
        let message = expect_error(
            post(json!({"scene": hash, "renderer": "blender", "frames": "1", "parity_percent": parity}))
                .await
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_parity",
        )
        .await;
        assert!(message.contains("0 to 100"), "{message}");
    }
    for route in ["report", "report.csv", "verdicts"] {
        expect_error(
            app.http
                .get(format!("{jobs}/{}/{route}", protocol::JobId::new()))
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    let workers = format!("{}/api/v1/workers", app.api);
    expect_error(
        app.http
            .post(format!("{workers}/not-a-worker/reinstate"))
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_worker_id",
    )
    .await;
    expect_error(
        app.http
            .post(format!("{workers}/{}/reinstate", protocol::WorkerId::new()))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let after = app.job(accepted.id).await;
    assert_eq!(
        serde_json::to_value(&after).unwrap(),
        serde_json::to_value(&before).unwrap()
    );
    let listed: Vec<Value> = app
        .http
        .get(&jobs)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "only the accepted job exists");
    app.stop().await;
}

#[tokio::test]
async fn uploads_are_content_addressed_and_stored_once() {
    let (app, dir) = start().await;
    let first = app.upload(&sample_scene()).await;
    let response = app
        .http
        .post(format!("{}/api/v1/scenes?filename=again.blend", app.api))
        .header("content-type", "application/octet-stream")
        .body(std::fs::read(sample_scene()).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["hash"], first.as_str());
    assert_eq!(body["created"], false);
    let expected = blake3::hash(&std::fs::read(sample_scene()).unwrap())
        .to_hex()
        .to_string();
    assert_eq!(first, expected);
    let stored: Vec<_> = std::fs::read_dir(dir.path().join("store/scenes"))
        .unwrap()
        .collect();
    assert_eq!(stored.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let (app, _dir) = start().await;
    let spec: Value = app
        .http
        .get(format!("{}/api/v1/openapi.json", app.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    for path in [
        "/api/v1/scenes",
        "/api/v1/jobs",
        "/api/v1/jobs/{id}",
        "/api/v1/jobs/{id}/cancel",
        "/api/v1/jobs/{id}/pause",
        "/api/v1/jobs/{id}/resume",
        "/api/v1/jobs/{id}/requeue",
        "/api/v1/jobs/{id}/report",
        "/api/v1/jobs/{id}/report.csv",
        "/api/v1/jobs/{id}/verdicts",
        "/api/v1/jobs/{id}/frames/{frame}/download",
        "/api/v1/jobs/{id}/frames/{frame}/copies/{replica}/preview",
        "/api/v1/jobs/{id}/frames/{frame}/heatmap",
        "/api/v1/workers",
        "/api/v1/workers/{id}/reinstate",
        "/api/v1/workers/{id}/blocklist",
        "/api/v1/payouts",
        "/api/v1/enrollments",
        "/api/v1/enrollments/{id}/revoke",
        "/api/v1/workers/enroll",
        "/api/v1/events",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} missing");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_priority_is_0_to_100_and_only_for_a_live_job() {
    let (app, _dir) = start().await;
    let hash = app.upload(&sample_scene()).await;
    let job = app
        .submit(json!({"scene": hash, "renderer": "blender", "frames": "1-3"}))
        .await;
    app.wait_for(job.id, std::time::Duration::from_secs(10), |job| {
        job.tasks.queued == 3
    })
    .await;
    let url = format!("{}/api/v1/jobs/{}/priority", app.api, job.id);
    let set = |body: Value| app.http.post(&url).json(&body).send();
    for bad in [json!({"priority": 101}), json!({"priority": 300})] {
        let message = expect_error(
            set(bad).await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_priority",
        )
        .await;
        assert!(message.contains("0 (lowest) to 100"), "{message}");
    }
    let answer: Value = set(json!({"priority": 95}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["priority"], 95);
    assert_eq!(
        answer["republished_tasks"], 3,
        "the queued tasks go on the queue again under the new priority"
    );
    let after = app
        .wait_for(job.id, std::time::Duration::from_secs(10), |job| {
            job.tasks.queued == 3
        })
        .await;
    assert_eq!(after.job.priority, 95);
    app.control(job.id, "cancel").await;
    expect_error(
        set(json!({"priority": 10})).await.unwrap(),
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    app.stop().await;
}
