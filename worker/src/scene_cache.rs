//! Scenes downloaded from object storage, verified and cached by hash.
//!
//! A scene is downloaded under a unique temporary name, its blake3 checked,
//! then renamed to `<hash>.<ext>`: renames are atomic, so workers sharing the
//! folder never see a partial file, and two downloading the same scene at once
//! both end with the same bytes in place.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::ObjectStore;
use protocol::SceneRef;

/// Why a scene could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    /// The extension is not a plain word; it would make an unsafe path.
    #[error("scene extension {0:?} is not 1 to 12 lowercase letters or digits")]
    BadExtension(String),
    /// Download or verification failed.
    #[error("cannot fetch the scene {key}: {source}")]
    Fetch {
        /// Object key of the scene.
        key: String,
        /// Why.
        source: storage::StoreError,
    },
    /// The cache folder failed.
    #[error("scene cache {path}: {source}")]
    Cache {
        /// The path concerned.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A folder of scenes named by their blake3 hash.
#[derive(Debug, Clone)]
pub struct SceneCache {
    dir: PathBuf,
}

impl SceneCache {
    /// A cache in `dir` (created on first use).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The local path of `scene`, downloading and verifying it if it is not
    /// cached yet.
    pub async fn fetch(
        &self,
        store: &Arc<dyn ObjectStore>,
        scene: &SceneRef,
    ) -> Result<PathBuf, SceneError> {
        if !storage::valid_extension(&scene.ext) {
            return Err(SceneError::BadExtension(scene.ext.clone()));
        }
        let path = self.dir.join(format!("{}.{}", scene.hash, scene.ext));
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            tracing::debug!(scene = %scene.hash, "scene found in the cache");
            return Ok(path);
        }
        let cache_error = |path: &Path| {
            let path = path.to_owned();
            move |source| SceneError::Cache { path, source }
        };
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(cache_error(&self.dir))?;
        let key = storage::scene_key(&scene.hash, &scene.ext);
        let download = self
            .dir
            .join(format!("{}.{}.download", scene.hash, uuid::Uuid::new_v4()));
        tracing::info!(scene = %scene.hash, "downloading the scene");
        storage::download_to_file(store, &key, &download, Some(scene.hash.as_str()))
            .await
            .map_err(|source| SceneError::Fetch {
                key: key.to_string(),
                source,
            })?;
        tokio::fs::rename(&download, &path)
            .await
            .map_err(cache_error(&path))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;

    async fn store_with(bytes: &[u8]) -> (tempfile::TempDir, Arc<dyn ObjectStore>, SceneRef) {
        let dir = tempfile::tempdir().unwrap();
        let store = storage::open(&storage::StoreConfig::local(&dir.path().join("store"))).unwrap();
        let hash: protocol::SceneHash = blake3::hash(bytes).to_hex().as_str().parse().unwrap();
        let scene = SceneRef {
            hash,
            ext: "blend".into(),
        };
        store
            .put(
                &storage::scene_key(&scene.hash, "blend"),
                bytes.to_vec().into(),
            )
            .await
            .unwrap();
        (dir, store, scene)
    }

    #[tokio::test]
    async fn downloads_once_then_serves_from_the_cache() {
        let (dir, store, scene) = store_with(b"a scene").await;
        let cache = SceneCache::new(dir.path().join("cache"));
        let (first, second) =
            tokio::join!(cache.fetch(&store, &scene), cache.fetch(&store, &scene));
        let path = first.unwrap();
        assert_eq!(second.unwrap(), path);
        assert_eq!(std::fs::read(&path).unwrap(), b"a scene");
        store
            .delete(&storage::scene_key(&scene.hash, "blend"))
            .await
            .unwrap();
        assert_eq!(cache.fetch(&store, &scene).await.unwrap(), path);
        let leftovers: Vec<_> = std::fs::read_dir(cache.dir()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "only the scene stays: {leftovers:?}");
    }

    #[tokio::test]
    async fn refuses_a_scene_whose_hash_differs() {
        let (dir, store, mut scene) = store_with(b"a scene").await;
        let key = storage::scene_key(&scene.hash, "blend");
        scene.hash = "0".repeat(64).parse().unwrap();
        store
            .put(
                &storage::scene_key(&scene.hash, "blend"),
                store.get(&key).await.unwrap().bytes().await.unwrap().into(),
            )
            .await
            .unwrap();
        let cache = SceneCache::new(dir.path().join("cache"));
        let error = cache.fetch(&store, &scene).await.unwrap_err();
        assert!(
            matches!(
                &error,
                SceneError::Fetch {
                    source: storage::StoreError::HashMismatch { .. },
                    ..
                }
            ),
            "{error}"
        );
        assert!(
            !dir.path()
                .join("cache")
                .join(format!("{}.blend", scene.hash))
                .exists()
        );
    }

    #[tokio::test]
    async fn refuses_path_like_extensions() {
        let (dir, store, mut scene) = store_with(b"x").await;
        scene.ext = "../x".into();
        let cache = SceneCache::new(dir.path().join("cache"));
        assert!(matches!(
            cache.fetch(&store, &scene).await,
            Err(SceneError::BadExtension(_))
        ));
    }
}
