//! The render farm coordinator: HTTP API, job splitting, state in SQLite,
//! dispatch to the task queue, result consumption and the watchdog.

#![recursion_limit = "256"]

pub mod api;
pub mod auth;
pub mod benchmark;
pub mod billing;
pub mod bundle;
pub mod checker;
pub mod class_reference;
pub mod config;
pub mod db;
pub mod enroll;
pub mod estimate;
pub mod farm;
mod grants;
pub mod intake;
pub mod model;
pub mod money;
pub mod placement;
pub mod preview;
pub mod renderers;
pub mod server;
pub mod split;
pub mod state;
pub mod ui;
pub mod verify;

/// What can stop the coordinator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Database.
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// Task queue.
    #[error("task queue: {0}")]
    Queue(#[from] queue::QueueError),
    /// Object storage.
    #[error("object store: {0}")]
    Store(#[from] storage::StoreError),
    /// The class checks' benchmark scene.
    #[error("class check: {0}")]
    ClassCheck(String),
    /// Listening socket.
    #[error("cannot serve HTTP: {0}")]
    Http(std::io::Error),
}
