//! The worker on a real RabbitMQ (127.0.0.1:5672, guest/guest), in a
//! throw-away virtual host so it shares no queue with anything else.

mod common;

use common::{Farm, Vhost};
use protocol::WorkerEvent;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renders_a_chunk_through_rabbitmq() {
    if !common::blender_available() || !common::rabbitmq_available() {
        return;
    }
    let vhost = Vhost::create();
    let mut farm = Farm::start_on(vhost.broker().await, 30).await;
    let scene = farm.sample_scene().await;
    let task = farm.task(&scene, &[1, 2]);
    farm.publish(&task).await;
    let events = farm.events_until_settled().await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|event| match event {
            WorkerEvent::TaskStarted { .. } => "started",
            WorkerEvent::FrameDone(_) => "frame",
            WorkerEvent::TaskDone { .. } => "done",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["started", "frame", "frame", "done"], "{events:?}");
    farm.shutdown().await.unwrap();
    assert!(matches!(
        farm.next_event().await,
        WorkerEvent::Leaving { .. }
    ));
    drop(farm);
}
