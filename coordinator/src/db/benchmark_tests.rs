//! Benchmarks on an in-memory database: created whole or not at all, the
//! side-by-side report assembled from the runs' cost reports and the
//! comparisons (pending until both copies are accepted and compared, again
//! when a copy changes), its CSV, and tenant scoping.

use protocol::{FrameSpec, JobId, OutputSpec, Overrides, Renderer, SceneHash};

use super::tests::{frame_done, started, worker};
use super::{Db, DbError, JobOptions, NewJob, Policy};
use crate::auth::Tenant;
use crate::benchmark::{BenchmarkId, Diff, DiffNumbers, ParityStatus, WorstTile};
use crate::state::{FrameState, JobState, VerdictKind};

/// A job of frames 1-2 in one task of `scene`.
fn new_job(scene: &SceneHash, name: &str) -> NewJob {
    NewJob {
        name: name.into(),
        scene: scene.clone(),
        renderer: Renderer::Blender,
        frames: FrameSpec::parse("1-2", 100).unwrap(),
        chunk_size: 2,
        priority: 50,
        output: OutputSpec::default(),
        overrides: Overrides::default(),
        task_timeout_secs: 60,
        parity_bp: 0,
        options: JobOptions::default(),
    }
}

/// A recorded scene.
fn scene(db: &Db) -> SceneHash {
    let hash: SceneHash = "cd".repeat(32).parse().unwrap();
    db.record_scene(&hash, "blend", 10).unwrap();
    hash
}

/// A benchmark of `tenant` on cpu-a and cpu-b; its id and jobs.
fn benchmark(db: &Db, tenant: Option<&str>) -> (BenchmarkId, Vec<JobId>) {
    let scene = scene(db);
    let tenant: Option<Tenant> = tenant.map(|t| t.parse().unwrap());
    let runs = vec![
        ("cpu-a".to_owned(), new_job(&scene, "b on cpu-a")),
        ("cpu-b".to_owned(), new_job(&scene, "b on cpu-b")),
    ];
    let summary = db.create_benchmark("b", tenant.as_ref(), &runs).unwrap();
    assert_eq!(summary.node_classes, ["cpu-a", "cpu-b"]);
    (summary.id, summary.job_ids)
}

/// Render every frame of every pending task, one worker per job.
fn render_all(db: &Db, jobs: &[JobId]) {
    let workers: Vec<_> = (0..jobs.len())
        .map(|i| worker(db, &format!("w{i}")))
        .collect();
    let tasks = db.take_pending(100).unwrap();
    let published: Vec<_> = tasks
        .iter()
        .map(|t| (t.message.task_id, t.message.attempt))
        .collect();
    db.mark_queued(&published).unwrap();
    for task in &tasks {
        let at = jobs.iter().position(|j| *j == task.message.job_id).unwrap();
        started(db, task, workers[at]);
        for frame in task.message.frames.clone() {
            db.apply_as_named(&frame_done(task, workers[at], frame), &Policy::default())
                .unwrap();
        }
    }
}

/// A comparison's numbers as frame-diff would give them for a patch.
fn mismatch() -> Diff {
    Diff {
        verdict: VerdictKind::Mismatch,
        numbers: DiffNumbers {
            reasons: vec!["tile bias".into()],
            mean_flip: Some(0.02),
            max_flip: Some(0.9),
            worst_tile_flip: Some(0.4),
            worst_tiles: vec![WorstTile {
                x: 64,
                y: 0,
                width: 64,
                height: 64,
                mean_error: 0.5,
                max_error: 4.0,
                flip_mean: Some(0.4),
            }],
            mean_error: Some(0.01),
            max_error: Some(4.0),
            psnr: Some(30.0),
        },
    }
}

#[test]
fn the_report_sets_runs_side_by_side_and_compares_each_frame_with_the_baseline() {
    let db = Db::in_memory().unwrap();
    let (id, jobs) = benchmark(&db, Some("acme"));
    let report = db.benchmark_report(id, "EUR").unwrap();
    assert!(!report.complete);
    assert_eq!(report.pending_frames, [1, 2]);
    assert!(
        report
            .runs
            .iter()
            .all(|r| r.time_to_complete_secs.is_none())
    );
    assert!(db.benchmark_diff_plan(id).unwrap().is_empty());

    render_all(&db, &jobs);
    for job in &jobs {
        assert_eq!(db.job_detail(*job).unwrap().job.state, JobState::Done);
    }
    let report = db.benchmark_report(id, "EUR").unwrap();
    assert_eq!(report.currency, "EUR");
    assert_eq!(report.runs.len(), 2);
    for (run, job) in report.runs.iter().zip(&jobs) {
        let bill = db.cost_report(*job, "EUR").unwrap();
        assert_eq!(run.job_id, *job);
        assert_eq!(run.frames_done, 2);
        assert_eq!(run.cost_micros, bill.totals.cost_micros);
        assert!(run.time_to_complete_secs.unwrap() >= 0.0);
        for (row, billed) in report.frames.iter().zip(&bill.frames) {
            let cell = &row.runs[run.position as usize];
            assert_eq!(row.frame, billed.frame);
            assert_eq!(cell.cost_micros, billed.cost_micros);
            assert_eq!(cell.render_seconds, billed.render_seconds);
            assert_eq!(cell.state, FrameState::Done);
        }
    }
    assert!(report.runs[0].parity.is_none(), "the baseline");
    assert_eq!(report.runs[1].parity.as_ref().unwrap().pending, 2);
    assert_eq!(report.pending_frames, [1, 2], "accepted, not compared yet");
    assert_eq!(db.benchmarks_missing_diffs().unwrap(), [id]);

    let plan = db.benchmark_diff_plan(id).unwrap();
    assert_eq!(plan.len(), 2);
    let identical = Diff {
        verdict: VerdictKind::Identical,
        numbers: DiffNumbers {
            mean_flip: Some(0.0),
            max_flip: Some(0.0),
            worst_tile_flip: Some(0.0),
            ..DiffNumbers::default()
        },
    };
    db.record_benchmark_diff(id, &plan[0], &identical).unwrap();
    db.record_benchmark_diff(id, &plan[1], &mismatch()).unwrap();
    assert!(db.benchmark_diff_plan(id).unwrap().is_empty());
    assert!(db.benchmarks_missing_diffs().unwrap().is_empty());
    let report = db.benchmark_report(id, "EUR").unwrap();
    assert!(report.complete, "{report:?}");
    assert!(report.pending_frames.is_empty());
    let statuses: Vec<_> = report
        .frames
        .iter()
        .map(|row| row.runs[1].parity.as_ref().unwrap().status)
        .collect();
    assert_eq!(statuses, [ParityStatus::Identical, ParityStatus::Mismatch]);
    let totals = report.runs[1].parity.as_ref().unwrap();
    assert_eq!(
        (totals.compared, totals.identical, totals.mismatch),
        (2, 1, 1)
    );
    assert_eq!(totals.mean_flip, Some(0.01));
    assert_eq!(
        (totals.max_flip, totals.worst_tile_flip),
        (Some(0.9), Some(0.4))
    );

    // A copy accepted anew (its checked hash differs) is compared again.
    db.lock()
        .execute(
            "UPDATE results SET checked_hash = ?1 WHERE job_id = ?2 AND frame = 1",
            [&"ee".repeat(32), &jobs[1].to_string()],
        )
        .unwrap();
    let report = db.benchmark_report(id, "EUR").unwrap();
    assert_eq!(report.pending_frames, [1]);
    assert!(!report.complete);
    assert_eq!(db.benchmark_diff_plan(id).unwrap().len(), 1);
    assert_eq!(db.benchmarks_missing_diffs().unwrap(), [id]);

    let csv = report.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 2 + 1, "{csv}");
    assert!(lines[0].starts_with("frame,cpu-a_state,cpu-a_render_seconds,cpu-a_cost,"));
    assert!(lines[0].contains("cpu-b_parity,cpu-b_mean_flip,cpu-b_max_flip"));
    assert!(lines[1].starts_with("1,done,"), "{csv}");
    assert!(lines[1].contains(",pending,"), "{csv}");
    assert!(lines[2].contains(",mismatch,0.020000,0.900000,0.400000,64:0:64x64,30.00"));
    assert!(lines[3].starts_with("total,done,"));
}

#[test]
fn a_benchmark_is_stored_whole_or_not_at_all() {
    let db = Db::in_memory().unwrap();
    let known = scene(&db);
    let unknown: SceneHash = "ef".repeat(32).parse().unwrap();
    let runs = vec![
        ("cpu-a".to_owned(), new_job(&known, "a")),
        ("cpu-b".to_owned(), new_job(&unknown, "b")),
    ];
    assert!(db.create_benchmark("half", None, &runs).is_err());
    assert!(db.list_benchmarks(None).unwrap().is_empty());
    assert!(
        db.list_jobs().unwrap().is_empty(),
        "the first run's job too"
    );
}

#[test]
fn benchmarks_are_scoped_by_tenant() {
    let db = Db::in_memory().unwrap();
    let (acme, acme_jobs) = benchmark(&db, Some("acme"));
    let (other, _) = benchmark(&db, Some("other"));
    let (admin, _) = benchmark(&db, None);
    let tenant: Tenant = "acme".parse().unwrap();
    let own = db.list_benchmarks(Some(&tenant)).unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].id, acme);
    assert_eq!(own[0].tenant.as_deref(), Some("acme"));
    assert_eq!(own[0].job_ids, acme_jobs);
    let all: Vec<_> = db
        .list_benchmarks(None)
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(all, [admin, other, acme], "newest first");
    assert_eq!(db.benchmark_tenant(acme).unwrap(), Some(tenant.clone()));
    assert_eq!(db.benchmark_tenant(admin).unwrap(), None);
    assert_eq!(db.benchmark_of_job(acme_jobs[1]).unwrap(), Some(acme));
    assert_eq!(db.benchmark_of_job(JobId::new()).unwrap(), None);
    // The runs' jobs belong to the benchmark's tenant.
    assert_eq!(db.job_tenant(acme_jobs[0]).unwrap(), Some(tenant));
    assert!(matches!(
        db.benchmark_tenant(BenchmarkId::new()),
        Err(DbError::NotFound(_))
    ));
    assert!(matches!(
        db.benchmark_report(BenchmarkId::new(), "EUR"),
        Err(DbError::NotFound(_))
    ));
}
