//! Typed identifiers for jobs, tasks, workers and scenes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered identifier (UUID v7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// Identifies one submitted job.
    JobId
);
uuid_id!(
    /// Identifies one task: a chunk of frames of a job.
    TaskId
);
uuid_id!(
    /// Identifies one worker process; stable across restarts when configured.
    WorkerId
);

/// The blake3 hash of an uploaded scene, as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SceneHash(String);

/// Why a string is not a scene hash.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a scene hash is 64 lowercase hexadecimal digits (blake3), got {0:?}")]
pub struct SceneHashError(pub String);

impl SceneHash {
    /// The hash of a finished blake3 hasher.
    pub fn from_blake3(hash: &[u8; 32]) -> Self {
        Self(hash.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SceneHash {
    type Err = SceneHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(s.to_owned()))
        } else {
            Err(SceneHashError(s.chars().take(80).collect()))
        }
    }
}

impl TryFrom<String> for SceneHash {
    type Error = SceneHashError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<SceneHash> for String {
    fn from(h: SceneHash) -> Self {
        h.0
    }
}

impl fmt::Display for SceneHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scene_hash_accepts_only_blake3_hex() {
        let good = "a".repeat(64);
        assert!(good.parse::<SceneHash>().is_ok());
        assert!("A".repeat(64).parse::<SceneHash>().is_err());
        assert!("a".repeat(63).parse::<SceneHash>().is_err());
        assert!("../../etc/passwd".parse::<SceneHash>().is_err());
    }

    #[test]
    fn ids_round_trip_through_json() {
        let id = JobId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<JobId>(&json).unwrap(), id);
        assert_eq!(id.to_string().parse::<JobId>().unwrap(), id);
    }
}
