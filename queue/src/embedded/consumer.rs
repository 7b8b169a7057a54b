//! Consumers and ackers of the embedded queue.
//!
//! A consumer counts its unsettled deliveries and claims a ready row (by
//! writing its id into `consumer`) only while that count is under the
//! prefetch window. Settling goes through the row's id *and* the consumer id,
//! so a delivery whose consumer is gone can no longer settle a row that was
//! handed to someone else.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use tracing::{debug, warn};

use super::{Inner, storage};
use crate::{Acker, Consumer, Delivery, QueueError};

/// What a consumer shares with the ackers of its deliveries.
pub(super) struct ConsumerState {
    id: i64,
    unsettled: AtomicUsize,
}

impl ConsumerState {
    pub(super) fn new(inner: &Inner) -> Arc<Self> {
        Arc::new(Self {
            id: inner.next_consumer.fetch_add(1, Ordering::Relaxed),
            unsettled: AtomicUsize::new(0),
        })
    }
}

/// A consumer of one or more embedded queues.
pub(super) struct EmbeddedConsumer {
    inner: Arc<Inner>,
    state: Arc<ConsumerState>,
    queues: Arc<[String]>,
    prefetch: usize,
    stopped: bool,
}

impl EmbeddedConsumer {
    pub(super) fn new(
        inner: Arc<Inner>,
        state: Arc<ConsumerState>,
        queues: Vec<String>,
        prefetch: u16,
    ) -> Self {
        Self {
            inner,
            state,
            queues: queues.into(),
            prefetch: usize::from(prefetch),
            stopped: false,
        }
    }

    fn window_open(&self) -> bool {
        // As in AMQP, a prefetch of 0 means no limit.
        self.prefetch == 0 || self.state.unsettled.load(Ordering::Acquire) < self.prefetch
    }

    /// Claim the best ready message of our queues, if any. The acker is
    /// built on the blocking thread, so if this future is dropped midway the
    /// claimed row is released by the acker's `Drop`.
    async fn claim(&self) -> Result<Option<Delivery>, QueueError> {
        let state = Arc::clone(&self.state);
        let queues = Arc::clone(&self.queues);
        self.inner
            .run(move |inner| {
                let db = inner.db();
                let Some((queue, id)) = best_ready(&db, &queues)? else {
                    return Ok(None);
                };
                let (payload, redelivered, sender): (Vec<u8>, bool, Option<String>) = db
                    .prepare_cached(
                        "UPDATE messages SET consumer = ?2 WHERE id = ?1 RETURNING payload, redelivered, sender",
                    )
                    .and_then(|mut statement| {
                        statement.query_row(params![id, state.id], |row| {
                            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                        })
                    })
                    .map_err(storage)?;
                state.unsettled.fetch_add(1, Ordering::AcqRel);
                let acker = EmbeddedAcker {
                    inner: Arc::clone(inner),
                    consumer: state,
                    id,
                    settled: false,
                };
                Ok(Some(
                    Delivery::new(queue, payload, redelivered, Box::new(acker)).with_sender(sender),
                ))
            })
            .await
    }
}

/// The ready message to deliver next across `queues`: highest priority, then
/// oldest. One indexed lookup per queue, then the best of those.
fn best_ready(db: &Connection, queues: &[String]) -> Result<Option<(String, i64)>, QueueError> {
    let mut statement = db
        .prepare_cached(
            "SELECT priority, id FROM messages WHERE queue = ?1 AND consumer IS NULL \
             ORDER BY priority DESC, id LIMIT 1",
        )
        .map_err(storage)?;
    let mut best: Option<(i64, i64, &String)> = None;
    for queue in queues {
        let head: Option<(i64, i64)> = statement
            .query_row([queue], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
            .map_err(storage)?;
        if let Some((priority, id)) = head {
            let better = best.is_none_or(|(best_priority, best_id, _)| {
                (priority, -id) > (best_priority, -best_id)
            });
            if better {
                best = Some((priority, id, queue));
            }
        }
    }
    Ok(best.map(|(_, id, queue)| (queue.clone(), id)))
}

#[async_trait]
impl Consumer for EmbeddedConsumer {
    async fn next(&mut self) -> Result<Delivery, QueueError> {
        if self.stopped {
            return Err(QueueError::Closed);
        }
        loop {
            // Register for the wake-up before looking, so a publish or a
            // settle between the look and the wait is not missed.
            let woken = self.inner.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.window_open()
                && let Some(delivery) = self.claim().await?
            {
                return Ok(delivery);
            }
            woken.await;
        }
    }

    /// Rows are claimed only inside `next`, so nothing is ever sent ahead:
    /// stopping only refuses further `next` calls.
    async fn stop(&mut self) -> Result<(), QueueError> {
        self.stopped = true;
        Ok(())
    }
}

impl Drop for EmbeddedConsumer {
    /// Like a closed AMQP channel: every unsettled delivery of this consumer
    /// is ready again (with `redelivered` set) and can no longer be settled.
    fn drop(&mut self) {
        if self.state.unsettled.load(Ordering::Acquire) == 0 {
            return;
        }
        let inner = Arc::clone(&self.inner);
        let consumer = self.state.id;
        run_detached(move || {
            let released = inner.db().execute(
                "UPDATE messages SET consumer = NULL, redelivered = 1 WHERE consumer = ?1",
                [consumer],
            );
            match released {
                Ok(count) => debug!(
                    consumer,
                    count, "dropped consumer's deliveries are ready again"
                ),
                Err(error) => {
                    warn!(consumer, %error, "could not release a dropped consumer's deliveries")
                }
            }
            inner.wake.notify_waiters();
        });
    }
}

/// Run blocking clean-up from a `Drop`: on the blocking pool when a Tokio
/// runtime is around, inline otherwise.
fn run_detached(work: impl FnOnce() + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(work)),
        Err(_) => work(),
    }
}

/// Settles one embedded delivery; an unsettled one is requeued on drop.
struct EmbeddedAcker {
    inner: Arc<Inner>,
    consumer: Arc<ConsumerState>,
    id: i64,
    settled: bool,
}

/// How a delivery is settled.
#[derive(Clone, Copy)]
enum Settle {
    Remove,
    Requeue,
}

impl EmbeddedAcker {
    /// Apply `settle` to our row if our consumer still holds it.
    fn settle(&mut self, settle: Settle) -> Result<(), QueueError> {
        let sql = match settle {
            Settle::Remove => "DELETE FROM messages WHERE id = ?1 AND consumer = ?2",
            Settle::Requeue => {
                "UPDATE messages SET consumer = NULL, redelivered = 1 WHERE id = ?1 AND consumer = ?2"
            }
        };
        let changed = self
            .inner
            .db()
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute(params![self.id, self.consumer.id]))
            .map_err(storage)?;
        self.settled = true;
        self.consumer.unsettled.fetch_sub(1, Ordering::AcqRel);
        self.inner.wake.notify_waiters();
        if changed == 0 {
            // The consumer was dropped: its deliveries went back to the
            // queue, as with a closed RabbitMQ channel.
            return Err(QueueError::Closed);
        }
        Ok(())
    }

    async fn settle_async(self: Box<Self>, settle: Settle) -> Result<(), QueueError> {
        let mut acker = self;
        tokio::task::spawn_blocking(move || acker.settle(settle))
            .await
            .map_err(|e| QueueError::Storage(format!("database task failed: {e}")))?
    }
}

#[async_trait]
impl Acker for EmbeddedAcker {
    async fn ack(self: Box<Self>) -> Result<(), QueueError> {
        self.settle_async(Settle::Remove).await
    }

    async fn nack(self: Box<Self>, requeue: bool) -> Result<(), QueueError> {
        let settle = if requeue {
            Settle::Requeue
        } else {
            Settle::Remove
        };
        self.settle_async(settle).await
    }
}

impl Drop for EmbeddedAcker {
    /// A delivery dropped without ack or nack goes back to the queue.
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let mut acker = EmbeddedAcker {
            inner: Arc::clone(&self.inner),
            consumer: Arc::clone(&self.consumer),
            id: self.id,
            settled: true,
        };
        self.settled = true;
        run_detached(move || {
            if let Err(error) = acker.settle(Settle::Requeue)
                && !matches!(error, QueueError::Closed)
            {
                warn!(id = acker.id, %error, "could not requeue a dropped delivery");
            }
        });
    }
}
