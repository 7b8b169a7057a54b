//! Consumers and ackers of the RabbitMQ backend.
//!
//! A consumer owns one channel with `basic.qos(prefetch, global = true)` —
//! RabbitMQ's per-channel limit — so the window is shared by the queues it
//! consumes, one `basic.consume` each, merged into one stream. Dropping the
//! consumer closes the channel, and RabbitMQ requeues what was unacked.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, SelectAll};
use futures::{FutureExt, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, message};
use tracing::{Instrument, debug, info, info_span, warn};

use super::{ATTEMPTS, Shared};
use crate::{Acker, Consumer, Delivery, QueueError};

/// Pause before the first retry of a failed subscription; grows linearly.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

type Deliveries = SelectAll<BoxStream<'static, (String, lapin::Result<message::Delivery>)>>;

/// A live subscription: the channel, its consumer tags and its merged
/// deliveries.
struct Session {
    channel: Channel,
    tags: Vec<ShortString>,
    deliveries: Deliveries,
}

/// A consumer of one or more RabbitMQ queues that resubscribes after the
/// connection broke.
pub(super) struct RabbitConsumer {
    shared: Arc<Shared>,
    queues: Vec<String>,
    prefetch: u16,
    session: Option<Session>,
    stopped: bool,
}

impl RabbitConsumer {
    pub(super) fn new(shared: Arc<Shared>, queues: Vec<String>, prefetch: u16) -> Self {
        Self {
            shared,
            queues,
            prefetch,
            session: None,
            stopped: false,
        }
    }

    /// Open a channel on the consuming connection (reconnecting if needed)
    /// and start consuming every queue on it.
    pub(super) async fn subscribe(&mut self) -> Result<(), QueueError> {
        let span =
            info_span!("rabbitmq_subscribe", queues = ?self.queues, prefetch = self.prefetch);
        let session = async {
            let connection = self.shared.consuming.connection().await?;
            let channel = connection
                .create_channel()
                .await
                .map_err(connection_error)?;
            channel
                .basic_qos(self.prefetch, BasicQosOptions { global: true })
                .await
                .map_err(connection_error)?;
            let mut deliveries = Deliveries::default();
            let mut tags = Vec::new();
            for queue in &self.queues {
                let consumer = channel
                    .basic_consume(
                        queue.as_str().into(),
                        "".into(),
                        BasicConsumeOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .map_err(|e| QueueError::Operation(format!("consuming {queue}: {e}")))?;
                tags.push(consumer.tag());
                let queue = queue.clone();
                deliveries.push(
                    consumer
                        .map(move |delivery| (queue.clone(), delivery))
                        .boxed(),
                );
            }
            info!("consuming");
            Ok::<_, QueueError>(Session {
                channel,
                tags,
                deliveries,
            })
        }
        .instrument(span)
        .await?;
        self.session = Some(session);
        Ok(())
    }
}

impl RabbitConsumer {
    /// Subscribe again after the channel or connection broke, retrying a
    /// few times while the connection keeps breaking.
    async fn resubscribe(&mut self) -> Result<(), QueueError> {
        let mut attempt = 1;
        loop {
            match self.subscribe().await {
                Err(QueueError::Connection(error)) if attempt < ATTEMPTS => {
                    warn!(attempt, %error, "subscribing again failed; retrying");
                    tokio::time::sleep(RETRY_PAUSE * attempt).await;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }
}

fn connection_error(error: lapin::Error) -> QueueError {
    QueueError::Connection(error.to_string())
}

#[async_trait]
impl Consumer for RabbitConsumer {
    async fn next(&mut self) -> Result<Delivery, QueueError> {
        if self.stopped {
            return Err(QueueError::Closed);
        }
        loop {
            let Some(session) = self.session.as_mut() else {
                self.resubscribe().await?;
                continue;
            };
            match session.deliveries.next().await {
                Some((queue, Ok(delivery))) => {
                    let sender = delivery
                        .properties
                        .user_id()
                        .as_ref()
                        .map(|user| user.to_string());
                    return Ok(Delivery::new(
                        queue,
                        delivery.data,
                        delivery.redelivered,
                        Box::new(RabbitAcker {
                            acker: delivery.acker,
                        }),
                    )
                    .with_sender(sender));
                }
                Some((queue, Err(error))) => {
                    warn!(%queue, %error, "consumer lost its channel; subscribing again");
                }
                None => {
                    warn!(queues = ?self.queues, "broker cancelled the consumer; subscribing again")
                }
            }
            self.session = None;
        }
    }

    /// `basic.cancel` every subscription (the channel stays open, so what
    /// was handed out can still be settled), then requeue what the broker
    /// had sent ahead: its deliveries precede the cancel-ok on the channel.
    async fn stop(&mut self) -> Result<(), QueueError> {
        self.stopped = true;
        let Some(session) = self.session.as_mut() else {
            return Ok(());
        };
        for tag in &session.tags {
            session
                .channel
                .basic_cancel(tag.clone(), BasicCancelOptions::default())
                .await
                .map_err(connection_error)?;
        }
        while let Some(Some((_, sent_ahead))) = session.deliveries.next().now_or_never() {
            if let Ok(delivery) = sent_ahead {
                let options = BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                };
                delivery
                    .acker
                    .nack(options)
                    .await
                    .map_err(connection_error)?;
            }
        }
        Ok(())
    }
}

/// Settles one RabbitMQ delivery; an unsettled one is requeued on drop.
struct RabbitAcker {
    acker: lapin::Acker,
}

impl RabbitAcker {
    fn outcome(result: lapin::Result<bool>) -> Result<(), QueueError> {
        match result {
            Ok(true) => Ok(()),
            // The channel it came on is gone; RabbitMQ requeued the message.
            Ok(false) => Err(QueueError::Closed),
            Err(error) => Err(QueueError::Connection(error.to_string())),
        }
    }
}

#[async_trait]
impl Acker for RabbitAcker {
    async fn ack(self: Box<Self>) -> Result<(), QueueError> {
        Self::outcome(self.acker.ack(BasicAckOptions::default()).await)
    }

    async fn nack(self: Box<Self>, requeue: bool) -> Result<(), QueueError> {
        let options = BasicNackOptions {
            requeue,
            ..BasicNackOptions::default()
        };
        Self::outcome(self.acker.nack(options).await)
    }
}

impl Drop for RabbitAcker {
    /// A delivery dropped without ack or nack goes back to the queue now,
    /// not only when the channel closes (as the embedded backend does).
    fn drop(&mut self) {
        if !self.acker.usable() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let acker = self.acker.clone();
            runtime.spawn(async move {
                let options = BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                };
                match acker.nack(options).await {
                    Ok(_) => debug!("dropped delivery requeued"),
                    Err(error) => warn!(%error, "could not requeue a dropped delivery"),
                }
            });
        }
    }
}
