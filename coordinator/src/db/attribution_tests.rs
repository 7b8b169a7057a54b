//! Events from workers that lie about who they are or what they hold:
//! each is refused, counted against its sender, and changes nothing else.

use protocol::{Control, Heartbeat, WorkerEvent, WorkerId};

use super::tests::{failed, frame_done, job, started, worker};
use super::{Db, Policy, Sender};
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
fn send(db: &Db, event: &WorkerEvent, sender: WorkerId) -> super::Followup {
    db.apply_event(event, Sender::worker(sender), &Policy::default())
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
    let (_, tasks) = job(&db);
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
    done.object_key = storage::render_key(done.job_id, 1, 0, honest).to_string();
    send(&db, &WorkerEvent::FrameDone(done), echo);
    assert_eq!(results(&db), 0);
    assert_eq!(refused(&db, echo), 1);
}
