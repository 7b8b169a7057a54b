//! Publishing throughput, side by side: a bare lapin publisher, the same
//! load through `RabbitMq::publish`, plain (non-priority) queues for
//! reference, and `Embedded::publish`.
//!
//! `cargo bench -p queue --bench publish`; `AMQP_URL`, `BENCH_MESSAGES`
//! (default 100000), `BENCH_BYTES` (400) and `BENCH_ROUNDS` (2, best kept)
//! tune it.

use std::time::Instant;

use queue::bench_support::{bare_lapin_publish, payload};
use queue::conformance::{rabbitmq_url, unique_queues};
use queue::{Broker, Embedded, Outgoing, QueueError, QueueOptions, RabbitMq};

/// Highest priority of the priority queues, as the farm's task queues.
const MAX_PRIORITY: u8 = 10;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn batch(queue: &str, count: usize, size: usize, max_priority: u8) -> Vec<Outgoing> {
    let body = payload(size);
    (0..count)
        .map(|i| Outgoing {
            queue: queue.to_owned(),
            payload: body.clone(),
            priority: (i % (usize::from(max_priority) + 1)) as u8,
        })
        .collect()
}

/// Publish `count` messages through the trait in chunks of `chunk`;
/// returns messages per second.
async fn through_trait(
    broker: &dyn Broker,
    queue: &str,
    max_priority: u8,
    count: usize,
    size: usize,
    chunk: usize,
) -> Result<f64, QueueError> {
    broker.declare(queue, QueueOptions { max_priority }).await?;
    let messages = batch(queue, count, size, max_priority);
    let started = Instant::now();
    let mut messages = messages.into_iter().peekable();
    while messages.peek().is_some() {
        broker
            .publish(messages.by_ref().take(chunk).collect())
            .await?;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// Best of the rounds for each variant.
#[derive(Default)]
struct Best {
    bare_priority: f64,
    trait_priority: f64,
    trait_priority_10k: f64,
    bare_plain: f64,
    trait_plain: f64,
    embedded: f64,
}

fn keep(best: &mut f64, rate: f64) {
    *best = best.max(rate);
}

#[tokio::main]
async fn main() -> Result<(), QueueError> {
    let count = setting("BENCH_MESSAGES", 100_000);
    let size = setting("BENCH_BYTES", 400);
    let rounds = setting("BENCH_ROUNDS", 2);
    let url = rabbitmq_url();
    let rabbit = RabbitMq::connect(&url).await?;
    let dir = tempfile::tempdir().map_err(|e| QueueError::Storage(e.to_string()))?;
    let mut best = Best::default();
    println!("publishing {count} persistent messages of {size} bytes, best of {rounds} rounds");
    for round in 1..=rounds {
        let [priority, plain] = unique_queues("bench.publish");
        let [priority_10k, bare_plain] = unique_queues("bench.publish");
        let [bare_priority, _] = unique_queues("bench.publish");
        keep(
            &mut best.bare_priority,
            bare_lapin_publish(&url, &bare_priority, MAX_PRIORITY, count, size).await?,
        );
        keep(
            &mut best.trait_priority,
            through_trait(&rabbit, &priority, MAX_PRIORITY, count, size, count).await?,
        );
        keep(
            &mut best.trait_priority_10k,
            through_trait(&rabbit, &priority_10k, MAX_PRIORITY, count, size, 10_000).await?,
        );
        keep(
            &mut best.bare_plain,
            bare_lapin_publish(&url, &bare_plain, 0, count, size).await?,
        );
        keep(
            &mut best.trait_plain,
            through_trait(&rabbit, &plain, 0, count, size, count).await?,
        );
        for queue in [
            &bare_priority,
            &priority,
            &priority_10k,
            &bare_plain,
            &plain,
        ] {
            rabbit.delete_queue(queue).await?;
        }
        let embedded = Embedded::open(&dir.path().join(format!("bench-{round}.sqlite")))?;
        keep(
            &mut best.embedded,
            through_trait(&embedded, "tasks.blender", MAX_PRIORITY, count, size, count).await?,
        );
        println!("round {round} done");
    }
    let rows = [
        ("(a) bare lapin, priority queue", best.bare_priority),
        (
            "(b) RabbitMq::publish, priority queue, one batch",
            best.trait_priority,
        ),
        (
            "(b) RabbitMq::publish, priority queue, 10k batches",
            best.trait_priority_10k,
        ),
        ("(c) bare lapin, plain queue", best.bare_plain),
        (
            "(c) RabbitMq::publish, plain queue, one batch",
            best.trait_plain,
        ),
        ("(d) Embedded::publish, one batch", best.embedded),
    ];
    for (name, rate) in rows {
        println!("{name:<52} {rate:>10.0} msgs/s");
    }
    println!(
        "ratio (b)/(a): {:.2} one batch, {:.2} in 10k batches (target >= 0.90)",
        best.trait_priority / best.bare_priority,
        best.trait_priority_10k / best.bare_priority
    );
    Ok(())
}
