//! The coordinator's state in SQLite: the one source of truth for jobs,
//! tasks, frames, attempts, results and workers. The queue only dispatches.

mod attribution;
mod benchmark_reference;
mod benchmarks;
mod billing;
mod bundles;
mod changes;
mod class_checks;
mod copies;
mod dispatch;
mod enrollments;
mod estimates;
mod events;
mod grants;
mod intake;
mod jobs;
mod node_classes;
mod offer;
mod parity;
mod reputation;
mod results;
mod routing;
mod schema;
mod sessions;
mod tokens;
mod transitions;
mod verdicts;
mod waiting;
mod workers;

#[cfg(test)]
mod attribution_tests;
#[cfg(test)]
mod benchmark_tests;
#[cfg(test)]
mod parity_tests;
#[cfg(test)]
mod renderer_tests;
#[cfg(test)]
mod routing_tests;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

pub use attribution::{Refusal, Sender};
pub use benchmarks::{AcceptedCopy, DiffPlan};
pub use changes::{CHANGES_KEPT, Change, ChangeBody, ChangeScope};
pub use class_checks::{CheckScene, ClassCheck};
pub use copies::{CopyView, DeliveredCopy};
pub use dispatch::QueuedTask;
pub use enrollments::{EnrolledWorker, EnrollmentTerms, EnrollmentView, NewEnrollment};
pub use estimates::{Basis, MIN_SAMPLES, RenderTimes};
pub use events::Followup;
pub use grants::GrantOrder;
pub use intake::{IntakeFinding, IntakePlan};
pub use jobs::{JobOptions, NewJob};
pub use node_classes::{CopyPrice, NodeClass};
pub use offer::FarmOffer;
pub use routing::BACKLOG;
pub use sessions::SessionView;
pub use verdicts::{ComparisonPlan, CopyCheck, PlannedCopy, VerdictNumbers};

use crate::config::{BillingConfig, Config};

/// The rules the database applies to events: retries, verification and
/// prices. Built from the [`Config`].
#[derive(Debug, Clone)]
pub struct Policy {
    /// A task failing on this many different workers fails its frames.
    pub max_failures: u32,
    /// Consecutive verified frames before a worker's frames are replicated
    /// at the job's parity rate instead of always.
    pub trusted_after: u32,
    /// Strikes that blocklist a worker.
    pub strikes_to_blocklist: u32,
    /// Prices.
    pub billing: BillingConfig,
}

impl Policy {
    /// The policy a configuration sets.
    pub fn from_config(config: &Config) -> Self {
        Self {
            max_failures: config.watchdog.max_failures,
            trusted_after: config.verification.trusted_after,
            strikes_to_blocklist: config.verification.strikes_to_blocklist.max(1),
            billing: config.billing.clone(),
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::from_config(&Config::default())
    }
}

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON column could not be read.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The operation does not apply in the current state.
    #[error("{0}")]
    Conflict(String),
    /// An amount of money does not fit (never a wrapped number).
    #[error(transparent)]
    Money(#[from] crate::money::MoneyOverflow),
}

/// The coordinator's database. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    /// Bumped after each [`Db::call`] that changed rows, so readers of the
    /// change feed wait for news instead of polling.
    changed: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Db {
    /// Open (creating) the database file and bring its schema up to date.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let conn = Connection::open(path)?;
        Self::setup(conn)
    }

    /// A private in-memory database (tests).
    pub fn in_memory() -> Result<Self, DbError> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Self, DbError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        schema::migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            changed: Arc::new(tokio::sync::watch::Sender::new(0)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Run blocking database work off the async runtime's threads.
    pub async fn call<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Db) -> Result<T, DbError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let before = db.lock().total_changes();
            let outcome = work(&db);
            if db.lock().total_changes() != before {
                db.changed.send_modify(|generation| *generation += 1);
            }
            outcome
        })
        .await
        .map_err(|e| DbError::Conflict(format!("database task panicked: {e}")))?
    }

    /// A receiver that sees a new value after every [`Db::call`] that
    /// changed rows (and so, maybe, the change feed).
    pub fn watch_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

/// Parse a JSON column.
fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, DbError> {
    serde_json::from_str(text).map_err(|e| DbError::Corrupt(format!("{e}: {text}")))
}

/// Write a JSON column.
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

/// Helpers for the database's own tests.
#[cfg(test)]
impl Db {
    /// Apply an event as sent by the worker it names (authenticated); a
    /// `FrameDone` with an empty `object_key` names the key its attempt was
    /// granted, and the uploads of the results it delivers pass their intake
    /// check, as an honest worker's do.
    pub(crate) fn apply_as_named(
        &self,
        event: &protocol::WorkerEvent,
        policy: &Policy,
    ) -> Result<Followup, DbError> {
        let event = self.with_issued_key(event)?;
        let mut followup = self.apply_event(&event, Sender::worker(event.worker()), policy)?;
        for (job, frame, replica) in std::mem::take(&mut followup.intakes) {
            followup.merge(self.record_intake(
                &job,
                frame,
                replica,
                &IntakeFinding::default(),
                policy,
            )?);
        }
        Ok(followup)
    }

    /// `event`, with the key its attempt was granted in a `FrameDone` whose
    /// `object_key` is empty.
    pub(crate) fn with_issued_key(
        &self,
        event: &protocol::WorkerEvent,
    ) -> Result<protocol::WorkerEvent, DbError> {
        let mut event = event.clone();
        if let protocol::WorkerEvent::FrameDone(done) = &mut event
            && done.object_key.is_empty()
        {
            done.object_key = self.issued_upload_key(done)?.unwrap_or_default();
        }
        Ok(event)
    }

    /// The upload key the coordinator grants for a frame of `done`'s
    /// attempt, `None` when the attempt never started.
    fn issued_upload_key(&self, done: &protocol::FrameDone) -> Result<Option<String>, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        grants::upload_key(
            &tx,
            done.job_id,
            done.frame,
            done.replica,
            (done.task_id, done.attempt, done.worker),
        )
    }

    /// Enroll a worker of `owner` (cpu only) and return the id it got.
    pub(crate) fn enroll_test_worker(&self, name: &str, owner: &str) -> protocol::WorkerId {
        self.enroll_test_worker_with(
            name,
            EnrollmentTerms {
                owner: owner.into(),
                region: "local".into(),
                node_classes: vec!["standard".into()],
                device_classes: vec!["cpu".into()],
            },
        )
    }

    /// [`Db::enroll_test_worker`] on `terms`.
    pub(crate) fn enroll_test_worker_with(
        &self,
        name: &str,
        terms: EnrollmentTerms,
    ) -> protocol::WorkerId {
        let id = format!("test-{}", uuid::Uuid::new_v4().simple());
        self.create_enrollment(&NewEnrollment {
            id: id.clone(),
            token_hash: format!("hash-{id}"),
            terms,
            max_workers: Some(1),
            expires_ms: None,
            created_by: "test".into(),
        })
        .unwrap();
        self.enroll_worker(&format!("hash-{id}"), name).unwrap().id
    }
}
