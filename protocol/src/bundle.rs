//! Scene bundles on the wire: a job's scene as a manifest of files, each
//! addressed by its blake3, at the relative paths the main file uses
//! (textures, linked libraries, caches). The coordinator checks a manifest
//! when it is submitted; a worker checks every path again before it lays
//! the bundle out, so a path can never leave the task's folder.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::SceneHash;

/// A bundle: the main file and every file it depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The file the renderer opens (`shots/010.blend`), one of `files`.
    pub main: String,
    /// Every file of the bundle.
    pub files: Vec<ManifestFile>,
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// Where it is, relative to the bundle's folder, with `/` separators.
    pub path: String,
    /// blake3 of its bytes.
    pub hash: SceneHash,
    /// Its size in bytes.
    pub bytes: u64,
}

impl Manifest {
    /// The distinct blobs of the bundle: each one's size and the paths it
    /// is at.
    pub fn blobs(&self) -> BTreeMap<SceneHash, (u64, Vec<String>)> {
        let mut blobs: BTreeMap<SceneHash, (u64, Vec<String>)> = BTreeMap::new();
        for file in &self.files {
            blobs
                .entry(file.hash.clone())
                .or_insert((file.bytes, Vec::new()))
                .1
                .push(file.path.clone());
        }
        blobs
    }
}

/// Longest bundle path, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;

/// What is wrong with `path` as a bundle path, `None` when it is a plain
/// relative path that stays inside the bundle: `/`-separated, no empty,
/// `.` or `..` parts, no drive letters, backslashes or control characters,
/// 1 to [`MAX_PATH_BYTES`] bytes.
pub fn path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() || path.len() > MAX_PATH_BYTES {
        return Some("must be 1 to 1024 bytes long");
    }
    if path.starts_with('/') {
        return Some("is absolute");
    }
    if path.contains('\\') {
        return Some("contains a backslash");
    }
    if path.chars().any(char::is_control) {
        return Some("contains a control character");
    }
    let first = path.split('/').next().unwrap_or_default().as_bytes();
    if first.len() >= 2 && first[1] == b':' && first[0].is_ascii_alphabetic() {
        return Some("starts with a drive letter");
    }
    path.split('/').find_map(|part| match part {
        "" => Some("has an empty part (`//` or a trailing `/`)"),
        "." => Some("has a `.` part"),
        ".." => Some("climbs out of the bundle with `..`"),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_relative_paths_pass() {
        for path in [
            "a.blend",
            "textures/wood.png",
            "lib/props v2.blend",
            "a..b/c",
        ] {
            assert_eq!(path_problem(path), None, "{path}");
        }
    }

    #[test]
    fn paths_that_could_leave_the_folder_are_refused() {
        for path in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a/",
            "C:/x",
            "c:x",
            "a\\b",
            "a\nb",
        ] {
            assert!(path_problem(path).is_some(), "{path:?}");
        }
        assert!(path_problem(&"a".repeat(MAX_PATH_BYTES + 1)).is_some());
    }
}
