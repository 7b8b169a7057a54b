//! Choosing the queue backend from configuration, at start-up.
//!
//! ```toml
//! [queue]
//! kind = "rabbitmq"
//! url = "amqp://guest:guest@127.0.0.1:5672/%2f"
//! ```
//!
//! or, for a farm in one process:
//!
//! ```toml
//! [queue]
//! kind = "embedded"
//! path = "farm-queue.sqlite"
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::embedded::Embedded;
use crate::rabbitmq::{RabbitMq, RabbitMqOptions};
use crate::{Broker, QueueError};

/// Which queue backend to run, and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum QueueConfig {
    /// A RabbitMQ broker (`kind = "rabbitmq"`).
    #[serde(rename = "rabbitmq")]
    RabbitMq {
        /// AMQP URL of the broker, credentials and virtual host included.
        #[serde(default = "default_url")]
        url: String,
        /// Prefix of the per-queue exchanges (`<exchange>.<queue>`).
        #[serde(default = "default_exchange")]
        exchange: String,
        /// Seconds to keep reconnecting after the connection broke before
        /// queue operations fail.
        #[serde(default = "default_reconnect_secs")]
        reconnect_secs: u64,
        /// The management HTTP API the coordinator makes worker users
        /// through; by default `http://<broker host>:15672`.
        #[serde(default)]
        management_url: Option<String>,
        /// The AMQP URL (without credentials) enrolled workers connect to;
        /// by default `url`'s host, port and virtual host.
        #[serde(default)]
        worker_url: Option<String>,
    },
    /// The embedded SQLite queue (`kind = "embedded"`), for a farm whose
    /// coordinator and workers run in one process.
    Embedded {
        /// Path of the SQLite database file; created if missing.
        #[serde(default = "default_path")]
        path: PathBuf,
    },
}

fn default_url() -> String {
    "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned()
}

fn default_exchange() -> String {
    RabbitMqOptions::default().exchange
}

fn default_reconnect_secs() -> u64 {
    RabbitMqOptions::default().reconnect_for.as_secs()
}

fn default_path() -> PathBuf {
    PathBuf::from("farm-queue.sqlite")
}

impl Default for QueueConfig {
    /// The embedded queue at `farm-queue.sqlite`: a single machine needs no
    /// broker.
    fn default() -> Self {
        Self::Embedded {
            path: default_path(),
        }
    }
}

/// Open the configured backend. Call it once per process and share the
/// returned broker: the embedded database can be open only once.
pub async fn connect(config: &QueueConfig) -> Result<Arc<dyn Broker>, QueueError> {
    match config {
        QueueConfig::RabbitMq {
            url,
            exchange,
            reconnect_secs,
            management_url,
            worker_url,
        } => {
            let options = RabbitMqOptions {
                exchange: exchange.clone(),
                reconnect_for: Duration::from_secs(*reconnect_secs),
                management_url: management_url.clone(),
                worker_url: worker_url.clone(),
                ..RabbitMqOptions::default()
            };
            Ok(Arc::new(RabbitMq::connect_with(url, options).await?))
        }
        QueueConfig::Embedded { path } => {
            let path: PathBuf = path.clone();
            let embedded = tokio::task::spawn_blocking(move || Embedded::open(Path::new(&path)))
                .await
                .map_err(|e| {
                    QueueError::Storage(format!("opening the queue database failed: {e}"))
                })??;
            Ok(Arc::new(embedded))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rabbitmq_fields_default() {
        let config: QueueConfig = toml::from_str(r#"kind = "rabbitmq""#).unwrap();
        assert_eq!(
            config,
            QueueConfig::RabbitMq {
                url: "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned(),
                exchange: "farm".to_owned(),
                reconnect_secs: 300,
                management_url: None,
                worker_url: None,
            }
        );
    }

    #[test]
    fn embedded_path_is_read() {
        let config: QueueConfig =
            toml::from_str("kind = \"embedded\"\npath = \"/var/lib/farm/q.sqlite\"").unwrap();
        assert_eq!(
            config,
            QueueConfig::Embedded {
                path: PathBuf::from("/var/lib/farm/q.sqlite")
            }
        );
    }

    #[test]
    fn unknown_kind_and_fields_are_rejected() {
        assert!(toml::from_str::<QueueConfig>(r#"kind = "kafka""#).is_err());
        assert!(toml::from_str::<QueueConfig>("kind = \"embedded\"\nurl = \"amqp://x\"").is_err());
    }

    #[tokio::test]
    async fn connect_opens_the_embedded_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = QueueConfig::Embedded {
            path: dir.path().join("q.sqlite"),
        };
        let broker = connect(&config).await.unwrap();
        broker
            .declare("tasks.blender", crate::QueueOptions { max_priority: 0 })
            .await
            .unwrap();
        assert_eq!(broker.ready_count("tasks.blender").await.unwrap(), 0);
        assert!(dir.path().join("q.sqlite").exists());
    }
}
