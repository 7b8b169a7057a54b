//! Worker enrollment: a provider's enrollment token fixes who owns the
//! workers that enroll with it, their region, and the node and device
//! classes they may claim. The coordinator, not the worker, chooses each
//! worker's id.

use protocol::{CpuInfo, WorkerId, WorkerInfo, now_ms};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Db, DbError, from_json, to_json};

/// What an enrollment token lets a worker be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentTerms {
    /// Who owns (and is paid for) the workers.
    pub owner: String,
    /// Their region (`eu-west`), for jobs' data-residency constraints.
    pub region: String,
    /// Node classes they may claim (`fast`, `cheap`); the first is their class.
    pub node_classes: Vec<String>,
    /// Billing device classes they may be paid at (`cpu`, `rtx4090`).
    pub device_classes: Vec<String>,
}

/// A new enrollment token's record.
#[derive(Debug, Clone)]
pub struct NewEnrollment {
    /// Its public id.
    pub id: String,
    /// blake3 of the token (the token itself is never stored).
    pub token_hash: String,
    /// What workers enrolling with it are.
    pub terms: EnrollmentTerms,
    /// How many workers may enroll with it; unlimited when `None`.
    pub max_workers: Option<u32>,
    /// When it stops working, ms since the epoch.
    pub expires_ms: Option<i64>,
    /// Who made it (a token id), for the audit trail.
    pub created_by: String,
}

/// An enrollment token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentView {
    /// Its public id.
    pub id: String,
    /// What workers enrolling with it are.
    #[serde(flatten)]
    pub terms: EnrollmentTerms,
    /// How many workers may enroll with it.
    pub max_workers: Option<u32>,
    /// How many did.
    pub enrolled: u32,
    /// When it was made.
    pub created_ms: i64,
    /// When it stops working.
    pub expires_ms: Option<i64>,
    /// When it was revoked.
    pub revoked_ms: Option<i64>,
}

/// A worker the coordinator just enrolled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolledWorker {
    /// The id the coordinator chose for it.
    pub id: WorkerId,
    /// What it is.
    pub terms: EnrollmentTerms,
}

impl Db {
    /// Store a new enrollment token.
    pub fn create_enrollment(&self, new: &NewEnrollment) -> Result<(), DbError> {
        self.lock().execute(
            "INSERT INTO enrollments (id, token_hash, owner, region, node_classes, device_classes, \
             max_workers, created_by, created_ms, expires_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                new.id,
                new.token_hash,
                new.terms.owner,
                new.terms.region,
                to_json(&new.terms.node_classes),
                to_json(&new.terms.device_classes),
                new.max_workers,
                new.created_by,
                now_ms(),
                new.expires_ms,
            ],
        )?;
        Ok(())
    }

    /// Enrollment tokens, of one owner or all.
    pub fn list_enrollments(&self, owner: Option<&str>) -> Result<Vec<EnrollmentView>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, owner, region, node_classes, device_classes, max_workers, enrolled, \
                    created_ms, expires_ms, revoked_ms \
             FROM enrollments WHERE ?1 IS NULL OR owner = ?1 ORDER BY created_ms",
        )?;
        let rows = stmt
            .query_map([owner], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<u32>>(5)?,
                    r.get::<_, u32>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, Option<i64>>(8)?,
                    r.get::<_, Option<i64>>(9)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|row| {
                Ok(EnrollmentView {
                    id: row.0,
                    terms: EnrollmentTerms {
                        owner: row.1,
                        region: row.2,
                        node_classes: from_json(&row.3)?,
                        device_classes: from_json(&row.4)?,
                    },
                    max_workers: row.5,
                    enrolled: row.6,
                    created_ms: row.7,
                    expires_ms: row.8,
                    revoked_ms: row.9,
                })
            })
            .collect()
    }

    /// Revoke an enrollment token (of `owner`, unless `None`: an admin).
    /// Workers already enrolled with it stay enrolled.
    pub fn revoke_enrollment(&self, id: &str, owner: Option<&str>) -> Result<(), DbError> {
        let changed = self.lock().execute(
            "UPDATE enrollments SET revoked_ms = COALESCE(revoked_ms, ?3) \
             WHERE id = ?1 AND (?2 IS NULL OR owner = ?2)",
            params![id, owner, now_ms()],
        )?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("enrollment {id}")));
        }
        Ok(())
    }

    /// Enroll a worker called `name` with the token hashing to
    /// `token_hash`: a new worker id, its terms from the token. Fails with
    /// `NotFound` for an unknown, revoked, expired or used-up token (one
    /// answer for all, so a guesser learns nothing).
    pub fn enroll_worker(&self, token_hash: &str, name: &str) -> Result<EnrolledWorker, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let now = now_ms();
        let found = tx
            .query_row(
                "SELECT id, owner, region, node_classes, device_classes FROM enrollments \
                 WHERE token_hash = ?1 AND revoked_ms IS NULL \
                 AND (expires_ms IS NULL OR expires_ms > ?2) \
                 AND (max_workers IS NULL OR enrolled < max_workers)",
                params![token_hash, now],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((enrollment, owner, region, node_classes, device_classes)) = found else {
            return Err(DbError::NotFound("enrollment token".to_owned()));
        };
        let terms = EnrollmentTerms {
            owner,
            region,
            node_classes: from_json(&node_classes)?,
            device_classes: from_json(&device_classes)?,
        };
        let id = WorkerId::new();
        let info = WorkerInfo {
            id,
            name: name.to_owned(),
            owner: terms.owner.clone(),
            region: terms.region.clone(),
            node_class: terms.node_classes.first().cloned().unwrap_or_default(),
            renderers: Vec::new(),
            cpu: CpuInfo::default(),
            gpus: Vec::new(),
            hostname: String::new(),
        };
        tx.execute(
            "INSERT INTO workers (id, name, owner, region, node_class, info, state, first_seen_ms, \
             last_seen_ms, enrolled_ms, enrollment_id, device_classes) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'left', ?7, ?7, ?7, ?8, ?9)",
            params![
                id.to_string(),
                name,
                terms.owner,
                terms.region,
                info.node_class,
                to_json(&info),
                now,
                enrollment,
                to_json(&terms.device_classes),
            ],
        )?;
        tx.execute(
            "UPDATE enrollments SET enrolled = enrolled + 1 WHERE id = ?1",
            [&enrollment],
        )?;
        tx.commit()?;
        tracing::info!(worker = %id, %name, owner = %terms.owner, enrollment, "worker enrolled");
        Ok(EnrolledWorker { id, terms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(owner: &str) -> EnrollmentTerms {
        EnrollmentTerms {
            owner: owner.into(),
            region: "eu-west".into(),
            node_classes: vec!["fast".into()],
            device_classes: vec!["cpu".into()],
        }
    }

    fn enrollment(id: &str, max_workers: Option<u32>, expires_ms: Option<i64>) -> NewEnrollment {
        NewEnrollment {
            id: id.into(),
            token_hash: format!("hash-{id}"),
            terms: terms("bob"),
            max_workers,
            expires_ms,
            created_by: "admin".into(),
        }
    }

    #[test]
    fn a_token_enrolls_workers_with_its_terms_and_fresh_ids() {
        let db = Db::in_memory().unwrap();
        db.create_enrollment(&enrollment("e1", Some(2), None))
            .unwrap();
        let a = db.enroll_worker("hash-e1", "render-01").unwrap();
        let b = db.enroll_worker("hash-e1", "render-02").unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(a.terms, terms("bob"));
        assert!(matches!(
            db.enroll_worker("hash-e1", "render-03"),
            Err(DbError::NotFound(_))
        ));
        let listed = db.list_enrollments(Some("bob")).unwrap();
        assert_eq!(listed[0].enrolled, 2);
        assert!(db.list_enrollments(Some("eve")).unwrap().is_empty());
    }

    #[test]
    fn unknown_revoked_and_expired_tokens_enroll_nobody() {
        let db = Db::in_memory().unwrap();
        db.create_enrollment(&enrollment("live", None, None))
            .unwrap();
        db.create_enrollment(&enrollment("old", None, Some(now_ms() - 1)))
            .unwrap();
        assert!(db.enroll_worker("hash-nope", "x").is_err());
        assert!(db.enroll_worker("hash-old", "x").is_err());
        assert!(matches!(
            db.revoke_enrollment("live", Some("eve")),
            Err(DbError::NotFound(_))
        ));
        db.revoke_enrollment("live", Some("bob")).unwrap();
        assert!(db.enroll_worker("hash-live", "x").is_err());
    }
}
