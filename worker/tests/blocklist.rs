//! A worker's own queue: parity copies on it come before shared tasks, and
//! a blocklisted worker stays connected but takes tasks only from it until
//! it is reinstated, on the embedded queue and on RabbitMQ.

mod common;

use std::time::Duration;

use common::{Farm, Vhost};
use protocol::{Control, Renderer, WorkerEvent, queues};

/// The task the events settled, asserting it was started and rendered.
fn done(events: &[WorkerEvent]) -> protocol::TaskId {
    let Some(WorkerEvent::TaskStarted { task_id, .. }) = events.first() else {
        panic!("expected TaskStarted first, got {events:?}");
    };
    assert!(
        matches!(events.last(), Some(WorkerEvent::TaskDone { task_id: done, .. }) if done == task_id),
        "{events:?}"
    );
    *task_id
}

/// Tasks ready (not taken) on the shared Blender queue.
async fn shared_ready(farm: &Farm) -> u64 {
    farm.broker
        .ready_count(&queues::tasks(Renderer::Blender))
        .await
        .unwrap()
}

/// Blocklist the worker, check it ignores the shared queue but renders a
/// directed task, then reinstate it and check it takes the shared task.
async fn blocklisted_then_reinstated(mut farm: Farm) {
    let scene = farm.sample_scene().await;
    farm.control_taken(&Control::Blocklisted {
        reason: "test: too many parity mismatches".into(),
    })
    .await;

    let shared = farm.quick_task(&scene);
    farm.publish(&shared).await;
    let directed = farm.quick_task(&scene);
    farm.publish_directed(&directed).await;
    let events = farm.events_until_settled().await;
    assert_eq!(
        done(&events),
        directed.task_id,
        "the directed task is rendered"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        shared_ready(&farm).await,
        1,
        "the shared task is left in the queue"
    );

    farm.control_taken(&Control::Reinstated).await;
    let events = farm.events_until_settled().await;
    assert_eq!(
        done(&events),
        shared.task_id,
        "reinstated: the shared task is rendered"
    );
    assert_eq!(shared_ready(&farm).await, 0);

    farm.shutdown().await.unwrap();
    assert!(matches!(
        farm.next_event().await,
        WorkerEvent::Leaving { .. }
    ));
}

/// While the worker renders a shared task, another shared task and a
/// directed copy arrive: the copy is rendered first.
async fn copies_come_first(mut farm: Farm) {
    let scene = farm.sample_scene().await;
    let first = farm.task(&scene, &[1, 2, 3]);
    farm.publish(&first).await;
    assert!(matches!(
        farm.next_event().await,
        WorkerEvent::TaskStarted { task_id, .. } if task_id == first.task_id
    ));
    let shared = farm.quick_task(&scene);
    farm.publish(&shared).await;
    let copy = farm.quick_task(&scene);
    farm.publish_directed(&copy).await;
    let rest = farm.events_until_settled().await;
    assert!(
        matches!(rest.last(), Some(WorkerEvent::TaskDone { task_id, .. }) if *task_id == first.task_id),
        "{rest:?}"
    );
    let order = [
        done(&farm.events_until_settled().await),
        done(&farm.events_until_settled().await),
    ];
    assert_eq!(order, [copy.task_id, shared.task_id], "the copy goes first");
    farm.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directed_copies_come_before_shared_tasks_on_the_embedded_queue() {
    let Some(farm) = Farm::start(30).await else {
        return;
    };
    copies_come_first(farm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directed_copies_come_before_shared_tasks_on_rabbitmq() {
    if !common::blender_available() || !common::rabbitmq_available() {
        return;
    }
    let vhost = Vhost::create();
    copies_come_first(Farm::start_on(vhost.broker().await, 30).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocklisted_worker_takes_only_directed_tasks_on_the_embedded_queue() {
    let Some(farm) = Farm::start(30).await else {
        return;
    };
    blocklisted_then_reinstated(farm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocklisted_worker_takes_only_directed_tasks_on_rabbitmq() {
    if !common::blender_available() || !common::rabbitmq_available() {
        return;
    }
    let vhost = Vhost::create();
    let farm = Farm::start_on(vhost.broker().await, 30).await;
    blocklisted_then_reinstated(farm).await;
}
