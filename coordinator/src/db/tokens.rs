//! API tokens, kept as hashes, and what belongs to which tenant: jobs carry
//! their tenant, and each scene records every tenant that uploaded it.

use protocol::{JobId, SceneHash, now_ms};
use rusqlite::{OptionalExtension, params};

use super::{Db, DbError};
use crate::auth::{
    Bootstrap, Grant, Role, Tenant, Token, TokenHash, TokenId, TokenInfo, TokenRequest,
};

/// The columns [`token_from_row`] reads.
pub(super) const TOKEN_COLUMNS: &str =
    "id, role, tenant, owner, label, created_ms, expires_ms, revoked_ms";

/// Label of the token made from `auth.admin_token`.
const BOOTSTRAP_LABEL: &str = "bootstrap (auth.admin_token / FARM_ADMIN_TOKEN)";

/// A stored token from a row of [`TOKEN_COLUMNS`].
pub(super) fn token_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TokenInfo> {
    let corrupt = |column: usize, error: crate::auth::AuthError| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            Box::new(error),
        )
    };
    let id: String = row.get(0)?;
    let role: Role = row.get(1)?;
    let tenant: Option<String> = row.get(2)?;
    let owner: Option<String> = row.get(3)?;
    Ok(TokenInfo {
        id: id.parse().map_err(|e| corrupt(0, e))?,
        grant: Grant::new(role, tenant.as_deref(), owner.as_deref()).map_err(|e| corrupt(1, e))?,
        label: row.get(4)?,
        created_ms: row.get(5)?,
        expires_ms: row.get(6)?,
        revoked_ms: row.get(7)?,
    })
}

impl Db {
    /// Store a new token's hash with what it grants.
    pub fn insert_token(
        &self,
        token: &Token,
        request: &TokenRequest,
    ) -> Result<TokenInfo, DbError> {
        let info = TokenInfo {
            id: token.id(),
            grant: request.grant.clone(),
            label: request.label.clone(),
            created_ms: request.created_ms,
            expires_ms: request.expires_ms,
            revoked_ms: None,
        };
        let inserted = self.lock().execute(
            "INSERT OR IGNORE INTO tokens (id, hash, role, tenant, owner, label, created_ms, expires_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                info.id.as_str(),
                token.hash().as_str(),
                info.grant.role(),
                info.grant.tenant().map(Tenant::as_str),
                info.grant.owner().map(|o| o.as_str()),
                info.label,
                info.created_ms,
                info.expires_ms,
            ],
        )?;
        if inserted == 0 {
            return Err(DbError::Conflict(format!(
                "a token with id {} already exists; generate a new token",
                info.id
            )));
        }
        Ok(info)
    }

    /// The stored token with this hash.
    pub fn token_by_hash(&self, hash: &TokenHash) -> Result<Option<TokenInfo>, DbError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?1"),
                [hash.as_str()],
                token_from_row,
            )
            .optional()?)
    }

    /// Every token, newest first, without secrets (none are stored).
    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_ms DESC, id"
        ))?;
        Ok(stmt
            .query_map([], token_from_row)?
            .collect::<Result<_, _>>()?)
    }

    /// Revoke a token: every request with it fails from now on. Revoking
    /// it again keeps the first revocation time.
    pub fn revoke_token(&self, id: &TokenId) -> Result<TokenInfo, DbError> {
        let conn = self.lock();
        conn.execute(
            "UPDATE tokens SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL",
            params![id.as_str(), now_ms()],
        )?;
        conn.query_row(
            &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?1"),
            [id.as_str()],
            token_from_row,
        )
        .optional()?
        .ok_or_else(|| DbError::NotFound(format!("token {id}")))
    }

    /// Make sure the configured admin token exists. A token revoked since
    /// stays revoked; a token of that id or hash with another role is a
    /// conflict.
    pub fn ensure_admin_token(&self, token: &Token) -> Result<Bootstrap, DbError> {
        if let Some(stored) = self.token_by_hash(&token.hash())? {
            if stored.grant != Grant::Admin {
                return Err(DbError::Conflict(format!(
                    "auth.admin_token is stored as a {} token; configure another token",
                    stored.grant.role()
                )));
            }
            return Ok(if stored.revoked_ms.is_some() {
                Bootstrap::Revoked
            } else {
                Bootstrap::Present
            });
        }
        let request = TokenRequest {
            grant: Grant::Admin,
            label: BOOTSTRAP_LABEL.to_owned(),
            expires_ms: None,
            created_ms: now_ms(),
        };
        self.insert_token(token, &request)?;
        Ok(Bootstrap::Created)
    }

    /// The tenant a job belongs to: `None` for a job without one (made by
    /// an admin). Not found if there is no such job.
    pub fn job_tenant(&self, id: JobId) -> Result<Option<Tenant>, DbError> {
        let tenant: String = self
            .lock()
            .query_row(
                "SELECT tenant FROM jobs WHERE id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("job {id}")))?;
        if tenant.is_empty() {
            return Ok(None);
        }
        tenant
            .parse()
            .map(Some)
            .map_err(|e| DbError::Corrupt(format!("tenant of job {id}: {e}")))
    }

    /// Record that `tenant` (`None`: an admin) uploaded a scene, so it may
    /// use it in jobs. Returns false when it had uploaded it before.
    pub fn record_scene_tenant(
        &self,
        hash: &SceneHash,
        tenant: Option<&Tenant>,
    ) -> Result<bool, DbError> {
        let inserted = self.lock().execute(
            "INSERT OR IGNORE INTO scene_tenants (hash, tenant) VALUES (?1, ?2)",
            params![hash.as_str(), tenant.map_or("", Tenant::as_str)],
        )?;
        Ok(inserted == 1)
    }

    /// Whether `tenant` uploaded this scene.
    pub fn scene_uploaded_by(&self, hash: &SceneHash, tenant: &Tenant) -> Result<bool, DbError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT 1 FROM scene_tenants WHERE hash = ?1 AND tenant = ?2",
                params![hash.as_str(), tenant.as_str()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::NewJob;
    use protocol::{FrameSpec, OutputSpec, Overrides, Renderer};

    fn request(grant: Grant) -> TokenRequest {
        TokenRequest {
            grant,
            label: "test".into(),
            expires_ms: None,
            created_ms: now_ms(),
        }
    }

    fn acme() -> Tenant {
        "acme".parse().unwrap()
    }

    #[test]
    fn tokens_are_found_by_hash_and_revoked_once() {
        let db = Db::in_memory().unwrap();
        let token = Token::generate().unwrap();
        let grant = Grant::Submitter { tenant: acme() };
        let info = db.insert_token(&token, &request(grant.clone())).unwrap();
        assert_eq!(info.id, token.id());
        assert_eq!(db.token_by_hash(&token.hash()).unwrap(), Some(info.clone()));
        let other = Token::generate().unwrap();
        assert_eq!(db.token_by_hash(&other.hash()).unwrap(), None);

        let revoked = db.revoke_token(&token.id()).unwrap();
        let when = revoked.revoked_ms.expect("revoked");
        assert_eq!(db.revoke_token(&token.id()).unwrap().revoked_ms, Some(when));
        assert!(matches!(
            db.token_by_hash(&token.hash())
                .unwrap()
                .unwrap()
                .principal_at(now_ms()),
            Err(crate::auth::AuthError::Revoked(_))
        ));
        assert!(matches!(
            db.revoke_token(&other.id()),
            Err(DbError::NotFound(_))
        ));
        assert_eq!(db.list_tokens().unwrap(), vec![revoked]);
    }

    #[test]
    fn only_the_hash_is_stored() {
        let db = Db::in_memory().unwrap();
        let token = Token::generate().unwrap();
        db.insert_token(&token, &request(Grant::Admin)).unwrap();
        let (id, hash): (String, String) = db
            .lock()
            .query_row("SELECT id, hash FROM tokens", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(id, token.id().as_str());
        assert_eq!(hash, token.hash().as_str());
        assert!(!hash.contains(&token.expose()[16..]));
    }

    #[test]
    fn a_second_token_with_the_same_id_is_a_conflict() {
        let db = Db::in_memory().unwrap();
        let token = Token::generate().unwrap();
        db.insert_token(&token, &request(Grant::Admin)).unwrap();
        let same_id =
            Token::parse(&format!("{}{}", &token.expose()[..16], "0".repeat(64))).unwrap();
        assert!(matches!(
            db.insert_token(&same_id, &request(Grant::Admin)),
            Err(DbError::Conflict(_))
        ));
    }

    #[test]
    fn the_bootstrap_admin_token_is_created_once_and_stays_revoked() {
        let db = Db::in_memory().unwrap();
        let token = Token::generate().unwrap();
        assert_eq!(db.ensure_admin_token(&token).unwrap(), Bootstrap::Created);
        assert_eq!(db.ensure_admin_token(&token).unwrap(), Bootstrap::Present);
        assert_eq!(db.list_tokens().unwrap().len(), 1);
        db.revoke_token(&token.id()).unwrap();
        assert_eq!(db.ensure_admin_token(&token).unwrap(), Bootstrap::Revoked);
        let submitter = Token::generate().unwrap();
        db.insert_token(&submitter, &request(Grant::Submitter { tenant: acme() }))
            .unwrap();
        assert!(matches!(
            db.ensure_admin_token(&submitter),
            Err(DbError::Conflict(_))
        ));
    }

    #[test]
    fn jobs_and_scenes_carry_their_tenant() {
        let db = Db::in_memory().unwrap();
        let hash: SceneHash = "ab".repeat(32).parse().unwrap();
        db.record_scene(&hash, "blend", 10).unwrap();
        assert!(db.record_scene_tenant(&hash, Some(&acme())).unwrap());
        assert!(!db.record_scene_tenant(&hash, Some(&acme())).unwrap());
        assert!(db.scene_uploaded_by(&hash, &acme()).unwrap());
        assert!(
            !db.scene_uploaded_by(&hash, &"globex".parse().unwrap())
                .unwrap()
        );

        let job = NewJob {
            name: "j".into(),
            scene: hash,
            renderer: Renderer::Blender,
            frames: FrameSpec::parse("1-2", 100).unwrap(),
            chunk_size: 1,
            priority: 50,
            output: OutputSpec::default(),
            overrides: Overrides::default(),
            task_timeout_secs: 60,
            parity_bp: 0,
            options: Default::default(),
        };
        let mine = db.create_job_for(&job, Some(&acme())).unwrap();
        let admins = db.create_job(&job).unwrap();
        assert_eq!(db.job_tenant(mine).unwrap(), Some(acme()));
        assert_eq!(db.job_tenant(admins).unwrap(), None);
        assert!(matches!(
            db.job_tenant(JobId::new()),
            Err(DbError::NotFound(_))
        ));
        let listed: Vec<JobId> = db
            .list_tenant_jobs(&acme())
            .unwrap()
            .iter()
            .map(|j| j.id)
            .collect();
        assert_eq!(listed, vec![mine]);
        assert_eq!(db.list_jobs().unwrap().len(), 2);
    }
}
