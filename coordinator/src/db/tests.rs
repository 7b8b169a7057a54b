//! State-transition tests on an in-memory database: every worker event, the
//! failure rule, the watchdog and the user's controls.

use protocol::events::ReturnReason;
use protocol::{
    Control, CpuInfo, FrameDone, FrameSpec, Heartbeat, JobId, OutputSpec, Overrides, Renderer,
    SceneHash, TaskFailed, TaskReturned, WorkerEvent, WorkerId, WorkerInfo,
};

use super::{Db, JobOptions, NewJob, Policy, QueuedTask};
use crate::state::{FrameState, JobState, WorkerState};

pub(super) fn info(id: WorkerId, name: &str) -> WorkerInfo {
    WorkerInfo {
        id,
        name: name.into(),
        owner: "test".into(),
        region: "local".into(),
        node_class: "standard".into(),
        renderers: vec![protocol::RendererInfo {
            renderer: Renderer::Blender,
            version: "3.4.1".into(),
            formats: Vec::new(),
        }],
        cpu: CpuInfo::default(),
        gpus: vec![],
        hostname: "host".into(),
    }
}

pub(super) fn worker(db: &Db, name: &str) -> WorkerId {
    let id = db.enroll_test_worker(name, &format!("owner-{name}"));
    db.apply_as_named(&WorkerEvent::Announce(info(id, name)), &Policy::default())
        .unwrap();
    id
}

/// A job of frames 1-4 in two tasks, published.
pub(super) fn job(db: &Db) -> (JobId, Vec<QueuedTask>) {
    job_with(db, JobOptions::default())
}

/// A job of frames 1-4 in two tasks with `options`, published.
pub(super) fn job_with(db: &Db, options: JobOptions) -> (JobId, Vec<QueuedTask>) {
    let hash: SceneHash = "ab".repeat(32).parse().unwrap();
    db.record_scene(&hash, "blend", 10).unwrap();
    let id = db
        .create_job(&NewJob {
            name: "t".into(),
            scene: hash,
            renderer: Renderer::Blender,
            frames: FrameSpec::parse("1-4", 100).unwrap(),
            chunk_size: 2,
            priority: 50,
            output: OutputSpec::default(),
            overrides: Overrides::default(),
            task_timeout_secs: 60,
            parity_bp: 0,
            options,
        })
        .unwrap();
    let tasks = db.take_pending(100).unwrap();
    let published: Vec<_> = tasks
        .iter()
        .map(|t| (t.message.task_id, t.message.attempt))
        .collect();
    db.mark_queued(&published).unwrap();
    (id, tasks)
}

pub(super) fn started(db: &Db, task: &QueuedTask, worker: WorkerId) -> super::Followup {
    db.apply_as_named(
        &WorkerEvent::TaskStarted {
            task_id: task.message.task_id,
            attempt: task.message.attempt,
            worker,
            redelivered: false,
        },
        &Policy::default(),
    )
    .unwrap()
}

pub(super) fn frame_done(task: &QueuedTask, worker: WorkerId, frame: i32) -> WorkerEvent {
    WorkerEvent::FrameDone(FrameDone {
        task_id: task.message.task_id,
        attempt: task.message.attempt,
        job_id: task.message.job_id,
        frame,
        replica: 0,
        worker,
        // Filled in with the attempt's granted key when applied.
        object_key: String::new(),
        pixel_hash: "00".repeat(32),
        render_seconds: 1.5,
        width: 4,
        height: 4,
        bytes: 100,
        device: protocol::RenderDevice::Cpu,
    })
}

pub(super) fn failed(task: &QueuedTask, worker: WorkerId, attempt: u32) -> WorkerEvent {
    WorkerEvent::TaskFailed(TaskFailed {
        task_id: task.message.task_id,
        attempt,
        worker,
        error: format!("blender crashed on {worker}"),
        log_tail: "Segmentation fault".into(),
    })
}

#[test]
fn frames_complete_tasks_and_tasks_complete_the_job_once() {
    let db = Db::in_memory().unwrap();
    let w = worker(&db, "w1");
    let (id, tasks) = job(&db);
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].message.frames, vec![1, 2]);
    for task in &tasks {
        started(&db, task, w);
        for frame in &task.message.frames {
            let event = frame_done(task, w, *frame);
            db.apply_as_named(&event, &Policy::default()).unwrap();
            db.apply_as_named(&event, &Policy::default()).unwrap();
        }
    }
    let detail = db.job_detail(id).unwrap();
    assert_eq!(detail.job.state, JobState::Done);
    assert_eq!(detail.job.progress.done, 4);
    assert_eq!(detail.tasks.done, 2);
    assert!(
        detail
            .frame_list
            .iter()
            .all(|f| f.worker_id == Some(w) && f.render_seconds == Some(1.5))
    );
    let results: u32 = db
        .lock()
        .query_row("SELECT COUNT(*) FROM results", [], |r| r.get(0))
        .unwrap();
    assert_eq!(results, 4, "a redelivered result never counts twice");
}

#[test]
fn a_stale_attempt_is_told_to_abandon() {
    let db = Db::in_memory().unwrap();
    let (w1, w2) = (worker(&db, "w1"), worker(&db, "w2"));
    let (_, tasks) = job(&db);
    started(&db, &tasks[0], w1);
    db.apply_as_named(&failed(&tasks[0], w1, 1), &Policy::default())
        .unwrap();
    let retry = db.take_pending(10).unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].message.attempt, 2);
    let followup = started(&db, &tasks[0], w2);
    assert_eq!(
        followup.controls,
        vec![(
            w2,
            Control::AbandonTask {
                task_id: tasks[0].message.task_id,
                attempt: 1
            }
        )]
    );
}

#[test]
fn a_task_fails_its_frames_after_three_different_workers() {
    let db = Db::in_memory().unwrap();
    let (id, tasks) = job(&db);
    let workers: Vec<_> = (1..=3).map(|n| worker(&db, &format!("w{n}"))).collect();
    for (n, w) in workers.iter().enumerate() {
        let attempt = n as u32 + 1;
        let mut task = tasks[0].clone();
        task.message.attempt = attempt;
        started(&db, &task, *w);
        let followup = db
            .apply_as_named(&failed(&task, *w, attempt), &Policy::default())
            .unwrap();
        assert_eq!(followup.dispatch, n < 2, "retried until the third worker");
        if n < 2 {
            assert_eq!(db.take_pending(10).unwrap()[0].message.attempt, attempt + 1);
        }
    }
    let detail = db.job_detail(id).unwrap();
    let failed_frames: Vec<_> = detail
        .frame_list
        .iter()
        .filter(|f| f.state == FrameState::Failed)
        .collect();
    assert_eq!(failed_frames.len(), 2);
    let error = failed_frames[0].error.as_deref().unwrap();
    assert!(error.contains("w1") && error.contains("w3"), "{error}");

    let w = workers[0];
    for frame in &tasks[1].message.frames {
        started(&db, &tasks[1], w);
        db.apply_as_named(&frame_done(&tasks[1], w, *frame), &Policy::default())
            .unwrap();
    }
    assert_eq!(db.job_detail(id).unwrap().job.state, JobState::Failed);

    assert_eq!(db.requeue_failed(id).unwrap(), 2);
    assert_eq!(db.job_detail(id).unwrap().job.state, JobState::Running);
    let again = db.take_pending(10).unwrap();
    assert_eq!(again.len(), 1);
    let w4 = worker(&db, "w4");
    started(&db, &again[0], w4);
    let followup = db
        .apply_as_named(
            &failed(&again[0], w4, again[0].message.attempt),
            &Policy::default(),
        )
        .unwrap();
    assert!(
        followup.dispatch,
        "a requeued task starts a fresh failure count"
    );
}

#[test]
fn a_silent_worker_is_lost_and_its_task_goes_back() {
    let db = Db::in_memory().unwrap();
    let w = worker(&db, "w1");
    let (id, tasks) = job(&db);
    started(&db, &tasks[0], w);
    db.lock()
        .execute("UPDATE workers SET last_seen_ms = 0", [])
        .unwrap();
    let (lost, requeued) = db.reap_lost_workers(1000).unwrap();
    assert_eq!((lost, requeued), (vec![w], 1));
    assert_eq!(db.list_workers().unwrap()[0].state, WorkerState::Lost);
    assert_eq!(db.job_detail(id).unwrap().tasks.pending, 1);
    assert_eq!(db.take_pending(10).unwrap()[0].message.attempt, 2);

    db.apply_as_named(
        &WorkerEvent::Heartbeat(Heartbeat {
            worker: w,
            task_id: None,
            attempt: None,
            frame: None,
            progress: None,
            sent_at_ms: 0,
        }),
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(db.list_workers().unwrap()[0].state, WorkerState::Online);
}

#[test]
fn paused_tasks_are_held_and_resumed() {
    let db = Db::in_memory().unwrap();
    let w = worker(&db, "w1");
    let (id, tasks) = job(&db);
    db.pause_job(id).unwrap();
    assert!(db.pause_job(id).is_err(), "pausing twice is a conflict");
    let returned = WorkerEvent::TaskReturned(TaskReturned {
        task_id: tasks[0].message.task_id,
        attempt: 1,
        worker: w,
        reason: ReturnReason::JobPaused,
    });
    db.apply_as_named(&returned, &Policy::default()).unwrap();
    assert_eq!(db.job_detail(id).unwrap().tasks.held, 1);
    assert!(
        db.take_pending(10).unwrap().is_empty(),
        "nothing of a paused job is dispatched"
    );
    let announce_followup = db
        .apply_as_named(&WorkerEvent::Announce(info(w, "w1")), &Policy::default())
        .unwrap();
    assert_eq!(
        announce_followup.controls,
        vec![(w, Control::JobPaused { job_id: id })]
    );
    db.resume_job(id).unwrap();
    let again = db.take_pending(10).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message.attempt, 2);
}

#[test]
fn a_cancelled_job_takes_no_more_results() {
    let db = Db::in_memory().unwrap();
    let w = worker(&db, "w1");
    let (id, tasks) = job(&db);
    db.cancel_job(id).unwrap();
    let followup = started(&db, &tasks[0], w);
    assert_eq!(followup.controls.len(), 1, "told to abandon");
    db.apply_as_named(&frame_done(&tasks[0], w, 1), &Policy::default())
        .unwrap();
    let detail = db.job_detail(id).unwrap();
    assert_eq!(detail.job.state, JobState::Cancelled);
    assert!(
        detail
            .frame_list
            .iter()
            .all(|f| f.state == FrameState::Cancelled)
    );
    assert_eq!(detail.tasks.cancelled, 2);
    assert!(db.cancel_job(id).is_err());
}

#[test]
fn where_a_frame_is_shows_only_once_it_is_accepted() {
    let db = Db::in_memory().unwrap();
    let w = worker(&db, "w1");
    let (id, tasks) = job(&db);
    started(&db, &tasks[0], w);
    for frame in &tasks[0].message.frames {
        db.apply_as_named(&frame_done(&tasks[0], w, *frame), &Policy::default())
            .unwrap();
    }
    let running = db.job_detail(id).unwrap();
    assert!(
        running
            .frame_list
            .iter()
            .all(|f| f.download.is_none() && f.pixel_hash.is_none()),
        "not while the job runs: {:?}",
        running.frame_list
    );
    started(&db, &tasks[1], w);
    for frame in &tasks[1].message.frames {
        db.apply_as_named(&frame_done(&tasks[1], w, *frame), &Policy::default())
            .unwrap();
    }
    let done = db.job_detail(id).unwrap();
    assert_eq!(done.job.state, JobState::Done);
    assert!(done.frame_list.iter().all(|f| f.download.is_some()));
}

#[test]
fn a_new_priority_republishes_what_waits_on_the_queue() {
    let db = Db::in_memory().unwrap();
    let w = worker(&db, "w1");
    let (id, tasks) = job(&db);
    let max = protocol::queues::MAX_PRIORITY;
    assert!(tasks.iter().all(|t| t.priority < max));
    // The same queue priority: the messages on the queue stand.
    assert_eq!(db.set_priority(id, 51).unwrap(), 0);
    assert!(db.take_pending(10).unwrap().is_empty());
    assert_eq!(db.set_priority(id, 100).unwrap(), 2);
    let again = db.take_pending(10).unwrap();
    assert_eq!(again.len(), 2);
    assert!(
        again
            .iter()
            .all(|t| t.priority == max && t.message.attempt == 2)
    );
    assert_eq!(db.job_detail(id).unwrap().job.priority, 100);
    // The old message is a superseded attempt: its worker is told to drop it.
    let followup = started(&db, &tasks[0], w);
    assert!(matches!(
        followup.controls.as_slice(),
        [(_, Control::AbandonTask { attempt: 1, .. })]
    ));
    db.cancel_job(id).unwrap();
    assert!(matches!(
        db.set_priority(id, 10),
        Err(super::DbError::Conflict(_))
    ));
}

#[test]
fn handing_back_a_cancelled_jobs_queued_task_is_no_offence() {
    let db = Db::in_memory().unwrap();
    let w = worker(&db, "w1");
    let (id, tasks) = job(&db);
    db.cancel_job(id).unwrap();
    db.apply_as_named(
        &WorkerEvent::TaskReturned(TaskReturned {
            task_id: tasks[0].message.task_id,
            attempt: tasks[0].message.attempt,
            worker: w,
            reason: ReturnReason::JobCancelled,
        }),
        &Policy::default(),
    )
    .unwrap();
    let me = db.list_workers().unwrap();
    assert_eq!(
        me[0].reputation.refused_events, 0,
        "an honest hand-back is not refused"
    );
}

#[test]
fn a_draining_worker_finishes_its_task_and_starts_no_other() {
    let db = Db::in_memory().unwrap();
    let w = worker(&db, "w1");
    let (id, tasks) = job(&db);
    started(&db, &tasks[0], w);
    let followup = db.drain_worker(w).unwrap();
    assert_eq!(followup.controls, vec![(w, Control::Drain)]);
    assert!(matches!(
        db.drain_worker(w),
        Err(super::DbError::Conflict(_))
    ));
    // The task it was rendering finishes and counts.
    for frame in [1, 2] {
        db.apply_as_named(&frame_done(&tasks[0], w, frame), &Policy::default())
            .unwrap();
    }
    let done = db.job_detail(id).unwrap();
    assert_eq!(done.job.progress.done, 2);
    // A new one it starts anyway goes to another worker.
    let followup = started(&db, &tasks[1], w);
    assert!(matches!(
        followup.controls.as_slice(),
        [(_, Control::AbandonTask { .. })]
    ));
    assert!(followup.dispatch);
    let again = db.take_pending(10).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message.task_id, tasks[1].message.task_id);
    let me = &db.list_workers().unwrap()[0];
    assert!(me.draining_ms.is_some());
    assert_eq!(me.reputation.refused_events, 0, "draining is no offence");
    // Reconnecting does not end a drain.
    let followup = db
        .apply_as_named(&WorkerEvent::Announce(info(w, "w1")), &Policy::default())
        .unwrap();
    assert!(followup.controls.contains(&(w, Control::Drain)));
    let followup = db.undrain_worker(w).unwrap();
    assert_eq!(followup.controls, vec![(w, Control::Undrain)]);
    assert!(db.list_workers().unwrap()[0].draining_ms.is_none());
    assert!(matches!(
        db.undrain_worker(w),
        Err(super::DbError::Conflict(_))
    ));
    assert!(matches!(
        db.drain_worker(WorkerId::new()),
        Err(super::DbError::NotFound(_))
    ));
}
