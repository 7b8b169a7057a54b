//! How many worker events per second the result consumer's database step
//! applies, attribution included (sender check, live-attempt check, replay
//! and key checks): one enrolled worker renders a job of one-frame tasks,
//! five events each (started, scene and frame grant requests, frame done,
//! task done), on a SQLite file as
//! in production. Prints figures; asserts nothing about time.
//!
//! `cargo bench -p coordinator --bench events`; `BENCH_TASKS` (default
//! 3000) sets the job's size.

use std::time::Instant;

mod support;

use coordinator::db::{Db, EnrollmentTerms, NewEnrollment, NewJob};
use protocol::{FrameSpec, OutputSpec, Overrides, Renderer, SceneHash};

fn main() {
    let tasks: usize = std::env::var("BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let dir = tempfile::tempdir().expect("temporary folder");
    let db = Db::open(&dir.path().join("bench.sqlite")).expect("database");
    db.create_enrollment(&NewEnrollment {
        id: "bench".into(),
        token_hash: "bench-hash".into(),
        terms: EnrollmentTerms {
            owner: "bench".into(),
            region: "local".into(),
            node_classes: vec!["standard".into()],
            device_classes: vec!["cpu".into()],
        },
        max_workers: None,
        expires_ms: None,
        created_by: "bench".into(),
    })
    .expect("enrollment");
    let worker = db
        .enroll_worker("bench-hash", "bench")
        .expect("enrolled")
        .id;
    let hash: SceneHash = "ab".repeat(32).parse().expect("hash");
    db.record_scene(&hash, "blend", 10).expect("scene");
    let job = db
        .create_job(&NewJob {
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
            options: Default::default(),
        })
        .expect("job");
    let queued = db.take_pending(tasks).expect("tasks");
    let published: Vec<_> = queued
        .iter()
        .map(|t| (t.message.task_id, t.message.attempt))
        .collect();
    db.mark_queued(&published).expect("queued");
    let started = Instant::now();
    let events: u64 = queued
        .iter()
        .map(|task| support::render(&db, task, worker, job))
        .sum();
    let seconds = started.elapsed().as_secs_f64();
    let delivered = db.job_detail(job).expect("job").job.progress.done;
    assert_eq!(delivered, tasks as u64, "every frame was accepted");
    println!(
        "result consumer, database step with attribution: {events} events in {seconds:.2} s = {:.0} events/s \
         ({tasks} one-frame tasks: start, two grant requests, frame, done; every frame accepted)",
        events as f64 / seconds
    );
}
