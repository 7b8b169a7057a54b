//! Cinema 4D and Octane jobs through the whole farm, with the renderers'
//! TEST STAND-INS (test-support/renderer-standins: Cinema 4D and Octane
//! cannot be installed here) in place of the real executables: worker
//! processes that probe and announce only what they have, over real
//! RabbitMQ and a real S3-compatible server, every frame rendered twice and
//! compared, billed and paid; a Cinema 4D job submitted by the Cinema 4D
//! plugin (under its stub `c4d` module); jobs no worker can render refused
//! at submit; version ranges routed; a job whose workers left shows why it
//! waits (in the API and the web UI), and renders when one is back.

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use coordinator::billing::CostReport;
use coordinator::model::JobDetail;
use coordinator::state::{CheckState, JobState};
use protocol::JobId;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::app::{WorkerProcess, local_config, standin_binary, test_config};
use support::standins::{C4D_SCENE, ORBX_SCENE, ids_of, only, services, spawn, write};
use support::ui::{page, sign_in};
use support::{TestApp, repo_root, sample_scene};

/// POST a job; the status and the JSON answer.
async fn post_job(app: &TestApp, body: &Value) -> (StatusCode, Value) {
    let response = app
        .http
        .post(format!("{}/api/v1/jobs", app.api))
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// Assert the job is refused with `code`, its message containing `needle`.
async fn refused(app: &TestApp, body: Value, code: &str, needle: &str) {
    let (status, answer) = post_job(app, &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
    assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains(needle), "{body}: {message}");
}

/// Submit the Cinema 4D stand-in document with the Cinema 4D plugin's own
/// job-building and upload code (plugins/cinema4d/tests/e2e_submit.py);
/// the job's id.
async fn submit_with_plugin(app: &TestApp, dir: &Path, extra: &[&str]) -> JobId {
    let project = dir.join("c4d-project");
    let scene = write(&project, "shot.c4d", C4D_SCENE.as_bytes());
    let wood = write(&project, "wood.png", b"stand-in wood texture");
    let token = app.submitter("studio").await;
    let output = tokio::process::Command::new("python3")
        .arg(repo_root().join("plugins/cinema4d/tests/e2e_submit.py"))
        .args(["--url", &app.api, "--token", &token, "--workdir"])
        .arg(dir.join("c4d-submit"))
        .arg("--scene-file")
        .arg(&scene)
        .arg("--asset")
        .arg(format!("tex/wood.png={}", wood.display()))
        .args(extra)
        .output()
        .await
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "the plugin's submission failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
    answer["job_id"].as_str().unwrap().parse().unwrap()
}

/// Every frame of `done` verified by two copies, rendered only by
/// `workers`, `width`×`height`; the cost report adds up.
async fn assert_verified_on(
    app: &TestApp,
    done: &JobDetail,
    workers: &HashSet<String>,
    size: (u32, u32),
) {
    assert_eq!(done.job.state, JobState::Done, "{done:?}");
    for frame in &done.frame_list {
        assert_eq!(frame.verification, CheckState::Verified, "{frame:?}");
        assert_eq!(frame.copies, 2, "{frame:?}");
        let by = frame.worker_id.unwrap().to_string();
        assert!(workers.contains(&by), "frame {} by {by}", frame.frame);
    }
    let bytes = app.download(done.job.id, done.frame_list[0].frame).await;
    let image = frame_diff::read_image_bytes(&bytes, Path::new("f.exr")).expect("an EXR");
    assert_eq!((image.width, image.height), size);
    let verdicts: Vec<Value> = app
        .http
        .get(format!("{}/api/v1/jobs/{}/verdicts", app.api, done.job.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verdicts.len(), done.frame_list.len());
    assert!(
        verdicts.iter().all(|v| v["verdict"] == "identical"),
        "{verdicts:?}"
    );
    let report: CostReport = app
        .http
        .get(format!("{}/api/v1/jobs/{}/report", app.api, done.job.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report.frames.len(), done.frame_list.len());
    assert_eq!(
        report.totals.frames_verified as usize,
        done.frame_list.len()
    );
    let sum: i64 = report.frames.iter().map(|f| f.cost_micros.micros()).sum();
    assert_eq!(report.totals.cost_micros.micros(), sum);
    // The stand-ins render in milliseconds, which cost less than a micro:
    // what shows each frame was billed is its row, priced on its worker.
    assert!(
        report
            .frames
            .iter()
            .all(|f| f.worker_name.is_some() && f.device_class.is_some() && f.copies == 2),
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cinema4d_and_octane_jobs_render_verified_and_billed_on_their_own_workers() {
    let Some((vhost, s3, dir)) = services().await else {
        return;
    };
    let app = TestApp::start(test_config(
        dir.path(),
        vhost.queue_config(),
        s3.store_config(),
    ))
    .await;
    let c4d = only("--cinema4d", &standin_binary("cinema4d-standin"));
    let octane = only("--octane", &standin_binary("octane-standin"));
    let mut workers = Vec::new();
    for (name, args) in [
        ("c4d-1", &c4d),
        ("c4d-2", &c4d),
        ("oct-1", &octane),
        ("oct-2", &octane),
    ] {
        workers.push(spawn(&app, name, dir.path(), args).await);
    }
    app.wait_online(4).await;
    for worker in app.workers().await {
        let renderers = worker["renderers"].as_array().unwrap();
        assert_eq!(
            renderers.len(),
            1,
            "only what it has is announced: {worker}"
        );
        let expected = if worker["name"].as_str().unwrap().starts_with("c4d") {
            ("cinema4d", "2024.4.1")
        } else {
            ("octane", "2024.1.2")
        };
        assert_eq!(renderers[0]["renderer"], expected.0, "{worker}");
        assert_eq!(renderers[0]["version"], expected.1, "{worker}");
    }

    // No worker of this farm has Blender: a Blender job is refused, saying so.
    let blend = app.upload(&sample_scene()).await;
    refused(
        &app,
        json!({"scene": blend, "renderer": "blender", "frames": "1"}),
        "no_renderer",
        "cinema4d 2024.4.1",
    )
    .await;

    let shot = submit_with_plugin(
        &app,
        dir.path(),
        &[
            "--take", "Close-up", "--frames", "1-5", "--chunk", "2", "--parity", "100",
        ],
    )
    .await;
    let orbx = write(dir.path(), "shot.orbx", ORBX_SCENE.as_bytes());
    let package = app.upload(&orbx).await;
    let lookdev = app
        .submit(
            json!({"scene": package, "renderer": "octane", "frames": "1-4",
            "chunk_size": 2, "parity_percent": 100, "render_target": "Clay",
            "renderer_version": ">=2024.1, <2025", "overrides": {"samples": 8}}),
        )
        .await;
    assert_eq!(lookdev.scene_options.render_target.as_deref(), Some("Clay"));

    let done = app.wait_final(shot, Duration::from_secs(300)).await;
    assert_eq!(done.job.renderer, protocol::Renderer::Cinema4d);
    assert_eq!(done.job.scene_options.take.as_deref(), Some("Close-up"));
    assert_eq!(done.frame_list.len(), 5);
    assert_verified_on(
        &app,
        &done,
        &ids_of(&app, &["c4d-1", "c4d-2"]).await,
        (48, 27),
    )
    .await;
    let done = app.wait_final(lookdev.id, Duration::from_secs(300)).await;
    assert_eq!(done.frame_list.len(), 4);
    assert_verified_on(
        &app,
        &done,
        &ids_of(&app, &["oct-1", "oct-2"]).await,
        (32, 18),
    )
    .await;

    for worker in app.workers().await {
        assert_eq!(worker["reputation"]["strikes"], 0, "{worker}");
        assert_eq!(
            worker["reputation"]["refused_events"], 0,
            "no worker was sent a task it cannot render: {worker}"
        );
    }
    for worker in workers {
        assert!(worker.terminate().await.success());
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_ranges_route_and_a_job_whose_workers_left_says_why_it_waits() {
    let Some((vhost, s3, dir)) = services().await else {
        return;
    };
    let app = TestApp::start(test_config(
        dir.path(),
        vhost.queue_config(),
        s3.store_config(),
    ))
    .await;
    let standin = standin_binary("cinema4d-standin");
    let args = only("--cinema4d", &standin);
    let mut new = spawn(&app, "c4d-2024", dir.path(), &args).await;
    // The stand-in's banner says 2024.4.1; a version in the config file is
    // taken instead (a studio pins it when its Commandline prints none).
    // No `--cinema4d` flag here: a flag names the install afresh.
    let no_blender = ["--blender", "/nonexistent/blender"];
    let old =
        WorkerProcess::spawn_configured(&app, "c4d-2023", dir.path(), &no_blender, |config| {
            config.cinema4d = Some(worker::config::RendererInstall {
                path: standin.clone(),
                version: Some("2023.2.0".into()),
            });
        })
        .await;
    app.wait_online(2).await;

    let orbx = write(dir.path(), "a.orbx", ORBX_SCENE.as_bytes());
    let package = app.upload(&orbx).await;
    refused(
        &app,
        json!({"scene": package, "renderer": "octane", "frames": "1"}),
        "no_renderer",
        "octane",
    )
    .await;
    let project = write(dir.path(), "scene.c4d", C4D_SCENE.as_bytes());
    let scene = app.upload(&project).await;
    refused(
        &app,
        json!({"scene": scene, "renderer": "cinema4d", "frames": "1", "renderer_version": "<2023"}),
        "no_renderer",
        "<2023",
    )
    .await;
    let ids = |names: &'static [&'static str]| ids_of(&app, names);
    for (range, on) in [
        (">=2024.4", ids(&["c4d-2024"]).await),
        ("<2024", ids(&["c4d-2023"]).await),
    ] {
        let job = app
            .submit(
                json!({"scene": scene, "renderer": "cinema4d", "frames": "1-4",
                "chunk_size": 1, "renderer_version": range}),
            )
            .await;
        let done = app.wait_final(job.id, Duration::from_secs(120)).await;
        assert_eq!(done.job.state, JobState::Done, "{done:?}");
        for frame in &done.frame_list {
            let by = frame.worker_id.unwrap().to_string();
            assert!(on.contains(&by), "{range}: frame {} by {by}", frame.frame);
        }
    }

    let job = app
        .submit(
            json!({"scene": scene, "renderer": "cinema4d", "frames": "1-2",
            "renderer_version": ">=2024.4", "paused": true}),
        )
        .await;
    assert_eq!(job.waiting, None, "a worker that can render it is online");
    // Its only worker leaves: the job is kept, and says why it waits.
    assert!(new.terminate().await.success());
    assert!(app.control(job.id, "resume").await.status().is_success());
    let waiting = app
        .wait_for(job.id, Duration::from_secs(60), |d| d.job.waiting.is_some())
        .await
        .job
        .waiting
        .unwrap();
    assert!(
        waiting.starts_with("no online worker can render cinema4d")
            && waiting.contains(">=2024.4")
            && waiting.contains("offline"),
        "{waiting}"
    );
    // The web UI says it too: on the job's page and in the jobs table.
    let cookie = sign_in(&app, app.admin_token.expose()).await;
    let shown = waiting.replace('>', "&gt;");
    let (status, html) = page(&app, &cookie, &format!("/ui/jobs/{}", job.id)).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"id="job-waiting""#), "{html}");
    assert!(html.contains(&shown), "{html}");
    assert!(
        html.contains("&gt;=2024.4"),
        "the version range is shown: {html}"
    );
    let (_, html) = page(&app, &cookie, "/ui/jobs").await;
    assert!(html.contains(&format!("waiting: {shown}")), "{html}");
    // It comes back (same folder, same identity) and renders the job.
    new = spawn(&app, "c4d-2024", dir.path(), &args).await;
    let done = app.wait_final(job.id, Duration::from_secs(120)).await;
    assert_eq!(done.job.state, JobState::Done, "{done:?}");
    assert_eq!(done.job.waiting, None);
    let (_, html) = page(&app, &cookie, &format!("/ui/jobs/{}", job.id)).await;
    assert!(!html.contains(r#"id="job-waiting""#), "{html}");
    let rendered_by: HashSet<String> = done
        .frame_list
        .iter()
        .map(|f| f.worker_id.unwrap().to_string())
        .collect();
    assert_eq!(rendered_by, ids(&["c4d-2024"]).await);
    assert!(new.terminate().await.success());
    assert!(old.terminate().await.success());
    app.stop().await;
}

#[tokio::test]
async fn renderer_options_are_checked_at_submit() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let c4d = app
        .upload(&write(dir.path(), "s.c4d", C4D_SCENE.as_bytes()))
        .await;
    let orbx = app
        .upload(&write(dir.path(), "s.orbx", ORBX_SCENE.as_bytes()))
        .await;
    let blend = app.upload(&sample_scene()).await;
    let cases = [
        (
            json!({"scene": blend, "renderer": "cinema4d"}),
            "scene_format",
            ".c4d",
        ),
        (
            json!({"scene": c4d, "renderer": "octane"}),
            "scene_format",
            ".orbx",
        ),
        (
            json!({"scene": c4d, "renderer": "blender"}),
            "scene_format",
            ".blend",
        ),
        (
            json!({"scene": blend, "renderer": "blender", "take": "Main"}),
            "unsupported_option",
            "take",
        ),
        (
            json!({"scene": c4d, "renderer": "cinema4d", "render_target": "Beauty"}),
            "unsupported_option",
            "render_target",
        ),
        (
            json!({"scene": c4d, "renderer": "cinema4d", "take": "-render /etc/passwd"}),
            "bad_scene_option",
            "-",
        ),
        (
            json!({"scene": c4d, "renderer": "cinema4d", "take": ""}),
            "bad_scene_option",
            "take",
        ),
        (
            json!({"scene": orbx, "renderer": "octane", "render_target": "a\nb"}),
            "bad_scene_option",
            "render_target",
        ),
        (
            json!({"scene": c4d, "renderer": "cinema4d", "overrides": {"samples": 64}}),
            "unsupported_override",
            "samples",
        ),
        (
            json!({"scene": c4d, "renderer": "cinema4d", "renderer_version": "newest"}),
            "bad_renderer_version",
            "newest",
        ),
    ];
    for (mut body, code, needle) in cases {
        body["frames"] = json!("1-2");
        refused(&app, body, code, needle).await;
    }
    // An empty farm takes any renderable job: its workers may join later.
    let job = app
        .submit(json!({"scene": c4d, "renderer": "cinema4d", "frames": "1",
            "take": "Close-up", "renderer_version": "2024"}))
        .await;
    assert_eq!(job.scene_options.take.as_deref(), Some("Close-up"));
    assert_eq!(
        job.renderer_version.map(|v| v.to_string()).as_deref(),
        Some("2024")
    );
    assert!(job.waiting.unwrap().contains("no worker has joined"));
    app.stop().await;
}
