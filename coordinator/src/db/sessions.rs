//! Web UI sessions and one-time sign-in links, each standing for one API
//! token: looking one up also reads its token, so a revoked or expired
//! token ends its sessions at once.

use rusqlite::{OptionalExtension, params};

use super::tokens::{TOKEN_COLUMNS, token_from_row};
use super::{Db, DbError};
use crate::auth::session::Secret;
use crate::auth::{TokenId, TokenInfo};

/// A live session: the token it acts as and its CSRF token.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// The token.
    pub token: TokenInfo,
    /// What requests that change something must carry.
    pub csrf: Secret,
    /// When it ends, ms since the epoch.
    pub expires_ms: i64,
}

/// `TOKEN_COLUMNS` of table alias `t`.
fn token_columns() -> String {
    TOKEN_COLUMNS
        .split(", ")
        .map(|column| format!("t.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Db {
    /// Start a session for token `token` until `now_ms + ttl_ms`.
    pub fn create_session(
        &self,
        secret: &Secret,
        csrf: &Secret,
        token: &TokenId,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<(), DbError> {
        let conn = self.lock();
        conn.execute("DELETE FROM sessions WHERE expires_ms <= ?1", [now_ms])?;
        conn.execute(
            "INSERT INTO sessions (hash, token_id, csrf, created_ms, expires_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                secret.hash(),
                token.as_str(),
                csrf.expose(),
                now_ms,
                now_ms + ttl_ms
            ],
        )?;
        Ok(())
    }

    /// The session whose cookie secret hashes to `hash`, unless it ended.
    pub fn session(&self, hash: &str, now_ms: i64) -> Result<Option<SessionView>, DbError> {
        let row = self
            .lock()
            .query_row(
                &format!(
                    "SELECT {}, s.csrf, s.expires_ms FROM sessions s \
                     JOIN tokens t ON t.id = s.token_id \
                     WHERE s.hash = ?1 AND s.expires_ms > ?2",
                    token_columns()
                ),
                params![hash, now_ms],
                |row| {
                    let token = token_from_row(row)?;
                    let csrf: String = row.get(8)?;
                    let expires_ms: i64 = row.get(9)?;
                    Ok((token, csrf, expires_ms))
                },
            )
            .optional()?;
        row.map(|(token, csrf, expires_ms)| {
            let csrf = Secret::parse(&csrf)
                .ok_or_else(|| DbError::Corrupt("a session's CSRF token".into()))?;
            Ok(SessionView {
                token,
                csrf,
                expires_ms,
            })
        })
        .transpose()
    }

    /// End the session whose cookie secret hashes to `hash`; whether there
    /// was one.
    pub fn end_session(&self, hash: &str) -> Result<bool, DbError> {
        Ok(self
            .lock()
            .execute("DELETE FROM sessions WHERE hash = ?1", [hash])?
            > 0)
    }

    /// Make a one-time sign-in link for token `token`, working until
    /// `now_ms + ttl_ms`.
    pub fn create_sign_in_link(
        &self,
        code: &Secret,
        token: &TokenId,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<(), DbError> {
        let conn = self.lock();
        conn.execute("DELETE FROM sign_in_links WHERE expires_ms <= ?1", [now_ms])?;
        conn.execute(
            "INSERT INTO sign_in_links (hash, token_id, created_ms, expires_ms) \
             VALUES (?1, ?2, ?3, ?4)",
            params![code.hash(), token.as_str(), now_ms, now_ms + ttl_ms],
        )?;
        Ok(())
    }

    /// Use the sign-in link whose code hashes to `hash`: its token, once;
    /// `None` when it is unknown, used or expired.
    pub fn redeem_sign_in_link(
        &self,
        hash: &str,
        now_ms: i64,
    ) -> Result<Option<TokenInfo>, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let used = tx.execute(
            "UPDATE sign_in_links SET used_ms = ?2 \
             WHERE hash = ?1 AND used_ms IS NULL AND expires_ms > ?2",
            params![hash, now_ms],
        )?;
        if used == 0 {
            return Ok(None);
        }
        let token = tx.query_row(
            &format!(
                "SELECT {} FROM sign_in_links l JOIN tokens t ON t.id = l.token_id \
                 WHERE l.hash = ?1",
                token_columns()
            ),
            [hash],
            token_from_row,
        )?;
        tx.commit()?;
        Ok(Some(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Grant, Role, Token, TokenRequest};

    fn token(db: &Db) -> TokenInfo {
        let grant = Grant::new(Role::Submitter, Some("acme"), None).unwrap();
        let request = TokenRequest::new(grant, "ui", None, 1_000).unwrap();
        db.insert_token(&Token::generate().unwrap(), &request)
            .unwrap()
    }

    #[test]
    fn a_session_lasts_until_it_expires_or_ends() {
        let db = Db::in_memory().unwrap();
        let info = token(&db);
        let (secret, csrf) = (Secret::generate().unwrap(), Secret::generate().unwrap());
        db.create_session(&secret, &csrf, &info.id, 10_000, 5_000)
            .unwrap();
        let session = db.session(&secret.hash(), 14_999).unwrap().unwrap();
        assert_eq!(session.token.id, info.id);
        assert_eq!(session.csrf, csrf);
        assert!(db.session(&secret.hash(), 15_000).unwrap().is_none());
        assert!(db.session(&csrf.hash(), 11_000).unwrap().is_none());
        assert!(db.end_session(&secret.hash()).unwrap());
        assert!(db.session(&secret.hash(), 11_000).unwrap().is_none());
    }

    #[test]
    fn a_sign_in_link_works_once_and_not_after_it_expires() {
        let db = Db::in_memory().unwrap();
        let info = token(&db);
        let code = Secret::generate().unwrap();
        db.create_sign_in_link(&code, &info.id, 10_000, 5_000)
            .unwrap();
        assert!(
            db.redeem_sign_in_link(&code.hash(), 16_000)
                .unwrap()
                .is_none()
        );
        let redeemed = db.redeem_sign_in_link(&code.hash(), 11_000).unwrap();
        assert_eq!(redeemed.unwrap().id, info.id);
        assert!(
            db.redeem_sign_in_link(&code.hash(), 11_001)
                .unwrap()
                .is_none()
        );
    }
}
