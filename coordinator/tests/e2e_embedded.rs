//! End to end on one machine: the embedded queue, a local-folder store, two
//! in-process workers running real Blender on the sample scene.

mod support;

use std::time::Duration;

use coordinator::state::{FrameState, JobState};
use serde_json::json;
use support::app::local_config;
use support::{TestApp, blender_ready, sample_scene};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_render_every_frame_into_the_local_store() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let workers: Vec<_> = (1..=2)
        .map(|n| app.spawn_in_process_worker(&format!("embedded-{n}"), dir.path()))
        .collect();

    let hash = app.upload(&sample_scene()).await;
    let job = app
        .submit(json!({
            "scene": hash, "renderer": "blender", "frames": "1-6", "chunk_size": 2,
            "overrides": {"resolution": [64, 36]}, "output": {"depth": "float"}
        }))
        .await;
    let done = app.wait_final(job.id, Duration::from_secs(300)).await;
    assert_eq!(done.job.state, JobState::Done, "{done:?}");
    assert_eq!(done.job.progress.done, 6);

    let workers_used: std::collections::HashSet<_> =
        done.frame_list.iter().filter_map(|f| f.worker_id).collect();
    assert_eq!(workers_used.len(), 2, "both workers rendered");
    for frame in &done.frame_list {
        assert_eq!(frame.state, FrameState::Done);
        assert_eq!(
            frame.download.as_deref(),
            Some(format!("/api/v1/jobs/{}/frames/{}/download", job.id, frame.frame).as_str())
        );
        let bytes = app.download(job.id, frame.frame).await;
        let image = frame_diff::read_image_bytes(&bytes, std::path::Path::new("f.exr"))
            .expect("the EXR decodes");
        assert_eq!((image.width, image.height), (64, 36));
        assert_eq!(image.non_finite_count(), 0);
        assert_eq!(
            Some(image.pixel_hash().to_hex().to_string()),
            frame.pixel_hash
        );
    }
    let workers_seen = app.workers().await;
    assert_eq!(workers_seen.len(), 2);
    assert!(
        workers_seen
            .iter()
            .all(|w| w["renderers"][0]["renderer"] == "blender")
    );

    app.stop().await;
    for worker in workers {
        worker.await.unwrap().expect("worker exits cleanly");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_and_cancel_reach_the_workers() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let worker = app.spawn_in_process_worker("controlled", dir.path());
    let hash = app.upload(&sample_scene()).await;

    let job = app
        .submit(
            json!({"scene": hash, "renderer": "blender", "frames": "1-8", "chunk_size": 1,
                       "overrides": {"resolution": [64, 36]}}),
        )
        .await;
    app.wait_for(job.id, Duration::from_secs(120), |j| {
        j.job.progress.done >= 1
    })
    .await;
    assert_eq!(app.control(job.id, "pause").await.status(), 200);
    // The frame in flight may finish; after that nothing of the job starts.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let paused = app.job(job.id).await;
    assert_eq!(paused.job.state, JobState::Paused);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let still = app.job(job.id).await;
    assert_eq!(
        still.job.progress.done, paused.job.progress.done,
        "no frame rendered while paused"
    );
    assert!(still.job.progress.done < 8);
    assert_eq!(app.control(job.id, "resume").await.status(), 200);
    let done = app.wait_final(job.id, Duration::from_secs(300)).await;
    assert_eq!(done.job.state, JobState::Done);
    assert_eq!(done.job.progress.done, 8);

    let doomed = app
        .submit(
            json!({"scene": hash, "renderer": "blender", "frames": "1-4", "chunk_size": 4,
                       "overrides": {"resolution": [320, 180], "samples": 64}}),
        )
        .await;
    app.wait_rendering(doomed.id).await;
    assert_eq!(app.control(doomed.id, "cancel").await.status(), 200);
    let at_cancel = app.job(doomed.id).await;
    assert_eq!(at_cancel.job.state, JobState::Cancelled);
    assert!(
        at_cancel
            .frame_list
            .iter()
            .any(|f| f.state == FrameState::Cancelled)
    );
    assert_eq!(app.control(doomed.id, "cancel").await.status(), 409);

    // The worker dropped the cancelled render and takes new work.
    let after = app
        .submit(json!({"scene": hash, "renderer": "blender", "frames": "1", "overrides": {"resolution": [64, 36]}}))
        .await;
    let after = app.wait_final(after.id, Duration::from_secs(120)).await;
    assert_eq!(after.job.state, JobState::Done);
    let cancelled = app.job(doomed.id).await;
    assert_eq!(cancelled.job.state, JobState::Cancelled);
    let states = |job: &coordinator::model::JobDetail| {
        job.frame_list.iter().map(|f| f.state).collect::<Vec<_>>()
    };
    assert_eq!(
        states(&cancelled),
        states(&at_cancel),
        "results of the abandoned render did not revive the cancelled job"
    );

    app.stop().await;
    worker.await.unwrap().expect("worker exits cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scene_that_fails_on_every_worker_fails_its_frames_with_their_errors() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.watchdog.max_failures = 2;
    let app = TestApp::start(config).await;
    let workers: Vec<_> = (1..=2)
        .map(|n| app.spawn_in_process_worker(&format!("doomed-{n}"), dir.path()))
        .collect();
    let corrupt = dir.path().join("corrupt.blend");
    std::fs::write(&corrupt, b"BLENDER-v304 this is not a scene").unwrap();
    let hash = app.upload(&corrupt).await;
    let job = app
        .submit(json!({"scene": hash, "renderer": "blender", "frames": "1-2", "chunk_size": 2}))
        .await;
    let failed = app.wait_final(job.id, Duration::from_secs(120)).await;
    assert_eq!(failed.job.state, JobState::Failed);
    for frame in &failed.frame_list {
        assert_eq!(frame.state, FrameState::Failed);
        let error = frame.error.as_deref().expect("collected errors");
        assert!(
            error.lines().count() >= 2,
            "a line per failed attempt: {error}"
        );
        assert!(
            error.contains("doomed-"),
            "errors name the workers: {error}"
        );
    }

    let requeued = app.control(job.id, "requeue").await;
    assert_eq!(requeued.status(), 200);
    let body: serde_json::Value = requeued.json().await.unwrap();
    assert_eq!(body["requeued_frames"], 2);
    let again = app.wait_final(job.id, Duration::from_secs(120)).await;
    assert_eq!(
        again.job.state,
        JobState::Failed,
        "still broken after a requeue"
    );

    app.stop().await;
    for worker in workers {
        worker.await.unwrap().expect("worker exits cleanly");
    }
}
