//! One AMQP connection that is re-established, with backoff, when it breaks.

use std::sync::Arc;
use std::time::Duration;

use lapin::{Connection, ConnectionProperties};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{Instrument, info, info_span, warn};

use crate::QueueError;

/// First pause between reconnection attempts; doubled after each failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A lazily (re)connected AMQP connection.
pub(super) struct Endpoint {
    url: String,
    name: String,
    reconnect_for: Duration,
    current: Mutex<Option<Arc<Connection>>>,
}

impl Endpoint {
    /// An endpoint named `name` (shown by `rabbitmqctl list_connections
    /// client_properties`), not connected yet.
    pub(super) fn new(url: &str, name: String, reconnect_for: Duration) -> Self {
        Self {
            url: url.to_owned(),
            name,
            reconnect_for,
            current: Mutex::new(None),
        }
    }

    /// Connect now, once, without retrying: start-up should fail fast on a
    /// wrong URL or a broker that is down.
    pub(super) async fn connect_once(&self) -> Result<(), QueueError> {
        let connection = self.dial().await?;
        info!(name = %self.name, "connected to RabbitMQ");
        *self.current.lock().await = Some(Arc::new(connection));
        Ok(())
    }

    /// The live connection; if it broke, reconnect with exponential backoff
    /// for up to the endpoint's reconnect time before giving up.
    pub(super) async fn connection(&self) -> Result<Arc<Connection>, QueueError> {
        let mut current = self.current.lock().await;
        if let Some(connection) = current.as_ref()
            && connection.status().connected()
        {
            return Ok(Arc::clone(connection));
        }
        let connection = Arc::new(
            self.reconnect()
                .instrument(info_span!("rabbitmq_reconnect", name = %self.name))
                .await?,
        );
        *current = Some(Arc::clone(&connection));
        Ok(connection)
    }

    async fn reconnect(&self) -> Result<Connection, QueueError> {
        let deadline = Instant::now() + self.reconnect_for;
        let mut pause = FIRST_BACKOFF;
        let mut attempt = 1u32;
        loop {
            match self.dial().await {
                Ok(connection) => {
                    info!(attempt, "reconnected to RabbitMQ");
                    return Ok(connection);
                }
                Err(error) if Instant::now() + pause < deadline => {
                    warn!(attempt, %error, retry_in = ?pause, "RabbitMQ reconnection failed");
                }
                Err(error) => {
                    warn!(attempt, %error, "giving up reconnecting to RabbitMQ");
                    return Err(error);
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_BACKOFF);
            attempt += 1;
        }
    }

    async fn dial(&self) -> Result<Connection, QueueError> {
        let properties =
            ConnectionProperties::default().with_connection_name(self.name.as_str().into());
        Connection::connect(&self.url, properties)
            .await
            .map_err(|e| QueueError::Connection(format!("{}: {e}", redact(&self.url))))
    }
}

/// The URL without its password, for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// An AMQP URL's parts (user `guest` when it names none, as lapin does).
pub(super) fn parse(url: &str) -> Result<lapin::uri::AMQPUri, QueueError> {
    url.parse()
        .map_err(|e| QueueError::Connection(format!("bad AMQP URL {}: {e}", redact(url))))
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(
            redact("amqp://guest:secret@host:5672/%2f"),
            "amqp://guest:***@host:5672/%2f"
        );
        assert_eq!(redact("amqp://host:5672"), "amqp://host:5672");
    }
}
