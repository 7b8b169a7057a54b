//! Storage grants: workers hold no bucket credentials. A worker asks the
//! coordinator for a short-lived URL for one object of the task attempt it
//! holds (its scene to read, one frame's upload key to write), and the
//! coordinator answers on the worker's control queue.

use serde::{Deserialize, Serialize};

use crate::ids::{SceneHash, TaskId, WorkerId};

/// The object of a task attempt a grant is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GrantObject {
    /// Read the task's scene.
    Scene,
    /// Write one rendered frame, at the key the coordinator chose for this
    /// attempt and frame.
    Frame {
        /// The frame.
        frame: i32,
    },
    /// Read one file of the task's scene bundle (a texture, a library).
    Blob {
        /// Its blake3, which must be one of the bundle's.
        hash: SceneHash,
    },
}

/// A worker asks for a grant for an object of an attempt it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRequest {
    /// The task.
    pub task_id: TaskId,
    /// Its attempt, which the sender must hold.
    pub attempt: u32,
    /// Who asks.
    pub worker: WorkerId,
    /// What for.
    pub object: GrantObject,
}

/// The coordinator's answer: a URL good for one object and one method until
/// it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageGrant {
    /// The task.
    pub task_id: TaskId,
    /// Its attempt.
    pub attempt: u32,
    /// What the grant is for.
    pub object: GrantObject,
    /// The object key the URL is for (a frame's `FrameDone` names it).
    pub key: String,
    /// A presigned URL: `GET` for a scene, `PUT` for a frame.
    pub url: String,
    /// When the URL stops working, in milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
}

/// The coordinator refused a grant (the attempt is not the sender's or not
/// live, the frame is not the task's or was already delivered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRefused {
    /// The task.
    pub task_id: TaskId,
    /// Its attempt.
    pub attempt: u32,
    /// What was asked for.
    pub object: GrantObject,
    /// Why.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_tagged_in_json() {
        let json = serde_json::to_string(&GrantObject::Frame { frame: -2 }).unwrap();
        assert_eq!(json, r#"{"kind":"frame","frame":-2}"#);
        let back: GrantObject = serde_json::from_str(r#"{"kind":"scene"}"#).unwrap();
        assert_eq!(back, GrantObject::Scene);
        let hash = "ab".repeat(32);
        let blob: GrantObject =
            serde_json::from_str(&format!(r#"{{"kind":"blob","hash":"{hash}"}}"#)).unwrap();
        assert_eq!(
            blob,
            GrantObject::Blob {
                hash: hash.parse().unwrap()
            }
        );
    }
}
