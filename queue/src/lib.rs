//! Task queue backends behind one trait.
//!
//! The farm dispatches work through named queues (see `protocol::queues`).
//! Two backends implement [`Broker`] with the same semantics:
//! - `rabbitmq`: RabbitMQ through lapin, for a real deployment;
//! - `embedded`: a SQLite table plus a wake-up, for one machine.
//!
//! Semantics both keep (and the shared conformance suite checks):
//! - publishing returns only once the message is durably stored
//!   (publisher confirms; a committed SQLite transaction);
//! - higher priority first, then first-in first-out;
//! - a consumer holds at most `prefetch` unacknowledged deliveries across all
//!   the queues it consumes;
//! - a delivery is acknowledged (gone), or negatively acknowledged with
//!   requeue (delivered again, `redelivered` set) or without (dropped);
//! - a delivery whose consumer goes away unacknowledged is delivered again;
//! - a stopped consumer takes nothing more, and what it handed out can still
//!   be settled;
//! - a delivery names its publisher as the broker authenticated it
//!   ([`Delivery::sender`]), which the publisher cannot choose.

#![warn(missing_docs)]

use async_trait::async_trait;

#[cfg(feature = "test-support")]
pub mod bench_support;
mod config;
#[cfg(feature = "test-support")]
pub mod conformance;
mod embedded;
mod grant;
mod rabbitmq;

pub use config::{QueueConfig, connect};
pub use embedded::Embedded;
pub use grant::{Grant, Granted};
pub use rabbitmq::{RabbitMq, RabbitMqOptions};

/// What went wrong talking to the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The broker could not be reached or the connection broke.
    #[error("queue connection failed: {0}")]
    Connection(String),
    /// The broker refused an operation.
    #[error("queue operation failed: {0}")]
    Operation(String),
    /// The broker did not confirm a published message.
    #[error("the broker did not confirm a published message (nacked)")]
    NotConfirmed,
    /// The embedded queue's database failed.
    #[error("embedded queue storage failed: {0}")]
    Storage(String),
    /// The consumer or broker was closed.
    #[error("the queue was closed")]
    Closed,
    /// The identity this broker handle acts as may not do that.
    #[error("not permitted: {0}")]
    Refused(String),
}

/// Refuse a consumer of no queue at all (both backends).
pub(crate) fn ensure_some_queues(queues: &[String]) -> Result<(), QueueError> {
    if queues.is_empty() {
        return Err(QueueError::Operation(
            "consume needs at least one queue".to_owned(),
        ));
    }
    Ok(())
}

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Queue name.
    pub queue: String,
    /// Message body.
    pub payload: Vec<u8>,
    /// Priority, 0 (lowest) to `protocol::queues::MAX_PRIORITY`.
    pub priority: u8,
}

/// How a queue is declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueOptions {
    /// Highest priority the queue orders by; 0 for a plain FIFO queue.
    pub max_priority: u8,
}

/// A message handed to a consumer, to be acknowledged exactly once.
pub struct Delivery {
    /// The queue it came from.
    pub queue: String,
    /// Message body.
    pub payload: Vec<u8>,
    /// Whether it was delivered before and not acknowledged.
    pub redelivered: bool,
    /// Who published it, as the broker authenticated them: the RabbitMQ
    /// user of the publishing connection (its `user_id` property, which the
    /// broker refuses to relay unless it names that user), or the identity
    /// an embedded queue handle was given. `None` when the publisher did not
    /// say, which the farm treats as unknown.
    pub sender: Option<String>,
    acker: Box<dyn Acker>,
}

impl Delivery {
    /// Wrap a backend's acknowledger.
    pub fn new(queue: String, payload: Vec<u8>, redelivered: bool, acker: Box<dyn Acker>) -> Self {
        Self {
            queue,
            payload,
            redelivered,
            sender: None,
            acker,
        }
    }

    /// The same delivery, published by `sender` (see [`Delivery::sender`]).
    pub fn with_sender(mut self, sender: Option<String>) -> Self {
        self.sender = sender;
        self
    }

    /// Done with it: the message is removed.
    pub async fn ack(self) -> Result<(), QueueError> {
        self.acker.ack().await
    }

    /// Give it back: with `requeue` it is delivered again, otherwise dropped.
    pub async fn nack(self, requeue: bool) -> Result<(), QueueError> {
        self.acker.nack(requeue).await
    }
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("queue", &self.queue)
            .field("bytes", &self.payload.len())
            .field("redelivered", &self.redelivered)
            .field("sender", &self.sender)
            .finish()
    }
}

/// A backend's way of settling one delivery.
#[async_trait]
pub trait Acker: Send + Sync {
    /// Remove the message.
    async fn ack(self: Box<Self>) -> Result<(), QueueError>;
    /// Return (`requeue`) or drop the message.
    async fn nack(self: Box<Self>, requeue: bool) -> Result<(), QueueError>;
}

/// A stream of deliveries from one or more queues.
#[async_trait]
pub trait Consumer: Send {
    /// The next delivery; waits until one is available and the prefetch
    /// window allows it.
    async fn next(&mut self) -> Result<Delivery, QueueError>;

    /// Take no more deliveries: the broker delivers nothing more to this
    /// consumer (anything it had sent ahead but `next` had not handed out
    /// goes back to the queue), while deliveries already handed out stay
    /// settleable until the consumer is dropped. `next` then fails with
    /// [`QueueError::Closed`]. This is how a worker holds exactly one task:
    /// it stops its consumer before it starts the task it took.
    async fn stop(&mut self) -> Result<(), QueueError>;
}

/// A message broker: declares queues, publishes, consumes.
#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Declare a durable queue (idempotent).
    async fn declare(&self, queue: &str, options: QueueOptions) -> Result<(), QueueError>;

    /// Publish messages; returns when every one is durably stored. Large
    /// batches are pipelined (many confirms in flight), not sent one by one.
    async fn publish(&self, messages: Vec<Outgoing>) -> Result<(), QueueError>;

    /// Consume from `queues` with at most `prefetch` unacknowledged
    /// deliveries shared across all of them.
    async fn consume(
        &self,
        queues: &[String],
        prefetch: u16,
    ) -> Result<Box<dyn Consumer>, QueueError>;

    /// Number of messages ready (not delivered) in a queue.
    async fn ready_count(&self, queue: &str) -> Result<u64, QueueError>;

    /// Create (or replace) an identity that may consume only
    /// `grant.consume` and publish only to `grant.publish`, and whose
    /// messages name it as their [`Delivery::sender`]. Needs an
    /// unrestricted broker (the coordinator's).
    async fn grant(&self, grant: &Grant) -> Result<Granted, QueueError>;

    /// Remove an identity made by [`Broker::grant`]: it can do nothing
    /// more, and its open connections are closed.
    async fn revoke(&self, user: &str) -> Result<(), QueueError>;
}
