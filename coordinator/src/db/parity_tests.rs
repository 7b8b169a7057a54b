//! Verification on an in-memory database: a small simulated farm takes the
//! tasks the database hands out, delivers frames whose pixel hash says
//! whether the worker is honest, and judges copies by hash, so parity,
//! arbitration, strikes, the blocklist and billing are followed end to end.

use std::collections::VecDeque;

use protocol::{
    CpuInfo, FrameDone, FrameSpec, JobId, OutputSpec, Overrides, Renderer, RendererInfo, SceneHash,
    WorkerEvent, WorkerId, WorkerInfo,
};

use rusqlite::params;

use super::{Db, Followup, NewJob, Policy, VerdictNumbers};
use crate::money::Money;
use crate::state::{CheckState, FrameState, JobState, ResultStatus, VerdictKind};

/// One simulated worker.
#[derive(Clone, Copy)]
struct SimWorker {
    id: WorkerId,
    honest: bool,
    /// Whether it takes tasks from the shared queue (all do, unless a test
    /// wants one to render only copies).
    shared: bool,
}

/// A farm of simulated workers around a real database.
struct Sim {
    db: Db,
    policy: Policy,
    workers: Vec<SimWorker>,
    next_shared: usize,
}

fn announce(db: &Db, policy: &Policy, name: &str, owner: &str) -> WorkerId {
    let id = db.enroll_test_worker(name, owner);
    let info = WorkerInfo {
        id,
        name: name.into(),
        owner: owner.into(),
        region: "local".into(),
        node_class: "standard".into(),
        renderers: vec![RendererInfo {
            renderer: Renderer::Blender,
            version: "3.4.1".into(),
            formats: Vec::new(),
        }],
        cpu: CpuInfo::default(),
        gpus: vec![],
        hostname: "host".into(),
    };
    db.apply_as_named(&WorkerEvent::Announce(info), policy)
        .unwrap();
    id
}

impl Sim {
    fn new(db: Db, honest: &[bool]) -> Self {
        let policy = Policy::default();
        let workers = honest
            .iter()
            .enumerate()
            .map(|(i, &honest)| SimWorker {
                id: announce(&db, &policy, &format!("w{i}"), &format!("owner{i}")),
                honest,
                shared: true,
            })
            .collect();
        Self {
            db,
            policy,
            workers,
            next_shared: 0,
        }
    }

    fn job(&self, frames: &str, parity_bp: u32) -> JobId {
        let hash: SceneHash = "cd".repeat(32).parse().unwrap();
        self.db.record_scene(&hash, "blend", 10).unwrap();
        self.db
            .create_job(&NewJob {
                name: "parity".into(),
                scene: hash,
                renderer: Renderer::Blender,
                frames: FrameSpec::parse(frames, 100_000).unwrap(),
                chunk_size: 1,
                priority: 50,
                output: OutputSpec::default(),
                overrides: Overrides::default(),
                task_timeout_secs: 60,
                parity_bp,
                options: Default::default(),
            })
            .unwrap()
    }

    fn blocklisted(&self, worker: WorkerId) -> bool {
        self.db
            .lock()
            .query_row(
                "SELECT blocklisted_ms IS NOT NULL FROM workers WHERE id = ?1",
                [worker.to_string()],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// Judge copies by hash: equal is identical, different a mismatch.
    fn compare(&self, job: &str, frame: i32) -> Followup {
        let Some(plan) = self.db.comparison_plan(job, frame).unwrap() else {
            return Followup::default();
        };
        let hash = |r: u32| {
            plan.copies
                .iter()
                .find(|c| c.replica == r)
                .unwrap()
                .pixel_hash
                .clone()
        };
        let verdicts: Vec<_> = plan
            .missing
            .iter()
            .map(|&(a, b)| {
                let numbers = if hash(a) == hash(b) {
                    VerdictNumbers::same_hash()
                } else {
                    VerdictNumbers::unreadable("different pixels".into())
                };
                (a, b, numbers)
            })
            .collect();
        self.db
            .record_verdicts(job, frame, &[], &verdicts, &self.policy)
            .unwrap()
    }

    /// Run until nothing is left to dispatch or compare.
    fn run(&mut self, limit: usize) {
        assert!(
            self.run_for(limit),
            "the simulated farm did not settle in {limit} steps"
        );
    }

    /// Run at most `limit` steps; returns whether everything settled.
    fn run_for(&mut self, limit: usize) -> bool {
        // As the watchdog does after a restart: comparisons left unfinished
        // are redone from the database.
        let mut comparisons: VecDeque<_> = self.db.frames_to_compare().unwrap().into();
        for _ in 0..limit {
            let placed = self.db.place_waiting_copies().unwrap();
            comparisons.extend(placed.comparisons);
            let tasks = self.db.take_pending(1).unwrap();
            let Some(task) = tasks.into_iter().next() else {
                let Some((job, frame)) = comparisons.pop_front() else {
                    return true;
                };
                comparisons.extend(self.compare(&job, frame).comparisons);
                continue;
            };
            self.db
                .mark_queued(&[(task.message.task_id, task.message.attempt)])
                .unwrap();
            let worker = match task.target {
                Some(target) => self.workers.iter().position(|w| w.id == target).unwrap(),
                None => loop {
                    let i = self.next_shared % self.workers.len();
                    self.next_shared += 1;
                    if self.workers[i].shared && !self.blocklisted(self.workers[i].id) {
                        break i;
                    }
                },
            };
            let SimWorker { id, honest, .. } = self.workers[worker];
            let message = &task.message;
            let mut events = vec![WorkerEvent::TaskStarted {
                task_id: message.task_id,
                attempt: message.attempt,
                worker: id,
                redelivered: false,
            }];
            for &frame in &message.frames {
                events.push(WorkerEvent::FrameDone(FrameDone {
                    task_id: message.task_id,
                    attempt: message.attempt,
                    job_id: message.job_id,
                    frame,
                    replica: message.replica,
                    worker: id,
                    object_key: String::new(),
                    pixel_hash: if honest {
                        format!("good{frame}")
                    } else {
                        format!("bad{frame}-{id}")
                    },
                    render_seconds: 2.0 + f64::from(frame % 3) * 0.25,
                    width: 4,
                    height: 4,
                    device: protocol::RenderDevice::Cpu,
                    bytes: 100,
                }));
            }
            events.push(WorkerEvent::TaskDone {
                task_id: message.task_id,
                attempt: message.attempt,
                worker: id,
            });
            for event in events {
                let followup = self.db.apply_as_named(&event, &self.policy).unwrap();
                comparisons.extend(followup.comparisons);
                if matches!(event, WorkerEvent::TaskStarted { .. }) {
                    // The simulated render takes a while: the coordinator
                    // saw the attempt start a minute before its frames.
                    self.db
                        .lock()
                        .execute(
                            "UPDATE attempts SET started_ms = started_ms - 60000 \
                             WHERE task_id = ?1 AND attempt = ?2",
                            params![message.task_id.to_string(), message.attempt],
                        )
                        .unwrap();
                }
            }
        }
        false
    }
}

fn result_statuses(db: &Db, worker: WorkerId) -> Vec<ResultStatus> {
    let conn = db.lock();
    let mut stmt = conn
        .prepare("SELECT status FROM results WHERE worker_id = ?1")
        .unwrap();
    stmt.query_map([worker.to_string()], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn honest_workers_at_full_parity_verify_every_frame() {
    let mut sim = Sim::new(Db::in_memory().unwrap(), &[true, true, true]);
    let job = sim.job("1-12", 10_000);
    sim.run(200);
    let detail = sim.db.job_detail(job).unwrap();
    assert_eq!(detail.job.state, JobState::Done);
    assert_eq!(detail.job.verification.verified, 12);
    assert!(detail.frame_list.iter().all(|f| f.copies == 2));
    for worker in sim.db.list_workers().unwrap() {
        assert_eq!(worker.reputation.strikes, 0);
        assert!(worker.reputation.blocklist_reason.is_none());
    }
    let report = sim.db.cost_report(job, "USD").unwrap();
    let sum = Money::checked_sum(report.frames.iter().map(|f| f.cost_micros)).unwrap();
    assert_eq!(report.totals.cost_micros, sum);
    assert_eq!(sim.db.billed_so_far(job).unwrap(), sum);
    assert_eq!(report.totals.frames_verified, 12);
    assert_eq!(report.totals.replication_percent, 100.0);
    // Each frame is billed at the lower of its two (equal) claims; the copy
    // is overhead of the same size.
    assert_eq!(report.totals.verification_overhead_micros, sum);
    let paid = Money::checked_sum(
        sim.db
            .payouts(1_000_000)
            .unwrap()
            .iter()
            .map(|p| p.earned_micros),
    )
    .unwrap();
    assert_eq!(
        paid,
        sum.checked_add(sum).unwrap(),
        "both copies of a verified frame are paid"
    );
}

#[test]
fn a_cheater_is_outvoted_blocklisted_and_paid_nothing() {
    let mut sim = Sim::new(Db::in_memory().unwrap(), &[true, false, true]);
    let cheater = sim.workers[1].id;
    let job = sim.job("1-12", 500);
    sim.run(400);
    let detail = sim.db.job_detail(job).unwrap();
    assert_eq!(detail.job.state, JobState::Done);
    assert!(sim.blocklisted(cheater));
    let conn = sim.db.lock();
    let mut stmt = conn
        .prepare(
            "SELECT r.pixel_hash FROM frames f JOIN results r ON r.job_id = f.job_id \
             AND r.frame = f.frame AND r.replica = f.primary_replica",
        )
        .unwrap();
    let delivered: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    drop(stmt);
    drop(conn);
    assert_eq!(delivered.len(), 12);
    assert!(
        delivered.iter().all(|h| h.starts_with("good")),
        "{delivered:?}"
    );
    assert!(
        result_statuses(&sim.db, cheater)
            .iter()
            .all(|s| matches!(s, ResultStatus::Wrong | ResultStatus::Rejected))
    );
    let payouts = sim.db.payouts(0).unwrap();
    let bad = payouts.iter().find(|p| p.worker_id == cheater).unwrap();
    assert_eq!(bad.earned_micros, Money::ZERO);
    assert_eq!(bad.held_micros, Money::ZERO);
    assert!(bad.forfeited_micros > Money::ZERO);
    assert!(bad.strikes >= 2 && bad.blocklisted);
    let verdicts = sim.db.list_verdicts(job).unwrap();
    assert!(
        verdicts
            .iter()
            .any(|v| v.numbers.verdict == VerdictKind::Mismatch)
    );
    let report = sim.db.cost_report(job, "USD").unwrap();
    let sum = Money::checked_sum(report.frames.iter().map(|f| f.cost_micros)).unwrap();
    assert_eq!(report.totals.cost_micros, sum);
    assert_eq!(sim.db.billed_so_far(job).unwrap(), sum);
    assert!(report.frames.iter().all(|f| f.worker_id != Some(cheater)));
}

#[test]
fn trusted_workers_are_replicated_at_the_floor_new_ones_always() {
    let mut sim = Sim::new(Db::in_memory().unwrap(), &[true, true]);
    let veteran = sim.workers[0].id;
    sim.db
        .lock()
        .execute(
            "UPDATE workers SET verified_streak = 1000 WHERE id = ?1",
            [veteran.to_string()],
        )
        .unwrap();
    let replicated = |db: &Db, worker: WorkerId| -> (u64, u64) {
        db.lock()
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(f.replicated), 0) FROM frames f JOIN results r \
                 ON r.job_id = f.job_id AND r.frame = f.frame AND r.replica = 0 WHERE r.worker_id = ?1",
                [worker.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    // 2,000 frames by the veteran at a 5% parity rate; the newcomer only
    // renders the copies.
    sim.workers[1].shared = false;
    let job = sim.job("1-2000", 500);
    sim.run(10_000);
    let (frames, copies) = replicated(&sim.db, veteran);
    assert_eq!(frames, 2000);
    let rate = copies as f64 / frames as f64;
    assert!(
        (0.03..0.075).contains(&rate),
        "veteran replicated at {rate}"
    );
    let report = sim.db.cost_report(job, "USD").unwrap();
    assert_eq!(report.totals.frames_replicated, copies);

    // A worker that just joined has all its frames replicated (the
    // newcomer above has verified the veteran's copies by now, so it has a
    // streak of its own).
    let fresh = announce(&sim.db, &sim.policy, "fresh", "owner-fresh");
    for worker in &mut sim.workers {
        worker.shared = false;
    }
    sim.workers.push(SimWorker {
        id: fresh,
        honest: true,
        shared: true,
    });
    let job = sim.job("1-10", 500);
    sim.run(100);
    assert_eq!(replicated(&sim.db, fresh), (10, 10));
    assert_eq!(sim.db.job_detail(job).unwrap().job.state, JobState::Done);
}

#[test]
fn without_a_second_worker_frames_stay_unverifiable_and_the_job_ends() {
    let mut sim = Sim::new(Db::in_memory().unwrap(), &[true]);
    let job = sim.job("1-3", 10_000);
    sim.run(20);
    let detail = sim.db.job_detail(job).unwrap();
    assert_eq!(detail.job.state, JobState::Done);
    assert!(
        detail
            .frame_list
            .iter()
            .all(|f| f.state == FrameState::Done && f.verification == CheckState::Unverifiable)
    );
    let payout = &sim.db.payouts(3_600_000).unwrap()[0];
    assert_eq!(payout.earned_micros, Money::ZERO);
    assert!(
        payout.held_micros > Money::ZERO,
        "held in escrow inside the window"
    );
    let payout = &sim.db.payouts(0).unwrap()[0];
    assert!(
        payout.earned_micros > Money::ZERO,
        "paid once the window closed"
    );
}

#[test]
fn one_owners_workers_never_verify_each_other() {
    let mut sim = Sim::new(Db::in_memory().unwrap(), &[true, true]);
    // Both workers belong to one provider: neither may copy the other's frames.
    sim.db
        .lock()
        .execute("UPDATE workers SET owner = 'one-provider'", [])
        .unwrap();
    let job = sim.job("1-4", 10_000);
    sim.run(40);
    let detail = sim.db.job_detail(job).unwrap();
    assert_eq!(detail.job.state, JobState::Done);
    assert!(
        detail
            .frame_list
            .iter()
            .all(|f| f.copies == 1 && f.verification == CheckState::Unverifiable),
        "{:?}",
        detail.frame_list
    );
}

#[test]
fn a_reopened_database_keeps_strikes_verdicts_and_money() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.sqlite");
    let mut sim = Sim::new(Db::open(&path).unwrap(), &[true, false, true]);
    let job = sim.job("1-8", 10_000);
    assert!(!sim.run_for(12), "stopped in the middle");
    let before = sim.db.payouts(0).unwrap();
    let verdicts = sim.db.list_verdicts(job).unwrap().len();
    sim.db = Db::open(&path).unwrap();
    assert_eq!(sim.db.payouts(0).unwrap(), before);
    assert_eq!(sim.db.list_verdicts(job).unwrap().len(), verdicts);
    sim.run(400);
    let report = sim.db.cost_report(job, "USD").unwrap();
    assert_eq!(report.state, JobState::Done);
    let sum = Money::checked_sum(report.frames.iter().map(|f| f.cost_micros)).unwrap();
    assert_eq!(report.totals.cost_micros, sum);
    let copies: u64 = sim
        .db
        .lock()
        .query_row("SELECT COUNT(*) FROM results", [], |r| r.get(0))
        .unwrap();
    let delivered: u64 = sim
        .db
        .payouts(0)
        .unwrap()
        .iter()
        .map(|p| p.frames_delivered)
        .sum();
    assert_eq!(copies, delivered, "every copy is paid or forfeited once");
}

#[test]
fn a_copy_waits_for_a_lost_worker_that_may_come_back() {
    let mut sim = Sim::new(Db::in_memory().unwrap(), &[true, true]);
    let other = sim.workers[1].id;
    sim.workers[1].shared = false;
    let set_state = |db: &Db, state: &str| {
        db.lock()
            .execute(
                "UPDATE workers SET state = ?2 WHERE id = ?1",
                [other.to_string(), state.to_owned()],
            )
            .unwrap();
    };
    set_state(&sim.db, "lost");
    let job = sim.job("1-2", 10_000);
    sim.run(20);
    let detail = sim.db.job_detail(job).unwrap();
    assert_eq!(detail.job.state, JobState::Running, "copies wait for it");
    assert_eq!(detail.job.verification.awaiting, 2);

    set_state(&sim.db, "online");
    sim.run(20);
    let detail = sim.db.job_detail(job).unwrap();
    assert_eq!(detail.job.state, JobState::Done);
    assert_eq!(detail.job.verification.verified, 2);

    set_state(&sim.db, "left");
    let job = sim.job("3", 10_000);
    sim.run(20);
    let detail = sim.db.job_detail(job).unwrap();
    assert_eq!(detail.job.state, JobState::Done, "nobody to wait for");
    assert_eq!(detail.job.verification.unverifiable, 1);
}
