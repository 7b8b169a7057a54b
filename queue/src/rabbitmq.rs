//! The RabbitMQ backend, through lapin.
//!
//! Topology: every declared queue is durable, has its own durable direct
//! exchange `<prefix>.<queue>` (`farm.results`, `farm.tasks.blender`) and is
//! bound to it by its own name; `max_priority > 0` sets `x-max-priority`.
//! One exchange per queue is what lets RabbitMQ's permissions say exactly
//! which queues a user may publish to (write permission is granted on
//! exchanges): a worker's user may write to `farm.results` and nothing else.
//! Messages are persistent (delivery mode 2), carry their priority and are
//! published `mandatory`, so a message for a queue nobody declared is an
//! error instead of vanishing.
//!
//! Every message carries the `user_id` property, set to the user of the
//! publishing connection. RabbitMQ refuses a message whose `user_id` is not
//! the connection's user, so a consumer reading it
//! ([`crate::Delivery::sender`]) knows who published it. Only
//! [`Broker::declare`] declares exchanges, so a user without configure
//! permission can publish and consume what it was given.
//!
//! Publishing uses publisher confirms, pipelined: up to
//! [`RabbitMqOptions::confirm_window`] messages are in flight before the
//! oldest confirm is awaited.
//!
//! Publishing and consuming use two connections (RabbitMQ throttles
//! publishing connections under memory pressure; consumers' acks must still
//! flow). Both reconnect with exponential backoff when they break. A publish
//! interrupted by a broken connection re-sends every message not yet
//! confirmed once reconnected (at-least-once: a message may arrive twice). A
//! consumer whose connection broke subscribes again; RabbitMQ redelivers what
//! it had not acknowledged, and acking one of the old deliveries then fails
//! with [`QueueError::Closed`].

mod admin;
mod consumer;
mod endpoint;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ExchangeKind};
use tokio::sync::Mutex;
use tracing::{Instrument, debug, info_span, warn};

use crate::{Broker, Consumer, Grant, Granted, Outgoing, QueueError, QueueOptions};
use consumer::RabbitConsumer;
use endpoint::Endpoint;
pub(crate) use endpoint::redact;

/// How many times an operation is retried over fresh connections before
/// its error is returned.
const ATTEMPTS: u32 = 5;

/// Tuning of the RabbitMQ backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RabbitMqOptions {
    /// Prefix of the per-queue exchanges (`<exchange>.<queue>`).
    pub exchange: String,
    /// How long to keep trying to reconnect after the connection broke,
    /// before operations fail with [`QueueError::Connection`].
    pub reconnect_for: Duration,
    /// Most publisher confirms awaited at once while publishing a batch.
    pub confirm_window: usize,
    /// Prefix of the connection names shown by RabbitMQ
    /// (`<name>.publish`, `<name>.consume`).
    pub connection_name: String,
    /// Base URL of the management HTTP API, which [`Broker::grant`] uses
    /// to make users (`http://host:15672`); by default the broker's host on
    /// port 15672, logged in as the AMQP URL's user.
    pub management_url: Option<String>,
    /// The AMQP URL (credentials left out) that granted identities connect
    /// to, when they reach the broker under another name than this
    /// connection does; by default this connection's URL.
    pub worker_url: Option<String>,
}

impl Default for RabbitMqOptions {
    fn default() -> Self {
        Self {
            exchange: "farm".to_owned(),
            reconnect_for: Duration::from_secs(300),
            confirm_window: 4096,
            connection_name: "render-farm".to_owned(),
            management_url: None,
            worker_url: None,
        }
    }
}

/// A RabbitMQ broker connection (one for publishing, one for consuming).
#[derive(Clone)]
pub struct RabbitMq {
    shared: Arc<Shared>,
}

/// What the broker and its consumers share.
struct Shared {
    options: RabbitMqOptions,
    publishing: Endpoint,
    consuming: Endpoint,
    publisher: Mutex<Option<(Arc<Connection>, Channel)>>,
    /// The user the connections log in as: every published message's
    /// `user_id`.
    user: ShortString,
    /// The management API, for granting identities.
    management: admin::Management,
    /// What granted identities connect to (credentials replaced).
    worker_uri: lapin::uri::AMQPUri,
}

impl Shared {
    /// The exchange `queue` is bound to.
    fn exchange_of(&self, queue: &str) -> ShortString {
        exchange_name(&self.options.exchange, queue)
    }
}

/// The exchange of `queue` under `prefix`.
pub(crate) fn exchange_name(prefix: &str, queue: &str) -> ShortString {
    ShortString::from(format!("{prefix}.{queue}"))
}

impl RabbitMq {
    /// Connect with default options; fails at once if the broker cannot be
    /// reached (reconnection with backoff applies only after that).
    pub async fn connect(url: &str) -> Result<Self, QueueError> {
        Self::connect_with(url, RabbitMqOptions::default()).await
    }

    /// Connect with the given options; fails at once if the broker cannot
    /// be reached.
    pub async fn connect_with(url: &str, options: RabbitMqOptions) -> Result<Self, QueueError> {
        let span =
            info_span!("rabbitmq_connect", url = %redact(url), name = %options.connection_name);
        let publishing = Endpoint::new(
            url,
            format!("{}.publish", options.connection_name),
            options.reconnect_for,
        );
        let consuming = Endpoint::new(
            url,
            format!("{}.consume", options.connection_name),
            options.reconnect_for,
        );
        let uri = endpoint::parse(url)?;
        let worker_uri = match &options.worker_url {
            Some(worker_url) => endpoint::parse(worker_url)?,
            None => uri.clone(),
        };
        let management = admin::Management {
            base: options
                .management_url
                .clone()
                .unwrap_or_else(|| format!("http://{}:15672", uri.authority.host))
                .trim_end_matches('/')
                .to_owned(),
            user: uri.authority.userinfo.username.clone(),
            password: uri.authority.userinfo.password.clone(),
            vhost: uri.vhost.clone(),
        };
        let user = uri.authority.userinfo.username.clone();
        publishing.connect_once().instrument(span.clone()).await?;
        consuming.connect_once().instrument(span).await?;
        Ok(Self {
            shared: Arc::new(Shared {
                options,
                publishing,
                consuming,
                publisher: Mutex::new(None),
                user: ShortString::from(user),
                management,
                worker_uri,
            }),
        })
    }

    /// Delete a queue and the messages in it; returns how many it held.
    /// For tests and tooling; the farm never deletes its queues.
    pub async fn delete_queue(&self, queue: &str) -> Result<u32, QueueError> {
        let name = ShortString::from(queue);
        self.on_channel("queue.delete", |channel| {
            let name = name.clone();
            async move {
                channel
                    .queue_delete(name, QueueDeleteOptions::default())
                    .await
            }
        })
        .await
    }

    /// Run `operation` on a fresh channel of the publishing connection,
    /// retrying over a new connection when the connection broke under it.
    async fn on_channel<T, F, Fut>(&self, what: &str, operation: F) -> Result<T, QueueError>
    where
        F: Fn(Channel) -> Fut,
        Fut: Future<Output = lapin::Result<T>>,
    {
        let mut attempt = 1;
        loop {
            let connection = self.shared.publishing.connection().await?;
            let result = match connection.create_channel().await {
                Ok(channel) => operation(channel).await,
                Err(error) => Err(error),
            };
            match result {
                Ok(value) => return Ok(value),
                Err(error) if !connection.status().connected() && attempt < ATTEMPTS => {
                    warn!(operation = what, %error, "connection lost, retrying");
                    attempt += 1;
                }
                Err(error) if !connection.status().connected() => {
                    return Err(QueueError::Connection(format!("{what}: {error}")));
                }
                Err(error) => return Err(QueueError::Operation(format!("{what}: {error}"))),
            }
        }
    }

    /// The confirm-mode publishing channel, opened anew if it broke.
    async fn publisher(&self) -> Result<Channel, QueueError> {
        let mut slot = self.shared.publisher.lock().await;
        let connection = self.shared.publishing.connection().await?;
        if let Some((owner, channel)) = slot.as_ref()
            && Arc::ptr_eq(owner, &connection)
            && channel.status().connected()
        {
            return Ok(channel.clone());
        }
        let channel = async {
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            Ok::<_, lapin::Error>(channel)
        }
        .await
        .map_err(|e| QueueError::Connection(format!("opening the publishing channel: {e}")))?;
        *slot = Some((connection, channel.clone()));
        Ok(channel)
    }

    /// Publish the messages at `indices` once; returns the indices whose
    /// publish or confirm failed because the channel or connection broke.
    async fn publish_round(
        &self,
        messages: &[Outgoing],
        indices: &[usize],
    ) -> Result<Vec<usize>, QueueError> {
        let channel = self.publisher().await?;
        let window = self.shared.options.confirm_window.max(1);
        let mut in_flight = FuturesUnordered::new();
        let mut broken = Vec::new();
        let mut refused = None;
        for (position, &index) in indices.iter().enumerate() {
            while in_flight.len() >= window {
                if let Some(outcome) = in_flight.next().await {
                    settle(outcome, &mut broken, &mut refused);
                }
            }
            let message = &messages[index];
            let properties = BasicProperties::default()
                .with_delivery_mode(2)
                .with_priority(message.priority)
                .with_user_id(self.shared.user.clone());
            let options = BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            };
            let sent = channel
                .basic_publish(
                    self.shared.exchange_of(&message.queue),
                    message.queue.as_str().into(),
                    options,
                    &message.payload,
                    properties,
                )
                .await;
            match sent {
                Ok(confirm) => in_flight.push(async move { (index, confirm.await) }),
                Err(error) => {
                    warn!(%error, unsent = indices.len() - position, "publishing interrupted");
                    broken.extend_from_slice(&indices[position..]);
                    break;
                }
            }
        }
        while let Some(outcome) = in_flight.next().await {
            settle(outcome, &mut broken, &mut refused);
        }
        match refused {
            Some(error) => Err(error),
            None => Ok(broken),
        }
    }
}

/// Record one confirm: a broken channel means "send again", a refusal is
/// the batch's error.
fn settle(
    (index, outcome): (usize, lapin::Result<Confirmation>),
    broken: &mut Vec<usize>,
    refused: &mut Option<QueueError>,
) {
    match outcome {
        Ok(Confirmation::Ack(None)) => {}
        Ok(Confirmation::Ack(Some(returned))) => {
            refused.get_or_insert(QueueError::Operation(format!(
                "no queue {} is bound to exchange {} ({}): declare it first",
                returned.delivery.routing_key, returned.delivery.exchange, returned.reply_text
            )));
        }
        Ok(Confirmation::Nack(_)) => {
            refused.get_or_insert(QueueError::NotConfirmed);
        }
        Ok(Confirmation::NotRequested) => {
            refused.get_or_insert(QueueError::Operation(
                "publisher confirms are not enabled on the channel".to_owned(),
            ));
        }
        Err(_) => broken.push(index),
    }
}

async fn declare_exchange(channel: &Channel, exchange: ShortString) -> lapin::Result<()> {
    let options = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            exchange,
            ExchangeKind::Direct,
            options,
            FieldTable::default(),
        )
        .await
}

#[async_trait]
impl Broker for RabbitMq {
    async fn declare(&self, queue: &str, options: QueueOptions) -> Result<(), QueueError> {
        let exchange = self.shared.exchange_of(queue);
        let mut arguments = FieldTable::default();
        if options.max_priority > 0 {
            arguments.insert(
                "x-max-priority".into(),
                AMQPValue::LongInt(options.max_priority.into()),
            );
        }
        self.on_channel("queue.declare", |channel| {
            let arguments = arguments.clone();
            let exchange = exchange.clone();
            async move {
                declare_exchange(&channel, exchange.clone()).await?;
                channel
                    .queue_declare(queue.into(), QueueDeclareOptions::durable(), arguments)
                    .await?;
                channel
                    .queue_bind(
                        queue.into(),
                        exchange,
                        queue.into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await
            }
        })
        .await
    }

    async fn publish(&self, messages: Vec<Outgoing>) -> Result<(), QueueError> {
        let span = info_span!("rabbitmq_publish", count = messages.len());
        async {
            let mut pending: Vec<usize> = (0..messages.len()).collect();
            for attempt in 1..=ATTEMPTS {
                pending = match self.publish_round(&messages, &pending).await {
                    Ok(broken) => broken,
                    Err(QueueError::Connection(error)) if attempt < ATTEMPTS => {
                        warn!(attempt, %error, "no publishing channel; retrying");
                        continue;
                    }
                    Err(error) => return Err(error),
                };
                if pending.is_empty() {
                    debug!(attempt, "batch confirmed");
                    return Ok(());
                }
                warn!(
                    attempt,
                    unconfirmed = pending.len(),
                    "connection broke while publishing; sending again"
                );
            }
            Err(QueueError::Connection(format!(
                "{} messages still unconfirmed after {ATTEMPTS} attempts",
                pending.len()
            )))
        }
        .instrument(span)
        .await
    }

    async fn consume(
        &self,
        queues: &[String],
        prefetch: u16,
    ) -> Result<Box<dyn Consumer>, QueueError> {
        crate::ensure_some_queues(queues)?;
        let mut consumer = RabbitConsumer::new(Arc::clone(&self.shared), queues.to_vec(), prefetch);
        consumer.subscribe().await?;
        Ok(Box::new(consumer))
    }

    async fn ready_count(&self, queue: &str) -> Result<u64, QueueError> {
        let declared = self
            .on_channel("queue.declare (passive)", |channel| async move {
                channel
                    .queue_declare(
                        queue.into(),
                        QueueDeclareOptions::durable().passive(),
                        FieldTable::default(),
                    )
                    .await
            })
            .await?;
        Ok(declared.message_count().into())
    }

    async fn grant(&self, grant: &Grant) -> Result<Granted, QueueError> {
        self.shared
            .management
            .grant(&self.shared.options.exchange, grant)
            .await?;
        let uri = &self.shared.worker_uri;
        let scheme = match uri.scheme {
            lapin::uri::AMQPScheme::AMQP => "amqp",
            lapin::uri::AMQPScheme::AMQPS => "amqps",
        };
        Ok(Granted::Url(format!(
            "{scheme}://{}:{}@{}:{}/{}",
            grant.user,
            grant.password,
            uri.authority.host,
            uri.authority.port,
            admin::encode(&uri.vhost)
        )))
    }

    async fn revoke(&self, user: &str) -> Result<(), QueueError> {
        self.shared.management.revoke(user).await
    }
}
