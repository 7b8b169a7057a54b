//! What enforced placement costs the coordinator: the same job of one-frame
//! tasks rendered by the same workers (enrolled in Germany and France),
//! once free to render anywhere (every task published on the shared queue
//! at once) and once EU-only (each task directed at an admitted worker's
//! own queue, at most `BACKLOG` held per worker, a dispatch pass after each
//! task ends). Counts the database work per task on a SQLite file, events
//! included (start, two grant requests, frame, done). Prints figures;
//! asserts nothing about time.
//!
//! `cargo bench -p coordinator --bench routing`; `BENCH_TASKS` (default
//! 2000) and `BENCH_WORKERS` (default 20).

use std::time::{Duration, Instant};

mod support;

use coordinator::db::{
    Db, EnrollmentTerms, JobOptions, NewEnrollment, NewJob, Policy, QueuedTask, Sender,
};
use coordinator::placement::Placement;
use protocol::{
    FrameSpec, JobId, OutputSpec, Overrides, Renderer, SceneHash, WorkerEvent, WorkerId,
};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A database with `workers` online workers, half in DE and half in FR.
fn farm(dir: &std::path::Path, workers: usize) -> (Db, Vec<WorkerId>) {
    let db = Db::open(&dir.join("bench.sqlite")).expect("database");
    let mut ids = Vec::new();
    for n in 0..workers {
        let id = format!("bench-{n}");
        db.create_enrollment(&NewEnrollment {
            id: id.clone(),
            token_hash: format!("hash-{id}"),
            terms: EnrollmentTerms {
                owner: format!("owner-{n}"),
                region: if n % 2 == 0 { "DE" } else { "FR" }.into(),
                node_classes: vec!["standard".into()],
                device_classes: vec!["cpu".into()],
            },
            max_workers: None,
            expires_ms: None,
            created_by: "bench".into(),
        })
        .expect("enrollment");
        let worker = db
            .enroll_worker(&format!("hash-{id}"), &id)
            .expect("enrolled")
            .id;
        let info = protocol::WorkerInfo {
            id: worker,
            name: id.clone(),
            owner: format!("owner-{n}"),
            region: String::new(),
            node_class: String::new(),
            renderers: vec![protocol::RendererInfo {
                renderer: Renderer::Blender,
                version: "3.4.1".into(),
                formats: Vec::new(),
            }],
            cpu: protocol::CpuInfo::default(),
            gpus: vec![],
            hostname: id,
        };
        db.apply_event(
            &WorkerEvent::Announce(info),
            Sender::worker(worker),
            &Policy::default(),
        )
        .expect("announced");
        ids.push(worker);
    }
    (db, ids)
}

/// A job of `tasks` one-frame tasks placed as `placement`.
fn job(db: &Db, tasks: usize, placement: Placement) -> JobId {
    let hash: SceneHash = "ab".repeat(32).parse().expect("hash");
    db.record_scene(&hash, "blend", 10).expect("scene");
    db.create_job(&NewJob {
        name: "bench".into(),
        scene: hash,
        renderer: Renderer::Blender,
        frames: FrameSpec::parse(&format!("1-{tasks}"), tasks).expect("frames"),
        chunk_size: 1,
        priority: 50,
        output: OutputSpec::default(),
        overrides: Overrides::default(),
        task_timeout_secs: 3600,
        parity_bp: 0,
        options: JobOptions {
            placement,
            ..JobOptions::default()
        },
    })
    .expect("job")
}

/// Publish what the dispatcher would: routed tasks placed first.
fn dispatch(db: &Db) -> Vec<QueuedTask> {
    db.place_routed_tasks().expect("placed");
    let queued = db.take_pending(100_000).expect("tasks");
    let published: Vec<_> = queued
        .iter()
        .map(|t| (t.message.task_id, t.message.attempt))
        .collect();
    db.mark_queued(&published).expect("queued");
    queued
}

fn main() {
    let (tasks, workers) = (env("BENCH_TASKS", 2000), env("BENCH_WORKERS", 20));
    // Free to render anywhere: published at once; workers take in turn.
    let dir = tempfile::tempdir().expect("temporary folder");
    let (db, ids) = farm(dir.path(), workers);
    let id = job(&db, tasks, Placement::default());
    let started = Instant::now();
    let queued = dispatch(&db);
    for (n, task) in queued.iter().enumerate() {
        support::render(&db, task, ids[n % ids.len()], id);
    }
    let shared = started.elapsed();
    assert_eq!(
        db.job_detail(id).expect("job").job.progress.done,
        tasks as u64
    );

    // EU-only: placed a few per worker; a pass after every task that ends.
    let dir = tempfile::tempdir().expect("temporary folder");
    let (db, _) = farm(dir.path(), workers);
    let eu = Placement::parse(Some("EU"), None, None, None).expect("placement");
    let id = job(&db, tasks, eu);
    let started = Instant::now();
    let (mut passes, mut in_passes) = (0u32, Duration::ZERO);
    let mut waiting: Vec<QueuedTask> = Vec::new();
    loop {
        let pass = Instant::now();
        waiting.extend(dispatch(&db));
        in_passes += pass.elapsed();
        passes += 1;
        let Some(task) = waiting.pop() else { break };
        let worker = task.target.expect("a routed task is directed");
        support::render(&db, &task, worker, id);
    }
    let routed = started.elapsed();
    assert_eq!(
        db.job_detail(id).expect("job").job.progress.done,
        tasks as u64
    );

    let per_task = |d: Duration| d.as_secs_f64() * 1e6 / tasks as f64;
    println!("placement, {tasks} one-frame tasks, {workers} workers (DE and FR), SQLite file");
    println!(
        "  anywhere (shared queue): {:.2} s, {:.0} µs of coordinator work per task",
        shared.as_secs_f64(),
        per_task(shared)
    );
    println!(
        "  EU-only (directed):      {:.2} s, {:.0} µs per task; {passes} dispatch passes of {:.0} µs each",
        routed.as_secs_f64(),
        per_task(routed),
        in_passes.as_secs_f64() * 1e6 / f64::from(passes)
    );
}
