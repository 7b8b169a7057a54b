//! Node classes end to end: only admins define them; enrollment tokens and
//! jobs may name defined classes only; a frame rendered by a worker of a
//! priced class is billed at that class's price (here its minimum per
//! frame); a class without history is estimated from another class's
//! render times scaled by the speed scores; and a job's report sets the
//! estimate it was submitted with against what it cost. Real Blender.

mod support;

use std::time::Duration;

use coordinator::state::JobState;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::app::local_config;
use support::{TestApp, blender_ready, sample_scene};

/// The minimum per frame of the priced class: far above what a frame of
/// the sample scene takes at its price, so every frame costs exactly this.
const MIN_PER_FRAME: i64 = 500_000;

/// The `error.code` of a refusal, after checking its status.
async fn refusal(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().is_some(), "{body}");
    body["error"]["code"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classes_price_frames_and_scale_estimates() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let classes = format!("{}/api/v1/node-classes", app.api);
    let submitter = app.client_as(&app.submitter("acme").await);

    // Only admins define classes, and what they define is checked.
    let put = submitter
        .put(format!("{classes}/cpu-priced"))
        .json(&json!({"device": "cpu"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(put, StatusCode::FORBIDDEN).await, "forbidden");
    let put = app
        .http
        .put(format!("{classes}/cpu-priced"))
        .json(&json!({"device": "cpu", "speed_score": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refusal(put, StatusCode::UNPROCESSABLE_ENTITY).await,
        "bad_speed_score"
    );
    // No benchmark scene is configured here: no class may ask for one.
    let put = app
        .http
        .put(format!("{classes}/cpu-checked"))
        .json(&json!({"device": "cpu", "benchmark_max_secs": 60}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refusal(put, StatusCode::UNPROCESSABLE_ENTITY).await,
        "no_benchmark_scene"
    );
    let priced = app
        .define_class(
            "cpu-priced",
            json!({"device": "cpu", "price_micros_per_second": 1_000,
                   "min_micros_per_frame": MIN_PER_FRAME, "speed_score": 1.0}),
        )
        .await;
    assert_eq!(priced["min_micros_per_frame"], MIN_PER_FRAME);
    app.define_class("cpu-fast", json!({"device": "cpu", "speed_score": 2.0}))
        .await;
    let listed: Vec<Value> = submitter
        .get(&classes)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = listed.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["cpu-fast", "cpu-priced", "standard"]);

    // Tokens and jobs name defined classes only.
    let enrollment = app
        .http
        .post(format!("{}/api/v1/enrollments", app.api))
        .json(&json!({"owner": "acme-nodes", "region": "local", "node_classes": ["gpu-huge"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refusal(enrollment, StatusCode::UNPROCESSABLE_ENTITY).await,
        "unknown_node_class"
    );
    let workers = [
        app.spawn_in_process_worker_of_class("priced", dir.path(), None, "local", "cpu-priced"),
        app.spawn_in_process_worker_of_class("quick", dir.path(), None, "local", "cpu-fast"),
    ];
    app.wait_online(2).await;
    let scene = app.upload(&sample_scene()).await;
    let jobs = format!("{}/api/v1/jobs", app.api);
    let unknown = app
        .http
        .post(&jobs)
        .json(&json!({"scene": scene, "renderer": "blender", "frames": "1", "node_class": "gpu-huge"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refusal(unknown, StatusCode::UNPROCESSABLE_ENTITY).await,
        "unknown_node_class"
    );

    // Frames on the priced class cost its minimum each.
    let job = |frames: &str| {
        json!({"scene": scene, "renderer": "blender", "frames": frames,
               "node_class": "cpu-priced", "parity_percent": 0})
    };
    let first = app.submit(job("1-3")).await;
    let done = app.wait_final(first.id, Duration::from_secs(600)).await;
    assert_eq!(done.job.state, JobState::Done);
    let report = |id| {
        let (http, jobs) = (app.http.clone(), jobs.clone());
        async move {
            http.get(format!("{jobs}/{id}/report"))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let billed = report(first.id).await;
    for frame in billed["frames"].as_array().unwrap() {
        assert_eq!(frame["node_class"], "cpu-priced", "{frame}");
        assert_eq!(frame["cost_micros"], MIN_PER_FRAME, "{frame}");
    }
    assert_eq!(billed["totals"]["cost_micros"], 3 * MIN_PER_FRAME);
    // Nothing had rendered when it was submitted: an estimate without a cost.
    assert_eq!(billed["estimate"]["node_class"], "cpu-priced", "{billed}");
    assert_eq!(billed["estimate"]["estimated_cost_micros"], Value::Null);
    assert_eq!(billed["estimate"]["actual_cost_micros"], 3 * MIN_PER_FRAME);

    // The fast class has no history: its times are the priced class's,
    // halved by the speed scores.
    let estimate: Value = app
        .http
        .post(format!("{jobs}/estimate"))
        .json(
            &json!({"scene": scene, "renderer": "blender", "frames": "4-6",
                      "node_class": "cpu-priced,cpu-fast", "parity_percent": 0}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let by_class = |name: &str| {
        estimate["classes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["node_class"] == name)
            .unwrap_or_else(|| panic!("{name} estimated: {estimate}"))
            .clone()
    };
    let (priced, fast) = (by_class("cpu-priced"), by_class("cpu-fast"));
    assert_eq!(priced["basis"], "scene", "{priced}");
    assert_eq!(priced["scaled_from"], Value::Null);
    assert_eq!(priced["cost_micros"]["typical"], 3 * MIN_PER_FRAME);
    assert_eq!(fast["scaled_from"], "cpu-priced", "{fast}");
    let seconds = |class: &Value| class["seconds_per_frame"]["typical"].as_f64().unwrap();
    assert!(
        (seconds(&priced) - 2.0 * seconds(&fast)).abs() < 0.01,
        "{priced} {fast}"
    );

    // A class in use cannot be removed.
    let delete = app
        .http
        .delete(format!("{classes}/cpu-fast"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refusal(delete, StatusCode::CONFLICT).await,
        "node_class_in_use"
    );
    let delete = app
        .http
        .delete(format!("{classes}/gpu-huge"))
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(delete, StatusCode::NOT_FOUND).await, "not_found");

    // The second job's report sets its estimate against its bill.
    let second = app.submit(job("4-6")).await;
    let done = app.wait_final(second.id, Duration::from_secs(600)).await;
    assert_eq!(done.job.state, JobState::Done);
    let billed = report(second.id).await;
    let check = &billed["estimate"];
    assert_eq!(
        check["estimated_cost_micros"]["typical"],
        3 * MIN_PER_FRAME,
        "{check}"
    );
    assert_eq!(check["actual_cost_micros"], 3 * MIN_PER_FRAME);
    assert_eq!(check["cost_within_range"], true);
    assert!(check["actual_time_secs"].as_f64().unwrap() > 0.0, "{check}");

    app.stop().await;
    for worker in workers {
        worker.await.unwrap().unwrap();
    }
}
