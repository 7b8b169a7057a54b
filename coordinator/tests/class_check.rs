//! Class checks end to end with real Blender: a worker enrolled in a node
//! class that asks for a benchmark renders the farm's benchmark frame
//! before anything else; the coordinator times it itself, and a worker
//! within the class's limit earns the class while one far slower is
//! refused it (no job asking for that class can then be placed, and it is
//! never offered one). With reference renders, a benchmark frame must also
//! look like its reference: a worker that delivers a fast fake (black
//! pixels of the right size) is refused the class.

mod support;

use std::time::{Duration, Instant};

use coordinator::state::JobState;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::app::local_config;
use support::{TestApp, blender_ready, sample_scene};

/// The workers once every class check ended (passed or refused).
async fn checks_ended(app: &TestApp, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let workers = app.workers().await;
        let ended = workers
            .iter()
            .filter(|w| {
                matches!(
                    w["class_check"]["state"].as_str(),
                    Some("passed" | "refused")
                )
            })
            .count();
        if ended >= n {
            return workers;
        }
        assert!(Instant::now() < deadline, "class checks ended: {workers:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_is_earned_by_a_timed_benchmark_frame() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.class_check.scene = Some(sample_scene());
    config.class_check.frames = "1-3".into();
    let app = TestApp::start(config).await;
    app.define_class(
        "cpu-checked",
        json!({"device": "cpu", "benchmark_max_secs": 600}),
    )
    .await;
    // No worker renders a frame in a millisecond.
    app.define_class(
        "cpu-strict",
        json!({"device": "cpu", "benchmark_max_secs": 0.001}),
    )
    .await;
    let workers = [
        app.spawn_in_process_worker_of_class("steady", dir.path(), None, "local", "cpu-checked"),
        app.spawn_in_process_worker_of_class("sluggish", dir.path(), None, "local", "cpu-strict"),
    ];
    let listed = checks_ended(&app, 2).await;
    let by_name = |name: &str| listed.iter().find(|w| w["name"] == name).unwrap().clone();
    let (steady, sluggish) = (by_name("steady"), by_name("sluggish"));
    let check = &steady["class_check"];
    assert_eq!(check["state"], "passed", "{steady}");
    let seconds = check["seconds"].as_f64().unwrap();
    assert!(seconds > 0.0 && seconds <= 600.0, "{check}");
    let check = &sluggish["class_check"];
    assert_eq!(check["state"], "refused", "{sluggish}");
    assert!(
        check["note"].as_str().unwrap().contains("allows 0.0 s"),
        "{check}"
    );

    // Each check was one frame of the benchmark scene, pinned to its worker.
    let jobs: Vec<Value> = app
        .http
        .get(format!("{}/api/v1/jobs", app.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let checks: Vec<&Value> = jobs
        .iter()
        .filter(|j| j["name"].as_str().unwrap().starts_with("class check: "))
        .collect();
    assert_eq!(checks.len(), 2, "{jobs:?}");
    for job in checks {
        assert_eq!(job["frame_count"], 1, "{job}");
    }

    // The refused class offers no seat; the earned one renders.
    let scene = app.upload(&sample_scene()).await;
    let refused = app
        .http
        .post(format!("{}/api/v1/jobs", app.api))
        .json(&json!({"scene": scene, "renderer": "blender", "frames": "1", "node_class": "cpu-strict"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer: Value = refused.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "unknown_placement", "{answer}");
    let job = app
        .submit(
            json!({"scene": scene, "renderer": "blender", "frames": "1-2",
                       "node_class": "cpu-checked", "parity_percent": 0}),
        )
        .await;
    let done = app.wait_final(job.id, Duration::from_secs(600)).await;
    assert_eq!(done.job.state, JobState::Done);
    let report: Value = app
        .http
        .get(format!("{}/api/v1/jobs/{}/report", app.api, job.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for frame in report["frames"].as_array().unwrap() {
        assert_eq!(frame["worker_name"], "steady", "{frame}");
    }

    app.stop().await;
    for worker in workers {
        worker.await.unwrap().unwrap();
    }
}

/// Render `frames` of the sample scene into `dir` as the farm's operator
/// would make reference renders: `frame_0001.exr`, ...
fn render_references(dir: &std::path::Path, frames: &str) {
    let status = std::process::Command::new("blender")
        .arg("-b")
        .arg(sample_scene())
        .arg("-o")
        .arg(dir.join("frame_####"))
        .args(["-F", "OPEN_EXR", "-x", "1", "-f", frames])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "blender rendered the references");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_benchmark_frame_must_look_like_its_reference_render() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let references = dir.path().join("references");
    std::fs::create_dir(&references).unwrap();
    render_references(&references, "1,2");
    let mut config = local_config(dir.path());
    config.class_check.scene = Some(sample_scene());
    config.class_check.frames = "1-2".into();
    config.class_check.reference = Some(references);
    let app = TestApp::start(config).await;
    app.define_class(
        "cpu-checked",
        json!({"device": "cpu", "benchmark_max_secs": 600}),
    )
    .await;
    let workers = [
        app.spawn_in_process_worker_of_class("honest", dir.path(), None, "local", "cpu-checked"),
        app.spawn_in_process_worker_of_class(
            "faker",
            dir.path(),
            Some(worker::Tamper::Black),
            "local",
            "cpu-checked",
        ),
    ];
    let listed = checks_ended(&app, 2).await;
    let by_name = |name: &str| listed.iter().find(|w| w["name"] == name).unwrap().clone();
    let (honest, faker) = (by_name("honest"), by_name("faker"));
    let check = &honest["class_check"];
    assert_eq!(check["state"], "passed", "{honest}");
    let note = check["note"].as_str().unwrap();
    assert!(note.contains("against the reference render"), "{note}");
    let check = &faker["class_check"];
    assert_eq!(check["state"], "refused", "{faker}");
    let note = check["note"].as_str().unwrap();
    assert!(
        note.contains("does not look like the reference") && note.contains("mean FLIP"),
        "{note}"
    );
    // In time, of the right size, and still refused: only the honest
    // worker renders the class's jobs.
    assert!(check["seconds"].as_f64().unwrap() <= 600.0, "{check}");

    app.stop().await;
    for worker in workers {
        worker.await.unwrap().unwrap();
    }
}

/// Why the coordinator refuses to open with `config`.
async fn refusal(config: coordinator::config::Config) -> String {
    match coordinator::server::open(config).await {
        Ok(_) => panic!("the coordinator opened"),
        Err(error) => error.to_string(),
    }
}

#[tokio::test]
async fn references_need_the_benchmark_scene_and_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let references = dir.path().join("references");
    std::fs::create_dir(&references).unwrap();
    let mut config = local_config(dir.path());
    config.class_check.reference = Some(references.clone());
    let error = refusal(config).await;
    assert!(error.contains("needs class_check.scene"), "{error}");
    let mut config = local_config(dir.path());
    config.class_check.scene = Some(sample_scene());
    config.class_check.frames = "1-2".into();
    config.class_check.reference = Some(references);
    let error = refusal(config).await;
    assert!(
        error.contains("no reference render of benchmark frame 1, 2"),
        "{error}"
    );
}
