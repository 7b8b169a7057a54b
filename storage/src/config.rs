//! Object store configuration, chosen at start-up.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::signer::Signer;
use serde::{Deserialize, Serialize};

use crate::grant::{Grants, LocalGrants, S3Grants};

/// Where frames, scenes and reports are stored.
///
/// ```toml
/// [store]
/// url = "s3://renders"
/// endpoint = "http://127.0.0.1:9000"
/// access_key_id = "..."
/// secret_access_key = "..."
/// allow_http = true
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `file:///absolute/folder` for a local folder, or `s3://bucket` (optionally
    /// `s3://bucket/prefix`) for S3 or an S3-compatible server.
    #[serde(default = "default_url")]
    pub url: String,
    /// S3 endpoint for S3-compatible servers (`http://127.0.0.1:9000`); empty
    /// means AWS itself.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// S3 region.
    #[serde(default = "default_region")]
    pub region: String,
    /// S3 access key id; when absent, `AWS_ACCESS_KEY_ID` is used.
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// S3 secret access key; when absent, `AWS_SECRET_ACCESS_KEY` is used.
    #[serde(default)]
    pub secret_access_key: Option<String>,
    /// Allow plain `http://` endpoints (local test servers).
    #[serde(default)]
    pub allow_http: bool,
}

fn default_url() -> String {
    "file:///var/lib/renderfarm/store".to_owned()
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: default_url(),
            endpoint: None,
            region: default_region(),
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
        }
    }
}

impl StoreConfig {
    /// A local folder store.
    pub fn local(folder: &std::path::Path) -> Self {
        Self {
            url: format!("file://{}", folder.display()),
            ..Self::default()
        }
    }
}

/// Why the object store could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The `url` setting is not `file:///…` or `s3://…`.
    #[error("store url {0:?} is not supported: use file:///absolute/folder or s3://bucket")]
    BadUrl(String),
    /// The local folder could not be created.
    #[error("cannot create the store folder {path}: {source}")]
    Folder {
        /// The folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The object store refused the configuration or an operation.
    #[error(transparent)]
    ObjectStore(#[from] object_store::Error),
    /// Local file I/O failed during a transfer.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A local-folder store's grants were asked for before the coordinator
    /// knew where it serves them.
    #[error("the store's grants are not served yet: the coordinator has not started listening")]
    NotServed,
    /// A granted URL could not be reached.
    #[error("cannot reach {url}: {source}")]
    Http {
        /// The URL, without its grant.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// The server refused a granted transfer.
    #[error("{url} answered {status}: {body}")]
    Refused {
        /// The URL, without its grant.
        url: String,
        /// HTTP status.
        status: u16,
        /// The start of its answer.
        body: String,
    },
    /// A downloaded object did not have the expected blake3 hash.
    #[error("{key}: expected blake3 {expected}, got {actual}")]
    HashMismatch {
        /// Object key.
        key: String,
        /// Hash it should have.
        expected: String,
        /// Hash it had.
        actual: String,
    },
}

/// Open the store the config names.
pub fn open(config: &StoreConfig) -> Result<Arc<dyn ObjectStore>, StoreError> {
    Ok(open_granting(config, None)?.store)
}

/// A store and the grants for it, as the coordinator opens it.
#[derive(Clone)]
pub struct GrantingStore {
    /// The store, with full access.
    pub store: Arc<dyn ObjectStore>,
    /// Issues URLs for one object at a time.
    pub grants: Arc<dyn Grants>,
    local: Option<Arc<LocalGrants>>,
}

impl GrantingStore {
    /// The routes the coordinator must serve for its grants to work: a
    /// local folder's `/storage/` server; `None` for S3.
    pub fn router(&self) -> Option<axum::Router> {
        self.local
            .as_ref()
            .map(|local| crate::serve::router(Arc::clone(&self.store), Arc::clone(local)))
    }
}

/// Open the store the config names with its grants: presigned URLs for S3;
/// for a local folder, URLs of the coordinator's own `/storage/` routes at
/// `base` (or where it listens, once [`Grants::serve_at`] says).
pub fn open_granting(
    config: &StoreConfig,
    base: Option<url::Url>,
) -> Result<GrantingStore, StoreError> {
    let url = url::Url::parse(&config.url).map_err(|_| StoreError::BadUrl(config.url.clone()))?;
    match url.scheme() {
        "file" => {
            let folder = url
                .to_file_path()
                .map_err(|_| StoreError::BadUrl(config.url.clone()))?;
            std::fs::create_dir_all(&folder).map_err(|source| StoreError::Folder {
                path: folder.display().to_string(),
                source,
            })?;
            let local = Arc::new(LocalGrants::new(base));
            Ok(GrantingStore {
                store: Arc::new(LocalFileSystem::new_with_prefix(folder)?),
                grants: local.clone(),
                local: Some(local),
            })
        }
        "s3" => {
            let bucket = url
                .host_str()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| StoreError::BadUrl(config.url.clone()))?;
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_region(&config.region)
                .with_allow_http(config.allow_http);
            if let Some(endpoint) = &config.endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            if let Some(key) = &config.access_key_id {
                builder = builder.with_access_key_id(key);
            }
            if let Some(secret) = &config.secret_access_key {
                builder = builder.with_secret_access_key(secret);
            }
            let s3 = builder.build()?;
            let prefix = url.path().trim_matches('/');
            let (store, signer): (Arc<dyn ObjectStore>, Arc<dyn Signer>) = if prefix.is_empty() {
                let s3 = Arc::new(s3);
                (s3.clone(), s3)
            } else {
                let prefixed = Arc::new(object_store::prefix::PrefixStore::new(s3, prefix));
                (prefixed.clone(), prefixed)
            };
            Ok(GrantingStore {
                store,
                grants: Arc::new(S3Grants::new(signer)),
                local: None,
            })
        }
        _ => Err(StoreError::BadUrl(config.url.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_unknown_schemes() {
        for url in ["ftp://x", "not a url", "s3://"] {
            let config = StoreConfig {
                url: url.into(),
                ..StoreConfig::default()
            };
            assert!(matches!(open(&config), Err(StoreError::BadUrl(_))), "{url}");
        }
    }

    #[test]
    fn opens_a_local_folder_creating_it() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("a/b");
        open(&StoreConfig::local(&folder)).unwrap();
        assert!(folder.is_dir());
    }
}
