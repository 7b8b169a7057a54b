//! The real worker loop rendering the sample scene with real Blender.

mod common;

use common::Farm;
use object_store::ObjectStoreExt;
use protocol::{ExrDepth, FrameDone, Overrides, WorkerEvent};

/// Download a delivered frame and decode it.
async fn fetch_frame(farm: &Farm, done: &FrameDone) -> frame_diff::FrameImage {
    let bytes = farm
        .store
        .get(&done.object_key.as_str().into())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.len() as u64, done.bytes);
    let path = farm.dir.path().join(format!("check-{}.exr", done.frame));
    std::fs::write(&path, &bytes).unwrap();
    frame_diff::read_image(&path).unwrap()
}

fn frames_done(events: &[WorkerEvent]) -> Vec<FrameDone> {
    events
        .iter()
        .filter_map(|event| match event {
            WorkerEvent::FrameDone(done) => Some(done.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renders_chunks_and_delivers_every_frame_in_order() {
    let Some(mut farm) = Farm::start(30).await else {
        return;
    };
    let scene = farm.sample_scene().await;

    // A contiguous chunk at the scene's own settings.
    let chunk = farm.task(&scene, &[1, 2, 3]);
    farm.publish(&chunk).await;
    let events = farm.events_until_settled().await;
    assert!(
        matches!(&events[0], WorkerEvent::TaskStarted { task_id, redelivered: false, worker, .. }
            if *task_id == chunk.task_id && *worker == farm.worker),
        "{events:?}"
    );
    assert!(
        matches!(events.last(), Some(WorkerEvent::TaskDone { task_id, attempt: 1, .. }) if *task_id == chunk.task_id),
        "{events:?}"
    );
    let done = frames_done(&events);
    assert_eq!(done.iter().map(|d| d.frame).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(
        events.len(),
        5,
        "TaskStarted, 3 FrameDone, TaskDone: {events:?}"
    );
    for frame in &done {
        assert!(
            frame
                .object_key
                .starts_with(&format!("uploads/{}/{}/", chunk.job_id, frame.frame)),
            "at the key it was granted: {}",
            frame.object_key
        );
        assert_eq!((frame.width, frame.height), (160, 90));
        assert!(
            frame.render_seconds > 0.0 && frame.render_seconds < 60.0,
            "{frame:?}"
        );
        let image = fetch_frame(&farm, frame).await;
        assert_eq!((image.width, image.height), (160, 90));
        assert_eq!(image.non_finite_count(), 0);
        assert_eq!(image.pixel_hash().to_hex().to_string(), frame.pixel_hash);
    }
    assert_ne!(
        done[0].pixel_hash, done[1].pixel_hash,
        "the camera moves between frames"
    );

    // An arbitrary frame list with overrides and float output, as a parity replica.
    let mut replica = farm.task(&scene, &[5, 2]);
    replica.replica = 1;
    replica.output.depth = ExrDepth::Float;
    replica.overrides = Overrides {
        resolution: Some([64, 36]),
        samples: Some(4),
    };
    farm.publish(&replica).await;
    let events = farm.events_until_settled().await;
    assert!(
        matches!(events.last(), Some(WorkerEvent::TaskDone { .. })),
        "{events:?}"
    );
    let done = frames_done(&events);
    assert_eq!(done.iter().map(|d| d.frame).collect::<Vec<_>>(), [5, 2]);
    for frame in &done {
        assert_eq!(frame.replica, 1);
        assert!(
            frame
                .object_key
                .starts_with(&format!("uploads/{}/{}/", replica.job_id, frame.frame))
                && frame.object_key.ends_with("-1.exr"),
            "the replica's own upload key: {}",
            frame.object_key
        );
        let image = fetch_frame(&farm, frame).await;
        assert_eq!((image.width, image.height), (64, 36));
    }

    assert_eq!(
        farm.broker
            .ready_count(&protocol::queues::tasks(protocol::Renderer::Blender))
            .await
            .unwrap(),
        0,
        "both tasks were acknowledged"
    );
    farm.shutdown().await.unwrap();
    assert!(
        matches!(farm.next_event().await, WorkerEvent::Leaving { worker } if worker == farm.worker)
    );
    let leftovers: Vec<_> = std::fs::read_dir(farm.dir.path().join("work/tasks"))
        .unwrap()
        .collect();
    assert!(
        leftovers.is_empty(),
        "task folders are removed: {leftovers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_render_past_its_timeout_fails_and_leaves_no_blender_behind() {
    let Some(mut farm) = Farm::start(30).await else {
        return;
    };
    let scene = farm.sample_scene().await;
    let mut task = farm.task(&scene, &[1, 2, 3]);
    task.overrides.samples = Some(100_000);
    task.timeout_secs = 6;
    let started = std::time::Instant::now();
    farm.publish(&task).await;
    let events = farm.events_until_settled().await;
    let Some(WorkerEvent::TaskFailed(failed)) = events.last() else {
        panic!("expected TaskFailed, got {events:?}");
    };
    assert!(failed.error.contains("timed out"), "{failed:?}");
    assert!(failed.log_tail.contains("Blender"), "{}", failed.log_tail);
    assert!(started.elapsed().as_secs() < 60);
    assert!(
        farm.stray_processes().is_empty(),
        "{:?}",
        farm.stray_processes()
    );
    farm.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_scenes_fail_with_a_reason() {
    let Some(mut farm) = Farm::start(30).await else {
        return;
    };

    // Not a .blend at all: Blender refuses it.
    let corrupt = farm
        .upload_scene(b"BLENDER-v300 this is not really a blend file")
        .await;
    let task = farm.task(&corrupt, &[1]);
    farm.publish(&task).await;
    let events = farm.events_until_settled().await;
    let Some(WorkerEvent::TaskFailed(failed)) = events.last() else {
        panic!("expected TaskFailed, got {events:?}");
    };
    assert!(failed.error.contains("blender"), "{failed:?}");
    assert!(
        failed.log_tail.contains("Blender"),
        "the log tail shows Blender's output: {failed:?}"
    );

    // The stored scene is not the one the task names.
    let scene = farm.sample_scene().await;
    let mut mismatched = scene.clone();
    mismatched.hash = "0".repeat(64).parse().unwrap();
    let bytes = std::fs::read(common::sample_blend()).unwrap();
    farm.store
        .put(&storage::scene_key(&mismatched.hash, "blend"), bytes.into())
        .await
        .unwrap();
    let task = farm.task(&mismatched, &[1]);
    farm.publish(&task).await;
    let events = farm.events_until_settled().await;
    let Some(WorkerEvent::TaskFailed(failed)) = events.last() else {
        panic!("expected TaskFailed, got {events:?}");
    };
    assert!(failed.error.contains("expected blake3"), "{failed:?}");

    // A missing scene.
    let mut missing = scene;
    missing.hash = "1".repeat(64).parse().unwrap();
    farm.publish(&farm.task(&missing, &[1])).await;
    let events = farm.events_until_settled().await;
    assert!(
        matches!(events.last(), Some(WorkerEvent::TaskFailed(_))),
        "{events:?}"
    );

    farm.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_frame_is_delivered_while_blender_renders_the_next() {
    let Some(mut farm) = Farm::start(30).await else {
        return;
    };
    let scene = farm.sample_scene().await;
    let mut task = farm.task(&scene, &[1, 2, 3, 4, 5, 6]);
    // About two seconds per frame at the sample's size.
    task.overrides.samples = Some(100);
    farm.publish(&task).await;
    assert!(matches!(
        farm.next_event().await,
        WorkerEvent::TaskStarted { .. }
    ));
    let WorkerEvent::FrameDone(first) = farm.next_event().await else {
        panic!("expected the first FrameDone");
    };
    assert_eq!(first.frame, 1);
    assert!(
        !farm.stray_processes().is_empty(),
        "blender is still rendering the rest of the chunk when frame 1 is delivered"
    );
    farm.control(&protocol::Control::JobCancelled {
        job_id: task.job_id,
    })
    .await;
    let events = farm.events_until_settled().await;
    assert!(
        matches!(events.last(), Some(WorkerEvent::TaskReturned(returned)) if returned.reason == protocol::ReturnReason::JobCancelled),
        "{events:?}"
    );
    assert!(
        farm.stray_processes().is_empty(),
        "{:?}",
        farm.stray_processes()
    );
    farm.shutdown().await.unwrap();
}

/// Render frames 1 and 2 of the sample scene on `farm` and return the
/// delivered frames, checking each reported hash is the uploaded file's.
async fn render_two_frames(farm: &mut Farm) -> Vec<(FrameDone, frame_diff::FrameImage)> {
    let scene = farm.sample_scene().await;
    let task = farm.task(&scene, &[1, 2]);
    farm.publish(&task).await;
    let events = farm.events_until_settled().await;
    assert!(
        matches!(events.last(), Some(WorkerEvent::TaskDone { .. })),
        "{events:?}"
    );
    let mut frames = Vec::new();
    for done in frames_done(&events) {
        let image = fetch_frame(farm, &done).await;
        assert_eq!(image.pixel_hash().to_hex().to_string(), done.pixel_hash);
        frames.push((done, image));
    }
    farm.shutdown().await.unwrap();
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampering_worker_uploads_frames_that_fail_the_parity_check() {
    let Some(mut honest) = Farm::start(30).await else {
        return;
    };
    let honest = render_two_frames(&mut honest).await;
    let mut cheater = Farm::start_tampering(worker::Tamper::Brightness)
        .await
        .unwrap();
    let tampered = render_two_frames(&mut cheater).await;
    assert_eq!(tampered.len(), 2);
    for ((good, good_image), (bad, bad_image)) in honest.iter().zip(&tampered) {
        assert_eq!(good.frame, bad.frame);
        assert_ne!(good.pixel_hash, bad.pixel_hash);
        let comparison = frame_diff::compare(good_image, bad_image, &Default::default());
        assert_eq!(
            comparison.verdict,
            frame_diff::Verdict::Mismatch,
            "frame {}: {:?}",
            good.frame,
            comparison.reasons
        );
    }
}
