//! End to end on real RabbitMQ and a real S3-compatible server (moto), with
//! worker processes running real Blender: the happy path, a worker killed
//! with SIGKILL mid-render, and a coordinator restarted mid-job.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use coordinator::model::JobDetail;
use coordinator::state::{FrameState, JobState};
use serde_json::json;
use support::app::{SIGCONT, SIGSTOP, WorkerProcess, test_config};
use support::{TestApp, real_services, sample_scene};

/// Every frame done, exactly one result each, every EXR in the bucket decodes
/// at the requested size.
async fn assert_all_frames_stored(app: &TestApp, job: &JobDetail, frames: usize, size: (u32, u32)) {
    assert_eq!(job.job.state, JobState::Done, "{job:?}");
    assert_eq!(job.frame_list.len(), frames);
    let numbers: HashSet<_> = job.frame_list.iter().map(|f| f.frame).collect();
    assert_eq!(numbers.len(), frames, "every frame exactly once");
    let scratch = tempfile::tempdir().unwrap();
    for frame in &job.frame_list {
        assert_eq!(frame.state, FrameState::Done);
        // Downloaded as the submitter does, through a presigned link.
        let bytes = app.download(job.job.id, frame.frame).await;
        let path = scratch.path().join(format!("{}.exr", frame.frame));
        std::fs::write(&path, &bytes).unwrap();
        let image = frame_diff::read_image(&path).expect("the EXR decodes");
        assert_eq!((image.width, image.height), size, "frame {}", frame.frame);
        assert_eq!(
            Some(image.pixel_hash().to_hex().to_string()),
            frame.pixel_hash
        );
    }
    let listed = object_store::ObjectStore::list(
        &*app.store,
        Some(&format!("renders/{}", job.job.id).as_str().into()),
    );
    let listed: Vec<_> = futures::StreamExt::collect::<Vec<_>>(listed).await;
    assert!(listed.len() >= frames, "every frame's EXR is in the bucket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_render_every_frame_into_s3() {
    let Some((vhost, s3, dir)) = real_services().await else {
        return;
    };
    let (queue, store) = (vhost.queue_config(), s3.store_config());
    let app = TestApp::start(test_config(dir.path(), queue.clone(), store.clone())).await;
    let workers = [
        WorkerProcess::spawn(&app, "rabbit-1", dir.path()).await,
        WorkerProcess::spawn(&app, "rabbit-2", dir.path()).await,
    ];
    let hash = app.upload(&sample_scene()).await;
    let job = app
        .submit(
            json!({"scene": hash, "renderer": "blender", "frames": "1-8", "chunk_size": 2,
                       "overrides": {"resolution": [80, 45]}}),
        )
        .await;
    let done = app.wait_final(job.id, Duration::from_secs(300)).await;
    assert_all_frames_stored(&app, &done, 8, (80, 45)).await;
    let used: HashSet<_> = done.frame_list.iter().filter_map(|f| f.worker_id).collect();
    assert_eq!(used.len(), 2, "both worker processes rendered");
    for worker in workers {
        assert!(
            worker.terminate().await.success(),
            "worker exits 0 on SIGTERM"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_render_loses_no_frame() {
    let Some((vhost, s3, dir)) = real_services().await else {
        return;
    };
    let (queue, store) = (vhost.queue_config(), s3.store_config());
    let app = TestApp::start(test_config(dir.path(), queue.clone(), store.clone())).await;
    let mut victim = WorkerProcess::spawn(&app, "victim", dir.path()).await;
    let hash = app.upload(&sample_scene()).await;
    // Long chunks at a larger size so the kill lands mid-render.
    let job = app
        .submit(
            json!({"scene": hash, "renderer": "blender", "frames": "1-6", "chunk_size": 3,
                       "overrides": {"resolution": [320, 180], "samples": 32}}),
        )
        .await;
    app.wait_rendering(job.id).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    victim.kill9().await;
    let survivor = WorkerProcess::spawn(&app, "survivor", dir.path()).await;
    let done = app.wait_final(job.id, Duration::from_secs(300)).await;
    assert_all_frames_stored(&app, &done, 6, (320, 180)).await;
    assert!(survivor.terminate().await.success());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_coordinator_finishes_the_job_from_its_database() {
    let Some((vhost, s3, dir)) = real_services().await else {
        return;
    };
    let (queue, store) = (vhost.queue_config(), s3.store_config());
    let config = test_config(dir.path(), queue.clone(), store.clone());
    let app = TestApp::start(config.clone()).await;
    let workers = [
        WorkerProcess::spawn(&app, "steady-1", dir.path()).await,
        WorkerProcess::spawn(&app, "steady-2", dir.path()).await,
    ];
    let hash = app.upload(&sample_scene()).await;
    let job = app
        .submit(
            json!({"scene": hash, "renderer": "blender", "frames": "1-10", "chunk_size": 1,
                       "overrides": {"resolution": [96, 54]}}),
        )
        .await;
    app.wait_for(job.id, Duration::from_secs(120), |job| {
        job.job.progress.done >= 2
    })
    .await;
    app.stop().await;

    // Workers go on rendering; their results wait in the durable results queue.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let app = TestApp::start(config).await;
    let done = app.wait_final(job.id, Duration::from_secs(300)).await;
    assert_all_frames_stored(&app, &done, 10, (96, 54)).await;
    for worker in workers {
        assert!(worker.terminate().await.success());
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_worker_is_detected_and_its_task_rendered_elsewhere() {
    let Some((vhost, s3, dir)) = real_services().await else {
        return;
    };
    let (queue, store) = (vhost.queue_config(), s3.store_config());
    let app = TestApp::start(test_config(dir.path(), queue.clone(), store.clone())).await;
    let hung = WorkerProcess::spawn(&app, "hung", dir.path()).await;
    let hash = app.upload(&sample_scene()).await;
    let job = app
        .submit(
            json!({"scene": hash, "renderer": "blender", "frames": "1-4", "chunk_size": 4,
                       "overrides": {"resolution": [320, 180], "samples": 32}}),
        )
        .await;
    app.wait_rendering(job.id).await;
    // Stopped, not killed: its connection stays open and its delivery stays
    // unacknowledged, so only the watchdog can notice.
    hung.signal(SIGSTOP);
    let helper = WorkerProcess::spawn(&app, "helper", dir.path()).await;
    let done = app.wait_final(job.id, Duration::from_secs(300)).await;
    assert_all_frames_stored(&app, &done, 4, (320, 180)).await;
    let workers = app.workers().await;
    let hung_view = workers
        .iter()
        .find(|w| w["name"] == "hung")
        .expect("hung worker listed");
    assert_eq!(hung_view["state"], "lost", "{hung_view}");
    hung.signal(SIGCONT);
    assert!(helper.terminate().await.success());
    assert!(hung.terminate().await.success());
    app.stop().await;
}
