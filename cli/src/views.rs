//! The parts of the API's answers the command line shows. Each type reads
//! only the fields it needs, so a newer coordinator's extra fields pass;
//! states it does not know read as `other`. `--json` prints the API's JSON
//! itself, not these.

use std::fmt;

use protocol::{JobId, SceneHash, WorkerId};
use serde::Deserialize;

/// Declare a state enum read from the API's snake_case names, with an
/// `Other` variant for names this version does not know.
macro_rules! api_state {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A state this version of the command line does not know.
            #[serde(other)]
            Other,
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self {
                    $($name::$variant => $text,)*
                    $name::Other => "other",
                })
            }
        }
    };
}

api_state!(
    /// Where a job is in its life.
    JobState {
        /// Accepted; no frame started yet.
        Queued = "queued",
        /// Rendering.
        Running = "running",
        /// Held.
        Paused = "paused",
        /// Every frame rendered.
        Done = "done",
        /// Some frame failed for good.
        Failed = "failed",
        /// Stopped by a user.
        Cancelled = "cancelled",
    }
);

impl JobState {
    /// Whether the job has ended.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }
}

api_state!(
    /// Where one frame is.
    FrameState {
        /// Not rendered yet.
        Pending = "pending",
        /// A worker is on it.
        Rendering = "rendering",
        /// Rendered and stored.
        Done = "done",
        /// Failed for good.
        Failed = "failed",
        /// Cancelled.
        Cancelled = "cancelled",
    }
);

api_state!(
    /// Where one frame is in verification.
    CheckState {
        /// Not chosen for a parity copy.
        Unchecked = "unchecked",
        /// A parity copy is on its way.
        Awaiting = "awaiting",
        /// Copies are being compared.
        Comparing = "comparing",
        /// A third copy is on its way.
        Arbitrating = "arbitrating",
        /// Two workers agree.
        Verified = "verified",
        /// Three copies all disagree.
        NonDeterministic = "non_deterministic",
        /// Being rendered again after a rejection.
        Rerendering = "rerendering",
        /// No second worker could check it.
        Unverifiable = "unverifiable",
    }
);

api_state!(
    /// Whether a worker is reachable.
    WorkerState {
        /// Heartbeating.
        Online = "online",
        /// Silent past the watchdog's timeout.
        Lost = "lost",
        /// Shut down cleanly.
        Left = "left",
    }
);

/// Frames of a job per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct FrameCounts {
    /// Not rendered yet.
    pub pending: u64,
    /// Being rendered.
    pub rendering: u64,
    /// Rendered.
    pub done: u64,
    /// Failed for good.
    pub failed: u64,
    /// Cancelled.
    pub cancelled: u64,
}

/// Frames of a job per verification state (the ones shown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct VerificationCounts {
    /// Waiting for a parity copy.
    #[serde(default)]
    pub awaiting: u64,
    /// Being compared.
    #[serde(default)]
    pub comparing: u64,
    /// Waiting for a third copy.
    #[serde(default)]
    pub arbitrating: u64,
    /// Two workers agree.
    #[serde(default)]
    pub verified: u64,
}

impl VerificationCounts {
    /// Frames chosen for a parity copy and not settled yet.
    pub fn in_check(&self) -> u64 {
        self.awaiting + self.comparing + self.arbitrating
    }
}

/// One job, as `GET /api/v1/jobs` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// Its name.
    pub name: String,
    /// Frame spec as submitted.
    pub frames: String,
    /// Number of frames.
    pub frame_count: u64,
    /// Frames per task.
    pub chunk_size: u32,
    /// 0 to 100.
    pub priority: u8,
    /// Its state.
    pub state: JobState,
    /// Frames per state.
    pub progress: FrameCounts,
    /// Frames per verification state.
    pub verification: VerificationCounts,
    /// Share of frames rendered twice, in percent.
    pub parity_percent: f64,
    /// Submission time, ms since the epoch.
    pub created_ms: i64,
    /// When it ended.
    pub finished_ms: Option<i64>,
    /// The bundle its scene came in.
    #[serde(default)]
    pub bundle: Option<String>,
    /// The region it asked for.
    #[serde(default)]
    pub region: Option<String>,
    /// The node class it asked for.
    #[serde(default)]
    pub node_class: Option<String>,
    /// The renderer it renders with (`blender`, `cinema4d`, `octane`, …).
    #[serde(default)]
    pub renderer: Option<String>,
    /// The renderer versions it renders on, if it asked for some.
    #[serde(default)]
    pub renderer_version: Option<String>,
    /// The Cinema 4D take it renders.
    #[serde(default)]
    pub take: Option<String>,
    /// The Octane render target it renders.
    #[serde(default)]
    pub render_target: Option<String>,
    /// Why its frames wait, when no online worker can render them.
    #[serde(default)]
    pub waiting: Option<String>,
}

impl Job {
    /// `cinema4d >=2024, take Close-up`: what renders the job.
    pub fn renderer_text(&self) -> Option<String> {
        let mut text = self.renderer.clone()?;
        if let Some(versions) = &self.renderer_version {
            text.push_str(&format!(" {versions}"));
        }
        if let Some(take) = &self.take {
            text.push_str(&format!(", take {take}"));
        }
        if let Some(target) = &self.render_target {
            text.push_str(&format!(", render target {target}"));
        }
        Some(text)
    }
}

/// One frame of a job.
#[derive(Debug, Clone, Deserialize)]
pub struct Frame {
    /// Frame number.
    pub frame: i32,
    /// Its state.
    pub state: FrameState,
    /// The renderer's errors when failed.
    pub error: Option<String>,
    /// Render time once rendered.
    #[serde(default)]
    pub render_seconds: Option<f64>,
}

/// A job with its frames, as `GET /api/v1/jobs/{id}` shows it.
#[derive(Debug, Clone, Deserialize)]
pub struct JobDetail {
    /// The job.
    #[serde(flatten)]
    pub job: Job,
    /// Every frame, in render order.
    pub frame_list: Vec<Frame>,
}

/// One frame of a cost report.
#[derive(Debug, Clone, Deserialize)]
pub struct FrameCost {
    /// Frame number.
    pub frame: i32,
    /// Render state.
    pub state: FrameState,
    /// Verification state.
    pub verification: CheckState,
    /// Who rendered the delivered copy.
    pub worker_name: Option<String>,
    /// Its device class.
    pub device_class: Option<String>,
    /// Render seconds billed.
    pub render_seconds: f64,
    /// What the frame costs, in micro-units.
    pub cost_micros: i64,
    /// Copies rendered in all.
    pub copies: u32,
}

/// The sums of a cost report.
#[derive(Debug, Clone, Deserialize)]
pub struct CostTotals {
    /// Frames in the job.
    pub frames: u64,
    /// Frames rendered.
    pub frames_done: u64,
    /// Frames two workers agree on.
    pub frames_verified: u64,
    /// Render seconds billed.
    pub billed_render_seconds: f64,
    /// What the customer pays so far, in micro-units.
    pub cost_micros: i64,
    /// Cost of the verification renders, in micro-units.
    pub verification_overhead_micros: i64,
    /// That overhead over the billed cost, in percent.
    pub verification_overhead_percent: f64,
}

/// `GET /api/v1/jobs/{id}/report`: computed from the frames delivered so
/// far, at any time of the job's life.
#[derive(Debug, Clone, Deserialize)]
pub struct CostReport {
    /// The job's name.
    pub job_name: String,
    /// Its state when the report was made.
    pub state: JobState,
    /// Currency of every amount.
    pub currency: String,
    /// Every frame.
    pub frames: Vec<FrameCost>,
    /// Sums.
    pub totals: CostTotals,
    /// The estimate at submission against the actual figures.
    #[serde(default)]
    pub estimate: Option<EstimateCheck>,
}

/// A low, typical and high figure.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Range<T> {
    /// With fast frames.
    pub low: T,
    /// With the typical frame.
    pub typical: T,
    /// With slow frames.
    pub high: T,
}

/// A job's estimate against what it took.
#[derive(Debug, Clone, Deserialize)]
pub struct EstimateCheck {
    /// The class compared.
    pub node_class: String,
    /// Estimated cost, micro-units.
    pub estimated_cost_micros: Option<Range<i64>>,
    /// Estimated time to complete, seconds.
    pub estimated_time_secs: Option<Range<f64>>,
    /// Billed, micro-units.
    pub actual_cost_micros: i64,
    /// Seconds from submission to the last frame.
    pub actual_time_secs: Option<f64>,
}

/// A worker's standing with the parity checker (the part shown).
#[derive(Debug, Clone, Deserialize)]
pub struct Reputation {
    /// Billing class.
    pub device_class: String,
    /// Times outvoted.
    pub strikes: u32,
    /// Why it is blocklisted, if it is.
    pub blocklist_reason: Option<String>,
}

/// One worker, as `GET /api/v1/workers` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Worker {
    /// Its id.
    pub id: WorkerId,
    /// Its name.
    pub name: String,
    /// Who operates it.
    pub owner: String,
    /// Its region.
    pub region: String,
    /// Its node class.
    pub node_class: String,
    /// Whether it is reachable.
    pub state: WorkerState,
    /// Frame being rendered.
    pub current_frame: Option<i32>,
    /// Progress through it, 0 to 1.
    pub progress: Option<f32>,
    /// Last message, ms since the epoch.
    pub last_seen_ms: i64,
    /// Standing with the parity checker.
    pub reputation: Reputation,
}

/// `GET /api/v1/farm`: what a job may ask for.
#[derive(Debug, Clone, Deserialize)]
pub struct Offer {
    /// Renderers.
    pub renderers: Vec<String>,
    /// Regions of the enrolled workers.
    pub regions: Vec<String>,
    /// Node classes of the enrolled workers.
    pub node_classes: Vec<String>,
}

/// A blob the coordinator still lacks.
#[derive(Debug, Clone, Deserialize)]
pub struct MissingBlob {
    /// Its blake3.
    pub hash: SceneHash,
    /// Its size.
    pub bytes: u64,
    /// The bundle paths with these bytes.
    pub paths: Vec<String>,
}

/// `POST /api/v1/bundles`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct BundleAnswer {
    /// The bundle's id.
    pub id: String,
    /// Blobs to upload before a job can use the bundle.
    pub missing: Vec<MissingBlob>,
}

/// `POST /api/v1/jobs/validate`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Validated {
    /// Frames the job would have.
    pub frame_count: u64,
    /// Tasks it would be split into.
    pub tasks: u64,
}

/// A job control's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct ControlAnswer {
    /// The job's state afterwards.
    pub state: JobState,
    /// Frames put back in the queue (requeue only).
    #[serde(default)]
    pub requeued_frames: Option<u64>,
}
