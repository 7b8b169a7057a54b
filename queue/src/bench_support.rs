//! Baselines for publishing benchmarks, shared with other crates' benches.
//!
//! [`bare_lapin_publish`] is what a hand-written lapin publisher achieves —
//! no trait, no exchange, no retry — so a bench can report how close the
//! farm's own publishing path gets to it.

use std::time::Instant;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties};

use crate::QueueError;

/// Publisher confirms a bare publisher keeps in flight.
pub const CONFIRM_WINDOW: usize = 4096;

/// A payload of `size` bytes (printable, so queues can be inspected).
pub fn payload(size: usize) -> Vec<u8> {
    b"0123456789abcdef"
        .iter()
        .copied()
        .cycle()
        .take(size)
        .collect()
}

/// Declare the durable `queue` (with `x-max-priority` when `max_priority`
/// is above 0) and publish `count` persistent messages of `size` bytes to it
/// through the default exchange on one confirm-mode channel, keeping up to
/// [`CONFIRM_WINDOW`] confirms in flight. Priorities cycle through
/// `0..=max_priority`. Returns messages per second, counted from the first
/// publish to the last confirm. The caller deletes the queue.
pub async fn bare_lapin_publish(
    url: &str,
    queue: &str,
    max_priority: u8,
    count: usize,
    size: usize,
) -> Result<f64, QueueError> {
    let failed = |e: lapin::Error| QueueError::Connection(e.to_string());
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .map_err(failed)?;
    let channel = connection.create_channel().await.map_err(failed)?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(failed)?;
    let mut arguments = FieldTable::default();
    if max_priority > 0 {
        arguments.insert(
            "x-max-priority".into(),
            AMQPValue::LongInt(max_priority.into()),
        );
    }
    channel
        .queue_declare(queue.into(), QueueDeclareOptions::durable(), arguments)
        .await
        .map_err(failed)?;
    let body = payload(size);
    let started = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let mut acked = 0usize;
    for i in 0..count {
        if in_flight.len() >= CONFIRM_WINDOW
            && let Some(confirmation) = in_flight.next().await
        {
            acked += usize::from(matches!(confirmation, Ok(Confirmation::Ack(None))));
        }
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_priority((i % (usize::from(max_priority) + 1)) as u8);
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await
            .map_err(failed)?;
        in_flight.push(confirm);
    }
    while let Some(confirmation) = in_flight.next().await {
        acked += usize::from(matches!(confirmation, Ok(Confirmation::Ack(None))));
    }
    let elapsed = started.elapsed().as_secs_f64();
    if acked != count {
        return Err(QueueError::NotConfirmed);
    }
    Ok(count as f64 / elapsed)
}
