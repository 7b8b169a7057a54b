//! A scene bundle laid out in a task's folder: every file fetched into the
//! cache (verified by its blake3), then linked in at its path around the
//! main file, so the renderer resolves the scene's relative paths
//! (`//textures/wood.png`, linked libraries) inside the folder. Every path
//! is checked again here: nothing is written outside the bundle's folder,
//! whatever the task message says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use protocol::SceneHash;
use protocol::bundle::{Manifest, path_problem};

use crate::scene_cache::{GrantedBundleFile, GrantedScene, SceneCache, SceneError, blob_ref};

/// Why a bundle could not be laid out.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A path that could leave the folder.
    #[error("the bundle's file {path:?} {why}; it is not laid out")]
    BadPath {
        /// The path.
        path: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The main file is not the task's scene.
    #[error("the bundle's main file {main:?} is not listed with the task's scene hash {scene}")]
    MainMismatch {
        /// The main file.
        main: String,
        /// The task's scene.
        scene: SceneHash,
    },
    /// A file could not be fetched.
    #[error("the bundle's file {path:?}: {source}")]
    Fetch {
        /// Its first path.
        path: String,
        /// Why.
        source: SceneError,
    },
    /// The task folder failed.
    #[error("cannot lay out {path}: {source}")]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Fetch `bundle`'s files and lay them out under `root` (a fresh, empty
/// folder), the main file from `scene` (already fetched and verified).
/// Returns the main file's path inside `root`.
pub async fn lay_out(
    cache: &SceneCache,
    source: &GrantedScene<'_>,
    bundle: &Manifest,
    scene: (&SceneHash, &Path),
    root: &Path,
) -> Result<PathBuf, BundleError> {
    for file in &bundle.files {
        if let Some(why) = path_problem(&file.path) {
            return Err(BundleError::BadPath {
                path: file.path.clone(),
                why,
            });
        }
    }
    let (scene_hash, scene_file) = scene;
    if !bundle
        .files
        .iter()
        .any(|file| file.path == bundle.main && file.hash == *scene_hash)
    {
        return Err(BundleError::MainMismatch {
            main: bundle.main.clone(),
            scene: scene_hash.clone(),
        });
    }
    let mut cached: BTreeMap<&SceneHash, PathBuf> = BTreeMap::new();
    cached.insert(scene_hash, scene_file.to_owned());
    for file in &bundle.files {
        if cached.contains_key(&file.hash) {
            continue;
        }
        let path = cache
            .fetch(&GrantedBundleFile(source), &blob_ref(&file.hash))
            .await
            .map_err(|source| BundleError::Fetch {
                path: file.path.clone(),
                source,
            })?;
        cached.insert(&file.hash, path);
    }
    for file in &bundle.files {
        let to = root.join(&file.path);
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| BundleError::Io { path, source }
        };
        if let Some(parent) = to.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(io(parent))?;
        }
        let from = &cached[&file.hash];
        if tokio::fs::hard_link(from, &to).await.is_err() {
            tokio::fs::copy(from, &to).await.map_err(io(&to))?;
        }
    }
    tracing::debug!(
        files = bundle.files.len(),
        blobs = cached.len(),
        "bundle laid out"
    );
    Ok(root.join(&bundle.main))
}
