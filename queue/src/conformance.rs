//! The conformance suite every [`Broker`] backend must pass.
//!
//! Each case is a public async function taking the broker and two queue
//! names no one else uses (a case declares the queues it needs). Panics on a
//! violation, so it is meant for tests: [`conformance_tests!`] expands to one
//! `#[tokio::test]` per case for a backend.
//!
//! [`conformance_tests!`]: crate::conformance_tests

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{
    Broker, Consumer, Delivery, Outgoing, QueueError, QueueOptions, RabbitMq, RabbitMqOptions,
};

/// How long a test waits before concluding that nothing more is delivered.
pub const QUIET: Duration = Duration::from_millis(400);
/// How long a test waits for something that must happen.
pub const PATIENCE: Duration = Duration::from_secs(10);

const PLAIN: QueueOptions = QueueOptions { max_priority: 0 };
const PRIORITY: QueueOptions = QueueOptions { max_priority: 10 };

/// A broker under test and two queue names unique to one case.
pub struct Fixture {
    /// The backend under test.
    pub broker: Arc<dyn Broker>,
    /// Fresh queue names (not declared yet).
    pub queues: [String; 2],
}

/// Queue names unique to this process and moment, starting with `prefix`.
pub fn unique_queues(prefix: &str) -> [String; 2] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let stem = format!("{prefix}.{}.{nanos}.{n}", std::process::id());
    [format!("{stem}.a"), format!("{stem}.b")]
}

/// Whether a missing broker must fail the tests (`CI=true`) rather than
/// skip them.
pub fn services_required() -> bool {
    std::env::var("CI").is_ok_and(|ci| ci == "true" || ci == "1")
}

/// The URL tests reach RabbitMQ at: `AMQP_URL`, or the local default.
pub fn rabbitmq_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// Connect to the test RabbitMQ at [`rabbitmq_url`]. If it cannot be
/// reached the test fails under CI ([`services_required`]); elsewhere this
/// says so loudly and returns `None`, and the test skips itself.
pub async fn rabbitmq_or_skip(options: RabbitMqOptions) -> Option<RabbitMq> {
    match RabbitMq::connect_with(&rabbitmq_url(), options).await {
        Ok(broker) => Some(broker),
        Err(error) if services_required() => panic!("RabbitMQ is required under CI: {error}"),
        Err(error) => {
            eprintln!(
                "!!! SKIPPED: RabbitMQ not reachable at {} ({error}); start it with `rabbitmq-server -detached`",
                rabbitmq_url()
            );
            None
        }
    }
}

/// One message for `queue`.
pub fn message(queue: &str, payload: impl Into<Vec<u8>>, priority: u8) -> Outgoing {
    Outgoing {
        queue: queue.to_owned(),
        payload: payload.into(),
        priority,
    }
}

/// The next delivery, failing the test if none comes within [`PATIENCE`].
pub async fn next(consumer: &mut dyn Consumer) -> Delivery {
    tokio::time::timeout(PATIENCE, consumer.next())
        .await
        .expect("no delivery within the patience time")
        .expect("consumer failed")
}

/// Fail the test if a delivery arrives within [`QUIET`].
pub async fn assert_quiet(consumer: &mut dyn Consumer) {
    if let Ok(delivery) = tokio::time::timeout(QUIET, consumer.next()).await {
        panic!("expected no delivery, got {:?}", delivery.map(|d| text(&d)));
    }
}

/// Wait until `queue` has `expected` ready messages (brokers settle
/// asynchronously); fails the test after [`PATIENCE`].
pub async fn assert_ready(broker: &dyn Broker, queue: &str, expected: u64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let count = broker.ready_count(queue).await.expect("ready_count failed");
        if count == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{queue}: {count} ready, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn text(delivery: &Delivery) -> String {
    String::from_utf8_lossy(&delivery.payload).into_owned()
}

async fn consume(broker: &dyn Broker, queues: &[&String], prefetch: u16) -> Box<dyn Consumer> {
    let queues: Vec<String> = queues.iter().map(|q| (*q).clone()).collect();
    broker
        .consume(&queues, prefetch)
        .await
        .expect("consume failed")
}

/// A published message comes back with its queue and payload, not marked
/// redelivered.
pub async fn round_trip(broker: &dyn Broker, [a, _]: &[String; 2]) {
    broker.declare(a, PLAIN).await.unwrap();
    broker.publish(vec![message(a, "hello", 0)]).await.unwrap();
    let mut consumer = consume(broker, &[a], 1).await;
    let delivery = next(&mut *consumer).await;
    assert_eq!(
        (delivery.queue.as_str(), text(&delivery).as_str()),
        (a.as_str(), "hello")
    );
    assert!(!delivery.redelivered);
    delivery.ack().await.unwrap();
}

/// Higher priority is delivered first.
pub async fn priority_order(broker: &dyn Broker, [a, _]: &[String; 2]) {
    broker.declare(a, PRIORITY).await.unwrap();
    let priorities = [1u8, 5, 3, 9, 0, 7];
    let batch = priorities
        .iter()
        .map(|p| message(a, format!("p{p}"), *p))
        .collect();
    broker.publish(batch).await.unwrap();
    let mut consumer = consume(broker, &[a], 1).await;
    let mut order = Vec::new();
    for _ in priorities {
        let delivery = next(&mut *consumer).await;
        order.push(text(&delivery));
        delivery.ack().await.unwrap();
    }
    assert_eq!(order, ["p9", "p7", "p5", "p3", "p1", "p0"]);
}

/// Equal priorities keep publishing order; a plain queue ignores priority.
pub async fn fifo_within_priority(broker: &dyn Broker, [a, b]: &[String; 2]) {
    broker.declare(a, PRIORITY).await.unwrap();
    broker.declare(b, PLAIN).await.unwrap();
    let mut batch = Vec::new();
    for i in 0..6u8 {
        batch.push(message(a, format!("{}-{i}", i % 2), i % 2));
        batch.push(message(b, format!("{i}"), i));
    }
    broker.publish(batch).await.unwrap();
    for (queue, expected) in [
        (a, ["1-1", "1-3", "1-5", "0-0", "0-2", "0-4"]),
        (b, ["0", "1", "2", "3", "4", "5"]),
    ] {
        let mut consumer = consume(broker, &[queue], 1).await;
        for want in expected {
            let delivery = next(&mut *consumer).await;
            assert_eq!(text(&delivery), want, "order in {queue}");
            delivery.ack().await.unwrap();
        }
    }
}

/// With prefetch 1 over two queues, the second delivery waits for the ack
/// of the first.
pub async fn prefetch_shared_across_queues(broker: &dyn Broker, [a, b]: &[String; 2]) {
    broker.declare(a, PLAIN).await.unwrap();
    broker.declare(b, PLAIN).await.unwrap();
    broker
        .publish(vec![message(a, "from a", 0), message(b, "from b", 0)])
        .await
        .unwrap();
    let mut consumer = consume(broker, &[a, b], 1).await;
    let first = next(&mut *consumer).await;
    assert_quiet(&mut *consumer).await;
    let first_queue = first.queue.clone();
    first.ack().await.unwrap();
    let second = next(&mut *consumer).await;
    assert_ne!(
        second.queue, first_queue,
        "each queue's message arrives once"
    );
    second.ack().await.unwrap();
}

/// An acknowledged message is gone for good.
pub async fn ack_removes(broker: &dyn Broker, [a, _]: &[String; 2]) {
    broker.declare(a, PLAIN).await.unwrap();
    broker.publish(vec![message(a, "once", 0)]).await.unwrap();
    let mut consumer = consume(broker, &[a], 1).await;
    next(&mut *consumer).await.ack().await.unwrap();
    drop(consumer);
    assert_ready(broker, a, 0).await;
    assert_quiet(&mut *consume(broker, &[a], 1).await).await;
}

/// A message nacked with requeue comes back marked redelivered.
pub async fn nack_requeue_redelivers(broker: &dyn Broker, [a, _]: &[String; 2]) {
    broker.declare(a, PLAIN).await.unwrap();
    broker.publish(vec![message(a, "again", 0)]).await.unwrap();
    let mut consumer = consume(broker, &[a], 1).await;
    let first = next(&mut *consumer).await;
    assert!(!first.redelivered);
    first.nack(true).await.unwrap();
    let second = next(&mut *consumer).await;
    assert_eq!(text(&second), "again");
    assert!(second.redelivered);
    second.ack().await.unwrap();
}

/// A message nacked without requeue is dropped.
pub async fn nack_drop_removes(broker: &dyn Broker, [a, _]: &[String; 2]) {
    broker.declare(a, PLAIN).await.unwrap();
    broker.publish(vec![message(a, "poison", 0)]).await.unwrap();
    let mut consumer = consume(broker, &[a], 1).await;
    next(&mut *consumer).await.nack(false).await.unwrap();
    assert_quiet(&mut *consumer).await;
    assert_ready(broker, a, 0).await;
}

/// Dropping a consumer with an unsettled delivery hands the message to
/// another consumer, marked redelivered; the orphaned delivery can no longer
/// be acknowledged.
pub async fn dropped_consumer_redelivers(broker: &dyn Broker, [a, _]: &[String; 2]) {
    broker.declare(a, PLAIN).await.unwrap();
    broker.publish(vec![message(a, "orphan", 0)]).await.unwrap();
    let mut doomed = consume(broker, &[a], 1).await;
    let orphan = next(&mut *doomed).await;
    let mut heir = consume(broker, &[a], 1).await;
    assert_quiet(&mut *heir).await;
    drop(doomed);
    let delivery = next(&mut *heir).await;
    assert_eq!(text(&delivery), "orphan");
    assert!(delivery.redelivered);
    delivery.ack().await.unwrap();
    assert!(
        orphan.ack().await.is_err(),
        "an orphaned delivery must not ack"
    );
}

/// Dropping a delivery without settling it requeues it.
pub async fn dropped_delivery_redelivers(broker: &dyn Broker, [a, _]: &[String; 2]) {
    broker.declare(a, PLAIN).await.unwrap();
    broker
        .publish(vec![message(a, "dropped", 0)])
        .await
        .unwrap();
    let mut consumer = consume(broker, &[a], 1).await;
    drop(next(&mut *consumer).await);
    let delivery = next(&mut *consumer).await;
    assert_eq!(text(&delivery), "dropped");
    assert!(delivery.redelivered);
    delivery.ack().await.unwrap();
}

/// A stopped consumer takes nothing more, even once it settled what it
/// held; what it held can still be settled; its `next` fails.
pub async fn stopped_consumer_takes_no_more(broker: &dyn Broker, [a, b]: &[String; 2]) {
    broker.declare(a, PLAIN).await.unwrap();
    broker.declare(b, PLAIN).await.unwrap();
    broker
        .publish((0..3).map(|i| message(a, format!("{i}"), 0)).collect())
        .await
        .unwrap();
    broker.publish(vec![message(b, "other", 0)]).await.unwrap();
    assert_ready(broker, a, 3).await;
    let mut consumer = consume(broker, &[a, b], 2).await;
    let held = next(&mut *consumer).await;
    consumer.stop().await.unwrap();
    held.ack().await.unwrap();
    tokio::time::sleep(QUIET).await;
    let ready = broker.ready_count(a).await.unwrap() + broker.ready_count(b).await.unwrap();
    assert_eq!(ready, 3, "a stopped consumer took more");
    assert!(matches!(consumer.next().await, Err(QueueError::Closed)));
    drop(consumer);
    assert_ready(broker, a, 2).await;
    assert_ready(broker, b, 1).await;
}

/// `ready_count` counts ready messages, not delivered ones; a consumer's
/// deliveries count again once it is gone.
pub async fn ready_count_counts_ready_only(broker: &dyn Broker, [a, _]: &[String; 2]) {
    broker.declare(a, PRIORITY).await.unwrap();
    assert_eq!(broker.ready_count(a).await.unwrap(), 0);
    broker
        .publish((0..5).map(|i| message(a, format!("{i}"), i)).collect())
        .await
        .unwrap();
    assert_ready(broker, a, 5).await;
    let mut consumer = consume(broker, &[a], 2).await;
    let held = [next(&mut *consumer).await, next(&mut *consumer).await];
    assert_ready(broker, a, 3).await;
    drop(consumer);
    drop(held);
    assert_ready(broker, a, 5).await;
}

/// 10,000 messages published in one batch are each delivered exactly once.
pub async fn batch_delivered_exactly_once(broker: &dyn Broker, [a, _]: &[String; 2]) {
    const COUNT: usize = 10_000;
    broker.declare(a, PRIORITY).await.unwrap();
    let batch = (0..COUNT)
        .map(|i| message(a, i.to_string(), (i % 11) as u8))
        .collect();
    broker.publish(batch).await.unwrap();
    assert_ready(broker, a, COUNT as u64).await;
    let mut consumer = consume(broker, &[a], 200).await;
    let mut seen = HashSet::new();
    while seen.len() < COUNT {
        let delivery = next(&mut *consumer).await;
        assert!(
            seen.insert(text(&delivery)),
            "delivered twice: {}",
            text(&delivery)
        );
        assert!(!delivery.redelivered);
        delivery.ack().await.unwrap();
    }
    assert_quiet(&mut *consumer).await;
    assert_ready(broker, a, 0).await;
}

/// Two consumers of one queue never receive the same message.
pub async fn competing_consumers_disjoint(broker: &dyn Broker, [a, _]: &[String; 2]) {
    const COUNT: usize = 2_000;
    broker.declare(a, PLAIN).await.unwrap();
    broker
        .publish((0..COUNT).map(|i| message(a, i.to_string(), 0)).collect())
        .await
        .unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..2 {
        let mut consumer = consume(broker, &[a], 10).await;
        let received = Arc::clone(&received);
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while received.load(Ordering::SeqCst) < COUNT {
                if let Ok(delivery) =
                    tokio::time::timeout(Duration::from_millis(100), consumer.next()).await
                {
                    let delivery = delivery.expect("consumer failed");
                    mine.push(text(&delivery));
                    delivery.ack().await.expect("ack failed");
                    received.fetch_add(1, Ordering::SeqCst);
                }
            }
            mine
        }));
    }
    let mut all = HashSet::new();
    for worker in workers {
        for payload in tokio::time::timeout(PATIENCE * 3, worker)
            .await
            .unwrap()
            .unwrap()
        {
            assert!(all.insert(payload.clone()), "both consumers got {payload}");
        }
    }
    assert_eq!(all.len(), COUNT);
}

/// Publishing to, consuming from or counting an undeclared queue fails, as
/// does consuming no queue at all; redeclaring a queue with other options
/// fails.
pub async fn undeclared_and_conflicting_queues_fail(broker: &dyn Broker, [a, b]: &[String; 2]) {
    assert!(broker.publish(vec![message(a, "lost?", 0)]).await.is_err());
    assert!(broker.ready_count(a).await.is_err());
    assert!(broker.consume(std::slice::from_ref(a), 1).await.is_err());
    assert!(broker.consume(&[], 1).await.is_err());
    broker.declare(b, PRIORITY).await.unwrap();
    broker.declare(b, PRIORITY).await.unwrap();
    assert!(broker.declare(b, PLAIN).await.is_err());
    broker
        .publish(vec![message(b, "still works", 0)])
        .await
        .unwrap();
    assert_ready(broker, b, 1).await;
}

/// One `#[tokio::test]` per conformance case. `$open` is an async fn
/// returning `Option<Fixture>` (`None` skips the test), `$close` an async fn
/// taking the `Fixture` back after the case passed (to delete its queues).
#[macro_export]
macro_rules! conformance_tests {
    ($open:path, $close:path) => {
        $crate::conformance_tests!(@each $open, $close;
            round_trip,
            priority_order,
            fifo_within_priority,
            prefetch_shared_across_queues,
            ack_removes,
            nack_requeue_redelivers,
            nack_drop_removes,
            dropped_consumer_redelivers,
            dropped_delivery_redelivers,
            stopped_consumer_takes_no_more,
            ready_count_counts_ready_only,
            batch_delivered_exactly_once,
            competing_consumers_disjoint,
            undeclared_and_conflicting_queues_fail
        );
    };
    (@each $open:path, $close:path; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(fixture) = $open().await else { return };
                $crate::conformance::$case(&*fixture.broker, &fixture.queues).await;
                $close(fixture).await;
            }
        )*
    };
}
