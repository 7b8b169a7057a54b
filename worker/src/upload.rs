//! Delivering rendered frames: check, upload through a grant for the key
//! the coordinator chose, report `FrameDone`. Frames are delivered one by one as Blender saves them, while
//! it renders the next.

use std::path::PathBuf;

use protocol::{FrameDone, GrantObject, JobId, RenderDevice, TaskId, WorkerEvent, WorkerId};
use tokio::sync::mpsc;

use crate::check::{CheckError, check_frame};
use crate::error::WorkerError;
use crate::grants::{GrantClient, GrantError};
use crate::report::Reporter;
#[cfg(feature = "tamper")]
use crate::tamper::{TamperError, Tamperer};

/// A frame Blender has written, waiting to be delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedFrame {
    /// Frame number.
    pub frame: i32,
    /// The EXR file.
    pub path: PathBuf,
    /// Seconds Blender spent on it.
    pub render_seconds: f64,
    /// Width the frame must have.
    pub width: u32,
    /// Height the frame must have.
    pub height: u32,
    /// What Blender rendered it on (from the settings script's device line).
    pub device: RenderDevice,
}

/// Why a frame could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Test-only tampering failed.
    #[cfg(feature = "tamper")]
    #[error("frame {frame} could not be tampered with: {source}")]
    Tamper {
        /// The frame.
        frame: i32,
        /// Why.
        source: TamperError,
    },
    /// The frame failed its checks.
    #[error("frame {frame} is invalid: {source}")]
    Check {
        /// The frame.
        frame: i32,
        /// What is wrong with it.
        source: CheckError,
    },
    /// No grant to upload it.
    #[error("frame {frame} could not be uploaded: {source}")]
    Grant {
        /// The frame.
        frame: i32,
        /// Why.
        source: GrantError,
    },
    /// The upload failed.
    #[error("frame {frame} could not be uploaded: {source}")]
    Upload {
        /// The frame.
        frame: i32,
        /// Why.
        source: storage::StoreError,
    },
    /// `FrameDone` could not be published.
    #[error("frame {frame} could not be reported: {source}")]
    Report {
        /// The frame.
        frame: i32,
        /// Why.
        source: WorkerError,
    },
    /// The check thread died.
    #[error("frame {frame}: the check was interrupted: {reason}")]
    Interrupted {
        /// The frame.
        frame: i32,
        /// Why.
        reason: String,
    },
}

/// Where a task's frames go and how they are reported.
#[derive(Clone)]
pub struct FrameSink {
    /// Grants for each frame's upload.
    pub grants: GrantClient,
    /// The results publisher.
    pub reporter: Reporter,
    /// The task.
    pub task_id: TaskId,
    /// Its attempt.
    pub attempt: u32,
    /// Its job.
    pub job_id: JobId,
    /// Its replica number.
    pub replica: u32,
    /// Test only: how to falsify each frame before it is checked.
    #[cfg(feature = "tamper")]
    pub tamper: Option<Tamperer>,
}

impl FrameSink {
    /// The worker that rendered the frames.
    fn worker(&self) -> WorkerId {
        self.reporter.worker()
    }

    /// Check, upload and report one frame (tampered with first when the
    /// sink says so, so the reported hash is that of the uploaded file).
    pub async fn deliver(&self, saved: SavedFrame) -> Result<FrameDone, DeliveryError> {
        let frame = saved.frame;
        let path = saved.path.clone();
        let (width, height) = (saved.width, saved.height);
        #[cfg(feature = "tamper")]
        let tamper = self.tamper.clone();
        let checked = tokio::task::spawn_blocking(move || {
            #[cfg(feature = "tamper")]
            if let Some(tamperer) = &tamper {
                tamperer
                    .apply(&path)
                    .map_err(|source| DeliveryError::Tamper { frame, source })?;
            }
            check_frame(&path, width, height)
                .map_err(|source| DeliveryError::Check { frame, source })
        })
        .await
        .map_err(|e| DeliveryError::Interrupted {
            frame,
            reason: e.to_string(),
        })??;
        let granted = self
            .grants
            .request(self.task_id, self.attempt, GrantObject::Frame { frame })
            .await
            .map_err(|source| DeliveryError::Grant { frame, source })?;
        let bytes = storage::http::put_file(self.grants.http(), &granted.url, &saved.path)
            .await
            .map_err(|source| DeliveryError::Upload { frame, source })?;
        let done = FrameDone {
            task_id: self.task_id,
            attempt: self.attempt,
            job_id: self.job_id,
            frame,
            replica: self.replica,
            worker: self.worker(),
            object_key: granted.key,
            pixel_hash: checked.pixel_hash,
            render_seconds: saved.render_seconds,
            width: checked.width,
            height: checked.height,
            bytes,
            device: saved.device,
        };
        self.reporter
            .send(&WorkerEvent::FrameDone(done.clone()))
            .await
            .map_err(|source| DeliveryError::Report { frame, source })?;
        tracing::info!(
            frame,
            seconds = saved.render_seconds,
            bytes,
            "frame delivered"
        );
        Ok(done)
    }

    /// Deliver every frame sent on `frames`, in order, until the sender is
    /// dropped; stops at the first failure.
    pub async fn deliver_all(
        self,
        mut frames: mpsc::UnboundedReceiver<SavedFrame>,
    ) -> Result<Vec<FrameDone>, DeliveryError> {
        let mut delivered = Vec::new();
        while let Some(saved) = frames.recv().await {
            delivered.push(self.deliver(saved).await?);
        }
        Ok(delivered)
    }
}
