//! Verified frames end to end on real RabbitMQ, a real S3-compatible server
//! and worker processes running real Blender: honest workers at full parity,
//! a tampering worker caught and unpaid, and a coordinator restarted in the
//! middle of it without losing strikes, verdicts or money.

mod support;

use std::time::{Duration, Instant};

use coordinator::billing::{CostReport, Payout};
use coordinator::model::JobDetail;
use coordinator::money::Money;
use coordinator::state::{CheckState, FrameState, JobState};
use object_store::ObjectStoreExt;
use protocol::JobId;
use serde_json::{Value, json};
use support::app::{WorkerProcess, test_config};
use support::{TestApp, real_services, sample_scene};

/// GET a JSON document from the API.
async fn get<T: serde::de::DeserializeOwned>(app: &TestApp, path: &str) -> T {
    app.http
        .get(format!("{}{path}", app.api))
        .send()
        .await
        .expect("request sent")
        .error_for_status()
        .expect("found")
        .json()
        .await
        .expect("JSON answer")
}

/// The report's total is the sum of its frames, and every frame done is billed.
fn assert_report_adds_up(report: &CostReport, frames: usize) {
    assert_eq!(report.frames.len(), frames);
    let sum = Money::checked_sum(report.frames.iter().map(|f| f.cost_micros)).unwrap();
    assert_eq!(report.totals.cost_micros, sum, "total = sum of the frames");
    assert!(
        report
            .frames
            .iter()
            .all(|f| f.state == FrameState::Done && f.cost_micros > Money::ZERO),
        "{report:#?}"
    );
}

/// Wait until the job's cost report is in the bucket; returns the CSV.
async fn stored_report(app: &TestApp, job: JobId) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let detail = app.job(job).await;
        if let Some(key) = detail.job.report_key {
            assert_eq!(key, format!("reports/{job}/cost.csv"));
            let bytes = app
                .store
                .get(&key.as_str().into())
                .await
                .expect("report in the bucket")
                .bytes()
                .await
                .unwrap();
            return String::from_utf8(bytes.to_vec()).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "report never written: {detail:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn submit(app: &TestApp, frames: &str, parity: f64) -> JobId {
    let hash = app.upload(&sample_scene()).await;
    app.submit(
        json!({"scene": hash, "renderer": "blender", "frames": frames, "chunk_size": 1,
                      "parity_percent": parity, "overrides": {"resolution": [80, 45]}}),
    )
    .await
    .id
}

fn worker_named<'a>(workers: &'a [Value], name: &str) -> &'a Value {
    workers
        .iter()
        .find(|w| w["name"] == name)
        .unwrap_or_else(|| panic!("worker {name} listed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_honest_workers_at_full_parity_verify_every_frame() {
    let Some((vhost, s3, dir)) = real_services().await else {
        return;
    };
    let (queue, store) = (vhost.queue_config(), s3.store_config());
    let app = TestApp::start(test_config(dir.path(), queue.clone(), store.clone())).await;
    let mut workers = Vec::new();
    for name in ["honest-1", "honest-2", "honest-3"] {
        workers.push(WorkerProcess::spawn(&app, name, dir.path()).await);
    }
    let job = submit(&app, "1-6", 100.0).await;
    let done: JobDetail = app.wait_final(job, Duration::from_secs(300)).await;
    assert_eq!(done.job.state, JobState::Done, "{done:?}");
    assert_eq!(
        done.job.verification.verified, 6,
        "{:?}",
        done.job.verification
    );
    for frame in &done.frame_list {
        assert_eq!(frame.verification, CheckState::Verified);
        assert_eq!(frame.copies, 2);
    }
    let verdicts: Vec<Value> = get(&app, &format!("/api/v1/jobs/{job}/verdicts")).await;
    assert_eq!(verdicts.len(), 6);
    assert!(
        verdicts.iter().all(|v| v["verdict"] == "identical"),
        "the same Blender on the same CPU renders bit-identical frames: {verdicts:?}"
    );
    for worker in app.workers().await {
        assert_eq!(worker["reputation"]["strikes"], 0, "{worker}");
        assert!(worker["reputation"]["blocklist_reason"].is_null());
    }
    let report: CostReport = get(&app, &format!("/api/v1/jobs/{job}/report")).await;
    assert_report_adds_up(&report, 6);
    assert_eq!(report.totals.frames_verified, 6);
    assert_eq!(report.totals.replication_percent, 100.0);
    let csv = stored_report(&app, job).await;
    assert_eq!(csv.lines().count(), 1 + 6 + 2, "{csv}");
    assert!(csv.contains(&format!(",{}\n", report.totals.cost_micros.micros())));
    let payouts: Vec<Payout> = get(&app, "/api/v1/payouts").await;
    let paid = Money::checked_sum(payouts.iter().map(|p| p.earned_micros)).unwrap();
    assert!(
        paid >= report.totals.cost_micros,
        "verified copies are paid at once"
    );
    assert!(payouts.iter().all(|p| p.held_micros == Money::ZERO));
    for worker in workers {
        assert!(worker.terminate().await.success());
    }
    app.stop().await;
}

/// The checks on a job that ran with one cheater among three workers.
async fn assert_cheater_caught(app: &TestApp, job: JobId, frames: usize) {
    let done = app.wait_final(job, Duration::from_secs(420)).await;
    assert_eq!(done.job.state, JobState::Done, "{done:?}");
    let workers = app.workers().await;
    let cheater = worker_named(&workers, "cheater");
    assert!(
        cheater["reputation"]["blocklist_reason"].is_string(),
        "the cheater is blocklisted: {cheater}"
    );
    assert!(cheater["reputation"]["strikes"].as_u64() >= Some(2));
    let cheater_id: protocol::WorkerId = serde_json::from_value(cheater["id"].clone()).unwrap();
    for name in ["honest-a", "honest-b"] {
        let honest = worker_named(&workers, name);
        assert_eq!(honest["reputation"]["strikes"], 0, "{honest}");
    }
    for frame in &done.frame_list {
        assert_ne!(
            frame.worker_id,
            Some(cheater_id),
            "frame {} is delivered from the cheater",
            frame.frame
        );
    }
    let verdicts: Vec<Value> = get(app, &format!("/api/v1/jobs/{job}/verdicts")).await;
    assert!(
        verdicts.iter().any(|v| v["verdict"] == "mismatch"),
        "{verdicts:?}"
    );
    let report: CostReport = get(app, &format!("/api/v1/jobs/{job}/report")).await;
    assert_report_adds_up(&report, frames);
    assert!(report.totals.verification_overhead_micros > Money::ZERO);
    let payouts: Vec<Payout> = get(app, "/api/v1/payouts").await;
    let unpaid = payouts
        .iter()
        .find(|p| p.worker_id == cheater_id)
        .expect("the cheater delivered frames");
    assert_eq!(unpaid.earned_micros, Money::ZERO, "{unpaid:?}");
    assert_eq!(unpaid.held_micros, Money::ZERO, "{unpaid:?}");
    assert_eq!(unpaid.frames_wrong, unpaid.frames_delivered);
    stored_report(app, job).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampering_worker_is_caught_blocklisted_and_paid_nothing() {
    let Some((vhost, s3, dir)) = real_services().await else {
        return;
    };
    let (queue, store) = (vhost.queue_config(), s3.store_config());
    let app = TestApp::start(test_config(dir.path(), queue.clone(), store.clone())).await;
    let cheat = ["--tamper", "patch", "--i-am-a-test-cheater"];
    let workers = [
        WorkerProcess::spawn(&app, "honest-a", dir.path()).await,
        WorkerProcess::spawn_with_args(&app, "cheater", dir.path(), &cheat).await,
        WorkerProcess::spawn(&app, "honest-b", dir.path()).await,
    ];
    // The default parity rate: every worker is new, so all its frames are
    // replicated until it has a verified streak.
    let job = submit(&app, "1-8", 5.0).await;
    assert_cheater_caught(&app, job, 8).await;
    for worker in workers {
        assert!(worker.terminate().await.success());
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_coordinator_keeps_strikes_verdicts_and_money() {
    let Some((vhost, s3, dir)) = real_services().await else {
        return;
    };
    let (queue, store) = (vhost.queue_config(), s3.store_config());
    let config = test_config(dir.path(), queue.clone(), store.clone());
    let app = TestApp::start(config.clone()).await;
    let cheat = ["--tamper", "brightness", "--i-am-a-test-cheater"];
    let workers = [
        WorkerProcess::spawn(&app, "honest-a", dir.path()).await,
        WorkerProcess::spawn_with_args(&app, "cheater", dir.path(), &cheat).await,
        WorkerProcess::spawn(&app, "honest-b", dir.path()).await,
    ];
    let job = submit(&app, "1-8", 100.0).await;
    // Stop once the first verdicts are in.
    let deadline = Instant::now() + Duration::from_secs(300);
    let verdicts_before = loop {
        let verdicts: Vec<Value> = get(&app, &format!("/api/v1/jobs/{job}/verdicts")).await;
        if verdicts.len() >= 2 {
            break verdicts;
        }
        assert!(Instant::now() < deadline, "no verdicts in time");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    app.stop().await;
    let app = TestApp::start(config.clone()).await;
    let verdicts_after: Vec<Value> = get(&app, &format!("/api/v1/jobs/{job}/verdicts")).await;
    for verdict in &verdicts_before {
        assert!(verdicts_after.contains(verdict), "verdict kept: {verdict}");
    }
    assert_cheater_caught(&app, job, 8).await;
    let report: CostReport = get(&app, &format!("/api/v1/jobs/{job}/report")).await;
    let payouts: Vec<Payout> = get(&app, "/api/v1/payouts").await;
    let delivered: u64 = payouts.iter().map(|p| p.frames_delivered).sum();
    let copies: u32 = report.frames.iter().map(|f| f.copies).sum();
    assert_eq!(delivered, u64::from(copies), "every copy counted once");

    // A second restart changes no amount.
    app.stop().await;
    let app = TestApp::start(config).await;
    let again: CostReport = get(&app, &format!("/api/v1/jobs/{job}/report")).await;
    assert_eq!(again.totals, report.totals);
    let payouts_again: Vec<Payout> = get(&app, "/api/v1/payouts").await;
    assert_eq!(payouts_again, payouts);
    for worker in workers {
        assert!(worker.terminate().await.success());
    }
    app.stop().await;
}
