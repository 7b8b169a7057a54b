//! Control messages and shutdown, with the real worker loop and real Blender.

mod common;

use std::time::Duration;

use common::Farm;
use protocol::{Control, Renderer, ReturnReason, TaskMessage, TaskReturned, WorkerEvent, queues};

/// A task that renders for minutes unless stopped.
fn endless(farm: &Farm, scene: &protocol::SceneRef) -> TaskMessage {
    let mut task = farm.task(scene, &[1, 2, 3]);
    task.overrides.samples = Some(1_000_000);
    task
}

fn returned(events: &[WorkerEvent]) -> Option<&TaskReturned> {
    match events.last() {
        Some(WorkerEvent::TaskReturned(returned)) => Some(returned),
        _ => None,
    }
}

async fn started(farm: &mut Farm, task: &TaskMessage) {
    match farm.next_event().await {
        WorkerEvent::TaskStarted { task_id, .. } if task_id == task.task_id => {}
        other => panic!("expected TaskStarted, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_and_cancelled_jobs_are_handed_back() {
    let Some(mut farm) = Farm::start(30).await else {
        return;
    };
    let scene = farm.sample_scene().await;

    // Paused: handed back untouched, rendered again once resumed.
    let task = farm.quick_task(&scene);
    farm.control_taken(&Control::JobPaused {
        job_id: task.job_id,
    })
    .await;
    farm.publish(&task).await;
    let events = farm.events_until_settled().await;
    assert_eq!(
        events.len(),
        1,
        "no TaskStarted for a paused job: {events:?}"
    );
    assert_eq!(returned(&events).unwrap().reason, ReturnReason::JobPaused);
    farm.control_taken(&Control::JobResumed {
        job_id: task.job_id,
    })
    .await;
    farm.publish(&task).await;
    let events = farm.events_until_settled().await;
    assert!(
        matches!(events.last(), Some(WorkerEvent::TaskDone { .. })),
        "{events:?}"
    );

    // Cancelled while rendering: Blender is killed and the task handed back.
    let task = endless(&farm, &scene);
    farm.publish(&task).await;
    started(&mut farm, &task).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    farm.control(&Control::JobCancelled {
        job_id: task.job_id,
    })
    .await;
    let events = farm.events_until_settled().await;
    let back = returned(&events).unwrap_or_else(|| panic!("expected TaskReturned, got {events:?}"));
    assert_eq!(
        (back.task_id, back.reason),
        (task.task_id, ReturnReason::JobCancelled)
    );
    assert!(
        farm.stray_processes().is_empty(),
        "{:?}",
        farm.stray_processes()
    );

    // Later tasks of the cancelled job are handed back without rendering.
    let mut later = farm.quick_task(&scene);
    later.job_id = task.job_id;
    farm.publish(&later).await;
    let events = farm.events_until_settled().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        returned(&events).unwrap().reason,
        ReturnReason::JobCancelled
    );

    let tasks = queues::tasks(Renderer::Blender);
    assert_eq!(farm.broker.ready_count(&tasks).await.unwrap(), 0);
    farm.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_attempt_is_dropped_without_results() {
    let Some(mut farm) = Farm::start(30).await else {
        return;
    };
    let scene = farm.sample_scene().await;
    let task = endless(&farm, &scene);
    farm.publish(&task).await;
    started(&mut farm, &task).await;
    farm.control(&Control::AbandonTask {
        task_id: task.task_id,
        attempt: task.attempt,
    })
    .await;
    let next = farm.quick_task(&scene);
    farm.publish(&next).await;
    // The abandoned attempt reports nothing; the next task is the next event.
    started(&mut farm, &next).await;
    let events = farm.events_until_settled().await;
    assert!(
        matches!(events.last(), Some(WorkerEvent::TaskDone { task_id, .. }) if *task_id == next.task_id)
    );
    assert!(
        farm.stray_processes().is_empty(),
        "{:?}",
        farm.stray_processes()
    );
    farm.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_past_the_grace_period_requeues_the_task() {
    let Some(mut farm) = Farm::start(1).await else {
        return;
    };
    let scene = farm.sample_scene().await;
    let task = endless(&farm, &scene);
    farm.publish(&task).await;
    started(&mut farm, &task).await;

    let stopped = std::time::Instant::now();
    farm.shutdown().await.unwrap();
    assert!(
        stopped.elapsed() < Duration::from_secs(20),
        "{:?}",
        stopped.elapsed()
    );
    let events = farm.events_until_settled().await;
    let back = returned(&events).unwrap_or_else(|| panic!("expected TaskReturned, got {events:?}"));
    assert_eq!(back.reason, ReturnReason::ShuttingDown);
    assert!(matches!(
        farm.next_event().await,
        WorkerEvent::Leaving { .. }
    ));
    assert_eq!(
        farm.broker
            .ready_count(&queues::tasks(Renderer::Blender))
            .await
            .unwrap(),
        1,
        "the task is back in the queue"
    );
    assert!(
        farm.stray_processes().is_empty(),
        "{:?}",
        farm.stray_processes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_within_the_grace_period_finishes_the_task() {
    let Some(mut farm) = Farm::start(120).await else {
        return;
    };
    let scene = farm.sample_scene().await;
    let task = farm.task(&scene, &[1, 2]);
    farm.publish(&task).await;
    started(&mut farm, &task).await;
    farm.shutdown().await.unwrap();
    let events = farm.events_until_settled().await;
    assert!(
        matches!(events.last(), Some(WorkerEvent::TaskDone { .. })),
        "{events:?}"
    );
    assert_eq!(events.len(), 3, "two frames then TaskDone: {events:?}");
    assert!(matches!(
        farm.next_event().await,
        WorkerEvent::Leaving { .. }
    ));
    assert_eq!(
        farm.broker
            .ready_count(&queues::tasks(Renderer::Blender))
            .await
            .unwrap(),
        0
    );
}
