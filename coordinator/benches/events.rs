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

use coordinator::db::{Db, EnrollmentTerms, NewEnrollment, NewJob, Policy, Sender};
use protocol::{
    FrameDone, FrameSpec, GrantObject, GrantRequest, OutputSpec, Overrides, RenderDevice, Renderer,
    SceneHash, WorkerEvent,
};

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
    let policy = Policy::default();
    let sender = Sender::worker(worker);
    let started = Instant::now();
    let mut events = 0u64;
    for task in &queued {
        let message = &task.message;
        let frame = message.frames[0];
        let start = WorkerEvent::TaskStarted {
            task_id: message.task_id,
            attempt: message.attempt,
            worker,
            redelivered: false,
        };
        db.apply_event(&start, sender, &policy).expect("applied");
        // The worker asks for its scene and its frame's upload key, as a
        // real one does, and reports the frame at the key it was granted.
        let mut key = String::new();
        for object in [GrantObject::Scene, GrantObject::Frame { frame }] {
            let request = WorkerEvent::GrantRequest(GrantRequest {
                task_id: message.task_id,
                attempt: message.attempt,
                worker,
                object,
            });
            let followup = db.apply_event(&request, sender, &policy).expect("applied");
            key = followup.grants.first().expect("granted").key.clone();
        }
        let batch = [
            WorkerEvent::FrameDone(FrameDone {
                task_id: message.task_id,
                attempt: message.attempt,
                job_id: job,
                frame,
                replica: 0,
                worker,
                object_key: key,
                pixel_hash: "00".repeat(32),
                render_seconds: 1.0,
                width: 1920,
                height: 1080,
                bytes: 1 << 20,
                device: RenderDevice::Cpu,
            }),
            WorkerEvent::TaskDone {
                task_id: message.task_id,
                attempt: message.attempt,
                worker,
            },
        ];
        events += 3;
        for event in &batch {
            db.apply_event(event, sender, &policy).expect("applied");
            events += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let delivered = db.job_detail(job).expect("job").job.progress.done;
    assert_eq!(delivered, tasks as u64, "every frame was accepted");
    println!(
        "result consumer, database step with attribution: {events} events in {seconds:.2} s = {:.0} events/s \
         ({tasks} one-frame tasks: start, two grant requests, frame, done; every frame accepted)",
        events as f64 / seconds
    );
}
