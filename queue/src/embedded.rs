//! The embedded backend: a SQLite table plus a wake-up, for a farm that runs
//! in one process (a laptop, a demo, tests).
//!
//! Every message is a row of `messages`. A row whose `consumer` is NULL is
//! ready; otherwise it is delivered to that in-process consumer and not yet
//! settled. Publishing commits one transaction per batch, synced to disk
//! (`synchronous = FULL`, WAL journal), before it returns, so a published
//! message survives a crash or a power loss. Claims and settlements commit
//! with `synchronous = NORMAL`: they survive a crash of the process, and a
//! power loss can at worst undo the last few, which only means a message is
//! delivered again (delivery is at-least-once anyway).
//!
//! The database file is owned by one process: it is opened with SQLite's
//! exclusive locking mode, so a second [`Embedded::open`] of the same file (in
//! this process or another) fails instead of sharing it. Because of that, on
//! open every row still marked as delivered belongs to a consumer that died
//! with the previous process; those rows become ready again with
//! `redelivered` set, as RabbitMQ does when a connection drops.
//!
//! Consumers are woken through one [`tokio::sync::Notify`] whenever a message
//! becomes ready or a delivery is settled.

mod consumer;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::Notify;
use tracing::{debug, info};

use crate::{Broker, Consumer, Grant, Granted, Outgoing, QueueError, QueueOptions};
use consumer::{ConsumerState, EmbeddedConsumer};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY NOT NULL,
    max_priority INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    priority INTEGER NOT NULL,
    payload BLOB NOT NULL,
    redelivered INTEGER NOT NULL DEFAULT 0,
    consumer INTEGER,
    sender TEXT
);
CREATE INDEX IF NOT EXISTS messages_ready
    ON messages (queue, priority DESC, id) WHERE consumer IS NULL;
CREATE INDEX IF NOT EXISTS messages_delivered
    ON messages (consumer) WHERE consumer IS NOT NULL;
";

/// The embedded queue: SQLite storage plus an in-process wake-up.
///
/// Cheap to clone; clones share the same database and consumers. The handle
/// [`Embedded::open`] returns may do everything; [`Broker::grant`] makes
/// handles bound to one identity, the in-process counterpart of a RabbitMQ
/// user with permissions: they publish and consume only what the grant
/// names, declare nothing, stop working once revoked, and their messages
/// carry the identity as [`crate::Delivery::sender`].
#[derive(Clone)]
pub struct Embedded {
    inner: Arc<Inner>,
    identity: Option<Arc<Identity>>,
}

/// What a granted handle is and may do.
struct Identity {
    name: String,
    consume: HashSet<String>,
    publish: HashSet<String>,
}

/// State shared by the broker, its consumers and their ackers.
struct Inner {
    db: Mutex<Connection>,
    wake: Notify,
    next_consumer: AtomicI64,
    /// Identities revoked since they were granted.
    revoked: Mutex<HashSet<String>>,
}

impl Inner {
    /// Lock the database. A panic while it was held leaves SQLite itself
    /// consistent (every change is a statement or a transaction), so a
    /// poisoned lock is taken over.
    fn db(&self) -> MutexGuard<'_, Connection> {
        self.db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Run blocking database work on the blocking thread pool.
    async fn run<T, F>(self: &Arc<Self>, work: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&Arc<Inner>) -> Result<T, QueueError> + Send + 'static,
    {
        let inner = Arc::clone(self);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| QueueError::Storage(format!("database task failed: {e}")))?
    }
}

fn storage(error: rusqlite::Error) -> QueueError {
    QueueError::Storage(error.to_string())
}

impl Embedded {
    /// Open (or create) the queue database at `path`.
    ///
    /// Deliveries that were unsettled when the previous owner of the file
    /// stopped become ready again with `redelivered` set. Fails if another
    /// [`Embedded`] (in any process) has the file open.
    pub fn open(path: &Path) -> Result<Self, QueueError> {
        let connection = Connection::open(path).map_err(storage)?;
        connection
            .pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(storage)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| in_use(path, e))?;
        let queue = Self::setup(connection).map_err(|e| in_use(path, e))?;
        info!(path = %path.display(), "embedded queue opened");
        Ok(queue)
    }

    /// A queue that lives in memory only, gone when the last clone is
    /// dropped. For tests and throw-away runs.
    pub fn in_memory() -> Result<Self, QueueError> {
        Self::setup(Connection::open_in_memory().map_err(storage)?).map_err(storage)
    }

    fn setup(connection: Connection) -> Result<Self, rusqlite::Error> {
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.execute_batch(SCHEMA)?;
        let has_sender: bool = connection.query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info('messages') WHERE name = 'sender')",
            [],
            |row| row.get(0),
        )?;
        if !has_sender {
            connection.execute_batch("ALTER TABLE messages ADD COLUMN sender TEXT")?;
        }
        let recovered = connection.execute(
            "UPDATE messages SET consumer = NULL, redelivered = 1 WHERE consumer IS NOT NULL",
            [],
        )?;
        if recovered > 0 {
            info!(
                recovered,
                "deliveries in flight at the last stop are ready again"
            );
        }
        Ok(Self {
            inner: Arc::new(Inner {
                db: Mutex::new(connection),
                wake: Notify::new(),
                next_consumer: AtomicI64::new(1),
                revoked: Mutex::default(),
            }),
            identity: None,
        })
    }

    /// Refuse what this handle's identity may not do: `Ok` for the
    /// unrestricted handle, or when `allowed` says so of a live identity.
    fn permit(&self, what: &str, allowed: impl Fn(&Identity) -> bool) -> Result<(), QueueError> {
        let Some(identity) = &self.identity else {
            return Ok(());
        };
        let revoked = self
            .inner
            .revoked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(&identity.name);
        if revoked || !allowed(identity) {
            return Err(QueueError::Refused(format!(
                "{what} refused for {}",
                identity.name
            )));
        }
        Ok(())
    }

    /// The sender this handle's messages carry.
    fn sender(&self) -> Option<String> {
        self.identity.as_ref().map(|identity| identity.name.clone())
    }
}

fn in_use(path: &Path, error: rusqlite::Error) -> QueueError {
    if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) {
        QueueError::Storage(format!(
            "queue database {} is in use by another process (it is owned by one process at a time)",
            path.display()
        ))
    } else {
        storage(error)
    }
}

/// The declared `max_priority` of `queue`, or an error naming the queue.
fn declared(connection: &Connection, queue: &str) -> Result<u8, QueueError> {
    connection
        .prepare_cached("SELECT max_priority FROM queues WHERE name = ?1")
        .and_then(|mut statement| statement.query_row([queue], |row| row.get(0)).optional())
        .map_err(storage)?
        .ok_or_else(|| QueueError::Operation(format!("queue {queue} is not declared")))
}

/// Insert `messages` in one transaction, priorities capped at each queue's
/// declared maximum (as RabbitMQ does).
fn insert_batch(
    db: &mut Connection,
    messages: &[Outgoing],
    sender: Option<&str>,
) -> Result<(), QueueError> {
    let transaction = db.transaction().map_err(storage)?;
    let mut limits: HashMap<&str, u8> = HashMap::new();
    {
        let mut insert = transaction
            .prepare_cached(
                "INSERT INTO messages (queue, priority, payload, sender) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(storage)?;
        for message in messages {
            let limit = match limits.get(message.queue.as_str()) {
                Some(limit) => *limit,
                None => {
                    let limit = declared(&transaction, &message.queue)?;
                    limits.insert(&message.queue, limit);
                    limit
                }
            };
            insert
                .execute(params![
                    message.queue,
                    message.priority.min(limit),
                    message.payload,
                    sender
                ])
                .map_err(storage)?;
        }
    }
    transaction.commit().map_err(storage)
}

#[async_trait]
impl Broker for Embedded {
    async fn declare(&self, queue: &str, options: QueueOptions) -> Result<(), QueueError> {
        self.permit(&format!("declaring {queue}"), |_| false)?;
        let queue = queue.to_owned();
        self.inner
            .run(move |inner| {
                let db = inner.db();
                db.execute(
                    "INSERT INTO queues (name, max_priority) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    params![queue, options.max_priority],
                )
                .map_err(storage)?;
                let existing = declared(&db, &queue)?;
                if existing != options.max_priority {
                    return Err(QueueError::Operation(format!(
                        "queue {queue} is already declared with max_priority {existing}"
                    )));
                }
                Ok(())
            })
            .await
    }

    async fn publish(&self, messages: Vec<Outgoing>) -> Result<(), QueueError> {
        if messages.is_empty() {
            return Ok(());
        }
        for message in &messages {
            self.permit(&format!("publishing to {}", message.queue), |identity| {
                identity.publish.contains(&message.queue)
            })?;
        }
        let count = messages.len();
        let sender = self.sender();
        self.inner
            .run(move |inner| {
                let mut db = inner.db();
                db.pragma_update(None, "synchronous", "FULL")
                    .map_err(storage)?;
                let inserted = insert_batch(&mut db, &messages, sender.as_deref());
                db.pragma_update(None, "synchronous", "NORMAL")
                    .map_err(storage)?;
                inserted
            })
            .await?;
        debug!(count, "published to the embedded queue");
        self.inner.wake.notify_waiters();
        Ok(())
    }

    async fn consume(
        &self,
        queues: &[String],
        prefetch: u16,
    ) -> Result<Box<dyn Consumer>, QueueError> {
        crate::ensure_some_queues(queues)?;
        for queue in queues {
            self.permit(&format!("consuming {queue}"), |identity| {
                identity.consume.contains(queue)
            })?;
        }
        let names = queues.to_vec();
        self.inner
            .run(move |inner| {
                let db = inner.db();
                names
                    .iter()
                    .try_for_each(|queue| declared(&db, queue).map(drop))
            })
            .await?;
        let state = ConsumerState::new(&self.inner);
        Ok(Box::new(EmbeddedConsumer::new(
            Arc::clone(&self.inner),
            state,
            queues.to_vec(),
            prefetch,
        )))
    }

    async fn ready_count(&self, queue: &str) -> Result<u64, QueueError> {
        let queue = queue.to_owned();
        self.inner
            .run(move |inner| {
                let db = inner.db();
                declared(&db, &queue)?;
                let count: i64 = db
                    .prepare_cached(
                        "SELECT COUNT(*) FROM messages WHERE queue = ?1 AND consumer IS NULL",
                    )
                    .and_then(|mut statement| statement.query_row([&queue], |row| row.get(0)))
                    .map_err(storage)?;
                Ok(count.unsigned_abs())
            })
            .await
    }

    async fn grant(&self, grant: &Grant) -> Result<Granted, QueueError> {
        self.permit(&format!("granting {}", grant.user), |_| false)?;
        self.inner
            .revoked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&grant.user);
        Ok(Granted::InProcess(Arc::new(Self {
            inner: Arc::clone(&self.inner),
            identity: Some(Arc::new(Identity {
                name: grant.user.clone(),
                consume: grant.consume.iter().cloned().collect(),
                publish: grant.publish.iter().cloned().collect(),
            })),
        })))
    }

    async fn revoke(&self, user: &str) -> Result<(), QueueError> {
        self.permit(&format!("revoking {user}"), |_| false)?;
        self.inner
            .revoked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(user.to_owned());
        Ok(())
    }
}
