//! The conformance suite and restart behaviour of the embedded backend.

use std::path::Path;
use std::sync::Arc;

use queue::conformance::{Fixture, assert_ready, message, next, unique_queues};
use queue::{Broker, Embedded, QueueError, QueueOptions};

/// Each case gets its own database file, so durability settings are the
/// real ones.
async fn open() -> Option<Fixture> {
    let dir = tempfile::tempdir().unwrap().keep();
    let broker = Embedded::open(&dir.join("queue.sqlite")).unwrap();
    Some(Fixture {
        broker: Arc::new(broker),
        queues: unique_queues("embedded"),
    })
}

async fn close(_: Fixture) {}

queue::conformance_tests!(open, close);

/// Set when this test binary is re-run as the process that "crashes".
const CRASH_CHILD: &str = "QUEUE_TEST_CRASH_CHILD";

/// Publishes three messages, takes two and exits without settling them, as a
/// process that dies mid-render. Does nothing unless run by
/// `restart_redelivers_in_flight`.
#[tokio::test]
async fn crash_child() {
    let Ok(path) = std::env::var(CRASH_CHILD) else {
        return;
    };
    let broker = Embedded::open(Path::new(&path)).unwrap();
    broker
        .declare("tasks", QueueOptions { max_priority: 0 })
        .await
        .unwrap();
    let batch = ["one", "two", "three"].map(|p| message("tasks", p, 0));
    broker.publish(batch.to_vec()).await.unwrap();
    let mut consumer = broker.consume(&["tasks".to_owned()], 2).await.unwrap();
    let held = [next(&mut *consumer).await, next(&mut *consumer).await];
    assert_eq!(held.map(|d| d.payload), [b"one".to_vec(), b"two".to_vec()]);
    std::process::exit(0);
}

#[tokio::test]
async fn restart_redelivers_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.sqlite");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture"])
        .env(CRASH_CHILD, &path)
        .status()
        .unwrap();
    assert!(status.success());

    let broker = Embedded::open(&path).unwrap();
    assert_ready(&broker, "tasks", 3).await;
    let mut consumer = broker.consume(&["tasks".to_owned()], 3).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        let delivery = next(&mut *consumer).await;
        got.push((
            String::from_utf8(delivery.payload.clone()).unwrap(),
            delivery.redelivered,
        ));
        delivery.ack().await.unwrap();
    }
    got.sort();
    assert_eq!(
        got,
        [
            ("one".to_owned(), true),
            ("three".to_owned(), false),
            ("two".to_owned(), true)
        ]
    );
}

#[tokio::test]
async fn settled_messages_stay_gone_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.sqlite");
    {
        let broker = Embedded::open(&path).unwrap();
        broker
            .declare("tasks", QueueOptions { max_priority: 5 })
            .await
            .unwrap();
        broker
            .publish(vec![
                message("tasks", "todo", 1),
                message("tasks", "dropped", 2),
            ])
            .await
            .unwrap();
        let mut consumer = broker.consume(&["tasks".to_owned()], 1).await.unwrap();
        next(&mut *consumer).await.nack(false).await.unwrap();
    }
    let broker = Embedded::open(&path).unwrap();
    let mut consumer = broker.consume(&["tasks".to_owned()], 1).await.unwrap();
    let delivery = next(&mut *consumer).await;
    assert_eq!(delivery.payload, b"todo");
    assert!(!delivery.redelivered);
}

#[tokio::test]
async fn second_open_of_one_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.sqlite");
    let _owner = Embedded::open(&path).unwrap();
    match Embedded::open(&path) {
        Err(QueueError::Storage(message)) => assert!(message.contains("in use"), "{message}"),
        other => panic!(
            "expected the file to be in use, got {:?}",
            other.map(|_| ())
        ),
    }
}

#[tokio::test]
async fn in_memory_round_trip() {
    let broker = Embedded::in_memory().unwrap();
    queue::conformance::round_trip(&broker, &unique_queues("memory")).await;
}

/// A granted handle publishes and consumes only what its grant names,
/// declares nothing, stops once revoked, and its messages name it; the
/// unrestricted handle's messages name nobody.
#[tokio::test]
async fn granted_handles_are_bound_to_their_identity() {
    let broker = Embedded::in_memory().unwrap();
    for queue in ["results", "tasks", "worker.a", "worker.b"] {
        broker
            .declare(queue, QueueOptions { max_priority: 0 })
            .await
            .unwrap();
    }
    let grant = queue::Grant {
        user: "worker-a".into(),
        password: String::new(),
        consume: vec!["tasks".into(), "worker.a".into()],
        publish: vec!["results".into()],
    };
    let queue::Granted::InProcess(worker) = broker.grant(&grant).await.unwrap() else {
        panic!("the embedded queue grants in-process handles");
    };
    worker
        .publish(vec![message("results", "from the worker", 0)])
        .await
        .unwrap();
    broker
        .publish(vec![message("results", "anonymous", 0)])
        .await
        .unwrap();
    let refused = |result: Result<(), QueueError>| {
        assert!(matches!(result, Err(QueueError::Refused(_))), "{result:?}");
    };
    refused(worker.publish(vec![message("tasks", "fake task", 0)]).await);
    refused(
        worker
            .publish(vec![message("worker.b", "fake copy", 0)])
            .await,
    );
    refused(worker.consume(&["worker.b".to_owned()], 1).await.map(drop));
    refused(
        worker
            .declare("mine", QueueOptions { max_priority: 0 })
            .await,
    );
    refused(worker.grant(&grant).await.map(drop));
    worker.consume(&["worker.a".to_owned()], 1).await.unwrap();

    let mut consumer = broker.consume(&["results".to_owned()], 2).await.unwrap();
    let first = next(&mut *consumer).await;
    assert_eq!(first.sender.as_deref(), Some("worker-a"));
    let second = next(&mut *consumer).await;
    assert_eq!(second.sender, None);

    broker.revoke("worker-a").await.unwrap();
    refused(
        worker
            .publish(vec![message("results", "after revoke", 0)])
            .await,
    );
    refused(worker.consume(&["worker.a".to_owned()], 1).await.map(drop));
}
