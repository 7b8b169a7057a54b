//! Benchmark jobs end to end with real Blender: the same frames rendered on
//! two CPU node classes by in-process workers, and the side-by-side report
//! (JSON, CSV and the web UI page): both runs done, time to complete
//! observed, every frame's cost exactly what its job's cost report bills,
//! every frame compared through frame-diff (Blender's CPU renders are
//! deterministic: identical, FLIP 0). Another tenant gets 404; one class,
//! a class repeated, an unknown class and a class no worker has are
//! refused with a JSON message. A class whose worker paints a patch on its
//! frames shows as a mismatch with FLIP above 0 and the patch's tile as the
//! worst. `farm benchmark --class A --class B --watch` does it from the
//! command line and `farm benchmark-report` prints the table and the CSV.

mod benchmark_common;
#[path = "cli/harness.rs"]
#[allow(dead_code)]
mod harness;
mod support;

use benchmark_common::{define_class, get_json, page, post_benchmark, sign_in, wait_complete};
use harness::{farm, run};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::app::local_config;
use support::{TestApp, blender_ready, sample_scene};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_benchmark_on_two_cpu_classes_reports_time_cost_and_parity() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    define_class(&app, "cpu-a", "0.0002").await;
    define_class(&app, "cpu-b", "0.0001").await;
    define_class(&app, "cpu-idle", "0.0001").await;
    let workers = [
        app.spawn_in_process_worker_of_class("alpha", dir.path(), None, "local", "cpu-a"),
        app.spawn_in_process_worker_of_class("bravo", dir.path(), None, "local", "cpu-b"),
    ];
    app.wait_online(2).await;
    let scene = app.upload(&sample_scene()).await;
    let request = |classes: Value| {
        json!({"name": "shot", "scene": scene, "renderer": "blender", "frames": "1-3",
            "chunk_size": 1, "parity_percent": 0, "tenant": "acme", "node_classes": classes})
    };

    // Refused, with a JSON message, and nothing created.
    for (classes, needle) in [
        (json!(["cpu-a"]), "2 to 8 node classes"),
        (json!(["cpu-a", "cpu-a"]), "listed twice"),
        (json!(["cpu-a", "gpu-fast"]), "gpu-fast"),
        (json!(["cpu-a", "cpu-idle"]), "cpu-idle"),
    ] {
        let (status, answer) = post_benchmark(&app, &request(classes.clone())).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{classes}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{classes}: {message}");
    }
    let (_, listed) = get_json(&app, &app.http, "/api/v1/benchmarks").await;
    assert_eq!(listed, json!([]));
    let (_, jobs) = get_json(&app, &app.http, "/api/v1/jobs").await;
    assert_eq!(jobs, json!([]), "no run of a refused benchmark exists");

    let (status, created) = post_benchmark(&app, &request(json!(["cpu-a", "cpu-b"]))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["node_classes"], json!(["cpu-a", "cpu-b"]));
    assert_eq!(created["tenant"], "acme");
    let job_ids: Vec<String> = created["job_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(job_ids.len(), 2);
    for (job, class) in job_ids.iter().zip(["cpu-a", "cpu-b"]) {
        let (_, detail) = get_json(&app, &app.http, &format!("/api/v1/jobs/{job}")).await;
        assert_eq!(detail["name"], format!("shot on {class}"));
        assert_eq!(detail["node_class"], class);
        assert_eq!(detail["tenant"], "acme");
    }

    let report = wait_complete(&app, &id).await;
    assert_eq!(report["pending_frames"], json!([]));
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let frames = report["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 3);
    for (index, run) in runs.iter().enumerate() {
        let job = &job_ids[index];
        assert_eq!(run["job_id"], job.as_str());
        assert_eq!(run["state"], "done", "{run}");
        assert_eq!(run["frames_done"], 3);
        assert!(
            run["time_to_complete_secs"].as_f64().unwrap() > 0.0,
            "{run}"
        );
        let (_, bill) = get_json(&app, &app.http, &format!("/api/v1/jobs/{job}/report")).await;
        assert_eq!(run["cost_micros"], bill["totals"]["cost_micros"], "{run}");
        let total = bill["totals"]["cost_micros"].as_i64().unwrap();
        assert!(total > 0, "the classes have prices: {bill}");
        assert_eq!(
            run["cost_per_frame_micros"].as_i64().unwrap(),
            (2 * total + 3) / 6,
            "{run}"
        );
        for (row, billed) in frames.iter().zip(bill["frames"].as_array().unwrap()) {
            assert_eq!(row["frame"], billed["frame"]);
            assert_eq!(billed["node_class"], run["node_class"], "{billed}");
            let cell = &row["runs"][index];
            assert_eq!(cell["cost_micros"], billed["cost_micros"], "{row}");
            assert_eq!(cell["render_seconds"], billed["render_seconds"], "{row}");
        }
    }
    assert!(runs[0].get("parity").is_none(), "the baseline");
    let parity = &runs[1]["parity"];
    assert_eq!(parity["identical"], 3, "{parity}");
    assert_eq!(parity["compared"], 3);
    assert_eq!(parity["mean_flip"], 0.0);
    assert_eq!(parity["max_flip"], 0.0);
    for row in frames {
        let cell = &row["runs"][1]["parity"];
        assert_eq!(cell["status"], "identical", "{row}");
        assert_eq!(cell["mean_flip"], 0.0, "{row}");
        assert_eq!(cell["max_flip"], 0.0, "{row}");
    }

    // The CSV: a header, a line per frame, a total line.
    let response = app
        .http
        .get(format!("{}/api/v1/benchmarks/{id}/report.csv", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 3 + 1, "{csv}");
    let header: Vec<&str> = lines[0].split(',').collect();
    for column in [
        "frame",
        "cpu-a_render_seconds",
        "cpu-a_cost",
        "cpu-b_cost",
        "cpu-b_parity",
        "cpu-b_mean_flip",
        "cpu-b_max_flip",
        "cpu-b_worst_tile",
    ] {
        assert!(header.contains(&column), "{column}: {csv}");
    }
    for (line, frame) in lines[1..4].iter().zip(1..) {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), header.len(), "{line}");
        assert_eq!(fields[0], frame.to_string());
        let parity = header.iter().position(|c| *c == "cpu-b_parity").unwrap();
        assert_eq!(fields[parity], "identical", "{line}");
    }
    assert!(lines[4].starts_with("total,done,"), "{csv}");

    // The web UI page, and the link to it from a run's job page.
    let cookie = sign_in(&app, app.admin_token.expose()).await;
    let (status, html) = page(&app, &cookie, &format!("/ui/benchmarks/{id}")).await;
    assert_eq!(status, 200, "{html}");
    for needle in [
        "Benchmark shot",
        "cpu-a",
        "cpu-b",
        "identical",
        "report.csv",
        "baseline",
    ] {
        assert!(html.contains(needle), "{needle}: {html}");
    }
    let (status, html) = page(&app, &cookie, &format!("/ui/jobs/{}", job_ids[1])).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("/ui/benchmarks/{id}")), "{html}");

    // Tenants: acme sees it, another tenant gets 404 as for a missing one,
    // a provider may not look.
    let acme = app.client_as(&app.submitter("acme").await);
    let (status, _) = get_json(&app, &acme, &format!("/api/v1/benchmarks/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, own) = get_json(&app, &acme, "/api/v1/benchmarks").await;
    assert_eq!(own.as_array().unwrap().len(), 1, "{own}");
    let other = app.client_as(&app.submitter("other").await);
    for path in [
        format!("/api/v1/benchmarks/{id}"),
        format!("/api/v1/benchmarks/{id}/report.csv"),
    ] {
        let (status, answer) = get_json(&app, &other, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {answer}");
        assert_eq!(answer["error"]["code"], "not_found");
    }
    let (_, theirs) = get_json(&app, &other, "/api/v1/benchmarks").await;
    assert_eq!(theirs, json!([]));
    let other_cookie = sign_in(&app, &app.submitter("other").await).await;
    let (status, _) = page(&app, &other_cookie, &format!("/ui/benchmarks/{id}")).await;
    assert_eq!(status, 404);
    let provider = app.client_as(&app.provider("owner-alpha").await);
    let (status, _) = get_json(&app, &provider, "/api/v1/benchmarks").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = get_json(&app, &app.http, "/api/v1/benchmarks/not-an-id").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, spec) = get_json(&app, &app.http, "/api/v1/openapi.json").await;
    for path in [
        "/api/v1/benchmarks",
        "/api/v1/benchmarks/{id}",
        "/api/v1/benchmarks/{id}/report.csv",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} missing");
    }
    app.stop().await;
    for worker in workers {
        worker.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_whose_frames_differ_shows_a_mismatch_and_its_worst_tile() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    define_class(&app, "cpu-honest", "0.0001").await;
    define_class(&app, "cpu-patched", "0.0001").await;
    // Verification off: the patch painter's frames are accepted as they are.
    let workers = [
        app.spawn_in_process_worker_of_class("honest", dir.path(), None, "local", "cpu-honest"),
        app.spawn_in_process_worker_of_class(
            "painter",
            dir.path(),
            Some(worker::Tamper::Patch),
            "local",
            "cpu-patched",
        ),
    ];
    app.wait_online(2).await;
    let scene = app.upload(&sample_scene()).await;
    let (status, created) = post_benchmark(
        &app,
        &json!({"scene": scene, "renderer": "blender", "frames": "1-2", "parity_percent": 0,
            "node_classes": ["cpu-honest", "cpu-patched"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    let report = wait_complete(&app, id).await;
    let parity = &report["runs"][1]["parity"];
    assert_eq!(parity["mismatch"], 2, "{parity}");
    assert!(parity["mean_flip"].as_f64().unwrap() > 0.0, "{parity}");
    // The sample renders 160x90: the 32x32 patch sits in the middle, at
    // (64, 29) to (96, 61), inside the 64-pixel tile at (64, 0).
    for row in report["frames"].as_array().unwrap() {
        let cell = &row["runs"][1]["parity"];
        assert_eq!(cell["status"], "mismatch", "{row}");
        let (mean, max) = (
            cell["mean_flip"].as_f64().unwrap(),
            cell["max_flip"].as_f64().unwrap(),
        );
        assert!(mean > 0.0 && max > mean, "{cell}");
        let worst = &cell["worst_tiles"][0];
        assert_eq!(
            (&worst["x"], &worst["y"]),
            (&json!(64), &json!(0)),
            "{cell}"
        );
        assert!(worst["flip_mean"].as_f64().unwrap() > mean, "{cell}");
        assert!(!cell["reasons"].as_array().unwrap().is_empty(), "{cell}");
    }
    let csv = app
        .http
        .get(format!("{}/api/v1/benchmarks/{id}/report.csv", app.api))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.lines().nth(1).unwrap().contains(",mismatch,"), "{csv}");
    assert!(csv.contains(",64:0:64x64,"), "{csv}");
    app.stop().await;
    for worker in workers {
        worker.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn farm_benchmark_compares_two_classes_from_the_command_line() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    define_class(&app, "cpu-a", "0.0002").await;
    define_class(&app, "cpu-b", "0.0001").await;
    let workers = [
        app.spawn_in_process_worker_of_class("alpha", dir.path(), None, "local", "cpu-a"),
        app.spawn_in_process_worker_of_class("bravo", dir.path(), None, "local", "cpu-b"),
    ];
    app.wait_online(2).await;
    let (home, token) = (dir.path().join("home"), app.admin_token.expose());
    let blend = sample_scene().display().to_string();
    let farm_run = |args: Vec<&str>| run(farm(&home, &app.api, Some(token), &args));

    // One class, and a class no worker has, are refused before any upload.
    let one = farm_run(vec!["benchmark", "--class", "cpu-a", &blend]).await;
    assert_eq!(one.code, Some(3), "{}", one.stderr);
    assert!(
        one.stderr.contains("two or more node classes"),
        "{}",
        one.stderr
    );
    let unknown = farm_run(vec![
        "benchmark",
        "--class",
        "cpu-a",
        "--class",
        "gpu-fast",
        &blend,
        "--frames",
        "1-2",
    ])
    .await;
    assert_eq!(unknown.code, Some(3), "{}", unknown.stderr);
    assert!(unknown.stderr.contains("gpu-fast"), "{}", unknown.stderr);

    let created = farm_run(vec![
        "benchmark",
        "--class",
        "cpu-a",
        "--class",
        "cpu-b",
        &blend,
        "--frames",
        "1-2",
        "--parity",
        "0",
        "--name",
        "cli",
        "--watch",
        "--json",
    ])
    .await;
    assert_eq!(created.code, Some(0), "{}", created.stderr);
    let lines: Vec<Value> = created
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("--json lines parse"))
        .collect();
    assert_eq!(lines.len(), 2, "{}", created.stdout);
    let id = lines[0]["benchmark"]["id"].as_str().unwrap().to_owned();
    assert!(
        lines[0]["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/ui/benchmarks/{id}"))
    );
    let report = &lines[1];
    assert_eq!(report["complete"], true, "{report}");
    assert_eq!(report["runs"][1]["parity"]["identical"], 2, "{report}");

    let table = farm_run(vec!["benchmark-report", &id]).await;
    assert_eq!(table.code, Some(0), "{}", table.stderr);
    for needle in [
        "(complete)",
        "NODE CLASS",
        "CPU-B PARITY",
        "2 identical",
        "baseline",
    ] {
        assert!(table.stdout.contains(needle), "{needle}: {}", table.stdout);
    }
    let csv = farm_run(vec!["benchmark-report", &id, "--csv"]).await;
    assert_eq!(csv.code, Some(0), "{}", csv.stderr);
    assert_eq!(csv.stdout.lines().count(), 1 + 2 + 1, "{}", csv.stdout);
    app.stop().await;
    for worker in workers {
        worker.await.unwrap().unwrap();
    }
}
