//! The states of jobs, tasks and frames, and the rules that move them.
//!
//! Every state change in the database goes through the functions here, so
//! the rules live in one place:
//!
//! ```text
//! task:  pending ─dispatch→ queued ─TaskStarted→ running ─all frames in→ done
//!           ↑                  │                    │ failed (< max workers) → pending (attempt+1)
//!           │                  │                    │ failed (≥ max workers) → failed
//!           │                  └──── worker lost ───┴→ pending (attempt+1)
//!           └── resume ── held ←── returned (job paused)
//!        any non-final ── cancel → cancelled
//! job:   queued → running → done | failed;  paused ⇄ queued/running;  cancelled
//! ```
//!
//! Tasks are of a [`TaskKind`]: the job's own chunks (`render`), and the
//! one-frame tasks verification adds (`parity` and `arbiter` copies directed
//! at a chosen worker, `rerender` of a rejected frame). A copy that fails for
//! good is cancelled and leaves its frame unverifiable; it never fails the
//! job. A job is final once every task of every kind is. Frames move
//! through [`CheckState`]; each delivered copy has a [`ResultStatus`].

use serde::{Deserialize, Serialize};

macro_rules! state_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),*
        }

        impl $name {
            /// The name stored in the database and shown in the API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),*
                }
            }

            /// Parse a stored name.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let text = value.as_str()?;
                $name::parse(text).ok_or_else(|| rusqlite::types::FromSqlError::Other(
                    format!("unknown {} {text:?}", stringify!($name)).into(),
                ))
            }
        }

        impl rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }
    };
}

state_enum!(
    /// Where a job is in its life.
    JobState {
        /// Accepted; no frame started yet.
        Queued = "queued",
        /// At least one task started.
        Running = "running",
        /// Held by the user: no new task starts.
        Paused = "paused",
        /// Every frame rendered.
        Done = "done",
        /// Some frame failed on too many workers; the rest are finished.
        Failed = "failed",
        /// Stopped by the user.
        Cancelled = "cancelled",
    }
);

state_enum!(
    /// Where a task (a chunk of frames) is.
    TaskState {
        /// Waiting to be published to the queue.
        Pending = "pending",
        /// On the queue, not taken yet.
        Queued = "queued",
        /// A worker took it.
        Running = "running",
        /// Every frame has a result.
        Done = "done",
        /// Failed on too many workers.
        Failed = "failed",
        /// Returned by a worker because the job is paused; published again on resume.
        Held = "held",
        /// The job was cancelled.
        Cancelled = "cancelled",
    }
);

state_enum!(
    /// Where one frame is.
    FrameState {
        /// Not rendered yet.
        Pending = "pending",
        /// A worker is on it.
        Rendering = "rendering",
        /// Rendered, checked and stored.
        Done = "done",
        /// Its task failed on too many workers.
        Failed = "failed",
        /// The job was cancelled.
        Cancelled = "cancelled",
    }
);

state_enum!(
    /// What became of one dispatch attempt of a task on one worker.
    AttemptState {
        /// The worker is rendering it.
        Running = "running",
        /// It finished.
        Done = "done",
        /// The renderer failed.
        Failed = "failed",
        /// The worker went silent.
        Lost = "lost",
        /// The worker gave it back unrendered.
        Returned = "returned",
        /// Superseded by a newer attempt.
        Abandoned = "abandoned",
    }
);

state_enum!(
    /// Whether a worker is reachable.
    WorkerState {
        /// Heartbeating.
        Online = "online",
        /// Silent past the watchdog timeout.
        Lost = "lost",
        /// Shut down cleanly.
        Left = "left",
    }
);

state_enum!(
    /// Why a task exists.
    TaskKind {
        /// An original chunk of the job, on the shared queue.
        Render = "render",
        /// A parity copy of one frame, directed at another worker.
        Parity = "parity",
        /// A third copy of a disputed frame, directed at a trusted worker.
        Arbiter = "arbiter",
        /// A fresh render of a frame whose result was rejected.
        Rerender = "rerender",
    }
);

state_enum!(
    /// Where one frame is in verification:
    ///
    /// ```text
    /// unchecked ─chosen for parity→ awaiting ─copy in→ comparing ─agree→ verified
    ///                                                     │ disagree → arbitrating ─third copy in→ comparing
    ///                                                     │ three-way disagreement → non_deterministic
    /// any ─its renderer blocklisted→ rerendering ─new result→ unchecked …
    /// awaiting/arbitrating ─no other worker of its device family→ unverifiable
    /// ```
    CheckState {
        /// Not chosen for parity (its result is paid after the verification window).
        Unchecked = "unchecked",
        /// A parity copy is on its way.
        Awaiting = "awaiting",
        /// Copies are being compared.
        Comparing = "comparing",
        /// The copies disagreed; a third copy is on its way.
        Arbitrating = "arbitrating",
        /// Two workers agree on it.
        Verified = "verified",
        /// Three copies all disagree: the scene renders differently each time.
        NonDeterministic = "non_deterministic",
        /// Its result was rejected; it is being rendered again.
        Rerendering = "rerendering",
        /// No other worker of its device family could render a copy.
        Unverifiable = "unverifiable",
    }
);

state_enum!(
    /// What verification made of one delivered result.
    ResultStatus {
        /// Not compared (yet).
        Unverified = "unverified",
        /// Another worker's copy agrees.
        Verified = "verified",
        /// Outvoted by two agreeing copies: not paid, a strike.
        Wrong = "wrong",
        /// Delivered by a worker later blocklisted, never verified: not paid.
        Rejected = "rejected",
        /// Part of a three-way disagreement: paid, nobody punished.
        Disputed = "disputed",
    }
);

state_enum!(
    /// The parity checker's verdict on two copies of a frame.
    VerdictKind {
        /// Same pixels, bit for bit.
        Identical = "identical",
        /// Different pixels, within tolerance.
        WithinTolerance = "within_tolerance",
        /// Between tolerance and mismatch.
        Inconclusive = "inconclusive",
        /// The copies disagree.
        Mismatch = "mismatch",
    }
);

impl VerdictKind {
    /// Whether the two copies count as the same frame.
    pub fn agrees(self) -> bool {
        matches!(self, VerdictKind::Identical | VerdictKind::WithinTolerance)
    }
}

impl From<frame_diff::Verdict> for VerdictKind {
    fn from(verdict: frame_diff::Verdict) -> Self {
        match verdict {
            frame_diff::Verdict::Identical => VerdictKind::Identical,
            frame_diff::Verdict::WithinTolerance => VerdictKind::WithinTolerance,
            frame_diff::Verdict::Inconclusive => VerdictKind::Inconclusive,
            frame_diff::Verdict::Mismatch => VerdictKind::Mismatch,
        }
    }
}

impl JobState {
    /// A job in a final state never changes again (except by requeue of a failed job).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }

    /// Whether the user may pause a job in this state.
    pub fn can_pause(self) -> bool {
        matches!(self, JobState::Queued | JobState::Running)
    }
}

impl TaskState {
    /// A task in a final state takes no more results.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Done | TaskState::Failed | TaskState::Cancelled
        )
    }
}

/// What to do with a task whose attempt failed on a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Publish it again with the next attempt number.
    Retry,
    /// Give up: it failed on enough different workers.
    Fail,
}

/// The failure rule: a task fails for good once `distinct_failed_workers`
/// reaches `max_failures`, or after `2 × max_failures` attempts in all (so a
/// single broken worker that keeps taking it back cannot loop forever).
pub fn after_failure(
    distinct_failed_workers: u32,
    failed_attempts: u32,
    max_failures: u32,
) -> AfterFailure {
    if distinct_failed_workers >= max_failures || failed_attempts >= max_failures.saturating_mul(2)
    {
        AfterFailure::Fail
    } else {
        AfterFailure::Retry
    }
}

/// The state of a job computed from the counts of its tasks' states.
pub fn job_state_from_tasks(current: JobState, counts: &TaskCounts) -> JobState {
    if current == JobState::Cancelled {
        return current;
    }
    let open = counts.pending + counts.queued + counts.running + counts.held;
    if open == 0 {
        return if counts.failed > 0 {
            JobState::Failed
        } else {
            JobState::Done
        };
    }
    match current {
        JobState::Paused => JobState::Paused,
        _ if counts.running + counts.done + counts.failed > 0 => JobState::Running,
        _ => JobState::Queued,
    }
}

/// How many of a job's tasks are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCounts {
    /// Waiting to be published.
    pub pending: u64,
    /// On the queue.
    pub queued: u64,
    /// Being rendered.
    pub running: u64,
    /// Finished.
    pub done: u64,
    /// Failed for good.
    pub failed: u64,
    /// Returned while paused.
    pub held: u64,
    /// Cancelled.
    pub cancelled: u64,
}

impl TaskCounts {
    /// Count one task in `state`.
    pub fn add(&mut self, state: TaskState, n: u64) {
        let slot = match state {
            TaskState::Pending => &mut self.pending,
            TaskState::Queued => &mut self.queued,
            TaskState::Running => &mut self.running,
            TaskState::Done => &mut self.done,
            TaskState::Failed => &mut self.failed,
            TaskState::Held => &mut self.held,
            TaskState::Cancelled => &mut self.cancelled,
        };
        *slot += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for state in [JobState::Queued, JobState::Paused, JobState::Cancelled] {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
        assert_eq!(TaskState::parse("held"), Some(TaskState::Held));
        assert_eq!(TaskState::parse("nope"), None);
    }

    #[test]
    fn failure_rule_counts_distinct_workers_and_caps_attempts() {
        assert_eq!(after_failure(1, 1, 3), AfterFailure::Retry);
        assert_eq!(after_failure(2, 2, 3), AfterFailure::Retry);
        assert_eq!(after_failure(3, 3, 3), AfterFailure::Fail);
        assert_eq!(after_failure(1, 6, 3), AfterFailure::Fail);
    }

    #[test]
    fn job_state_follows_its_tasks() {
        let mut counts = TaskCounts::default();
        counts.add(TaskState::Queued, 3);
        assert_eq!(
            job_state_from_tasks(JobState::Queued, &counts),
            JobState::Queued
        );
        counts.add(TaskState::Running, 1);
        assert_eq!(
            job_state_from_tasks(JobState::Queued, &counts),
            JobState::Running
        );
        assert_eq!(
            job_state_from_tasks(JobState::Paused, &counts),
            JobState::Paused
        );
        let done = TaskCounts {
            done: 4,
            ..TaskCounts::default()
        };
        assert_eq!(
            job_state_from_tasks(JobState::Running, &done),
            JobState::Done
        );
        let failed = TaskCounts {
            done: 3,
            failed: 1,
            ..TaskCounts::default()
        };
        assert_eq!(
            job_state_from_tasks(JobState::Running, &failed),
            JobState::Failed
        );
        assert_eq!(
            job_state_from_tasks(JobState::Cancelled, &done),
            JobState::Cancelled
        );
    }
}
