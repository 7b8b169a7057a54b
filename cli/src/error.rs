//! Why a command failed, and the exit code each kind of failure gets (the
//! codes `farm --help` documents).

use protocol::JobId;

use crate::api::ApiError;
use crate::demo::DemoError;
use crate::scene::blender::BlenderError;
use crate::scene::bundle::BundleError;
use crate::scene::project::ProjectError;
use crate::settings::SettingsError;
use crate::views::JobState;

/// Exit code for bad input or a refusal by the coordinator.
pub const EXIT_REFUSED: u8 = 3;
/// Exit code for a watched job that ended failed or cancelled.
pub const EXIT_JOB_ENDED: u8 = 4;
/// Exit code for a coordinator that cannot be reached or failed.
pub const EXIT_UNREACHABLE: u8 = 5;
/// Exit code for anything else.
pub const EXIT_OTHER: u8 = 1;

/// A command's failure, printed as `error: <message>`.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The URL, token or config file.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// Talking to the coordinator.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Reading the scene with Blender.
    #[error(transparent)]
    Blender(#[from] BlenderError),
    /// Putting the scene's files together.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The scene's format and renderer.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The watched job did not end done.
    #[error("job {id} ended {state}: {failed} frame(s) failed, {done} of {frames} rendered")]
    JobEnded {
        /// The job.
        id: JobId,
        /// How it ended.
        state: JobState,
        /// Frames failed.
        failed: u64,
        /// Frames rendered.
        done: u64,
        /// Frames in the job.
        frames: u64,
    },
    /// The demo's farm.
    #[error(transparent)]
    Demo(#[from] DemoError),
    /// Writing to standard output failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    /// An argument that is not what the command takes.
    #[error("{0}")]
    Usage(String),
}

impl Failure {
    /// A bad argument, saying what is wrong with it.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::Usage(message.into())
    }

    /// The process's exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Settings(_) | Failure::Usage(_) => EXIT_REFUSED,
            Failure::Api(error) => error.exit_code(),
            Failure::Blender(error) => error.exit_code(),
            Failure::Bundle(error) => error.exit_code(),
            Failure::Project(error) => error.exit_code(),
            Failure::JobEnded { .. } => EXIT_JOB_ENDED,
            Failure::Demo(DemoError::Frames(_) | DemoError::TooFewForTamper) => EXIT_REFUSED,
            Failure::Demo(_) | Failure::Output(_) => EXIT_OTHER,
        }
    }
}
