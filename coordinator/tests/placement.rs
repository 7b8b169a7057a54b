//! Placement enforced end to end: workers enrolled in Germany, France and
//! the United States render real Blender frames; an EU-only job's frames,
//! parity copies, scene fetches and upload grants all stay on the EU
//! workers (the US worker never holds one of its attempts, and is never
//! refused one: it is never even sent one), its report says where every
//! frame rendered, an estimate for the scene counts the EU workers and
//! what the scene cost here, and a job no worker could ever take is
//! refused at submit naming the constraint.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use coordinator::state::JobState;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::app::local_config;
use support::{TestApp, blender_ready, sample_scene};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eu_only_job_stays_on_eu_workers() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let workers = [
        app.spawn_in_process_worker_in("berlin", dir.path(), None, "DE"),
        app.spawn_in_process_worker_in("paris", dir.path(), None, "FR"),
        app.spawn_in_process_worker_in("ohio", dir.path(), None, "US"),
    ];
    app.wait_online(3).await;
    let listed = app.workers().await;
    let region_of = |id: &str| {
        listed
            .iter()
            .find(|w| w["id"] == id)
            .map(|w| w["region"].as_str().unwrap().to_owned())
    };
    let ohio = listed.iter().find(|w| w["region"] == "US").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let scene = app.upload(&sample_scene()).await;
    let jobs = format!("{}/api/v1/jobs", app.api);
    // A class the farm sells but no worker is enrolled in.
    app.define_class("gpu-fast", json!({"device": "gpu"})).await;
    for (body, needle) in [
        (json!({"region": "JP"}), "region JP"),
        (
            json!({"region": "EU", "node_class": "gpu-fast"}),
            "node class gpu-fast",
        ),
        (json!({"min_vram_mib": 8000}), "8000 MiB"),
        (json!({"gpu_model": "h100"}), "h100 GPU"),
    ] {
        let mut body = body;
        body["scene"] = json!(scene);
        body["renderer"] = json!("blender");
        body["frames"] = json!("1-2");
        let response = app.http.post(&jobs).json(&body).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"]["code"], "unknown_placement", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }

    // Every frame replicated, so parity copies must stay in the EU too.
    let job = app
        .submit(
            json!({"scene": scene, "renderer": "blender", "frames": "1-6",
            "chunk_size": 1, "region": "EU", "parity_percent": 100}),
        )
        .await;
    assert_eq!(job.region.as_deref(), Some("EU"));
    let done = app.wait_final(job.id, Duration::from_secs(600)).await;
    assert_eq!(done.job.state, JobState::Done);
    let report: Value = app
        .http
        .get(format!("{jobs}/{}/report", job.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for frame in report["frames"].as_array().unwrap() {
        let region = frame["region"].as_str().unwrap();
        assert!(["DE", "FR"].contains(&region), "{frame}");
        let worker = frame["worker_id"].as_str().unwrap();
        assert_eq!(region_of(worker).as_deref(), Some(region));
    }
    let verdicts: Vec<Value> = app
        .http
        .get(format!("{jobs}/{}/verdicts", job.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!verdicts.is_empty(), "the copies were compared");
    let copiers: HashSet<&str> = verdicts
        .iter()
        .flat_map(|v| [v["worker_a"].as_str(), v["worker_b"].as_str()])
        .flatten()
        .collect();
    assert!(!copiers.contains(ohio.as_str()), "{verdicts:?}");
    let us = app
        .workers()
        .await
        .into_iter()
        .find(|w| w["id"] == ohio.as_str())
        .unwrap();
    assert_eq!(
        us["reputation"]["refused_events"], 0,
        "the US worker was never sent one of the job's tasks: {us}"
    );
    let payouts: Vec<Value> = app
        .http
        .get(format!("{}/api/v1/payouts", app.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        payouts
            .iter()
            .filter(|p| p["worker_id"] == ohio.as_str())
            .all(|p| p["frames_delivered"] == 0),
        "{payouts:?}"
    );

    // An estimate for the same scene, EU-only, from what it cost here.
    let estimate: Value = app
        .http
        .post(format!("{jobs}/estimate"))
        .json(&json!({"scene": scene, "renderer": "blender", "frames": "1-60", "region": "EU"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let classes = estimate["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 1, "{estimate}");
    let standard = &classes[0];
    assert_eq!(standard["node_class"], "standard");
    assert_eq!(standard["workers"], 2, "the EU workers only: {estimate}");
    assert_eq!(standard["basis"], "scene");
    assert!(standard["samples"].as_u64().unwrap() >= 6, "{estimate}");
    let cost = &standard["cost_micros"];
    let (low, typical, high) = (
        cost["low"].as_i64().unwrap(),
        cost["typical"].as_i64().unwrap(),
        cost["high"].as_i64().unwrap(),
    );
    assert!(0 < low && low <= typical && typical <= high, "{estimate}");
    let wall = &standard["time_to_complete_secs"];
    assert!(wall["typical"].as_f64().unwrap() > 0.0, "{estimate}");
    let refused = app
        .http
        .post(format!("{jobs}/estimate"))
        .json(&json!({"scene": scene, "renderer": "blender", "frames": "1-60", "region": "JP"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A job that may render anywhere goes to whoever is free, the US too.
    let anywhere = app
        .submit(
            json!({"scene": scene, "renderer": "blender", "frames": "1-2", "parity_percent": 0}),
        )
        .await;
    assert_eq!(
        app.wait_final(anywhere.id, Duration::from_secs(300))
            .await
            .job
            .state,
        JobState::Done
    );
    app.stop().await;
    for worker in workers {
        worker.await.unwrap().unwrap();
    }
}
