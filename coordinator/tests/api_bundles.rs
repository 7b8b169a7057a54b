//! Scene bundles over the API: a manifest is checked before any upload
//! (each refusal a 4xx naming the file, nothing stored), a blob is kept only
//! when its bytes hash to its name, and a tenant uploads each blob once:
//! a second bundle with one changed texture lacks only that texture. A
//! manifest whose sizes are not its blobs' makes no job.

mod support;

use serde_json::{Value, json};
use support::TestApp;
use support::app::local_config;

fn hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// A manifest entry for `bytes` at `path`.
fn file(path: &str, bytes: &[u8]) -> Value {
    json!({"path": path, "hash": hash(bytes), "bytes": bytes.len()})
}

/// POST a manifest as `http`; the status and the JSON answer.
async fn describe(app: &TestApp, http: &reqwest::Client, manifest: Value) -> (u16, Value) {
    let response = http
        .post(format!("{}/api/v1/bundles", app.api))
        .json(&manifest)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// PUT `bytes` as the blob named `name`; the status and the JSON answer.
async fn put_blob(app: &TestApp, http: &reqwest::Client, name: &str, bytes: &[u8]) -> (u16, Value) {
    let response = http
        .put(format!("{}/api/v1/blobs/{name}", app.api))
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The hashes an answer says are missing.
fn missing(answer: &Value) -> Vec<String> {
    answer["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|blob| blob["hash"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_tenant_uploads_each_blob_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let alice = app.client_as(&app.submitter("alice").await);
    let (scene, wood, stone) = (
        b"a blend file".as_slice(),
        b"wood".as_slice(),
        b"stone".as_slice(),
    );
    let first = json!({"main": "shot.blend", "files": [
        file("shot.blend", scene), file("textures/wood.png", wood), file("textures/stone.png", stone)]});
    let (status, answer) = describe(&app, &alice, first.clone()).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(missing(&answer).len(), 3);
    assert_eq!(
        answer["missing_bytes"],
        scene.len() + wood.len() + stone.len()
    );
    for bytes in [scene, wood, stone] {
        let (status, blob) = put_blob(&app, &alice, &hash(bytes), bytes).await;
        assert_eq!(status, 201, "{blob}");
    }
    assert_eq!(
        put_blob(&app, &alice, &hash(wood), wood).await.0,
        200,
        "known"
    );
    let stored = dir.path().join("store/blobs").join(hash(wood));
    assert_eq!(std::fs::read(stored).unwrap(), wood);
    let (status, again) = describe(&app, &alice, first).await;
    assert_eq!((status, missing(&again).len()), (200, 0), "{again}");
    let shown: Value = alice
        .get(format!(
            "{}/api/v1/bundles/{}",
            app.api,
            again["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["id"], again["id"]);

    // The same shot with one texture changed lacks only that texture.
    let painted = b"painted stone".as_slice();
    let second = json!({"main": "shot.blend", "files": [
        file("shot.blend", scene), file("textures/wood.png", wood), file("textures/stone.png", painted)]});
    let (status, answer) = describe(&app, &alice, second).await;
    assert_eq!(status, 201);
    assert_eq!(missing(&answer), [hash(painted)]);
    assert_eq!(answer["missing_bytes"], painted.len());
    assert_eq!(answer["missing"][0]["paths"], json!(["textures/stone.png"]));

    // Another tenant is not told what alice has, and cannot see her bundle.
    let bob = app.client_as(&app.submitter("bob").await);
    let (_, theirs) = describe(
        &app,
        &bob,
        json!({"main": "shot.blend", "files": [file("shot.blend", scene)]}),
    )
    .await;
    assert_eq!(missing(&theirs), [hash(scene)]);
    let hidden = bob
        .get(format!(
            "{}/api/v1/bundles/{}",
            app.api,
            again["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status().as_u16(), 404);
    let provider = app.client_as(&app.provider("p").await);
    assert_eq!(put_blob(&app, &provider, &hash(wood), wood).await.0, 403);
    app.stop().await;
}

#[tokio::test]
async fn bad_bundles_and_blobs_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.jobs.max_bundle_files = 3;
    let app = TestApp::start(config).await;
    let alice = app.client_as(&app.submitter("alice").await);
    let main = file("shot.blend", b"scene");
    let cases = [
        (
            json!({"main": "shot.blend", "files": [main, file("../escape.png", b"x")]}),
            "../escape.png",
        ),
        (
            json!({"main": "shot.blend", "files": [main, file("/etc/passwd", b"x")]}),
            "/etc/passwd",
        ),
        (
            json!({"main": "shot.blend", "files": [main, file("tex/../../up.png", b"x")]}),
            "tex/../../up.png",
        ),
        (
            json!({"main": "shot.blend", "files": [main, file("C:/tex.png", b"x")]}),
            "C:/tex.png",
        ),
        (
            json!({"main": "shot.blend", "files": [main, file("tex\\a.png", b"x")]}),
            "tex\\\\a.png",
        ),
        (
            json!({"main": "other.blend", "files": [main]}),
            "other.blend",
        ),
        (
            json!({"main": "shot.blend", "files": [main, file("a", b"1"), file("b", b"2"), file("c", b"3")]}),
            "the limit is 3",
        ),
    ];
    for (manifest, named) in cases {
        let (status, answer) = describe(&app, &alice, manifest).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["error"]["code"], "bad_bundle");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{message} names {named}");
    }
    let count: u32 = rusqlite::Connection::open(&app.config.database)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM bundles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 0, "nothing half-created");

    // A blob whose bytes are not the ones its name says: nothing kept.
    let named = hash(b"the texture");
    let (status, answer) = put_blob(&app, &alice, &named, b"something else").await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "hash_mismatch");
    assert!(!dir.path().join("store/blobs").join(&named).exists());
    assert!(
        !dir.path()
            .join("store/blobs")
            .join(hash(b"something else"))
            .exists()
    );
    let (_, answer) = describe(
        &app,
        &alice,
        json!({"main": "t.blend", "files": [file("t.blend", b"the texture")]}),
    )
    .await;
    assert_eq!(missing(&answer), [named]);
    let (status, answer) = put_blob(&app, &alice, "not-a-hash", b"x").await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("bad_hash"))
    );
    app.stop().await;
}

/// POST a job as `http` to `path` (`/api/v1/jobs` or its `validate`).
async fn post_job(app: &TestApp, http: &reqwest::Client, path: &str, body: Value) -> (u16, Value) {
    let response = http
        .post(format!("{}{path}", app.api))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// How many jobs the admin sees.
async fn job_count(app: &TestApp) -> usize {
    let jobs: Value = app
        .http
        .get(format!("{}/api/v1/jobs", app.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jobs.as_array().unwrap().len()
}

#[tokio::test]
async fn a_job_from_a_bundle_needs_every_blob_and_is_checked_before_upload() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let alice = app.client_as(&app.submitter("alice").await);
    let (scene, wood) = (b"a shot".as_slice(), b"wood grain".as_slice());
    let (_, described) = describe(
        &app,
        &alice,
        json!({"main": "shots/010.blend", "files": [
            file("shots/010.blend", scene), file("textures/wood.png", wood)]}),
    )
    .await;
    let id = described["id"].as_str().unwrap().to_owned();
    let job = |frames: &str| json!({"bundle": id, "renderer": "blender", "frames": frames});

    // Validation before upload: the fields are checked, nothing is created,
    // and a described bundle is enough.
    let (status, answer) = post_job(&app, &alice, "/api/v1/jobs/validate", job("1-10")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["frame_count"], 10);
    let (status, answer) = post_job(&app, &alice, "/api/v1/jobs/validate", job("5-x")).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("bad_frame_spec")),
        "{answer}"
    );
    let (status, answer) = post_job(
        &app,
        &alice,
        "/api/v1/jobs/validate",
        json!({"renderer": "blender", "frames": "1-3"}),
    )
    .await;
    assert_eq!(status, 200, "fields alone can be checked: {answer}");

    // Blobs missing: refused, naming the files; nothing created.
    let (status, answer) = post_job(&app, &alice, "/api/v1/jobs", job("1-10")).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "bundle_incomplete");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("shots/010.blend") && message.contains("textures/wood.png"),
        "{message}"
    );
    put_blob(&app, &alice, &hash(scene), scene).await;
    let (status, answer) = post_job(&app, &alice, "/api/v1/jobs", job("1-10")).await;
    assert_eq!(status, 409);
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("textures/wood.png") && !message.contains("010.blend"),
        "{message}"
    );
    assert_eq!(job_count(&app).await, 0);

    // Another tenant cannot use alice's bundle, even knowing its id.
    let bob = app.client_as(&app.submitter("bob").await);
    let (status, answer) = post_job(&app, &bob, "/api/v1/jobs", job("1-10")).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("unknown_bundle")),
        "{answer}"
    );

    // Every blob there: the job renders the main file, created paused.
    put_blob(&app, &alice, &hash(wood), wood).await;
    let mut body = job("1-10");
    body["paused"] = json!(true);
    let (status, created) = post_job(&app, &alice, "/api/v1/jobs", body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["bundle"], id.as_str());
    assert_eq!(created["scene"], hash(scene));
    assert_eq!(created["state"], "paused");
    let scene_copy = dir
        .path()
        .join(format!("store/scenes/{}.blend", hash(scene)));
    assert_eq!(
        std::fs::read(scene_copy).unwrap(),
        scene,
        "the main file is the job's scene"
    );

    // Both a scene and a bundle, a region no worker is in.
    let mut both = job("1");
    both["scene"] = json!(hash(scene));
    let (status, answer) = post_job(&app, &alice, "/api/v1/jobs", both).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("scene_and_bundle"))
    );
    let mut placed = job("1");
    placed["region"] = json!("mars");
    let (status, answer) = post_job(&app, &alice, "/api/v1/jobs/validate", placed).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("unknown_placement")),
        "{answer}"
    );
    assert_eq!(job_count(&app).await, 1);
}

#[tokio::test]
async fn a_manifest_that_lies_about_sizes_makes_no_job() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.jobs.max_bundle_bytes = 1_000;
    let app = TestApp::start(config).await;
    let alice = app.client_as(&app.submitter("alice").await);
    // A texture of 4,000 bytes said to be 1: the bundle would pass the
    // 1,000-byte limit on the sizes it declares.
    let (scene, big) = (b"a shot".as_slice(), vec![7u8; 4_000]);
    let lying = json!({"main": "shot.blend", "files": [
        file("shot.blend", scene),
        {"path": "textures/big.png", "hash": hash(&big), "bytes": 1}]});
    let (status, described) = describe(&app, &alice, lying.clone()).await;
    assert_eq!(
        status, 201,
        "nothing uploaded yet, nothing to compare: {described}"
    );
    let id = described["id"].as_str().unwrap().to_owned();
    put_blob(&app, &alice, &hash(scene), scene).await;
    let (status, blob) = put_blob(&app, &alice, &hash(&big), &big).await;
    assert_eq!(
        (status, blob["bytes"].as_u64()),
        (201, Some(4_000)),
        "the blob itself is right"
    );

    // A job from it is refused, naming the file and both sizes.
    let job = json!({"bundle": id, "renderer": "blender", "frames": "1", "paused": true});
    let (status, answer) = post_job(&app, &alice, "/api/v1/jobs", job).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("bundle_size_mismatch")),
        "{answer}"
    );
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(r#""textures/big.png" is 4000 bytes, not 1"#),
        "{message}"
    );
    assert_eq!(job_count(&app).await, 0);

    // Described again now that the blob is uploaded: refused at once.
    let mut again = lying;
    again["files"][1]["path"] = json!("textures/other.png");
    let (status, answer) = describe(&app, &alice, again).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("bundle_size_mismatch")),
        "{answer}"
    );
    // The truth is over the bundle limit, and says so.
    let honest = json!({"main": "shot.blend", "files": [file("shot.blend", scene), file("textures/big.png", &big)]});
    let (status, answer) = describe(&app, &alice, honest).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("bad_bundle")),
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_bundle_bytes")
    );

    // Another tenant's uploads are never compared (that would tell bob
    // what alice has): his lie is found once he uploads the blob himself.
    let bob = app.client_as(&app.submitter("bob").await);
    let (status, theirs) = describe(
        &app,
        &bob,
        json!({"main": "shot.blend", "files": [{"path": "shot.blend", "hash": hash(scene), "bytes": 2}]}),
    )
    .await;
    assert_eq!(status, 201, "{theirs}");
    assert_eq!(missing(&theirs), [hash(scene)]);
    put_blob(&app, &bob, &hash(scene), scene).await;
    let job = json!({"bundle": theirs["id"], "renderer": "blender", "frames": "1", "paused": true});
    let (status, answer) = post_job(&app, &bob, "/api/v1/jobs", job).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("bundle_size_mismatch")),
        "{answer}"
    );
    assert_eq!(job_count(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn the_farm_lists_the_regions_and_classes_it_enrolled() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    app.define_class(
        "gpu-fast",
        json!({"device": "gpu", "price_micros_per_second": 400}),
    )
    .await;
    app.define_class("cpu-cheap", json!({"device": "cpu"}))
        .await;
    let created: Value = app
        .http
        .post(format!("{}/api/v1/enrollments", app.api))
        .json(&json!({"owner": "acme", "region": "eu-west", "node_classes": ["gpu-fast", "cpu-cheap"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(created["token"].is_string(), "{created}");
    let alice = app.client_as(&app.submitter("alice").await);
    let offer: Value = alice
        .get(format!("{}/api/v1/farm", app.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(offer["regions"], json!(["eu-west"]));
    assert_eq!(offer["node_classes"], json!(["cpu-cheap", "gpu-fast"]));
    assert_eq!(
        offer["renderers"],
        json!([]),
        "renderers come from the workers' announcements, and none has joined"
    );
    let classes: Vec<&str> = offer["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["cpu-cheap", "gpu-fast", "standard"]);
    assert_eq!(offer["classes"][1]["price_micros_per_second"], 400);
}
