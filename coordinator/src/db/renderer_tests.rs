//! Renderer-aware routing on an in-memory database: a job goes only to
//! workers that announced its renderer (in its version range, opening its
//! scene's format), a worker that starts one without it hands it back, and
//! a job no online worker can render says why it waits.

use protocol::{
    Control, FrameSpec, OutputSpec, Overrides, Renderer, RendererInfo, SceneHash, SceneOptions,
    VersionRange, WorkerEvent, WorkerId,
};

use super::tests::{info, started};
use super::{Db, JobOptions, NewJob, Policy, QueuedTask};

/// An online worker that announced exactly `renderers`.
fn worker_with(db: &Db, name: &str, renderers: &[(Renderer, &str)]) -> WorkerId {
    let id = db.enroll_test_worker(name, &format!("owner-{name}"));
    let mut announced = info(id, name);
    announced.renderers = renderers
        .iter()
        .map(|(renderer, version)| RendererInfo {
            renderer: *renderer,
            version: (*version).into(),
            formats: Vec::new(),
        })
        .collect();
    db.apply_as_named(&WorkerEvent::Announce(announced), &Policy::default())
        .unwrap();
    id
}

/// A Cinema 4D job of frames 1-4 in two tasks, in `versions`, published
/// (shared-queue tasks marked queued).
fn c4d_job(db: &Db, versions: Option<&str>) -> (protocol::JobId, Vec<QueuedTask>) {
    let hash: SceneHash = "cd".repeat(32).parse().unwrap();
    db.record_scene(&hash, "c4d", 10).unwrap();
    let id = db
        .create_job(&NewJob {
            name: "shot".into(),
            scene: hash,
            renderer: Renderer::Cinema4d,
            frames: FrameSpec::parse("1-4", 100).unwrap(),
            chunk_size: 2,
            priority: 50,
            output: OutputSpec::default(),
            overrides: Overrides::default(),
            task_timeout_secs: 60,
            parity_bp: 0,
            options: JobOptions {
                renderer_version: versions.map(|v| v.parse::<VersionRange>().unwrap()),
                scene_options: SceneOptions {
                    take: Some("Close-up".into()),
                    render_target: None,
                },
                ..JobOptions::default()
            },
        })
        .unwrap();
    db.place_routed_tasks().unwrap();
    let tasks = db.take_pending(100).unwrap();
    let published: Vec<_> = tasks
        .iter()
        .map(|t| (t.message.task_id, t.message.attempt))
        .collect();
    db.mark_queued(&published).unwrap();
    (id, tasks)
}

#[test]
fn a_worker_without_the_renderer_that_starts_a_task_hands_it_back() {
    let db = Db::in_memory().unwrap();
    let blender = worker_with(&db, "blender-only", &[(Renderer::Blender, "3.4.1")]);
    let c4d = worker_with(&db, "c4d", &[(Renderer::Cinema4d, "2024.4.1")]);
    let (_, tasks) = c4d_job(&db, None);
    assert_eq!(tasks.len(), 2);
    assert!(
        tasks
            .iter()
            .all(|t| t.message.renderer == Renderer::Cinema4d)
    );
    assert_eq!(
        tasks[0].message.scene_options.take.as_deref(),
        Some("Close-up")
    );
    // A Blender worker that takes a Cinema 4D task anyway (a lie, or a
    // queue it should not read) is told to abandon it; it is rendered again.
    let followup = started(&db, &tasks[0], blender);
    assert!(
        matches!(followup.controls.as_slice(), [(w, Control::AbandonTask { .. })] if *w == blender),
        "{followup:?}"
    );
    let again = db.take_pending(100).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message.task_id, tasks[0].message.task_id);
    assert_eq!(again[0].message.attempt, 2);
    let followup = started(&db, &again[0], c4d);
    assert!(followup.controls.is_empty(), "{followup:?}");
}

#[test]
fn a_version_range_routes_only_to_workers_in_it() {
    let db = Db::in_memory().unwrap();
    let old = worker_with(&db, "old", &[(Renderer::Cinema4d, "2023.2.0")]);
    let new = worker_with(&db, "new", &[(Renderer::Cinema4d, "2024.4.1")]);
    worker_with(&db, "blender", &[(Renderer::Blender, "4.2.0")]);
    let (_, tasks) = c4d_job(&db, Some(">=2024.1, <2025"));
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    assert!(tasks.iter().all(|t| t.target == Some(new)), "{tasks:?}");
    // The old one starting one anyway hands it back.
    let followup = started(&db, &tasks[1], old);
    assert!(matches!(
        followup.controls.as_slice(),
        [(_, Control::AbandonTask { .. })]
    ));
}

#[test]
fn a_job_no_online_worker_can_render_says_why_it_waits() {
    let db = Db::in_memory().unwrap();
    let (id, _) = c4d_job(&db, Some(">=2024"));
    let waiting = db.job_detail(id).unwrap().job.waiting.unwrap();
    assert!(waiting.contains("no worker has joined"), "{waiting}");

    worker_with(&db, "blender", &[(Renderer::Blender, "3.4.1")]);
    worker_with(&db, "c4d-2023", &[(Renderer::Cinema4d, "2023.2.0")]);
    let waiting = db.job_detail(id).unwrap().job.waiting.unwrap();
    assert!(
        waiting.contains("no worker of the farm can render cinema4d")
            && waiting.contains(">=2024")
            && waiting.contains("2023.2.0"),
        "{waiting}"
    );

    let c4d = worker_with(&db, "c4d-2024", &[(Renderer::Cinema4d, "2024.4.1")]);
    assert_eq!(db.job_detail(id).unwrap().job.waiting, None);

    db.drain_worker(c4d).unwrap();
    let waiting = db.job_detail(id).unwrap().job.waiting.unwrap();
    assert!(
        waiting.contains("no online worker can render cinema4d")
            && waiting.contains("the 1 that can is draining"),
        "{waiting}"
    );
    db.undrain_worker(c4d).unwrap();
    assert_eq!(db.job_detail(id).unwrap().job.waiting, None);

    db.apply_as_named(&WorkerEvent::Leaving { worker: c4d }, &Policy::default())
        .unwrap();
    let waiting = db.job_detail(id).unwrap().job.waiting.unwrap();
    assert!(
        waiting.contains("no online worker can render cinema4d")
            && waiting.contains("the 1 that can is offline")
            && waiting.contains(" UTC)"),
        "{waiting}"
    );
    // The reason names a time, not an age: two looks read the same, so a
    // watching client says it once.
    assert_eq!(db.job_detail(id).unwrap().job.waiting.unwrap(), waiting);
}

#[test]
fn a_job_whose_only_workers_are_blocklisted_says_so() {
    let db = Db::in_memory().unwrap();
    let c4d = worker_with(&db, "c4d", &[(Renderer::Cinema4d, "2024.4.1")]);
    let (id, _) = c4d_job(&db, None);
    assert_eq!(db.job_detail(id).unwrap().job.waiting, None);
    db.blocklist_worker(c4d, "wrong pixels").unwrap();
    let waiting = db.job_detail(id).unwrap().job.waiting.unwrap();
    assert!(
        waiting.contains("every worker that joined the farm is blocklisted (1)"),
        "{waiting}"
    );
}

#[test]
fn a_jobs_list_says_for_each_job_why_it_waits() {
    let db = Db::in_memory().unwrap();
    worker_with(&db, "c4d-2024", &[(Renderer::Cinema4d, "2024.4.1")]);
    let (new, _) = c4d_job(&db, Some(">=2024"));
    let (old, _) = c4d_job(&db, Some("<2024"));
    let jobs = db.list_jobs().unwrap();
    let waiting = |id| {
        jobs.iter()
            .find(|job| job.id == id)
            .unwrap()
            .waiting
            .clone()
    };
    assert_eq!(waiting(new), None);
    let reason = waiting(old).unwrap();
    assert!(
        reason.contains("no worker of the farm can render cinema4d") && reason.contains("<2024"),
        "{reason}"
    );
}
