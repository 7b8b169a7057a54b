//! Enrolling workers. A provider (or an admin) issues an enrollment token
//! that fixes the owner, region and classes of the workers enrolling with
//! it. A worker presents it once; the coordinator chooses the worker's id,
//! declares its queues and makes it a broker identity of its own that may
//! consume only the task queues and the worker's own queues and publish
//! only results. Every event is then attributed to that identity.

use protocol::{Renderer, queues};
use queue::{Grant, Granted, QueueOptions};
use rand::TryRngCore;

use crate::auth::Token;
use crate::db::{EnrolledWorker, EnrollmentTerms, NewEnrollment};
use crate::farm::Farm;

/// Random bytes in a worker's broker password.
const PASSWORD_BYTES: usize = 32;

/// A worker just enrolled, and how it reaches the queue.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// Its id and terms.
    pub worker: EnrolledWorker,
    /// Its broker identity.
    pub queue: Granted,
}

/// What can go wrong enrolling.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// Unknown, revoked, expired or used-up token (one answer for all).
    #[error(
        "the enrollment token is not valid: it may be mistyped, revoked, expired or used up; ask the provider for a new one"
    )]
    BadToken,
    /// No randomness from the OS.
    #[error("no randomness from the OS: {0}")]
    Random(String),
    /// The farm failed.
    #[error(transparent)]
    Farm(#[from] crate::Error),
}

impl From<crate::db::DbError> for EnrollError {
    fn from(error: crate::db::DbError) -> Self {
        EnrollError::Farm(error.into())
    }
}

/// `bytes` random bytes as lowercase hex.
fn random_hex(bytes: usize) -> Result<String, EnrollError> {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng
        .try_fill_bytes(&mut buffer)
        .map_err(|e| EnrollError::Random(e.to_string()))?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

impl Farm {
    /// Issue an enrollment token with `terms`; returns it (shown once) and
    /// its id.
    pub async fn issue_enrollment(
        &self,
        terms: EnrollmentTerms,
        max_workers: Option<u32>,
        expires_ms: Option<i64>,
        created_by: String,
    ) -> Result<Token, EnrollError> {
        let token = Token::generate().map_err(|e| EnrollError::Random(e.to_string()))?;
        let new = NewEnrollment {
            id: token.id().to_string(),
            token_hash: token.hash().as_str().to_owned(),
            terms,
            max_workers,
            expires_ms,
            created_by,
        };
        self.db.call(move |db| db.create_enrollment(&new)).await?;
        Ok(token)
    }

    /// Enroll a worker called `name` with an enrollment token.
    pub async fn enroll(&self, token: &Token, name: &str) -> Result<Enrolled, EnrollError> {
        let hash = token.hash().as_str().to_owned();
        let owned_name = name.to_owned();
        let worker = match self
            .db
            .call(move |db| db.enroll_worker(&hash, &owned_name))
            .await
        {
            Ok(worker) => worker,
            Err(crate::db::DbError::NotFound(_)) => return Err(EnrollError::BadToken),
            Err(error) => return Err(error.into()),
        };
        let id = worker.id;
        let own = [queues::worker_tasks(id), queues::worker_control(id)];
        for queue in &own {
            self.broker
                .declare(queue, QueueOptions { max_priority: 0 })
                .await
                .map_err(crate::Error::from)?;
        }
        let grant = Grant {
            user: id.to_string(),
            password: random_hex(PASSWORD_BYTES)?,
            consume: Renderer::ALL
                .iter()
                .map(|renderer| queues::tasks(*renderer))
                .chain(own)
                .collect(),
            publish: vec![queues::RESULTS.to_owned()],
        };
        let queue = self
            .broker
            .grant(&grant)
            .await
            .map_err(crate::Error::from)?;
        Ok(Enrolled { worker, queue })
    }
}
