//! Bundles and their blobs. A blob's bytes are stored once whoever uploads
//! them; a tenant is told a blob is present only when that tenant uploaded
//! it, so nobody learns what another tenant has.

use std::collections::BTreeMap;

use protocol::{SceneHash, now_ms};
use rusqlite::{OptionalExtension, params};

use super::{Db, DbError, from_json, to_json};
use crate::auth::Tenant;
use crate::bundle::{CheckedManifest, Manifest};

/// The tenant column's value (`''` for an admin's uploads).
fn tenant_key(tenant: Option<&Tenant>) -> &str {
    tenant.map_or("", Tenant::as_str)
}

impl Db {
    /// Store a checked manifest for `tenant` (storing it again changes
    /// nothing); returns whether it is new.
    pub fn record_bundle(
        &self,
        bundle: &CheckedManifest,
        tenant: Option<&Tenant>,
    ) -> Result<bool, DbError> {
        let inserted = self.lock().execute(
            "INSERT OR IGNORE INTO bundles (tenant, id, main, manifest, bytes, created_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                tenant_key(tenant),
                bundle.id,
                bundle.manifest.main,
                to_json(&bundle.manifest),
                bundle.bytes,
                now_ms()
            ],
        )?;
        Ok(inserted == 1)
    }

    /// `tenant`'s bundle `id`, `None` when it has none by that id.
    pub fn bundle(&self, id: &str, tenant: Option<&Tenant>) -> Result<Option<Manifest>, DbError> {
        let manifest: Option<String> = self
            .lock()
            .query_row(
                "SELECT manifest FROM bundles WHERE tenant = ?1 AND id = ?2",
                params![tenant_key(tenant), id],
                |r| r.get(0),
            )
            .optional()?;
        manifest.as_deref().map(from_json).transpose()
    }

    /// The stored sizes of those of `hashes` that `tenant` uploaded (the
    /// bytes the coordinator counted, never a client's figure); a hash left
    /// out is one the tenant has still to send. Only the tenant's own
    /// uploads: nobody learns another tenant's files.
    pub fn uploaded_sizes(
        &self,
        hashes: impl IntoIterator<Item = SceneHash>,
        tenant: Option<&Tenant>,
    ) -> Result<BTreeMap<SceneHash, u64>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT b.bytes FROM blobs b JOIN blob_tenants t ON t.hash = b.hash \
             WHERE t.tenant = ?1 AND b.hash = ?2",
        )?;
        let mut sizes = BTreeMap::new();
        for hash in hashes {
            let bytes: Option<u64> = stmt
                .query_row(params![tenant_key(tenant), hash.as_str()], |r| r.get(0))
                .optional()?;
            if let Some(bytes) = bytes {
                sizes.insert(hash, bytes);
            }
        }
        Ok(sizes)
    }

    /// Whether the blob's bytes are stored (by anyone).
    pub fn blob_stored(&self, hash: &SceneHash) -> Result<bool, DbError> {
        Ok(self.lock().query_row(
            "SELECT EXISTS (SELECT 1 FROM blobs WHERE hash = ?1)",
            [hash.as_str()],
            |r| r.get(0),
        )?)
    }

    /// Record that the blob is stored and that `tenant` uploaded it;
    /// returns whether the tenant had not uploaded it before.
    pub fn record_blob(
        &self,
        hash: &SceneHash,
        bytes: u64,
        tenant: Option<&Tenant>,
    ) -> Result<bool, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT OR IGNORE INTO blobs (hash, bytes, uploaded_ms) VALUES (?1, ?2, ?3)",
            params![hash.as_str(), bytes, now_ms()],
        )?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO blob_tenants (hash, tenant) VALUES (?1, ?2)",
            params![hash.as_str(), tenant_key(tenant)],
        )?;
        tx.commit()?;
        Ok(inserted == 1)
    }
}
