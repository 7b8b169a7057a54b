//! The web UI in a real browser (Debian's Chromium through chromedriver)
//! against a running coordinator with a worker rendering real Blender
//! frames: sign in through a one-time link, watch a job's frame grid fill
//! by itself (no reload) as the frames render, change a job's priority in
//! place, pause and cancel a job from the jobs table; as a submitter be
//! refused the workers (page and API); as an admin blocklist, reinstate,
//! drain and undrain a worker from the workers page; and save screenshots
//! at desktop and phone width.

#[path = "ui/browser.rs"]
mod browser;
mod support;

use browser::Browser;
use coordinator::state::JobState;
use serde_json::{Value, json};
use support::app::local_config;
use support::ui::sign_in_link;
use support::{TestApp, blender_ready, sample_scene};

/// Submit a job of the sample scene as `http`; its id.
async fn submit(app: &TestApp, http: &reqwest::Client, body: Value) -> String {
    let scene = app.upload_as(http, &sample_scene()).await;
    let mut body = body;
    body["scene"] = json!(scene);
    body["renderer"] = json!("blender");
    app.submit_as(http, body).await.id.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grid_fills_live_and_jobs_are_controlled_from_the_table() {
    if !blender_ready() || !browser::ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let worker = app.spawn_in_process_worker("ui-worker", dir.path());
    let token = app.submitter("studio").await;
    let http = app.client_as(&token);
    let shot = submit(
        &app,
        &http,
        json!({"name": "shot-010", "frames": "1-6", "chunk_size": 1, "paused": true}),
    )
    .await;

    let browser = Browser::start(1280, 900).await;
    browser
        .sign_in(&sign_in_link(&app, &http).await, &app.api)
        .await;
    assert!(
        browser.client.current_url().await.unwrap().path() == "/ui/jobs",
        "the link lands on the jobs table"
    );

    // The job page follows the feed; resuming through the API fills the
    // grid without a reload.
    browser
        .client
        .goto(&format!("{}/ui/jobs/{shot}", app.api))
        .await
        .unwrap();
    browser
        .wait_until("body", "el.dataset.live === 'true'")
        .await;
    browser
        .client
        .execute("window.sameDocument = true;", vec![])
        .await
        .unwrap();
    let response = http
        .post(format!("{}/api/v1/jobs/{shot}/resume", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let done = browser
        .wait_until("#frames-done", "el.textContent.startsWith('6 / 6')")
        .await;
    assert_eq!(done, "6 / 6 rendered");
    browser
        .wait_until("#job-state", "el.textContent === 'done'")
        .await;
    let same = browser
        .client
        .execute("return window.sameDocument === true;", vec![])
        .await
        .unwrap();
    assert_eq!(same, json!(true), "the page was not reloaded");
    browser.screenshot("job-desktop").await;
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.screenshot("job-phone").await;
    browser.client.set_window_size(1280, 900).await.unwrap();

    // Pause, then cancel, a job from the table.
    let long = submit(
        &app,
        &http,
        json!({"name": "shot-020", "frames": "1-400", "chunk_size": 1}),
    )
    .await;
    browser
        .client
        .goto(&format!("{}/ui/jobs", app.api))
        .await
        .unwrap();
    browser
        .wait_until("body", "el.dataset.live === 'true'")
        .await;
    let row = format!("tr[data-job='{long}']");
    // Its priority, typed into the row.
    let priority = browser
        .client
        .find(fantoccini::Locator::Css(&format!("{row} .priority")))
        .await
        .unwrap();
    priority.clear().await.unwrap();
    priority.send_keys("80\u{e004}").await.unwrap();
    browser
        .wait_until(
            "#status",
            "el.textContent.includes('shot-020: priority 80')",
        )
        .await;
    assert_eq!(app.job(long.parse().unwrap()).await.job.priority, 80);
    let said = browser.wait_until("#status", "true").await;
    assert!(
        !said.contains("priority 0"),
        "emptying the box sets nothing: {said}"
    );
    browser.click(&format!("{row} .pick")).await;
    browser.click("[data-bulk='pause']").await;
    browser
        .wait_until(
            &format!("{row} [data-field='state']"),
            "el.textContent === 'paused'",
        )
        .await;
    assert_eq!(
        app.job(long.parse().unwrap()).await.job.state,
        JobState::Paused
    );
    browser.screenshot("jobs-desktop").await;
    browser.click("[data-bulk='cancel']").await;
    browser
        .wait_until(
            &format!("{row} [data-field='state']"),
            "el.textContent === 'cancelled'",
        )
        .await;
    assert_eq!(
        app.job(long.parse().unwrap()).await.job.state,
        JobState::Cancelled
    );
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.screenshot("jobs-phone").await;
    browser.client.set_window_size(1280, 900).await.unwrap();

    // A submitter may not see or manage workers, not even by calling the
    // API from its page.
    browser
        .client
        .goto(&format!("{}/ui/workers", app.api))
        .await
        .unwrap();
    let refusal = browser.wait_until(".error", "true").await;
    assert!(refusal.contains("cannot see workers"), "{refusal}");
    let worker_id = app.workers().await[0]["id"].as_str().unwrap().to_owned();
    browser
        .client
        .goto(&format!("{}/ui/jobs", app.api))
        .await
        .unwrap();
    let answer = browser
        .client
        .execute_async(
            r#"const [id, done] = [arguments[0], arguments[arguments.length - 1]];
            const csrf = document.querySelector('meta[name="csrf-token"]').content;
            fetch(`/api/v1/workers/${id}/blocklist`, {method: "POST",
                headers: {"X-CSRF-Token": csrf, "Content-Type": "application/json"},
                body: JSON.stringify({reason: "a submitter tries"})})
              .then(async (r) => done([r.status, await r.text()]));"#,
            vec![json!(worker_id)],
        )
        .await
        .unwrap();
    assert_eq!(answer[0], 403, "{answer}");
    browser.click("#sign-out").await;
    let login: url::Url = format!("{}/ui/login", app.api).parse().unwrap();
    browser
        .client
        .wait()
        .at_most(std::time::Duration::from_secs(60))
        .for_url(&login)
        .await
        .expect("signing out leads to the sign-in page");

    // An admin blocklists the worker from the workers page, then
    // reinstates it.
    browser
        .sign_in(&sign_in_link(&app, &app.http).await, &app.api)
        .await;
    browser
        .client
        .goto(&format!("{}/ui/workers", app.api))
        .await
        .unwrap();
    browser
        .wait_until("body", "el.dataset.live === 'true'")
        .await;
    let row = format!("tr[data-worker='{worker_id}']");
    browser
        .client
        .find(fantoccini::Locator::Css("#blocklist-reason"))
        .await
        .unwrap()
        .send_keys("renders the wrong frames")
        .await
        .unwrap();
    browser
        .click(&format!("{row} [data-worker-action='blocklist']"))
        .await;
    browser
        .wait_until(
            &format!("{row} [data-field='state']"),
            "el.textContent === 'blocklisted'",
        )
        .await;
    let listed = app.workers().await;
    assert!(
        listed[0]["reputation"]["blocklist_reason"]
            .as_str()
            .is_some_and(|r| r.contains("renders the wrong frames")),
        "{listed:?}"
    );
    browser.screenshot("workers-desktop").await;
    browser
        .click(&format!("{row} [data-worker-action='reinstate']"))
        .await;
    browser
        .wait_until(
            &format!("{row} [data-field='state']"),
            "el.textContent === 'online'",
        )
        .await;
    assert!(app.workers().await[0]["reputation"]["blocklisted_ms"].is_null());
    // Drained: idle, taking nothing, until undrained.
    browser
        .click(&format!("{row} [data-worker-action='drain']"))
        .await;
    browser
        .wait_until(
            &format!("{row} [data-field='state']"),
            "el.textContent === 'drained'",
        )
        .await;
    assert!(app.workers().await[0]["draining_ms"].is_i64());
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.screenshot("workers-phone").await;
    browser.client.set_window_size(1280, 900).await.unwrap();
    browser
        .click(&format!("{row} [data-worker-action='undrain']"))
        .await;
    browser
        .wait_until(
            &format!("{row} [data-field='state']"),
            "el.textContent === 'online'",
        )
        .await;
    assert!(app.workers().await[0]["draining_ms"].is_null());
    // Its own page, from its name: the frames it delivered, each linked.
    browser.click(&format!("{row} a")).await;
    browser
        .wait_until("#copies tbody tr:nth-child(6)", "true")
        .await;
    let link = browser
        .wait_until("#copies tbody tr a[href*='/frames/']", "true")
        .await;
    assert!(!link.is_empty());
    assert_eq!(
        browser.client.current_url().await.unwrap().path(),
        format!("/ui/workers/{worker_id}")
    );
    browser.screenshot("worker-desktop").await;
    browser.close().await;
    app.stop().await;
    worker.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disagreed_frame_shows_both_copies_and_the_heat_map() {
    if !blender_ready() || !browser::ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let workers = [
        app.spawn_in_process_worker("honest-a", dir.path()),
        app.spawn_in_process_worker("honest-b", dir.path()),
        app.spawn_in_process_worker_with("cheater", dir.path(), Some(worker::Tamper::Patch)),
    ];
    // Every worker online before the job, so the cheater gets frames.
    app.wait_online(3).await;
    let token = app.submitter("studio").await;
    let http = app.client_as(&token);
    let shot = submit(
        &app,
        &http,
        json!({"name": "shot-030", "frames": "1-4", "chunk_size": 1, "parity_percent": 100}),
    )
    .await;
    let id = shot.parse().unwrap();
    app.wait_final(id, std::time::Duration::from_secs(300))
        .await;
    let verdicts: Vec<Value> = http
        .get(format!("{}/api/v1/jobs/{shot}/verdicts", app.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mismatch = verdicts
        .iter()
        .find(|v| v["verdict"] == "mismatch" || v["numbers"]["verdict"] == "mismatch")
        .unwrap_or_else(|| panic!("the cheater was outvoted somewhere: {verdicts:?}"));
    let frame = mismatch["frame"].as_i64().unwrap();

    let browser = Browser::start(1280, 1000).await;
    browser
        .sign_in(&sign_in_link(&app, &http).await, &app.api)
        .await;
    browser
        .client
        .goto(&format!("{}/ui/jobs/{shot}/frames/{frame}", app.api))
        .await
        .unwrap();
    let previews = browser.wait_images("img.preview").await;
    assert!(
        previews.len() >= 2,
        "both copies side by side: {previews:?}"
    );
    assert!(
        previews.iter().all(|size| *size == (160, 90)),
        "{previews:?}"
    );
    let heat_maps = browser
        .wait_images("section[data-verdict='mismatch'] img.heatmap")
        .await;
    assert_eq!(heat_maps[0], (160, 90));
    let page = browser.client.source().await.unwrap();
    assert!(page.contains("cheater"), "the cheater's copy is named");
    browser.screenshot("frame-disagreed-desktop").await;
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.screenshot("frame-disagreed-phone").await;

    // The cost report the page links to is the API's, byte for byte.
    browser
        .client
        .goto(&format!("{}/ui/jobs/{shot}", app.api))
        .await
        .unwrap();
    let link = browser
        .client
        .find(fantoccini::Locator::Css("a[download]"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .expect("the CSV link");
    let from_page = browser
        .client
        .execute_async(
            r#"const [href, done] = [arguments[0], arguments[arguments.length - 1]];
            fetch(href).then((r) => r.text()).then(done);"#,
            vec![json!(link)],
        )
        .await
        .unwrap();
    let from_api = http
        .get(format!("{}/api/v1/jobs/{shot}/report.csv", app.api))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(from_page.as_str().unwrap(), from_api);
    assert!(from_api.lines().count() > 4, "{from_api}");

    // The costs page shows the report's total and draws its charts.
    let report: Value = http
        .get(format!("{}/api/v1/jobs/{shot}/report", app.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    browser.client.set_window_size(1280, 1000).await.unwrap();
    browser
        .client
        .goto(&format!("{}/ui/jobs/{shot}/costs", app.api))
        .await
        .unwrap();
    let total = browser.wait_until("#cost-total", "true").await;
    let micros = report["totals"]["cost_micros"].as_i64().unwrap();
    assert_eq!(
        total,
        format!("{}.{:06} USD", micros / 1_000_000, micros % 1_000_000)
    );
    let bars = browser
        .client
        .execute(
            "return document.querySelectorAll('rect.bar-cost').length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(bars, json!(4), "a bar per frame");
    let places = browser.wait_until("#rendered-in", "true").await;
    assert_eq!(places, "local (standard): 4", "where the frames rendered");
    browser.screenshot("costs-desktop").await;

    // An admin sees the payouts per provider: the cheater's provider earns
    // nothing.
    browser
        .sign_in(&sign_in_link(&app, &app.http).await, &app.api)
        .await;
    browser
        .client
        .goto(&format!("{}/ui/workers", app.api))
        .await
        .unwrap();
    let payouts = browser.wait_until("#payouts", "true").await;
    assert!(payouts.contains("owner-cheater"), "{payouts}");
    browser.screenshot("workers-payouts-desktop").await;
    browser.close().await;
    app.stop().await;
    for worker in workers {
        worker.await.unwrap().unwrap();
    }
}
