//! The `farm` command line against a running coordinator: `farm submit
//! --watch` through a pseudo-terminal renders a scene with a texture on a
//! worker and exits 0; a second submit with the texture changed
//! uploads only the texture; a refused submit uploads nothing and exits 3;
//! `farm estimate` prices a job from what the scene took; a job no worker
//! can take says why it waits; a watched job that is cancelled exits 4; `--json` output parses; a
//! missing token and an unreachable coordinator get their exit codes.

#[path = "cli/harness.rs"]
mod harness;
mod support;

use std::path::Path;

use coordinator::state::JobState;
use frame_diff::colour::srgb_to_linear;
use harness::{Terminal, build_scene, farm, job_id, ready, run};
use protocol::JobId;
use serde_json::{Value, json};
use support::TestApp;
use support::app::local_config;

/// Check that frame `frame` of job `id` shows the sRGB colour `rgb` in
/// its centre: the texture arrived (a missing one renders magenta).
async fn assert_centre(app: &TestApp, id: JobId, frame: i32, rgb: [f32; 3]) {
    let bytes = app.download(id, frame).await;
    let image = frame_diff::read_image_bytes(&bytes, Path::new("f.exr")).expect("an EXR");
    assert_eq!(
        (image.width, image.height),
        (32, 18),
        "the scene's resolution"
    );
    let centre = image
        .rgb_at(image.width / 2, image.height / 2)
        .expect("RGB channels");
    let texture = rgb.map(srgb_to_linear);
    assert!(
        centre
            .iter()
            .zip(texture)
            .all(|(v, t)| (v - t).abs() < 0.02),
        "frame {frame}'s centre is {centre:?}, the texture's colour is {texture:?}"
    );
}

/// The bundle paths of `bundle`, a `GET /api/v1/bundles/{id}` answer, sorted.
fn bundle_paths(bundle: &Value) -> Vec<String> {
    let mut paths: Vec<String> = bundle["manifest"]["files"]
        .as_array()
        .expect("the bundle's files")
        .iter()
        .map(|file| file["path"].as_str().unwrap().to_owned())
        .collect();
    paths.sort();
    paths
}

/// `GET /api/v1/bundles/{id}` as `http`.
async fn bundle(app: &TestApp, http: &reqwest::Client, id: &str) -> Value {
    http.get(format!("{}/api/v1/bundles/{id}", app.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `POST /api/v1/bundles` of `files` (bundle path, local file) with
/// `main`, as `http`: the answer, with what is missing.
async fn describe(
    app: &TestApp,
    http: &reqwest::Client,
    main: &str,
    files: &[(&str, &Path)],
) -> Value {
    let files: Vec<Value> = files
        .iter()
        .map(|(path, file)| {
            let bytes = std::fs::read(file).unwrap();
            json!({"path": path, "hash": blake3::hash(&bytes).to_hex().to_string(), "bytes": bytes.len()})
        })
        .collect();
    http.post(format!("{}/api/v1/bundles", app.api))
        .json(&json!({"main": main, "files": files}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_watch_renders_and_a_changed_texture_is_the_only_upload() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scene = build_scene(dir.path());
    let app = TestApp::start(local_config(dir.path())).await;
    // The embedded queue takes only workers inside the coordinator's process.
    let worker = app.spawn_in_process_worker("cli-worker", dir.path());
    let token = app.submitter("studio").await;
    let home = dir.path().join("config");
    let blend = scene.blend.display().to_string();

    let terminal = Terminal::start(&home, &app.api, &token, &["submit", &blend, "--watch"]);
    let (code, output) = terminal.finish().await;
    assert_eq!(code, Some(0), "farm submit --watch ends with 0:\n{output}");
    let id = job_id(&output).unwrap_or_else(|| panic!("a job id in:\n{output}"));
    assert!(
        output.contains(&format!("{}/api/v1/jobs/{id}", app.api)),
        "the job's URL is shown:\n{output}"
    );
    assert!(
        output.contains("rendered"),
        "progress bars are drawn:\n{output}"
    );
    let job = app.job(id).await;
    assert_eq!(job.job.state, JobState::Done);
    assert_eq!(
        (job.job.frames.as_str(), job.job.frame_count),
        ("1-2", 2),
        "the scene's frame range"
    );
    let http = app.client_as(&token);
    let sent = bundle(&app, &http, job.job.bundle.as_deref().expect("a bundle")).await;
    assert_eq!(
        bundle_paths(&sent),
        ["scene.blend", "textures/albedo.png"],
        "{sent}"
    );
    assert_centre(&app, id, 1, [0.1, 0.2, 1.0]).await;

    // An estimate from what the two frames took; nothing new is uploaded.
    let estimate = run(farm(
        &home,
        &app.api,
        Some(&token),
        &["estimate", &blend, "--frames", "1-100", "--json"],
    ))
    .await;
    assert_eq!(estimate.code, Some(0), "{}", estimate.stderr);
    let estimate: Value =
        serde_json::from_str(estimate.stdout.trim()).expect("estimate --json parses");
    assert_eq!(estimate["frames"], 100, "{estimate}");
    let class = &estimate["classes"][0];
    assert_eq!(
        (class["node_class"].as_str(), class["workers"].as_u64()),
        (Some("standard"), Some(1)),
        "{estimate}"
    );
    assert!(class["samples"].as_u64().unwrap() >= 2, "{estimate}");
    assert!(
        class["cost_micros"]["typical"].as_i64().unwrap() > 0,
        "{estimate}"
    );
    let table = run(farm(&home, &app.api, Some(&token), &["estimate", &blend])).await;
    assert_eq!(table.code, Some(0), "{}", table.stderr);
    assert!(
        table.stdout.contains("TIME TO COMPLETE") && table.stdout.contains("standard"),
        "{}",
        table.stdout
    );

    std::fs::copy(&scene.other, &scene.texture).unwrap();
    let again = run(farm(
        &home,
        &app.api,
        Some(&token),
        &["submit", &blend, "--paused", "--json"],
    ))
    .await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    let answer: Value = serde_json::from_str(again.stdout.trim()).expect("submit --json parses");
    let texture_bytes = std::fs::metadata(&scene.texture).unwrap().len();
    let blend_bytes = std::fs::metadata(&scene.blend).unwrap().len();
    assert_eq!(answer["uploaded_bytes"], texture_bytes, "{answer}");
    assert_eq!(answer["uploaded_files"], json!(["textures/albedo.png"]));
    assert_eq!(answer["bundle_bytes"], texture_bytes + blend_bytes);
    assert_eq!(answer["job"]["state"], "paused");

    // A .blend naming its texture by an absolute path: a copy with relative
    // paths is sent at its place, and the artist's file is left alone.
    let original = std::fs::read(&scene.absolute).unwrap();
    let absolute = scene.absolute.display().to_string();
    let watched = run(farm(
        &home,
        &app.api,
        Some(&token),
        &["submit", &absolute, "--frames", "1", "--json", "--watch"],
    ))
    .await;
    assert_eq!(watched.code, Some(0), "{}", watched.stderr);
    let lines: Vec<Value> = watched
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON lines"))
        .collect();
    let id: JobId = lines[0]["job"]["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(lines.last().unwrap()["state"], "done", "{}", watched.stdout);
    let sent = bundle(&app, &http, lines[0]["bundle"].as_str().unwrap()).await;
    assert_eq!(
        bundle_paths(&sent),
        ["shots/absolute.blend", "textures/albedo.png"]
    );
    assert_eq!(sent["manifest"]["main"], "shots/absolute.blend");
    assert_eq!(
        std::fs::read(&scene.absolute).unwrap(),
        original,
        "the artist's file is unchanged"
    );
    assert_centre(&app, id, 1, [1.0, 0.1, 0.1]).await;

    app.stop().await;
    worker.await.unwrap().expect("the worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_submit_shows_the_servers_message_and_uploads_nothing() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scene = build_scene(dir.path());
    let app = TestApp::start(local_config(dir.path())).await;
    let token = app.submitter("studio").await;
    let home = dir.path().join("config");
    let blend = scene.blend.display().to_string();

    let refused = run(farm(
        &home,
        &app.api,
        Some(&token),
        &["submit", &blend, "--frames", "5-x"],
    ))
    .await;
    assert_eq!(refused.code, Some(3), "{}", refused.stderr);

    let http = app.client_as(&token);
    let bundle = describe(
        &app,
        &http,
        "scene.blend",
        &[
            ("scene.blend", &scene.blend),
            ("textures/albedo.png", &scene.texture),
        ],
    )
    .await;
    assert_eq!(
        bundle["missing"].as_array().map(Vec::len),
        Some(2),
        "nothing was uploaded: {bundle}"
    );
    let answer: Value = http
        .post(format!("{}/api/v1/jobs/validate", app.api))
        .json(&json!({"bundle": bundle["id"], "renderer": "blender", "frames": "5-x"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let message = answer["error"]["message"].as_str().expect("a refusal");
    assert_eq!(
        refused.stderr,
        format!("error: {message}\n"),
        "the server's message, verbatim"
    );
    let jobs: Value = http
        .get(format!("{}/api/v1/jobs", app.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jobs, json!([]), "no job was created");

    // A texture that is not on disk is refused before anything is sent.
    std::fs::remove_file(&scene.texture).unwrap();
    let missing = run(farm(&home, &app.api, Some(&token), &["submit", &blend])).await;
    assert_eq!(missing.code, Some(3), "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .starts_with(&format!("error: {} is missing", scene.texture.display())),
        "the missing file is named: {}",
        missing.stderr
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_ends_the_watch_with_4_and_json_output_parses() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scene = build_scene(dir.path());
    let app = TestApp::start(local_config(dir.path())).await;
    let token = app.submitter("studio").await;
    let home = dir.path().join("config");
    let blend = scene.blend.display().to_string();

    // No worker has joined: the job waits, the watch says why, and so do
    // `farm job` and `farm jobs`, until it is cancelled.
    let mut terminal = Terminal::start(&home, &app.api, &token, &["submit", &blend, "--watch"]);
    let id = terminal.wait_for(job_id).await;
    terminal
        .wait_for(|text| text.contains("waiting: no worker has joined").then_some(()))
        .await;
    let shown = run(farm(
        &home,
        &app.api,
        Some(&token),
        &["job", &id.to_string()],
    ))
    .await;
    assert_eq!(shown.code, Some(0), "{}", shown.stderr);
    assert!(
        shown.stdout.contains("renderer  blender")
            && shown.stdout.contains("waiting   no worker has joined"),
        "{}",
        shown.stdout
    );
    let listed = run(farm(&home, &app.api, Some(&token), &["jobs"])).await;
    assert!(
        listed.stdout.contains("queued (waiting)")
            && listed
                .stdout
                .contains(&format!("{id} waits: no worker has joined")),
        "{}",
        listed.stdout
    );
    assert_eq!(app.control(id, "cancel").await.status(), 200);
    let (code, output) = terminal.finish().await;
    assert_eq!(
        code,
        Some(4),
        "a cancelled job ends the watch with 4:\n{output}"
    );
    assert!(output.contains("cancelled"), "{output}");

    // Without a terminal: plain lines, and the same exit code.
    let watched = run(farm(
        &home,
        &app.api,
        Some(&token),
        &["watch", &id.to_string()],
    ))
    .await;
    assert_eq!(watched.code, Some(4), "{}", watched.stderr);
    assert!(
        watched.stderr.contains(&format!("job {id} cancelled")),
        "{}",
        watched.stderr
    );

    for args in [
        vec!["jobs", "--json"],
        vec!["job", &id.to_string(), "--json"],
        vec!["report", &id.to_string(), "--json"],
        vec!["farm", "--json"],
    ] {
        let listed = run(farm(&home, &app.api, Some(&token), &args)).await;
        assert_eq!(listed.code, Some(0), "{args:?}: {}", listed.stderr);
        let value: Value = serde_json::from_str(listed.stdout.trim())
            .unwrap_or_else(|e| panic!("{args:?} prints JSON ({e}): {}", listed.stdout));
        assert!(!value.is_null());
    }
    let admin = app.admin_token.expose().to_owned();
    let workers = run(farm(&home, &app.api, Some(&admin), &["workers", "--json"])).await;
    assert_eq!(workers.code, Some(0), "{}", workers.stderr);
    assert!(serde_json::from_str::<Value>(workers.stdout.trim()).is_ok_and(|v| v.is_array()));

    for args in [
        vec!["jobs"],
        vec!["job", &id.to_string()],
        vec!["report", &id.to_string()],
    ] {
        let shown = run(farm(&home, &app.api, Some(&token), &args)).await;
        assert_eq!(shown.code, Some(0), "{args:?}: {}", shown.stderr);
        assert!(
            shown.stdout.contains("cancelled"),
            "{args:?}: {}",
            shown.stdout
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_missing_token_and_an_unreachable_coordinator_get_their_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let home = dir.path().join("config");

    let no_token = run(farm(&home, &app.api, None, &["jobs"])).await;
    assert_eq!(no_token.code, Some(3), "{}", no_token.stderr);
    assert!(
        no_token.stderr.starts_with("error: no API token"),
        "{}",
        no_token.stderr
    );

    let wrong_token = run(farm(&home, &app.api, Some("not-a-token"), &["jobs"])).await;
    assert_eq!(wrong_token.code, Some(3), "{}", wrong_token.stderr);

    std::fs::create_dir_all(home.join("farm")).unwrap();
    std::fs::write(
        home.join("farm/config.toml"),
        format!(
            "url = {:?}\ntoken = {:?}\n",
            app.api,
            app.admin_token.expose()
        ),
    )
    .unwrap();
    let mut from_file = farm(&home, &app.api, None, &["jobs", "--json"]);
    from_file.env_remove("FARM_URL");
    let listed = run(from_file).await;
    assert_eq!(
        listed.code,
        Some(0),
        "the config file is read: {}",
        listed.stderr
    );
    assert_eq!(
        serde_json::from_str::<Value>(listed.stdout.trim()).unwrap(),
        json!([])
    );

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let unreachable = run(farm(&home, &closed, Some("t"), &["jobs"])).await;
    assert_eq!(unreachable.code, Some(5), "{}", unreachable.stderr);
    assert!(
        unreachable
            .stderr
            .contains(&format!("cannot reach the coordinator at {closed}")),
        "{}",
        unreachable.stderr
    );
    assert_eq!(
        unreachable.stderr.lines().count(),
        1,
        "one line: {}",
        unreachable.stderr
    );

    let bad_url = run(farm(&home, "not a url", Some("t"), &["jobs"])).await;
    assert_eq!(bad_url.code, Some(3), "{}", bad_url.stderr);
    let usage = run(farm(
        &home,
        &app.api,
        Some("t"),
        &["jobs", "--no-such-flag"],
    ))
    .await;
    assert_eq!(usage.code, Some(2), "{}", usage.stderr);
    app.stop().await;
}
