//! Scenes and the files of their bundles, downloaded from object storage,
//! verified and cached by hash.
//!
//! A scene is downloaded under a unique temporary name, its blake3 checked,
//! then renamed to `<hash>.<ext>`: renames are atomic, so workers sharing the
//! folder never see a partial file, and two downloading the same scene at once
//! both end with the same bytes in place.
//!
//! A cache hit is trusted only after its blake3 is checked again (streamed, on
//! a blocking thread): a file whose bytes do not hash to its name (a damaged
//! disk, a hand-made copy) is deleted and the scene downloaded again.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use protocol::{GrantObject, SceneHash, SceneRef, TaskId};

use crate::grants::{GrantClient, GrantError};

/// Why a scene could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    /// The extension is not a plain word; it would make an unsafe path.
    #[error("scene extension {0:?} is not 1 to 12 lowercase letters or digits")]
    BadExtension(String),
    /// No grant to download it.
    #[error("cannot fetch the scene: {0}")]
    Grant(#[from] GrantError),
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

/// Where a scene that is not cached yet comes from.
pub trait SceneSource: Sync {
    /// Download `scene` into `file`, checking that it hashes to its name.
    fn download(
        &self,
        scene: &SceneRef,
        file: &Path,
    ) -> impl Future<Output = Result<(), SceneError>> + Send;
}

/// A task attempt's scene, or one file of its bundle, through a grant from
/// the coordinator.
pub struct GrantedScene<'a> {
    /// Asks for the grant.
    pub grants: &'a GrantClient,
    /// The task.
    pub task: TaskId,
    /// The attempt the worker holds.
    pub attempt: u32,
}

impl GrantedScene<'_> {
    /// Download the object `object` into `file`, checking it hashes to
    /// `hash`.
    async fn granted(
        &self,
        object: GrantObject,
        hash: &SceneHash,
        file: &Path,
    ) -> Result<(), SceneError> {
        let granted = self.grants.request(self.task, self.attempt, object).await?;
        storage::http::get_file(self.grants.http(), &granted.url, file, Some(hash.as_str()))
            .await
            .map_err(|source| SceneError::Fetch {
                key: granted.key,
                source,
            })?;
        Ok(())
    }
}

impl SceneSource for GrantedScene<'_> {
    async fn download(&self, scene: &SceneRef, file: &Path) -> Result<(), SceneError> {
        self.granted(GrantObject::Scene, &scene.hash, file).await
    }
}

/// The files of a task attempt's bundle, through grants from the
/// coordinator (each must be one of the bundle's).
pub struct GrantedBundleFile<'a>(pub &'a GrantedScene<'a>);

impl SceneSource for GrantedBundleFile<'_> {
    async fn download(&self, blob: &SceneRef, file: &Path) -> Result<(), SceneError> {
        let object = GrantObject::Blob {
            hash: blob.hash.clone(),
        };
        self.0.granted(object, &blob.hash, file).await
    }
}
/// The cache's extension for a bundle's file (its own name does not matter:
/// the bundle lays it out at its paths).
pub const BLOB_EXT: &str = "blob";

/// The cache entry of a bundle file with blake3 `hash`.
pub fn blob_ref(hash: &SceneHash) -> SceneRef {
    SceneRef {
        hash: hash.clone(),
        ext: BLOB_EXT.to_owned(),
    }
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
        source: &impl SceneSource,
        scene: &SceneRef,
    ) -> Result<PathBuf, SceneError> {
        if !storage::valid_extension(&scene.ext) {
            return Err(SceneError::BadExtension(scene.ext.clone()));
        }
        let path = self.dir.join(format!("{}.{}", scene.hash, scene.ext));
        let cache_error = |path: &Path| {
            let path = path.to_owned();
            move |source| SceneError::Cache { path, source }
        };
        match look_up(&path, &scene.hash)
            .await
            .map_err(cache_error(&path))?
        {
            Lookup::Intact => {
                tracing::debug!(scene = %scene.hash, "scene found in the cache and verified");
                return Ok(path);
            }
            Lookup::Corrupt { actual } => tracing::warn!(
                scene = %scene.hash,
                %actual,
                path = %path.display(),
                "the cached scene does not hash to its name; downloading it again"
            ),
            Lookup::Missing => {}
        }
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(cache_error(&self.dir))?;
        let download = self
            .dir
            .join(format!("{}.{}.download", scene.hash, uuid::Uuid::new_v4()));
        tracing::info!(scene = %scene.hash, "downloading the scene");
        source.download(scene, &download).await?;
        tokio::fs::rename(&download, &path)
            .await
            .map_err(cache_error(&path))?;
        Ok(path)
    }
}

/// What the cache holds under a scene's name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lookup {
    /// Nothing.
    Missing,
    /// A file whose blake3 is the scene's hash.
    Intact,
    /// A file with other bytes; it has been deleted (unless a verified copy
    /// replaced it meanwhile).
    Corrupt {
        /// The blake3 of what was found.
        actual: SceneHash,
    },
}

/// Check the cached file at `path` against `expected` on a blocking thread,
/// deleting it when it does not match.
async fn look_up(path: &Path, expected: &SceneHash) -> io::Result<Lookup> {
    let path = path.to_owned();
    let expected = expected.clone();
    tokio::task::spawn_blocking(move || look_up_blocking(&path, &expected))
        .await
        .map_err(io::Error::other)?
}

/// [`look_up`] itself. A mismatching file is deleted only while it is still
/// the file that was hashed (same device and inode), so a verified copy that
/// another worker sharing the folder renamed into place meanwhile is kept.
fn look_up_blocking(path: &Path, expected: &SceneHash) -> io::Result<Lookup> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Lookup::Missing),
        Err(error) => return Err(error),
    };
    let hashed = file.metadata()?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(&file)?;
    let actual = SceneHash::from_blake3(hasher.finalize().as_bytes());
    if actual == *expected {
        return Ok(Lookup::Intact);
    }
    match std::fs::metadata(path) {
        Ok(now) if (now.dev(), now.ino()) == (hashed.dev(), hashed.ino()) => {
            match std::fs::remove_file(path) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    Ok(Lookup::Corrupt { actual })
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::{ObjectStore, ObjectStoreExt};
    use std::sync::Arc;

    /// Scenes straight from a store (the cache's own logic under test).
    impl SceneSource for Arc<dyn ObjectStore> {
        async fn download(&self, scene: &SceneRef, file: &Path) -> Result<(), SceneError> {
            let key = storage::scene_key(&scene.hash, &scene.ext);
            storage::download_to_file(self, &key, file, Some(scene.hash.as_str()))
                .await
                .map_err(|source| SceneError::Fetch {
                    key: key.to_string(),
                    source,
                })?;
            Ok(())
        }
    }

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
    async fn an_intact_cache_hit_is_not_downloaded_again() {
        let (dir, store, scene) = store_with(b"a scene").await;
        let cache = SceneCache::new(dir.path().join("cache"));
        let path = cache.fetch(&store, &scene).await.unwrap();
        let before = std::fs::metadata(&path).unwrap();
        // Any GET from now on fails: a hit that downloaded again would error.
        store
            .delete(&storage::scene_key(&scene.hash, "blend"))
            .await
            .unwrap();
        assert_eq!(cache.fetch(&store, &scene).await.unwrap(), path);
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!(
            (before.ino(), before.mtime_nsec()),
            (after.ino(), after.mtime_nsec()),
            "the verified file stays in place"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"a scene");
    }

    #[tokio::test]
    async fn a_tampered_cache_file_is_deleted_and_downloaded_again() {
        let (dir, store, scene) = store_with(b"a scene").await;
        let cache = SceneCache::new(dir.path().join("cache"));
        let path = cache.fetch(&store, &scene).await.unwrap();
        std::fs::write(&path, b"another scene").unwrap();
        let (first, second) =
            tokio::join!(cache.fetch(&store, &scene), cache.fetch(&store, &scene));
        assert_eq!(first.unwrap(), path);
        assert_eq!(second.unwrap(), path);
        assert_eq!(std::fs::read(&path).unwrap(), b"a scene");
        let leftovers: Vec<_> = std::fs::read_dir(cache.dir()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "only the scene stays: {leftovers:?}");
    }

    #[tokio::test]
    async fn a_tampered_cache_file_is_deleted_even_when_the_download_fails() {
        let (dir, store, scene) = store_with(b"a scene").await;
        let cache = SceneCache::new(dir.path().join("cache"));
        let path = cache.fetch(&store, &scene).await.unwrap();
        std::fs::write(&path, b"a scene, truncated").unwrap();
        store
            .delete(&storage::scene_key(&scene.hash, "blend"))
            .await
            .unwrap();
        let error = cache.fetch(&store, &scene).await.unwrap_err();
        assert!(matches!(error, SceneError::Fetch { .. }), "{error}");
        assert!(!path.exists(), "the tampered file is gone");
    }

    #[test]
    fn look_up_tells_missing_intact_and_corrupt_files_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scene.blend");
        let hash = SceneHash::from_blake3(blake3::hash(b"a scene").as_bytes());
        assert_eq!(look_up_blocking(&path, &hash).unwrap(), Lookup::Missing);
        std::fs::write(&path, b"a scene").unwrap();
        assert_eq!(look_up_blocking(&path, &hash).unwrap(), Lookup::Intact);
        std::fs::write(&path, b"not it").unwrap();
        assert_eq!(
            look_up_blocking(&path, &hash).unwrap(),
            Lookup::Corrupt {
                actual: SceneHash::from_blake3(blake3::hash(b"not it").as_bytes())
            }
        );
        assert!(!path.exists());
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
