//! Access grants: URLs that let their holder read or write one object, for a
//! short time, without holding the store's credentials.
//!
//! On S3 a grant is a SigV4-presigned URL (object_store's signer): the
//! signature covers the method and the object's path, so it cannot be used
//! for another key. With a local folder there is no server to sign for, so
//! the coordinator serves the folder itself ([`crate::serve`]) and signs its
//! URLs with a keyed blake3 MAC over the method, the key and the expiry.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use object_store::path::Path;
use object_store::signer::{Method, Signer};
use url::Url;

use crate::StoreError;

/// What a grant allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `GET` the object.
    Read,
    /// `PUT` the object.
    Write,
}

impl Access {
    /// The HTTP method of this access.
    pub fn method(self) -> Method {
        match self {
            Access::Read => Method::GET,
            Access::Write => Method::PUT,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Access::Read => "GET",
            Access::Write => "PUT",
        }
    }
}

/// Issues grants for the store the coordinator opened.
#[async_trait::async_trait]
pub trait Grants: Send + Sync + fmt::Debug {
    /// A URL that allows `access` to `key`, and nothing else, for `ttl`.
    async fn url(&self, access: Access, key: &Path, ttl: Duration) -> Result<Url, StoreError>;

    /// Tells a store served by the coordinator where it listens (the URLs
    /// it signs start there); stores with their own server ignore it.
    fn serve_at(&self, _base: &Url) {}
}

/// Grants of an S3 (or S3-compatible) bucket: presigned URLs.
#[derive(Debug)]
pub struct S3Grants {
    signer: Arc<dyn Signer>,
}

impl S3Grants {
    /// Grants signed by `signer` (the bucket, with its prefix if any).
    pub fn new(signer: Arc<dyn Signer>) -> Self {
        Self { signer }
    }
}

#[async_trait::async_trait]
impl Grants for S3Grants {
    async fn url(&self, access: Access, key: &Path, ttl: Duration) -> Result<Url, StoreError> {
        Ok(self.signer.signed_url(access.method(), key, ttl).await?)
    }
}

/// Why a local grant was not honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// The URL has no `expires` or `sig`, or they are malformed.
    #[error("the URL carries no valid grant (expires and sig query parameters)")]
    Missing,
    /// The grant has expired.
    #[error("the grant expired; ask for a new one")]
    Expired,
    /// The signature is not the coordinator's for this method and key.
    #[error("the grant is not valid for this object and method")]
    Forged,
}

/// Grants of a local folder served by the coordinator under
/// `<base>/storage/<key>?expires=<unix seconds>&sig=<hex>`.
pub struct LocalGrants {
    secret: [u8; 32],
    base: RwLock<Option<Url>>,
}

impl fmt::Debug for LocalGrants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalGrants")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl LocalGrants {
    /// Grants with a fresh random signing key, served at `base` when given
    /// (otherwise from [`Grants::serve_at`]). Grants do not outlive the
    /// process that signed them.
    pub fn new(base: Option<Url>) -> Self {
        Self {
            secret: rand::random(),
            base: RwLock::new(base),
        }
    }

    fn mac(&self, access: Access, key: &str, expires: u64) -> blake3::Hash {
        blake3::keyed_hash(
            &self.secret,
            format!("{}\n{key}\n{expires}", access.as_str()).as_bytes(),
        )
    }

    /// Check a grant's `expires` and `sig` for `access` to `key` at `now`
    /// (Unix seconds). The comparison takes constant time.
    pub fn verify(
        &self,
        access: Access,
        key: &str,
        expires: Option<&str>,
        sig: Option<&str>,
        now: u64,
    ) -> Result<(), GrantError> {
        let expires: u64 = expires
            .and_then(|e| e.parse().ok())
            .ok_or(GrantError::Missing)?;
        let sig = sig
            .and_then(|s| blake3::Hash::from_hex(s).ok())
            .ok_or(GrantError::Missing)?;
        if self.mac(access, key, expires) != sig {
            return Err(GrantError::Forged);
        }
        if now > expires {
            return Err(GrantError::Expired);
        }
        Ok(())
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[async_trait::async_trait]
impl Grants for LocalGrants {
    async fn url(&self, access: Access, key: &Path, ttl: Duration) -> Result<Url, StoreError> {
        let base = self
            .base
            .read()
            .expect("not poisoned")
            .clone()
            .ok_or(StoreError::NotServed)?;
        let expires = unix_now() + ttl.as_secs().max(1);
        let mut url = base
            .join(&format!("storage/{key}"))
            .map_err(|_| StoreError::BadUrl(base.to_string()))?;
        url.query_pairs_mut()
            .append_pair("expires", &expires.to_string())
            .append_pair("sig", &self.mac(access, key.as_ref(), expires).to_hex());
        Ok(url)
    }

    fn serve_at(&self, base: &Url) {
        let mut current = self.base.write().expect("not poisoned");
        if current.is_none() {
            *current = Some(base.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(url: &Url, name: &str) -> Option<String> {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    #[tokio::test]
    async fn a_local_grant_is_good_for_its_key_and_method_only() {
        let grants = LocalGrants::new(None);
        let key = Path::from("uploads/j/1/abc.exr");
        assert!(matches!(
            grants
                .url(Access::Write, &key, Duration::from_secs(60))
                .await,
            Err(StoreError::NotServed)
        ));
        grants.serve_at(&Url::parse("http://127.0.0.1:9/").unwrap());
        let url = grants
            .url(Access::Write, &key, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(url.path(), "/storage/uploads/j/1/abc.exr");
        let (expires, sig) = (query(&url, "expires"), query(&url, "sig"));
        let (e, s) = (expires.as_deref(), sig.as_deref());
        let now = unix_now();
        assert_eq!(
            grants.verify(Access::Write, key.as_ref(), e, s, now),
            Ok(())
        );
        assert_eq!(
            grants.verify(Access::Read, key.as_ref(), e, s, now),
            Err(GrantError::Forged)
        );
        assert_eq!(
            grants.verify(Access::Write, "uploads/j/1/other.exr", e, s, now),
            Err(GrantError::Forged)
        );
        assert_eq!(
            grants.verify(Access::Write, key.as_ref(), e, s, now + 3600),
            Err(GrantError::Expired)
        );
        let later = (now + 7200).to_string();
        assert_eq!(
            grants.verify(Access::Write, key.as_ref(), Some(&later), s, now),
            Err(GrantError::Forged),
            "a grant's expiry cannot be extended"
        );
        assert_eq!(
            grants.verify(Access::Write, key.as_ref(), e, None, now),
            Err(GrantError::Missing)
        );
        let other = LocalGrants::new(None);
        assert_eq!(
            other.verify(Access::Write, key.as_ref(), e, s, now),
            Err(GrantError::Forged),
            "another coordinator's key signs other grants"
        );
    }
}
