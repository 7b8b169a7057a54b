//! A job no worker can take says why on its page, live, in a real browser
//! (Debian's Chromium through chromedriver) with a worker rendering real
//! Blender frames: the notice is there while no worker has joined, goes
//! when a worker takes a frame, and comes back, naming the blocklisting,
//! when the job is resumed after its only worker was blocklisted; all
//! without a reload.

#[path = "ui/browser.rs"]
mod browser;
mod support;

use browser::Browser;
use serde_json::{Value, json};
use support::app::local_config;
use support::ui::sign_in_link;
use support::{TestApp, blender_ready, sample_scene};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_job_says_why_on_its_page_as_workers_come_and_go() {
    if !blender_ready() || !browser::ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let http = app.client_as(&app.submitter("studio").await);
    let scene = app.upload_as(&http, &sample_scene()).await;
    let job = app
        .submit_as(
            &http,
            json!({"name": "shot-030", "scene": scene, "renderer": "blender",
                "frames": "1-100", "chunk_size": 1}),
        )
        .await
        .id;
    let post = |path: String, body: Value| {
        let request = if path.contains("/workers/") {
            &app.http
        } else {
            &http
        };
        request
            .post(format!("{}{path}", app.api))
            .json(&body)
            .send()
    };

    let browser = Browser::start(1280, 900).await;
    browser
        .sign_in(&sign_in_link(&app, &http).await, &app.api)
        .await;
    browser
        .client
        .goto(&format!("{}/ui/jobs/{job}", app.api))
        .await
        .unwrap();
    let notice = browser.wait_until("#job-waiting", "true").await;
    assert!(notice.contains("no worker has joined"), "{notice}");
    browser
        .wait_until("body", "el.dataset.live === 'true'")
        .await;
    browser
        .client
        .execute("window.sameDocument = true;", vec![])
        .await
        .unwrap();
    browser.screenshot("job-waiting-desktop").await;

    // A worker joins and takes a frame: the notice goes.
    let worker = app.spawn_in_process_worker("ui-waiting-worker", dir.path());
    browser
        .wait_until("body", "!document.getElementById('job-waiting')")
        .await;

    // Paused, its only worker blocklisted, resumed: the page asks the
    // server why the job waits, and says it.
    let paused = post(format!("/api/v1/jobs/{job}/pause"), json!({}))
        .await
        .unwrap();
    assert_eq!(paused.status(), 200);
    let worker_id = app.workers().await[0]["id"].as_str().unwrap().to_owned();
    let blocked = post(
        format!("/api/v1/workers/{worker_id}/blocklist"),
        json!({"reason": "test: leaves the job without workers"}),
    )
    .await
    .unwrap();
    assert_eq!(blocked.status(), 200, "{}", blocked.text().await.unwrap());
    let resumed = post(format!("/api/v1/jobs/{job}/resume"), json!({}))
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    let notice = browser
        .wait_until("#job-waiting", "el.textContent.includes('blocklisted')")
        .await;
    assert!(
        notice.contains("every worker that joined the farm is blocklisted (1)"),
        "{notice}"
    );
    let same = browser
        .client
        .execute("return window.sameDocument === true;", vec![])
        .await
        .unwrap();
    assert_eq!(same, json!(true), "the page was not reloaded");

    let cancelled = post(format!("/api/v1/jobs/{job}/cancel"), json!({}))
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    browser.close().await;
    app.stop().await;
    // A blocklisted worker may end with an error; it must end.
    let _ = worker.await.unwrap();
}
