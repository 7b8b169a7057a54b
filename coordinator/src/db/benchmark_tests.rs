//! Benchmarks on an in-memory database: created whole or not at all, the
//! side-by-side report assembled from the runs' cost reports and the
//! comparisons (pending until both copies are accepted and compared, again
//! when a copy changes), its CSV, and tenant scoping; with a reference,
//! every run compared with the frames uploaded (pending until each is,
//! again when one is replaced).

use protocol::{FrameSpec, JobId, OutputSpec, Overrides, Renderer, SceneHash};

use super::tests::{frame_done, started, worker};
use super::{Db, DbError, JobOptions, NewJob, Policy};
use crate::auth::Tenant;
use crate::benchmark::{
    BenchmarkId, Diff, DiffNumbers, ParityStatus, REFERENCE_NOT_UPLOADED, Reference, ReferenceCopy,
    StatedFigures, WorstTile, reference_key,
};
use crate::money::Money;
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
    let summary = db
        .create_benchmark("b", tenant.as_ref(), None, &runs)
        .unwrap();
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
    assert!(db.create_benchmark("half", None, None, &runs).is_err());
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

/// The reference frame `frame` of benchmark `id` uploaded with `hash`.
fn reference_copy(id: BenchmarkId, frame: i32, hash: &str) -> ReferenceCopy {
    ReferenceCopy {
        object_key: reference_key(id, frame),
        pixel_hash: hash.to_owned(),
        bytes: 1234,
        uploaded_ms: 1,
    }
}

#[test]
fn with_a_reference_every_run_is_compared_with_the_frames_uploaded() {
    let db = Db::in_memory().unwrap();
    let scene = scene(&db);
    let reference = Reference {
        name: "our farm".into(),
        stated_by_studio: StatedFigures {
            seconds_per_frame: Some(30.0),
            cost_per_frame_micros: Some(Money(400_000)),
            time_to_complete_secs: Some(3600.0),
        },
    };
    let runs = vec![("cpu-a".to_owned(), new_job(&scene, "r on cpu-a"))];
    let summary = db
        .create_benchmark("r", None, Some(&reference), &runs)
        .unwrap();
    let (id, jobs) = (summary.id, summary.job_ids);
    assert_eq!(summary.reference.as_ref(), Some(&reference));
    assert_eq!(db.benchmark_summary(id).unwrap().reference, Some(reference));
    let target = db.benchmark_reference_target(id).unwrap();
    assert_eq!(target.frames, [1, 2]);
    assert_eq!(target.reference.unwrap().name, "our farm");

    render_all(&db, &jobs);
    let reason = |report: &crate::benchmark::BenchmarkReport, frame: usize| {
        let cell = report.frames[frame].runs[0].parity.clone().unwrap();
        (cell.status, cell.pending_reason)
    };
    let report = db.benchmark_report(id, "EUR").unwrap();
    let stated = &report.reference.as_ref().unwrap().stated_by_studio;
    assert_eq!(stated.cost_per_frame_micros, Some(Money(400_000)));
    assert_eq!(report.reference.as_ref().unwrap().frames_missing, [1, 2]);
    assert_eq!(
        reason(&report, 0),
        (
            ParityStatus::Pending,
            Some(REFERENCE_NOT_UPLOADED.to_owned())
        ),
        "the one run is compared with the reference, which is missing"
    );
    assert_eq!(report.pending_frames, [1, 2]);
    assert!(!report.complete);
    assert!(db.benchmark_diff_plan(id).unwrap().is_empty());
    assert!(db.benchmarks_missing_diffs().unwrap().is_empty());

    let (first, second) = ("a1".repeat(32), "a2".repeat(32));
    let uploaded = reference_copy(id, 1, &first);
    assert!(!db.record_reference_frame(id, 1, &uploaded).unwrap());
    assert_eq!(db.benchmarks_missing_diffs().unwrap(), [id]);
    let plan = db.benchmark_diff_plan(id).unwrap();
    assert_eq!(plan.len(), 1, "{plan:?}");
    assert_eq!((plan[0].frame, plan[0].position), (1, 0));
    assert_eq!(plan[0].a.pixel_hash, first);
    assert_eq!(
        plan[0].a.object_key,
        format!("benchmarks/{id}/reference/1.exr")
    );
    let report = db.benchmark_report(id, "EUR").unwrap();
    assert_eq!(
        reason(&report, 0),
        (ParityStatus::Pending, Some("not compared yet".to_owned()))
    );
    assert_eq!(
        reason(&report, 1).1.as_deref(),
        Some(REFERENCE_NOT_UPLOADED)
    );
    assert_eq!(
        report.frames[0].reference.as_ref().unwrap().pixel_hash,
        Some(first.clone())
    );
    assert!(!report.frames[1].reference.as_ref().unwrap().uploaded);

    db.record_benchmark_diff(id, &plan[0], &mismatch()).unwrap();
    db.record_reference_frame(id, 2, &reference_copy(id, 2, &second))
        .unwrap();
    let plan = db.benchmark_diff_plan(id).unwrap();
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].frame, 2);
    let identical = Diff {
        verdict: VerdictKind::Identical,
        numbers: DiffNumbers::default(),
    };
    db.record_benchmark_diff(id, &plan[0], &identical).unwrap();
    assert!(db.benchmarks_missing_diffs().unwrap().is_empty());
    let report = db.benchmark_report(id, "EUR").unwrap();
    assert!(report.complete, "{report:?}");
    let totals = report.runs[0].parity.as_ref().unwrap();
    assert_eq!((totals.identical, totals.mismatch), (1, 1));
    assert_eq!(report.reference.as_ref().unwrap().frames_uploaded, 2);
    let csv = report.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("frame,reference_uploaded,reference_stated_seconds_per_frame,"),
        "{csv}"
    );
    assert!(lines[0].contains(",cpu-a_parity,"), "{csv}");
    assert!(
        lines[1].starts_with("1,yes,30.000,0.400000,,done,"),
        "{csv}"
    );
    assert!(lines[1].contains(",mismatch,0.020000,"), "{csv}");
    assert!(lines[2].contains(",identical,"), "{csv}");
    assert!(
        lines[3].starts_with("total,2 of 2 uploaded,30.000,0.400000,3600.000,"),
        "{csv}"
    );

    // A re-upload with other pixels replaces the frame: compared again.
    let again = reference_copy(id, 1, &"a3".repeat(32));
    assert!(db.record_reference_frame(id, 1, &again).unwrap());
    assert_eq!(db.benchmark_reference_frames(id).unwrap()[&1], again);
    let report = db.benchmark_report(id, "EUR").unwrap();
    assert_eq!(report.pending_frames, [1]);
    assert!(!report.complete);
    assert_eq!(db.benchmarks_missing_diffs().unwrap(), [id]);
    assert_eq!(
        db.benchmark_diff_plan(id).unwrap()[0].a.pixel_hash,
        again.pixel_hash
    );
}

#[test]
fn reference_frames_need_a_benchmark_with_a_reference() {
    let db = Db::in_memory().unwrap();
    let (id, _) = benchmark(&db, Some("acme"));
    let target = db.benchmark_reference_target(id).unwrap();
    assert!(target.reference.is_none());
    assert_eq!(target.frames, [1, 2]);
    let report = db.benchmark_report(id, "EUR").unwrap();
    assert!(report.reference.is_none());
    assert!(report.frames.iter().all(|row| row.reference.is_none()));
    assert!(
        report.runs[0].parity.is_none(),
        "the first run is the baseline"
    );
    assert!(matches!(
        db.record_reference_frame(id, 1, &reference_copy(id, 1, &"a1".repeat(32))),
        Err(DbError::Conflict(_))
    ));
    assert!(db.benchmark_reference_frames(id).unwrap().is_empty());
    assert!(matches!(
        db.benchmark_reference_target(BenchmarkId::new()),
        Err(DbError::NotFound(_))
    ));
}
