//! Benchmarks against a studio's reference sequence, end to end with real
//! Blender: the test renders the reference itself (Blender run as a worker
//! runs it), paints a patch on one frame and uploads another frame's render
//! as a third; one CPU class renders the frames in an in-process worker,
//! and the report (JSON, CSV, the web UI page) shows the honest frame
//! identical, the patched one a mismatch with the patch's tile the worst,
//! the wrong one a mismatch until it is replaced by its own render and
//! compared again, and the reference's figures as stated by the studio.
//! Refused: another tenant's upload (404), a frame the benchmark does not
//! render (422), bytes that are no frame (422), an upload to a benchmark
//! without a reference (409). `farm benchmark --reference DIR` uploads a
//! folder, refusing files outside the job's frames before creating anything.

mod benchmark_common;
#[path = "cli/harness.rs"]
#[allow(dead_code)]
mod harness;
mod support;

use std::path::Path;

use benchmark_common::{
    define_class, get_json, matches, page, post_benchmark, put_reference, render_reference,
    sign_in, statuses, wait_complete,
};
use harness::{farm, run};
use object_store::ObjectStoreExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::app::local_config;
use support::{TestApp, blender_ready, sample_scene};
use worker::Tamper;
use worker::tamper::Tamperer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_benchmark_against_the_studio_s_reference_shows_each_frame_s_parity() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    define_class(&app, "cpu-a", "0.0001").await;
    let worker = app.spawn_in_process_worker_of_class("alpha", dir.path(), None, "local", "cpu-a");
    app.wait_online(1).await;
    let scene = app.upload(&sample_scene()).await;
    let (status, created) = post_benchmark(
        &app,
        &json!({"name": "vs studio", "scene": scene, "renderer": "blender", "frames": "1-3",
            "chunk_size": 1, "parity_percent": 0, "tenant": "acme", "node_classes": ["cpu-a"],
            "reference": {"name": "our farm", "seconds_per_frame": 30.0, "cost_per_frame": "0.40",
                "time_to_complete_secs": 5400}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["reference"]["name"], "our farm");
    let stated = &created["reference"]["stated_by_studio"];
    assert_eq!(stated["cost_per_frame_micros"], 400_000, "{created}");

    // Until uploaded, every frame waits for its reference.
    let (_, report) = get_json(&app, &app.http, &format!("/api/v1/benchmarks/{id}")).await;
    assert_eq!(report["reference"]["frames_missing"], json!([1, 2, 3]));
    for row in report["frames"].as_array().unwrap() {
        assert_eq!(row["reference"]["uploaded"], false, "{row}");
        let cell = &row["runs"][0]["parity"];
        assert_eq!(cell["status"], "pending", "{row}");
        assert_eq!(cell["pending_reason"], "reference frame not uploaded");
    }

    // The studio's renders, meanwhile: frame 2 with a patch painted on it.
    let files = render_reference(&dir.path().join("reference"), &[1, 2, 3]).await;
    let honest: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    Tamperer::new(Tamper::Patch, dir.path())
        .apply(&files[1])
        .unwrap();
    let patched = std::fs::read(&files[1]).unwrap();
    assert_ne!(patched, honest[1]);

    // Frame 3 is first given frame 1's render: the wrong frame.
    let acme = app.client_as(&app.submitter("acme").await);
    for (frame, bytes) in [(1, &honest[0]), (2, &patched), (3, &honest[0])] {
        let (status, answer) =
            put_reference(&app, &acme, &id, &frame.to_string(), bytes.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        assert_eq!(answer["replaced"], false);
        let key = format!("benchmarks/{id}/reference/{frame}.exr");
        assert_eq!(answer["object_key"], key.as_str());
        assert_eq!(answer["pixel_hash"].as_str().unwrap().len(), 64);
        let stored = app
            .store
            .get(&object_store::path::Path::from(key))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(stored.as_ref(), bytes.as_slice(), "frame {frame} stored");
    }

    let report = wait_complete(&app, &id).await;
    let found = statuses(&report);
    assert!(matches(&found[0]), "{found:?}: {report:#}");
    assert_eq!(found[1..], ["mismatch", "mismatch"], "{report:#}");
    let run = &report["runs"][0];
    assert_eq!(run["state"], "done");
    assert!(run["time_to_complete_secs"].as_f64().unwrap() > 0.0);
    assert!(run["cost_per_frame_micros"].as_i64().unwrap() > 0, "{run}");
    // The sample renders 160x90: the 32x32 patch sits in the tile at (64, 0).
    let cell = &report["frames"][1]["runs"][0]["parity"];
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

    // Replaced by its own render, frame 3 is compared again.
    let (status, answer) = put_reference(&app, &acme, &id, "3", honest[2].clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["replaced"], true);
    let report = wait_complete(&app, &id).await;
    let found = statuses(&report);
    assert!(matches(&found[0]) && matches(&found[2]), "{found:?}");
    assert_eq!(found[1], "mismatch");
    let parity = &report["runs"][0]["parity"];
    assert_eq!(parity["compared"], 3, "{parity}");
    assert_eq!(parity["mismatch"], 1, "{parity}");
    let reference = &report["reference"];
    assert_eq!(reference["frames_uploaded"], 3);
    assert_eq!(reference["frames_missing"], json!([]));
    assert_eq!(
        reference["stated_by_studio"],
        json!({"seconds_per_frame": 30.0, "cost_per_frame_micros": 400_000,
            "time_to_complete_secs": 5400.0})
    );

    let csv = acme
        .get(format!("{}/api/v1/benchmarks/{id}/report.csv", app.api))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 3 + 1, "{csv}");
    for column in [
        "reference_uploaded",
        "reference_stated_cost_per_frame",
        "cpu-a_parity",
        "cpu-a_worst_tile",
    ] {
        assert!(lines[0].split(',').any(|c| c == column), "{column}: {csv}");
    }
    assert!(lines[2].starts_with("2,yes,30.000,0.400000,"), "{csv}");
    assert!(lines[2].contains(",mismatch,") && lines[2].contains(",64:0:64x64,"));
    assert!(lines[4].starts_with("total,3 of 3 uploaded,"), "{csv}");

    let cookie = sign_in(&app, app.admin_token.expose()).await;
    let (status, html) = page(&app, &cookie, &format!("/ui/benchmarks/{id}")).await;
    assert_eq!(status, 200, "{html}");
    for needle in [
        "our farm",
        "stated by the studio",
        "uploaded",
        "mismatch",
        "0.400000",
    ] {
        assert!(html.contains(needle), "{needle}: {html}");
    }
    let (_, spec) = get_json(&app, &app.http, "/api/v1/openapi.json").await;
    let route = &spec["paths"]["/api/v1/benchmarks/{id}/reference/{frame}"]["put"];
    assert!(route["responses"]["409"].is_object(), "{route}");
    app.stop().await;
    worker.await.unwrap().unwrap();
}

/// A small valid EXR, as bytes.
fn small_exr(dir: &Path, grey: f32) -> Vec<u8> {
    let path = dir.join(format!("small-{grey}.exr"));
    exr::prelude::write_rgba_file(&path, 16, 16, |_, _| (grey, grey, grey, 1.0f32)).unwrap();
    std::fs::read(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_uploads_are_refused_to_others_and_for_what_is_not_a_frame_of_it() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    define_class(&app, "cpu-a", "0.0001").await;
    define_class(&app, "cpu-b", "0.0001").await;
    let workers = [
        app.spawn_in_process_worker_of_class("alpha", dir.path(), None, "local", "cpu-a"),
        app.spawn_in_process_worker_of_class("bravo", dir.path(), None, "local", "cpu-b"),
    ];
    app.wait_online(2).await;
    let scene = app.upload(&sample_scene()).await;
    // Paused: nothing renders, the uploads alone are tested.
    let request = |classes: Value, reference: Value| {
        json!({"scene": scene, "renderer": "blender", "frames": "1-2", "paused": true,
            "tenant": "acme", "node_classes": classes, "reference": reference})
    };
    for (classes, reference, code) in [
        (json!(["cpu-a"]), json!({"name": ""}), "bad_reference"),
        (
            json!(["cpu-a"]),
            json!({"name": "x", "cost_per_frame": "lots"}),
            "bad_reference",
        ),
        (json!([]), json!({"name": "x"}), "bad_node_classes"),
        (json!(["cpu-a"]), Value::Null, "bad_node_classes"),
        (
            json!(["cpu-a"]),
            json!({"name": "x", "observed": 1}),
            "bad_field",
        ),
    ] {
        let (status, answer) = post_benchmark(&app, &request(classes, reference.clone())).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{reference}: {answer}"
        );
        assert_eq!(answer["error"]["code"], code, "{reference}: {answer}");
    }
    let (status, with) = post_benchmark(
        &app,
        &request(json!(["cpu-a"]), json!({"name": "our farm"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{with}");
    let id = with["id"].as_str().unwrap().to_owned();
    let (status, without) =
        post_benchmark(&app, &request(json!(["cpu-a", "cpu-b"]), Value::Null)).await;
    assert_eq!(status, StatusCode::CREATED, "{without}");
    let plain = without["id"].as_str().unwrap().to_owned();

    let frame = small_exr(dir.path(), 0.5);
    let acme = app.client_as(&app.submitter("acme").await);
    let other = app.client_as(&app.submitter("other").await);
    let provider = app.client_as(&app.provider("owner-alpha").await);
    let missing = "0190a1b2-0000-7000-8000-000000000000";
    let mut garbage_exr = vec![0x76, 0x2f, 0x31, 0x01];
    garbage_exr.extend_from_slice(&[0xab; 300]);
    for (who, target, frame_no, body, status, code) in [
        (
            &other,
            id.as_str(),
            "1",
            frame.clone(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &acme,
            missing,
            "1",
            frame.clone(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &provider,
            id.as_str(),
            "1",
            frame.clone(),
            StatusCode::FORBIDDEN,
            "",
        ),
        (
            &acme,
            id.as_str(),
            "7",
            frame.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "frame_not_in_benchmark",
        ),
        (
            &acme,
            id.as_str(),
            "x",
            frame.clone(),
            StatusCode::BAD_REQUEST,
            "bad_frame",
        ),
        (
            &acme,
            id.as_str(),
            "1",
            b"not a frame at all".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unreadable_frame",
        ),
        (
            &acme,
            id.as_str(),
            "1",
            garbage_exr.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unreadable_frame",
        ),
        (
            &acme,
            plain.as_str(),
            "1",
            frame.clone(),
            StatusCode::CONFLICT,
            "no_reference",
        ),
    ] {
        let (got, answer) = put_reference(&app, who, target, frame_no, body).await;
        assert_eq!(got, status, "{target}/{frame_no}: {answer}");
        if !code.is_empty() {
            assert_eq!(answer["error"]["code"], code, "{answer}");
            assert!(answer["error"]["message"].as_str().is_some(), "{answer}");
        }
    }
    let (_, answer) = put_reference(&app, &acme, &id, "1", garbage_exr).await;
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("frame-diff cannot decode"), "{message}");
    // Nothing refused was kept.
    let (_, report) = get_json(&app, &acme, &format!("/api/v1/benchmarks/{id}")).await;
    assert_eq!(
        report["reference"]["frames_missing"],
        json!([1, 2]),
        "{report}"
    );
    let key = object_store::path::Path::from(format!("benchmarks/{id}/reference/1.exr"));
    assert!(app.store.get(&key).await.is_err(), "nothing stored");

    // The tenant's own upload, then a replacement; an admin may upload too.
    let (status, answer) = put_reference(&app, &acme, &id, "1", frame.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let first_hash = answer["pixel_hash"].clone();
    let (status, answer) = put_reference(&app, &acme, &id, "1", small_exr(dir.path(), 0.25)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["replaced"], true);
    assert_ne!(
        answer["pixel_hash"], first_hash,
        "other pixels, another hash"
    );
    let replaced_hash = answer["pixel_hash"].clone();
    let (status, answer) = put_reference(&app, &app.http, &id, "2", frame).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(
        answer["pixel_hash"], first_hash,
        "the same pixels, the same hash"
    );
    let (_, report) = get_json(&app, &acme, &format!("/api/v1/benchmarks/{id}")).await;
    assert_eq!(report["reference"]["frames_uploaded"], 2, "{report}");
    assert_eq!(
        report["frames"][0]["reference"]["pixel_hash"],
        replaced_hash
    );
    let (status, _) = get_json(&app, &other, &format!("/api/v1/benchmarks/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
    for worker in workers {
        worker.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn farm_benchmark_uploads_a_reference_folder_and_watches_the_comparison() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    define_class(&app, "cpu-a", "0.0001").await;
    let worker = app.spawn_in_process_worker_of_class("alpha", dir.path(), None, "local", "cpu-a");
    app.wait_online(1).await;
    let (home, token) = (dir.path().join("home"), app.admin_token.expose());
    let blend = sample_scene().display().to_string();
    let farm_run = |args: Vec<&str>| run(farm(&home, &app.api, Some(token), &args));
    let folder = dir.path().join("studio");
    let files = render_reference(&folder, &[1, 2]).await;

    // A file for a frame the job does not render: refused, nothing created.
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::copy(&files[0], outside.join("shot_0009.exr")).unwrap();
    let outside = outside.display().to_string();
    let refused = farm_run(vec![
        "benchmark",
        "--class",
        "cpu-a",
        "--reference",
        &outside,
        &blend,
        "--frames",
        "1-2",
    ])
    .await;
    assert_eq!(refused.code, Some(3), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("outside the job's frames") && refused.stderr.contains("frame 9"),
        "{}",
        refused.stderr
    );
    let (_, listed) = get_json(&app, &app.http, "/api/v1/benchmarks").await;
    assert_eq!(listed, json!([]));

    let folder = folder.display().to_string();
    let created = farm_run(vec![
        "benchmark",
        "--class",
        "cpu-a",
        "--reference",
        &folder,
        "--reference-name",
        "our farm",
        "--reference-cost-per-frame",
        "0.40",
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
    assert_eq!(lines[0]["benchmark"]["reference"]["name"], "our farm");
    assert_eq!(lines[0]["reference_frames"].as_array().unwrap().len(), 2);
    let report = &lines[1];
    assert_eq!(report["complete"], true, "{report}");
    assert!(
        statuses(report).iter().all(|s| matches(s)),
        "the studio's renders match the class's: {report}"
    );
    assert_eq!(report["reference"]["frames_uploaded"], 2);

    let table = farm_run(vec!["benchmark-report", &id]).await;
    assert_eq!(table.code, Some(0), "{}", table.stderr);
    for needle in [
        "our farm (reference)",
        "(stated)",
        "not observed",
        "CPU-A PARITY",
        "REFERENCE",
    ] {
        assert!(table.stdout.contains(needle), "{needle}: {}", table.stdout);
    }
    app.stop().await;
    worker.await.unwrap().unwrap();
}
