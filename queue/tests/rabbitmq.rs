//! The conformance suite and reconnection behaviour of the RabbitMQ backend,
//! against the broker at `AMQP_URL` (default 127.0.0.1:5672, guest/guest).
//! Skipped loudly when it is not running, except under CI, where that fails.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

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

/// A TCP relay to the local broker that can "crash": drop every relayed
/// connection at once and refuse service until revived, as a broker restart
/// looks to clients (without disturbing anyone else using the broker).
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
    crash: broadcast::Sender<()>,
}

impl Relay {
    async fn start(upstream: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let (crash, _) = broadcast::channel(1);
        let relay = Self {
            port,
            up: Arc::clone(&up),
            crash: crash.clone(),
        };
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection close
                }
                let mut crashed = crash.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = crashed.recv() => {}
                    }
                });
            }
        });
        relay
    }

    fn crash(&self) {
        self.up.store(false, Ordering::SeqCst);
        let _ = self.crash.send(());
    }

    fn revive(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_outage_loses_nothing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("queue=debug,lapin=info")
        .with_test_writer()
        .try_init();
    if rabbitmq_or_skip(RabbitMqOptions::default()).await.is_none() {
        return;
    }
    let relay = Relay::start("127.0.0.1:5672").await;
    let [queue, _] = unique_queues("outage");
    let url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", relay.port);
    let broker = RabbitMq::connect(&url).await.unwrap();
    broker
        .declare(&queue, QueueOptions { max_priority: 0 })
        .await
        .unwrap();
    broker
        .publish((0..5).map(|i| message(&queue, i.to_string(), 0)).collect())
        .await
        .unwrap();
    let mut consumer = broker
        .consume(std::slice::from_ref(&queue), 1)
        .await
        .unwrap();
    let held = next(&mut *consumer).await;

    relay.crash();
    let outage = Duration::from_millis(1500);
    let revived = tokio::spawn(async move {
        tokio::time::sleep(outage).await;
        relay.revive();
    });
    let started = Instant::now();
    // Both wait out the outage (reconnecting with backoff) and then succeed.
    broker
        .publish((5..10).map(|i| message(&queue, i.to_string(), 0)).collect())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= outage,
        "published while the broker was unreachable"
    );
    let again = next(&mut *consumer).await;
    assert!(again.redelivered && again.payload == held.payload);
    assert!(held.ack().await.is_err());
    let mut payloads = Vec::new();
    let mut delivery = again;
    loop {
        payloads.push(
            String::from_utf8(delivery.payload.clone())
                .unwrap()
                .parse::<u32>()
                .unwrap(),
        );
        delivery.ack().await.unwrap();
        if payloads.len() == 10 {
            break;
        }
        delivery = next(&mut *consumer).await;
    }
    payloads.sort_unstable();
    assert_eq!(payloads, (0..10).collect::<Vec<_>>());
    revived.await.unwrap();
    broker.delete_queue(&queue).await.unwrap();
}

/// Every message carries the user of the connection that published it,
/// which RabbitMQ validated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_name_the_publishing_user() {
    let Some(broker) = rabbitmq_or_skip(RabbitMqOptions::default()).await else {
        return;
    };
    let [queue, _] = unique_queues("sender");
    broker
        .declare(&queue, QueueOptions { max_priority: 0 })
        .await
        .unwrap();
    broker
        .publish(vec![message(&queue, "hello", 0)])
        .await
        .unwrap();
    let mut consumer = broker
        .consume(std::slice::from_ref(&queue), 1)
        .await
        .unwrap();
    let delivery = next(&mut *consumer).await;
    let url = queue::conformance::rabbitmq_url();
    let user: lapin::uri::AMQPUri = url.parse().unwrap();
    assert_eq!(
        delivery.sender.as_deref(),
        Some(user.authority.userinfo.username.as_str())
    );
    delivery.ack().await.unwrap();
    drop(consumer);
    broker.delete_queue(&queue).await.unwrap();
}

/// A granted user consumes and publishes only what its grant names (the
/// broker refuses the rest), its messages name it, and once revoked it can
/// no longer connect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_users_are_held_to_their_grant() {
    let Some(admin) = rabbitmq_or_skip(RabbitMqOptions::default()).await else {
        return;
    };
    let [results, tasks] = unique_queues("grant");
    let [own, other] = unique_queues("grant-worker");
    for queue in [&results, &tasks, &own, &other] {
        admin
            .declare(queue, QueueOptions { max_priority: 0 })
            .await
            .unwrap();
    }
    let user = format!("test-{}", own.replace('.', "-"));
    let grant = queue::Grant {
        user: user.clone(),
        password: "not-guessable-in-a-real-farm".into(),
        consume: vec![tasks.clone(), own.clone()],
        publish: vec![results.clone()],
    };
    let queue::Granted::Url(url) = admin.grant(&grant).await.unwrap() else {
        panic!("RabbitMQ grants a URL");
    };
    let options = RabbitMqOptions {
        reconnect_for: Duration::from_secs(1),
        ..RabbitMqOptions::default()
    };
    let worker = RabbitMq::connect_with(&url, options.clone()).await.unwrap();
    worker
        .publish(vec![message(&results, "from the worker", 0)])
        .await
        .unwrap();
    assert!(
        worker
            .publish(vec![message(&tasks, "fake task", 0)])
            .await
            .is_err()
    );
    assert!(
        worker
            .publish(vec![message(&other, "fake copy", 0)])
            .await
            .is_err()
    );
    assert!(
        worker
            .consume(std::slice::from_ref(&other), 1)
            .await
            .is_err()
    );
    assert!(
        worker
            .declare("evil", QueueOptions { max_priority: 0 })
            .await
            .is_err()
    );
    assert_eq!(worker.ready_count(&own).await.unwrap(), 0);
    drop(
        worker
            .consume(&[tasks.clone(), own.clone()], 1)
            .await
            .unwrap(),
    );

    // A message naming another user than the connection's is refused by
    // the broker itself (PRECONDITION_FAILED closes the channel).
    let raw = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = raw.create_channel().await.unwrap();
    channel
        .confirm_select(lapin::options::ConfirmSelectOptions::default())
        .await
        .unwrap();
    let forged = channel
        .basic_publish(
            format!("farm.{results}").as_str().into(),
            results.as_str().into(),
            lapin::options::BasicPublishOptions::default(),
            b"forged",
            lapin::BasicProperties::default().with_user_id("guest".into()),
        )
        .await;
    let confirmed = match forged {
        Ok(confirm) => matches!(confirm.await, Ok(lapin::Confirmation::Ack(None))),
        Err(_) => false,
    };
    assert!(!confirmed, "the broker relayed a forged user_id");
    let mut consumer = admin
        .consume(std::slice::from_ref(&results), 1)
        .await
        .unwrap();
    let delivery = next(&mut *consumer).await;
    assert_eq!(delivery.sender.as_deref(), Some(user.as_str()));
    delivery.ack().await.unwrap();
    assert_eq!(admin.ready_count(&tasks).await.unwrap(), 0);
    assert_eq!(admin.ready_count(&other).await.unwrap(), 0);
    assert_eq!(
        admin.ready_count(&results).await.unwrap(),
        0,
        "the forged message is not there"
    );

    admin.revoke(&user).await.unwrap();
    assert!(RabbitMq::connect_with(&url, options).await.is_err());
    drop(consumer);
    for queue in [&results, &tasks, &own, &other] {
        admin.delete_queue(queue).await.unwrap();
    }
}
