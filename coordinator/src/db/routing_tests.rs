//! Routing placed jobs: a task goes only to a worker inside the job's
//! placement, a few at a time per worker, and never to the shared queue; a
//! worker outside it that starts one anyway hands it back.

use proptest::prelude::*;
use protocol::{Control, WorkerEvent, WorkerId};

use super::tests::{info, job_with, started};
use super::{BACKLOG, Db, EnrollmentTerms, JobOptions, Policy};
use crate::placement::{Placement, Seat};

const REGIONS: [&str; 5] = ["DE", "FR", "US", "GB", "NO"];
const CLASSES: [&str; 2] = ["cpu-cheap", "cpu-fast"];

/// An online worker enrolled in `region` as `class`.
fn worker_in(db: &Db, name: &str, region: &str, class: &str) -> WorkerId {
    let id = db.enroll_test_worker_with(
        name,
        EnrollmentTerms {
            owner: format!("owner-{name}"),
            region: region.into(),
            node_classes: vec![class.into()],
            device_classes: vec!["cpu".into()],
        },
    );
    db.apply_as_named(&WorkerEvent::Announce(info(id, name)), &Policy::default())
        .unwrap();
    id
}

fn seat(region: &str, class: &str) -> Seat {
    Seat {
        region: region.into(),
        node_classes: vec![class.into()],
        device_classes: vec!["cpu".into()],
        vram_mib: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_routed_task_goes_only_to_a_worker_inside_its_placement(
        workers in proptest::collection::vec((0..REGIONS.len(), 0..CLASSES.len()), 1..6),
        regions in proptest::option::of(prop_oneof![
            Just("EU"), Just("US"), Just("UK"), Just("DE,US"), Just("EEA")
        ]),
        class in proptest::option::of(0..CLASSES.len()),
    ) {
        let db = Db::in_memory().unwrap();
        let mut seats = std::collections::HashMap::new();
        for (i, (region, class)) in workers.iter().enumerate() {
            let id = worker_in(&db, &format!("w{i}"), REGIONS[*region], CLASSES[*class]);
            seats.insert(id, seat(REGIONS[*region], CLASSES[*class]));
        }
        let placement = Placement::parse(regions, class.map(|c| CLASSES[c]), None, None).unwrap();
        prop_assume!(!placement.is_anywhere());
        let (_, shared) = job_with(&db, JobOptions { placement: placement.clone(), ..JobOptions::default() });
        prop_assert!(shared.is_empty(), "nothing of a placed job goes to the shared queue");
        db.place_routed_tasks().unwrap();
        let published = db.take_pending(100).unwrap();
        let mut held = std::collections::HashMap::new();
        for task in &published {
            let target = task.target.expect("a routed task is directed");
            prop_assert!(placement.admits(&seats[&target]), "{:?} to {:?}", placement, seats[&target]);
            *held.entry(target).or_insert(0) += 1;
        }
        prop_assert!(held.values().all(|n| *n <= BACKLOG));
        let admitted = seats.values().filter(|s| placement.admits(s)).count();
        prop_assert_eq!(published.len(), (admitted * BACKLOG).min(2));
    }
}

#[test]
fn a_worker_outside_the_placement_that_starts_a_task_hands_it_back() {
    let db = Db::in_memory().unwrap();
    let paris = worker_in(&db, "paris", "FR", "cpu-cheap");
    let ohio = worker_in(&db, "ohio", "US", "cpu-cheap");
    let eu = Placement::parse(Some("EU"), None, None, None).unwrap();
    let (_, _) = job_with(
        &db,
        JobOptions {
            placement: eu,
            ..JobOptions::default()
        },
    );
    db.place_routed_tasks().unwrap();
    let tasks = db.take_pending(100).unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|t| t.target == Some(paris)));
    // Someone else's directed task is refused as not its own; a task it is
    // somehow given undirected is handed back and routed again.
    db.lock()
        .execute("UPDATE tasks SET target_worker = NULL", [])
        .unwrap();
    let followup = started(&db, &tasks[0], ohio);
    assert!(matches!(
        followup.controls.as_slice(),
        [(_, Control::AbandonTask { .. })]
    ));
    db.place_routed_tasks().unwrap();
    let again = db.take_pending(100).unwrap();
    assert!(again.iter().all(|t| t.target == Some(paris)), "{again:?}");
    assert!(!again.is_empty());
}

#[test]
fn what_waits_for_a_worker_that_leaves_or_is_blocklisted_goes_to_another() {
    let db = Db::in_memory().unwrap();
    let berlin = worker_in(&db, "berlin", "DE", "cpu-cheap");
    let eu = Placement::parse(Some("EU"), None, None, None).unwrap();
    job_with(
        &db,
        JobOptions {
            placement: eu,
            ..JobOptions::default()
        },
    );
    db.place_routed_tasks().unwrap();
    let first = db.take_pending(100).unwrap();
    db.mark_queued(
        &first
            .iter()
            .map(|t| (t.message.task_id, t.message.attempt))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(first.iter().all(|t| t.target == Some(berlin)));
    let paris = worker_in(&db, "paris", "FR", "cpu-cheap");
    let followup = db
        .apply_as_named(&WorkerEvent::Leaving { worker: berlin }, &Policy::default())
        .unwrap();
    assert!(followup.dispatch);
    db.place_routed_tasks().unwrap();
    let moved = db.take_pending(100).unwrap();
    assert_eq!(moved.len(), 2);
    assert!(
        moved
            .iter()
            .all(|t| t.target == Some(paris) && t.message.attempt == 2)
    );
    db.mark_queued(
        &moved
            .iter()
            .map(|t| (t.message.task_id, t.message.attempt))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let lyon = worker_in(&db, "lyon", "FR", "cpu-cheap");
    db.blocklist_worker(paris, "test").unwrap();
    db.place_routed_tasks().unwrap();
    let again = db.take_pending(100).unwrap();
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|t| t.target == Some(lyon)), "{again:?}");
}

#[test]
fn a_worker_in_its_class_check_renders_only_its_benchmark_frame() {
    let db = Db::in_memory().unwrap();
    db.put_node_class(&super::NodeClass {
        name: "cpu-checked".into(),
        device: protocol::RenderDevice::Cpu,
        price_micros_per_second: None,
        min_micros_per_frame: crate::money::Money::ZERO,
        speed_score: 1.0,
        benchmark_max_secs: Some(60.0),
        description: String::new(),
    })
    .unwrap();
    let checked = worker_in(&db, "checked", "DE", "cpu-checked");
    let other = worker_in(&db, "other", "FR", "cpu-cheap");
    let eu = Placement::parse(Some("EU"), None, None, None).unwrap();
    job_with(
        &db,
        JobOptions {
            placement: eu,
            ..JobOptions::default()
        },
    );
    db.place_routed_tasks().unwrap();
    let routed = db.take_pending(100).unwrap();
    assert!(!routed.is_empty());
    let queued: Vec<_> = routed
        .iter()
        .map(|t| (t.message.task_id, t.message.attempt))
        .collect();
    db.mark_queued(&queued).unwrap();
    assert!(
        routed.iter().all(|t| t.target == Some(other)),
        "a worker in its class check is offered nothing: {routed:?}"
    );
    // Its benchmark frame is pinned to it, and to it only.
    let scene: protocol::SceneHash = "ab".repeat(32).parse().unwrap();
    let check = super::CheckScene {
        scene,
        frames: vec![7],
    };
    assert_eq!(db.start_class_checks(&check).unwrap(), 1);
    assert_eq!(
        db.start_class_checks(&check).unwrap(),
        0,
        "one check at a time"
    );
    db.place_routed_tasks().unwrap();
    let pinned = db.take_pending(100).unwrap();
    assert_eq!(pinned.len(), 1, "{pinned:?}");
    assert_eq!(pinned[0].target, Some(checked));
    assert_eq!(pinned[0].message.frames, vec![7]);
    // Anything else it starts goes back.
    let followup = super::tests::started(&db, &routed[0], checked);
    assert!(
        followup.controls.iter().any(|(w, c)| *w == checked
            && matches!(c, Control::AbandonTask { task_id, .. } if *task_id == routed[0].message.task_id)),
        "{followup:?}"
    );
    assert!(
        super::tests::started(&db, &pinned[0], checked)
            .controls
            .is_empty()
    );
}
