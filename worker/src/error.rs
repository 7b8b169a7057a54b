//! Errors that stop the worker (as opposed to a failed task, which is
//! reported to the coordinator and the worker goes on).

use std::path::PathBuf;

/// Why the worker could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The configuration file could not be read.
    #[error("cannot read the worker configuration {path}: {source}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration file is not valid.
    #[error("invalid worker configuration {path}: {source}")]
    ConfigParse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line.
        source: Box<toml::de::Error>,
    },
    /// The persisted worker id is unreadable.
    #[error("{path} does not hold a worker id ({reason}); delete it to get a new id")]
    BadWorkerId {
        /// The id file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// No renderer could be run, so the worker has nothing to consume.
    #[error(
        "no renderer found: cannot run `{blender} --version` ({reason}); \
         install Blender or set `blender` in the worker configuration"
    )]
    NoRenderer {
        /// The Blender path tried.
        blender: PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// A renderer set in the configuration cannot be run or says no version.
    #[error(
        "{renderer} is configured at {path} but cannot be used ({reason}); \
         fix its path or remove it from the worker configuration"
    )]
    RendererProbe {
        /// Which renderer.
        renderer: protocol::Renderer,
        /// The configured path.
        path: PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// A local file or folder operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The queue failed (unreachable broker, broken connection).
    #[error(transparent)]
    Queue(#[from] queue::QueueError),
    /// GPU discovery failed, or the GPU the worker is pinned to is not there.
    #[error(transparent)]
    Gpu(#[from] crate::gpu::GpuError),
    /// A message could not be encoded.
    #[error("cannot encode a message: {0}")]
    Encode(#[from] serde_json::Error),
    /// Enrolling with the coordinator failed.
    #[error("cannot enroll with the coordinator at {coordinator}: {reason}")]
    Enroll {
        /// The coordinator's URL.
        coordinator: String,
        /// Why.
        reason: String,
    },
    /// The worker has no identity and no way to get one.
    #[error(
        "this worker is not enrolled: run it once with `--coordinator <URL> --enroll-token <TOKEN>` \
         (a token from your provider's `POST /api/v1/enrollments`); it then keeps its identity in {path}"
    )]
    NotEnrolled {
        /// Where the identity would be.
        path: PathBuf,
    },
}

impl WorkerError {
    /// An [`WorkerError::Io`] with its context.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}
