//! A worker event that keeps failing to apply goes to the dead-letter queue
//! after a few tries instead of looping on the results queue.

mod support;

use std::time::{Duration, Instant};

use protocol::{WorkerEvent, queues};
use queue::Outgoing;
use serde_json::json;
use support::app::local_config;
use support::{TestApp, sample_scene};

#[tokio::test]
async fn an_event_that_keeps_failing_is_dead_lettered_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let token = app.enrollment_token("owner-w").await;
    let enrolled = app.farm.enroll(&token, "w").await.unwrap();
    let queue::Granted::InProcess(worker_broker) = enrolled.queue else {
        panic!("the embedded queue grants in-process handles");
    };
    let scene = app.upload(&sample_scene()).await;
    let job = app
        .submit(json!({"scene": scene, "renderer": "blender", "frames": "1"}))
        .await;
    let task_id = app.job(job.id).await.frame_list[0].task_id;
    // A task row the coordinator cannot read: every try to apply an event
    // about it fails.
    rusqlite::Connection::open(&app.config.database)
        .unwrap()
        .execute(
            "UPDATE tasks SET frames = 'not a frame list' WHERE id = ?1",
            [task_id.to_string()],
        )
        .unwrap();
    let event = serde_json::to_vec(&WorkerEvent::TaskStarted {
        task_id,
        attempt: 1,
        worker: enrolled.worker.id,
        redelivered: false,
    })
    .unwrap();
    worker_broker
        .publish(vec![Outgoing {
            queue: queues::RESULTS.to_owned(),
            payload: event.clone(),
            priority: 0,
        }])
        .await
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(120);
    while app.broker.ready_count(queues::RESULTS_DEAD).await.unwrap() == 0 {
        assert!(
            Instant::now() < deadline,
            "the event was never dead-lettered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut dead = app
        .broker
        .consume(&[queues::RESULTS_DEAD.to_owned()], 1)
        .await
        .unwrap();
    let delivery = dead.next().await.unwrap();
    assert_eq!(delivery.payload, event, "the event itself, unchanged");
    delivery.ack().await.unwrap();
    assert_eq!(
        app.broker.ready_count(queues::RESULTS).await.unwrap(),
        0,
        "it is not retried any more"
    );
    assert_eq!(
        app.broker.ready_count(queues::RESULTS_DEAD).await.unwrap(),
        0
    );
    app.stop().await;
}
