//! The conformance suite and reconnection behaviour of the RabbitMQ backend,
//! against the broker at `AMQP_URL` (default 127.0.0.1:5672, guest/guest).
//! Skipped loudly when it is not running, except under CI, where that fails.

use std::process::Command;
use std::sync::Arc;

use queue::conformance::{Fixture, assert_ready, message, next, rabbitmq_or_skip, unique_queues};
use queue::{Broker, QueueError, QueueOptions, RabbitMq, RabbitMqOptions};

async fn open() -> Option<Fixture> {
    let broker = rabbitmq_or_skip(RabbitMqOptions::default()).await?;
    Some(Fixture {
        broker: Arc::new(broker),
        queues: unique_queues("conformance"),
    })
}

/// Delete the case's queues (through a connection of our own: the fixture
/// only has the trait).
async fn close(fixture: Fixture) {
    let broker = RabbitMq::connect(&queue::conformance::rabbitmq_url())
        .await
        .unwrap();
    for queue in &fixture.queues {
        broker.delete_queue(queue).await.unwrap();
    }
}

queue::conformance_tests!(open, close);

/// Force-close, from the broker side, every connection whose client-given
/// name starts with `prefix` (as `rabbitmqctl close_connection` does when
/// an operator kicks a client); returns how many were closed.
fn close_connections_named(prefix: &str) -> usize {
    let listing = Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "-q",
            "--no-table-headers",
            "pid",
            "client_properties",
        ])
        .output()
        .expect("rabbitmqctl is needed for this test");
    let listing = String::from_utf8_lossy(&listing.stdout);
    let mut closed = 0;
    for line in listing.lines().filter(|line| line.contains(prefix)) {
        let pid = line.split_whitespace().next().unwrap();
        let status = Command::new("rabbitmqctl")
            .args([
                "close_connection",
                pid,
                "forced by the queue crate's reconnection test",
            ])
            .status()
            .unwrap();
        assert!(status.success());
        closed += 1;
    }
    closed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_close_loses_nothing() {
    let [queue, _] = unique_queues("reconnect");
    let options = RabbitMqOptions {
        connection_name: queue.clone(),
        ..RabbitMqOptions::default()
    };
    let Some(broker) = rabbitmq_or_skip(options).await else {
        return;
    };
    broker
        .declare(&queue, QueueOptions { max_priority: 10 })
        .await
        .unwrap();
    broker
        .publish((0..10).map(|i| message(&queue, i.to_string(), 0)).collect())
        .await
        .unwrap();
    let mut consumer = broker
        .consume(std::slice::from_ref(&queue), 1)
        .await
        .unwrap();
    let held = next(&mut *consumer).await;
    assert_eq!(held.payload, b"0");

    assert_eq!(
        close_connections_named(&queue),
        2,
        "the publishing and the consuming connection"
    );

    // Publishing reconnects and delivers.
    broker
        .publish(
            (10..20)
                .map(|i| message(&queue, i.to_string(), 0))
                .collect(),
        )
        .await
        .unwrap();
    // The consumer subscribes again; the unacked message comes back.
    let again = next(&mut *consumer).await;
    assert_eq!(again.payload, b"0");
    assert!(again.redelivered);
    assert!(matches!(held.ack().await, Err(QueueError::Closed)));
    again.ack().await.unwrap();
    let mut rest = Vec::new();
    for _ in 1..20 {
        let delivery = next(&mut *consumer).await;
        rest.push(
            String::from_utf8(delivery.payload.clone())
                .unwrap()
                .parse::<u32>()
                .unwrap(),
        );
        delivery.ack().await.unwrap();
    }
    rest.sort_unstable();
    assert_eq!(rest, (1..20).collect::<Vec<_>>());
    assert_ready(&broker, &queue, 0).await;
    broker.delete_queue(&queue).await.unwrap();
}
