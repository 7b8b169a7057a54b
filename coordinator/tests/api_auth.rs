//! Who may call the API: no token or a token that does not work is a 401,
//! a role without the right a 403, another tenant's job a 404 exactly like
//! a job that does not exist; providers see only their own workers and
//! payouts. Token management is in `api_auth/tokens.rs`.

mod support;
#[path = "api_auth/tokens.rs"]
mod tokens;

use std::path::Path;
use std::time::Duration;

use coordinator::auth::Token;
use coordinator::db::Db;
use protocol::{CpuInfo, JobId, WorkerId, WorkerInfo};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::app::local_config;
use support::{TestApp, sample_scene};

/// A coordinator on the embedded queue and a local-folder store, in a
/// fresh folder.
async fn start() -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (TestApp::start(local_config(dir.path())).await, dir)
}

/// Check the status and error code of an answer; returns its body.
async fn expect_error(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    let url = response.url().to_string();
    assert_eq!(response.status(), status, "{code} for {url}");
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["error"]["code"], code, "{url}: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.len() > 20),
        "message too thin: {body}"
    );
    body
}

/// A 401 with the Bearer challenge; returns the message.
async fn expect_unauthenticated(response: reqwest::Response) -> String {
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(challenge.starts_with("Bearer"), "challenge {challenge:?}");
    let body = expect_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    body["error"]["message"].as_str().unwrap().to_owned()
}

/// Every protected route, with a method and a path to call it on.
fn protected_routes(job: JobId) -> Vec<(reqwest::Method, String)> {
    use reqwest::Method;
    let mut routes = vec![
        (Method::POST, "/api/v1/scenes?filename=a.blend".to_owned()),
        (Method::POST, "/api/v1/jobs".to_owned()),
        (Method::POST, "/api/v1/jobs/estimate".to_owned()),
        (Method::GET, "/api/v1/jobs".to_owned()),
        (Method::GET, format!("/api/v1/jobs/{job}")),
        (Method::GET, "/api/v1/workers".to_owned()),
        (
            Method::POST,
            format!("/api/v1/workers/{}/reinstate", WorkerId::new()),
        ),
        (Method::GET, "/api/v1/payouts".to_owned()),
        (Method::GET, "/api/v1/tokens".to_owned()),
        (Method::POST, "/api/v1/tokens".to_owned()),
        (
            Method::POST,
            "/api/v1/tokens/0123456789ab/revoke".to_owned(),
        ),
    ];
    for action in ["drain", "undrain"] {
        routes.push((
            Method::POST,
            format!("/api/v1/workers/{}/{action}", WorkerId::new()),
        ));
    }
    for action in ["cancel", "pause", "resume", "requeue", "priority"] {
        routes.push((Method::POST, format!("/api/v1/jobs/{job}/{action}")));
    }
    for document in ["report", "report.csv", "verdicts"] {
        routes.push((Method::GET, format!("/api/v1/jobs/{job}/{document}")));
    }
    routes
}

#[tokio::test]
async fn health_and_the_openapi_document_need_no_token() {
    let (app, _dir) = start().await;
    let anonymous = app.anonymous();
    let health = anonymous
        .get(format!("{}/api/v1/health", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.text().await.unwrap(), "ok");
    let spec: Value = anonymous
        .get(format!("{}/api/v1/openapi.json", app.api))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let scheme = &spec["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(spec["security"], json!([{"bearer": []}]));
    assert_eq!(
        spec["paths"]["/api/v1/health"]["get"]["security"],
        json!([])
    );
    assert_eq!(
        spec["paths"]["/api/v1/openapi.json"]["get"]["security"],
        json!([])
    );
    assert!(spec["paths"]["/api/v1/jobs"]["get"]["responses"]["401"].is_object());
    assert!(spec["paths"]["/api/v1/jobs"]["get"]["security"].is_null());
    for (path, method) in [
        ("/api/v1/tokens", "post"),
        ("/api/v1/tokens", "get"),
        ("/api/v1/tokens/{id}/revoke", "post"),
    ] {
        assert!(spec["paths"][path][method].is_object(), "{method} {path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn no_token_or_a_bad_one_is_a_401_on_every_protected_route() {
    let (app, _dir) = start().await;
    let job = app
        .submit(json!({"scene": app.upload(&sample_scene()).await, "renderer": "blender", "frames": "1"}))
        .await
        .id;
    let anonymous = app.anonymous();
    for (method, path) in protected_routes(job) {
        let response = anonymous
            .request(method.clone(), format!("{}{path}", app.api))
            .send()
            .await
            .unwrap();
        let message = expect_unauthenticated(response).await;
        assert!(
            message.contains("Authorization: Bearer"),
            "{method} {path}: {message}"
        );
    }
    let jobs = format!("{}/api/v1/jobs", app.api);
    let unknown = Token::generate().unwrap();
    for header in [
        "garbage".to_owned(),
        "Bearer garbage".to_owned(),
        format!("Basic {}", app.admin_token.expose()),
        format!("Bearer {}", &app.admin_token.expose()[..40]),
        format!("Bearer {}", unknown.expose()),
    ] {
        let response = anonymous
            .get(&jobs)
            .header("authorization", &header)
            .send()
            .await
            .unwrap();
        expect_unauthenticated(response).await;
    }
    // The no-such-route answer does not depend on a token.
    let response = anonymous
        .get(format!("{}/api/v1/nope", app.api))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "no_such_route").await;
    app.stop().await;
}

#[tokio::test]
async fn a_submitter_sees_and_touches_only_its_tenants_jobs() {
    let (app, dir) = start().await;
    let alice = app.client_as(&app.submitter("tenant-a").await);
    let bob = app.client_as(&app.submitter("tenant-b").await);
    let scene = app.upload_as(&bob, &sample_scene()).await;
    let theirs = app
        .submit_as(
            &bob,
            json!({"scene": scene, "renderer": "blender", "frames": "1-3", "name": "b's"}),
        )
        .await;
    let before = app
        .wait_for(theirs.id, Duration::from_secs(10), |job| {
            job.tasks.queued == 3
        })
        .await;

    // Bob's scene is not Alice's until she uploads the same bytes; then it
    // is, without being stored again, and without her learning that Bob
    // had it.
    let job_body = json!({"scene": scene, "renderer": "blender", "frames": "1"});
    let jobs = format!("{}/api/v1/jobs", app.api);
    expect_error(
        alice.post(&jobs).json(&job_body).send().await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_scene",
    )
    .await;
    // Nor may she ask what his scene took to render.
    expect_error(
        alice
            .post(format!("{jobs}/estimate"))
            .json(&job_body)
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_scene",
    )
    .await;
    let upload = || {
        alice
            .post(format!("{}/api/v1/scenes?filename=mine.blend", app.api))
            .header("content-type", "application/octet-stream")
            .body(std::fs::read(sample_scene()).unwrap())
            .send()
    };
    for (status, created) in [(StatusCode::CREATED, true), (StatusCode::OK, false)] {
        let response = upload().await.unwrap();
        assert_eq!(response.status(), status);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            (answer["hash"].as_str(), answer["created"].as_bool()),
            (Some(scene.as_str()), Some(created))
        );
    }
    let stored = std::fs::read_dir(dir.path().join("store/scenes"))
        .unwrap()
        .count();
    assert_eq!(stored, 1, "the bytes are stored once");
    expect_error(
        alice
            .post(&jobs)
            .json(&json!({"scene": scene, "renderer": "blender", "frames": "1", "tenant": "tenant-b"}))
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let mine = app.submit_as(&alice, job_body).await;

    // Another tenant's job answers exactly as a job that does not exist.
    let missing = JobId::new();
    let unknown = expect_error(
        alice.get(format!("{jobs}/{missing}")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let same_as_unknown: Value = serde_json::from_str(
        &unknown
            .to_string()
            .replace(&missing.to_string(), &theirs.id.to_string()),
    )
    .unwrap();
    for (method, path) in protected_routes(theirs.id)
        .into_iter()
        .filter(|(_, path)| path.starts_with(&format!("/api/v1/jobs/{}", theirs.id)))
    {
        let response = alice
            .request(method.clone(), format!("{}{path}", app.api))
            .send()
            .await
            .unwrap();
        let body = expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(body, same_as_unknown, "{method} {path}");
    }
    let after = app.job(theirs.id).await;
    assert_eq!(
        serde_json::to_value(&after).unwrap(),
        serde_json::to_value(&before).unwrap(),
        "bob's job is untouched"
    );

    let ids = |client: &reqwest::Client| {
        let request = client.get(&jobs);
        async move {
            let listed: Vec<Value> = request.send().await.unwrap().json().await.unwrap();
            listed
                .iter()
                .map(|j| j["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(&alice).await, vec![mine.id.to_string()]);
    assert_eq!(ids(&bob).await, vec![theirs.id.to_string()]);
    assert_eq!(ids(&app.http).await.len(), 2, "admins see every tenant");
    // Her own job she can see and control.
    let paused = alice
        .post(format!("{jobs}/{}/pause", mine.id))
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn roles_without_the_right_get_403() {
    let (app, _dir) = start().await;
    let submitter = app.client_as(&app.submitter("acme").await);
    let provider = app.client_as(&app.provider("bob").await);
    let worker = WorkerId::new();
    let url = |path: &str| format!("{}{path}", app.api);
    for request in [
        submitter.get(url("/api/v1/workers")),
        submitter.post(url(&format!("/api/v1/workers/{worker}/reinstate"))),
        submitter.get(url("/api/v1/payouts")),
        submitter.get(url("/api/v1/tokens")),
        submitter
            .post(url("/api/v1/tokens"))
            .json(&json!({"role": "admin"})),
        submitter.post(url("/api/v1/tokens/0123456789ab/revoke")),
        provider.post(url("/api/v1/jobs")).json(&json!({
            "scene": "0".repeat(64), "renderer": "blender", "frames": "1"
        })),
        provider
            .post(url("/api/v1/scenes?filename=a.blend"))
            .header("content-type", "application/octet-stream")
            .body("x"),
        provider.get(url("/api/v1/jobs")),
        provider.get(url(&format!("/api/v1/jobs/{}", JobId::new()))),
        provider.post(url(&format!("/api/v1/workers/{worker}/reinstate"))),
        provider.get(url("/api/v1/tokens")),
    ] {
        let body = expect_error(
            request.send().await.unwrap(),
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("token cannot"), "{message}");
    }
    assert!(
        app.http
            .get(url("/api/v1/jobs"))
            .send()
            .await
            .unwrap()
            .json::<Vec<Value>>()
            .await
            .unwrap()
            .is_empty(),
        "the provider's job was not created"
    );
    app.stop().await;
}

/// A worker row of `owner`, as an announcement leaves it.
fn add_worker(conn: &rusqlite::Connection, owner: &str) -> WorkerId {
    let id = WorkerId::new();
    let info = WorkerInfo {
        id,
        name: format!("{owner}-box"),
        owner: owner.into(),
        region: "local".into(),
        node_class: "standard".into(),
        renderers: vec![],
        cpu: CpuInfo::default(),
        gpus: vec![],
        hostname: "host".into(),
    };
    let now = protocol::now_ms();
    conn.execute(
        "INSERT INTO workers (id, name, owner, region, node_class, info, state, first_seen_ms, last_seen_ms) \
         VALUES (?1, ?2, ?3, 'local', 'standard', ?4, 'online', ?5, ?5)",
        rusqlite::params![id.to_string(), info.name, owner, serde_json::to_string(&info).unwrap(), now],
    )
    .unwrap();
    id
}

/// A database where a worker of `bob` and one of `carol` each delivered a
/// frame. Rows are written directly: this is about who may read them.
fn seed(dir: &Path) -> (WorkerId, WorkerId) {
    let database = dir.join("coordinator.sqlite");
    let db = Db::open(&database).unwrap();
    let hash: protocol::SceneHash = "ab".repeat(32).parse().unwrap();
    db.record_scene(&hash, "blend", 10).unwrap();
    let job = db
        .create_job(&coordinator::db::NewJob {
            name: "seed".into(),
            scene: hash,
            renderer: protocol::Renderer::Blender,
            frames: protocol::FrameSpec::parse("1-2", 10).unwrap(),
            chunk_size: 1,
            priority: 50,
            output: Default::default(),
            overrides: Default::default(),
            task_timeout_secs: 60,
            parity_bp: 0,
            options: Default::default(),
        })
        .unwrap();
    drop(db);
    let conn = rusqlite::Connection::open(&database).unwrap();
    let workers = [add_worker(&conn, "bob"), add_worker(&conn, "carol")];
    for (frame, worker) in [(1, workers[0]), (2, workers[1])] {
        conn.execute(
            "INSERT INTO results (job_id, frame, replica, task_id, attempt, worker_id, object_key, pixel_hash, \
                                  render_seconds, width, height, bytes, created_ms, render_ms, rate_micros) \
             SELECT job_id, frame, 0, task_id, 1, ?3, 'renders/x.exr', 'h', 2.0, 4, 4, 100, 0, 2000, 400000 \
             FROM frames WHERE job_id = ?1 AND frame = ?2",
            rusqlite::params![job.to_string(), frame, worker.to_string()],
        )
        .unwrap();
    }
    (workers[0], workers[1])
}

#[tokio::test]
async fn a_provider_sees_only_its_own_workers_and_payouts() {
    let dir = tempfile::tempdir().unwrap();
    let (bobs, carols) = seed(dir.path());
    let app = TestApp::start(local_config(dir.path())).await;
    let bob = app.client_as(&app.provider("bob").await);
    let ids = |client: &reqwest::Client, path: &str, key: &'static str| {
        let request = client.get(format!("{}{path}", app.api));
        async move {
            let rows: Vec<Value> = request
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap()
                .json()
                .await
                .unwrap();
            let mut ids: Vec<String> = rows
                .iter()
                .map(|r| r[key].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    let mut both = vec![bobs.to_string(), carols.to_string()];
    both.sort();
    assert_eq!(ids(&app.http, "/api/v1/workers", "id").await, both);
    assert_eq!(ids(&app.http, "/api/v1/payouts", "worker_id").await, both);
    assert_eq!(
        ids(&bob, "/api/v1/workers", "id").await,
        vec![bobs.to_string()]
    );
    assert_eq!(
        ids(&bob, "/api/v1/payouts", "worker_id").await,
        vec![bobs.to_string()]
    );
    app.stop().await;
}
