//! Events from workers that lie about who they are or what they hold:
//! each is refused, counted against its sender, and changes nothing else.

use protocol::{Control, GrantObject, GrantRequest, Heartbeat, WorkerEvent, WorkerId};

use super::tests::{failed, frame_done, job, job_with, started, worker};
use super::{Db, JobOptions, Policy, QueuedTask, Sender};
use crate::state::{FrameState, JobState, TaskState};

/// The refusals counted against `worker`.
fn refused(db: &Db, worker: WorkerId) -> u32 {
    db.lock()
        .query_row(
            "SELECT refused_events FROM workers WHERE id = ?1",
            [worker.to_string()],
            |r| r.get(0),
        )
        .unwrap()
}

/// Apply `event` as published by `sender`.
/// A `FrameDone` with an empty `object_key` names the key the attempt it
/// names was granted.
fn send(db: &Db, event: &WorkerEvent, sender: WorkerId) -> super::Followup {
    let event = db.with_issued_key(event).unwrap();
    db.apply_event(&event, Sender::worker(sender), &Policy::default())
        .unwrap()
}

/// Results stored for a job.
fn results(db: &Db) -> u32 {
    db.lock()
        .query_row("SELECT COUNT(*) FROM results", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn an_event_without_an_authenticated_sender_changes_nothing() {
    let db = Db::in_memory().unwrap();
    let honest = worker(&db, "honest");
    let (_, tasks) = job(&db);
    let start = WorkerEvent::TaskStarted {
        task_id: tasks[0].message.task_id,
        attempt: 1,
        worker: honest,
        redelivered: false,
    };
    let anonymous = Sender {
        worker: None,
        redelivered: false,
    };
    db.apply_event(&start, anonymous, &Policy::default())
        .unwrap();
    let unknown = Sender::from_transport(Some("guest"), false);
    db.apply_event(&start, unknown, &Policy::default()).unwrap();
    assert_eq!(
        db.job_detail(tasks[0].message.job_id)
            .unwrap()
            .tasks
            .running,
        0
    );
}

#[test]
fn a_worker_cannot_speak_for_another() {
    let db = Db::in_memory().unwrap();
    let honest = worker(&db, "honest");
    let hostile = worker(&db, "hostile");
    let (id, tasks) = job(&db);
    started(&db, &tasks[0], honest);
    for event in [
        frame_done(&tasks[0], honest, 1),
        failed(&tasks[0], honest, 1),
        WorkerEvent::Leaving { worker: honest },
        WorkerEvent::Heartbeat(Heartbeat {
            worker: honest,
            task_id: None,
            attempt: None,
            frame: None,
            progress: None,
            sent_at_ms: 0,
        }),
    ] {
        send(&db, &event, hostile);
    }
    assert_eq!(refused(&db, hostile), 4);
    assert_eq!(refused(&db, honest), 0);
    assert_eq!(results(&db), 0);
    let detail = db.job_detail(id).unwrap();
    assert_eq!(detail.tasks.running, 1, "the honest worker still holds it");
    let views = db.list_workers().unwrap();
    let honest_view = views.iter().find(|w| w.info.id == honest).unwrap();
    assert_eq!(honest_view.state, crate::state::WorkerState::Online);
}

#[test]
fn only_the_holder_of_a_live_attempt_reports_on_it() {
    let db = Db::in_memory().unwrap();
    let honest = worker(&db, "honest");
    let hostile = worker(&db, "hostile");
    let (id, tasks) = job(&db);
    started(&db, &tasks[0], honest);
    // Fails the honest worker's task three times, in its own name.
    for _ in 0..3 {
        send(&db, &failed(&tasks[0], hostile, 1), hostile);
    }
    send(&db, &frame_done(&tasks[0], hostile, 1), hostile);
    assert_eq!(refused(&db, hostile), 4);
    let detail = db.job_detail(id).unwrap();
    assert_eq!(detail.job.state, JobState::Running);
    assert!(
        detail
            .frame_list
            .iter()
            .all(|f| f.state != FrameState::Failed)
    );
    assert_eq!(results(&db), 0);

    // Taking the running task over, claiming the queue redelivered it.
    let hijack = WorkerEvent::TaskStarted {
        task_id: tasks[0].message.task_id,
        attempt: 1,
        worker: hostile,
        redelivered: true,
    };
    let followup = send(&db, &hijack, hostile);
    assert_eq!(
        followup.controls,
        vec![(
            hostile,
            Control::AbandonTask {
                task_id: tasks[0].message.task_id,
                attempt: 1
            }
        )]
    );
    assert_eq!(refused(&db, hostile), 5);
    started(&db, &tasks[0], honest);
    for frame in [1, 2] {
        send(&db, &frame_done(&tasks[0], honest, frame), honest);
    }
    assert_eq!(results(&db), 2);
    assert_eq!(refused(&db, honest), 0);
}

#[test]
fn a_replayed_or_late_result_is_refused() {
    let db = Db::in_memory().unwrap();
    let w = worker(&db, "w");
    let (_, tasks) = job(&db);
    started(&db, &tasks[0], w);
    let first = frame_done(&tasks[0], w, 1);
    send(&db, &first, w);
    send(&db, &first, w);
    assert_eq!(refused(&db, w), 1, "the replay");
    send(&db, &frame_done(&tasks[0], w, 2), w);
    let done = WorkerEvent::TaskDone {
        task_id: tasks[0].message.task_id,
        attempt: 1,
        worker: w,
    };
    send(&db, &done, w);
    send(&db, &first, w);
    assert_eq!(refused(&db, w), 2, "a result after the attempt ended");
    // The queue redelivering the coordinator's own unacknowledged event is
    // not the worker's doing.
    db.apply_event(
        &first,
        Sender {
            worker: Some(w),
            redelivered: true,
        },
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(refused(&db, w), 2);
    assert_eq!(results(&db), 2);
    let state: TaskState = db
        .lock()
        .query_row(
            "SELECT state FROM tasks WHERE id = ?1",
            [tasks[0].message.task_id.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(state, TaskState::Done);
}

#[test]
fn a_worker_that_never_enrolled_is_not_heard() {
    let db = Db::in_memory().unwrap();
    let stranger = WorkerId::new();
    let announce = WorkerEvent::Announce(super::tests::info(stranger, "stranger"));
    send(&db, &announce, stranger);
    assert!(db.list_workers().unwrap().is_empty());
}

/// The billed milliseconds and class of a job's only result.
fn billed(db: &Db) -> (i64, i64, String) {
    db.lock()
        .query_row(
            "SELECT render_ms, reported_ms, device_class FROM results",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

/// `worker` announces itself with an RTX 4090.
fn announce_rtx4090(db: &Db, worker: WorkerId, name: &str) {
    let mut info = super::tests::info(worker, name);
    info.gpus = vec![protocol::GpuInfo {
        name: "NVIDIA GeForce RTX 4090".into(),
        vendor: "nvidia".into(),
        backend: "cuda".into(),
        memory_mib: 24_576,
        uuid: None,
        compute_capability: None,
        driver_version: None,
    }];
    send(db, &WorkerEvent::Announce(info), worker);
}

#[test]
fn billing_believes_the_clock_and_the_grant_not_the_worker() {
    let db = Db::in_memory().unwrap();
    let w = worker(&db, "boaster");
    announce_rtx4090(&db, w, "boaster");
    let (_, tasks) = job(&db);
    started(&db, &tasks[0], w);
    let WorkerEvent::FrameDone(mut done) = frame_done(&tasks[0], w, 1) else {
        unreachable!()
    };
    done.render_seconds = 3600.0;
    done.device = protocol::RenderDevice::Gpu;
    let before = protocol::now_ms();
    send(&db, &WorkerEvent::FrameDone(done), w);
    let (render_ms, reported_ms, class) = billed(&db);
    assert_eq!(
        reported_ms, 3_600_000,
        "what it claimed is kept, not billed"
    );
    assert!(
        render_ms <= protocol::now_ms() - before + 1_000,
        "billed {render_ms} ms: at most what the coordinator saw"
    );
    assert_eq!(class, "cpu", "its enrollment grants no GPU class");
}

#[test]
fn a_render_on_the_cpu_is_billed_as_cpu_even_on_a_granted_gpu() {
    let db = Db::in_memory().unwrap();
    let w = worker(&db, "gpu-box");
    db.lock()
        .execute(
            "UPDATE workers SET device_classes = '[\"cpu\",\"rtx4090\"]' WHERE id = ?1",
            [w.to_string()],
        )
        .unwrap();
    announce_rtx4090(&db, w, "gpu-box");
    // A job that did not ask for a GPU is billed as CPU whatever is said.
    let (_, plain) = job(&db);
    started(&db, &plain[0], w);
    let WorkerEvent::FrameDone(mut done) = frame_done(&plain[0], w, 1) else {
        unreachable!()
    };
    done.device = protocol::RenderDevice::Gpu;
    send(&db, &WorkerEvent::FrameDone(done), w);
    assert_eq!(billed(&db).2, "cpu", "the job asked for no GPU");
    db.lock().execute("DELETE FROM results", []).unwrap();
    let gpu_job = JobOptions {
        placement: crate::placement::Placement {
            gpu_model: Some("rtx4090".into()),
            ..Default::default()
        },
        ..JobOptions::default()
    };
    let (_, none) = job_with(&db, gpu_job);
    assert!(none.is_empty(), "routed: not on the shared queue");
    db.place_routed_tasks().unwrap();
    let tasks = db.take_pending(10).unwrap();
    assert_eq!(tasks[0].message.device, protocol::RenderDevice::Gpu);
    assert_eq!(tasks[0].target, Some(w));
    started(&db, &tasks[0], w);
    let WorkerEvent::FrameDone(mut done) = frame_done(&tasks[0], w, 1) else {
        unreachable!()
    };
    done.device = protocol::RenderDevice::Cpu;
    send(&db, &WorkerEvent::FrameDone(done), w);
    assert_eq!(billed(&db).2, "cpu");
    let WorkerEvent::FrameDone(mut done) = frame_done(&tasks[0], w, 2) else {
        unreachable!()
    };
    done.device = protocol::RenderDevice::Gpu;
    done.render_seconds = f64::NAN;
    send(&db, &WorkerEvent::FrameDone(done), w);
    let gpu: (String, i64) = db
        .lock()
        .query_row(
            "SELECT device_class, reported_ms FROM results WHERE frame = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        gpu,
        ("rtx4090".to_owned(), 0),
        "granted, used; NaN counts as nothing"
    );
}

#[test]
fn a_result_reported_at_another_key_is_refused() {
    let db = Db::in_memory().unwrap();
    let honest = worker(&db, "honest");
    let echo = worker(&db, "echo");
    let (_, tasks) = job(&db);
    started(&db, &tasks[0], echo);
    let WorkerEvent::FrameDone(mut done) = frame_done(&tasks[0], echo, 1) else {
        unreachable!()
    };
    // Where another worker's copy used to be, and a guessed upload key.
    for guess in [
        format!("renders/{}/1/0-{honest}.exr", done.job_id),
        format!("uploads/{}/1/{}-0.exr", done.job_id, "0".repeat(32)),
    ] {
        done.object_key = guess;
        send(&db, &WorkerEvent::FrameDone(done.clone()), echo);
    }
    assert_eq!(results(&db), 0);
    assert_eq!(refused(&db, echo), 2);
}

/// Ask for a grant as `sender`.
fn ask(db: &Db, task: &QueuedTask, object: GrantObject, sender: WorkerId) -> super::Followup {
    let request = GrantRequest {
        task_id: task.message.task_id,
        attempt: task.message.attempt,
        worker: sender,
        object,
    };
    send(db, &WorkerEvent::GrantRequest(request), sender)
}

#[test]
fn grants_go_only_to_the_holder_for_its_own_frames() {
    let db = Db::in_memory().unwrap();
    let holder = worker(&db, "holder");
    let other = worker(&db, "other");
    let (job_id, tasks) = job(&db);
    let task = &tasks[0];
    started(&db, task, holder);

    let scene = ask(&db, task, GrantObject::Scene, holder);
    assert_eq!(scene.grants.len(), 1);
    assert_eq!(scene.grants[0].access, storage::Access::Read);
    assert!(
        scene.grants[0].key.starts_with("scenes/"),
        "{:?}",
        scene.grants[0]
    );

    let frame = ask(&db, task, GrantObject::Frame { frame: 1 }, holder);
    let key = &frame.grants[0].key;
    assert_eq!(frame.grants[0].access, storage::Access::Write);
    assert!(key.starts_with(&format!("uploads/{job_id}/1/")), "{key}");
    assert_eq!(
        ask(&db, task, GrantObject::Frame { frame: 1 }, holder).grants[0].key,
        *key,
        "one key per attempt and frame"
    );

    // Not the holder; not one of the task's frames.
    for (object, sender) in [
        (GrantObject::Frame { frame: 1 }, other),
        (GrantObject::Scene, other),
        (GrantObject::Frame { frame: 999 }, holder),
    ] {
        let answer = ask(&db, task, object.clone(), sender);
        assert!(answer.grants.is_empty(), "{object:?} for {sender}");
        assert!(
            matches!(&answer.controls[..], [(to, Control::GrantRefused(refused))]
                if *to == sender && refused.object == object),
            "{:?}",
            answer.controls
        );
    }
    assert_eq!(refused(&db, other), 2);
    assert_eq!(refused(&db, holder), 1);

    // Delivered: no second grant to write it again.
    send(&db, &frame_done(task, holder, 1), holder);
    assert!(
        ask(&db, task, GrantObject::Frame { frame: 1 }, holder)
            .grants
            .is_empty()
    );
    assert_eq!(refused(&db, holder), 2);
}

#[test]
fn a_new_attempt_gets_new_keys() {
    let db = Db::in_memory().unwrap();
    let w = worker(&db, "w");
    let (_, tasks) = job(&db);
    let mut task = tasks[0].clone();
    started(&db, &task, w);
    let first = ask(&db, &task, GrantObject::Frame { frame: 1 }, w).grants[0]
        .key
        .clone();
    send(&db, &failed(&task, w, 1), w);
    task = db
        .take_pending(100)
        .unwrap()
        .into_iter()
        .find(|t| t.message.task_id == task.message.task_id)
        .expect("the failed task is pending again");
    started(&db, &task, w);
    let second = ask(&db, &task, GrantObject::Frame { frame: 1 }, w).grants[0]
        .key
        .clone();
    assert_ne!(first, second);
}

#[test]
fn blob_grants_only_for_the_tasks_own_bundle() {
    let db = Db::in_memory().unwrap();
    let holder = worker(&db, "holder");
    let other = worker(&db, "other");
    let hash = |byte: u8| protocol::SceneHash::from_blake3(blake3::hash(&[byte]).as_bytes());
    let file = |path: &str, byte: u8| crate::bundle::ManifestFile {
        path: path.into(),
        hash: hash(byte),
        bytes: 1,
    };
    for byte in [1, 2, 3] {
        db.record_blob(&hash(byte), 1, None).unwrap();
    }
    let manifest = crate::bundle::Manifest {
        main: "shot.blend".into(),
        files: vec![file("shot.blend", 1), file("textures/wood.png", 2)],
    };
    let bundle = crate::bundle::check(
        &manifest,
        &crate::bundle::BundleLimits {
            max_files: 10,
            max_file_bytes: 10,
            max_bundle_bytes: 10,
        },
    )
    .unwrap();
    let (_, tasks) = job_with(
        &db,
        JobOptions {
            bundle: Some(bundle.clone()),
            ..JobOptions::default()
        },
    );
    let task = &tasks[0];
    assert_eq!(task.message.bundle.as_ref(), Some(&bundle.manifest));
    started(&db, task, holder);

    let texture = GrantObject::Blob { hash: hash(2) };
    let granted = ask(&db, task, texture.clone(), holder);
    assert_eq!(granted.grants.len(), 1);
    assert_eq!(
        granted.grants[0].key,
        storage::blob_key(&hash(2)).to_string()
    );
    assert_eq!(granted.grants[0].access, storage::Access::Read);

    // Another tenant's blob (stored, but not in this bundle), and the
    // bundle's blob asked for by a worker that does not hold the task.
    for (object, sender) in [
        (GrantObject::Blob { hash: hash(3) }, holder),
        (texture, other),
    ] {
        let answer = ask(&db, task, object.clone(), sender);
        assert!(answer.grants.is_empty(), "{object:?} for {sender}");
        assert!(
            matches!(&answer.controls[..], [(to, Control::GrantRefused(refused))]
                if *to == sender && refused.object == object),
            "{:?}",
            answer.controls
        );
    }
    assert_eq!(refused(&db, holder), 1);
    assert_eq!(refused(&db, other), 1);
}

#[test]
fn a_job_created_paused_dispatches_nothing_until_resumed() {
    let db = Db::in_memory().unwrap();
    let (id, tasks) = job_with(
        &db,
        JobOptions {
            paused: true,
            ..JobOptions::default()
        },
    );
    assert!(tasks.is_empty());
    assert_eq!(db.job_detail(id).unwrap().job.state, JobState::Paused);
    db.resume_job(id).unwrap();
    assert_eq!(db.take_pending(100).unwrap().len(), 2);
}
