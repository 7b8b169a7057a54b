//! The worker's identity: enrolled once with a provider's token, then kept
//! in `work_dir/identity.json` (readable by the worker's user only), so a
//! restart keeps the id and the queue credentials the coordinator gave.

use std::io::Write;
use std::path::{Path, PathBuf};

use protocol::{EnrollRequest, EnrollResponse};

use crate::error::WorkerError;

/// Name of the identity file in the work folder.
pub const IDENTITY_FILE: &str = "identity.json";

/// Where a work folder keeps its identity.
pub fn identity_path(work_dir: &Path) -> PathBuf {
    work_dir.join(IDENTITY_FILE)
}

/// The identity kept in `work_dir`, if the worker enrolled before.
pub fn load(work_dir: &Path) -> Result<Option<EnrollResponse>, WorkerError> {
    let path = identity_path(work_dir);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(WorkerError::io(format!("cannot read {}", path.display()))(
            error,
        )),
    }
}

/// Keep `identity` in `work_dir`, created with mode 0600 (it holds the
/// worker's queue password), replacing any earlier one atomically.
pub fn save(work_dir: &Path, identity: &EnrollResponse) -> Result<(), WorkerError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = identity_path(work_dir);
    let failed = || WorkerError::io(format!("cannot save the identity in {}", path.display()));
    std::fs::create_dir_all(work_dir).map_err(failed())?;
    let partial = path.with_extension("partial");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .map_err(failed())?;
    file.write_all(&serde_json::to_vec_pretty(identity)?)
        .and_then(|()| file.sync_all())
        .map_err(failed())?;
    std::fs::rename(&partial, &path).map_err(failed())
}

/// Enroll with the coordinator at `coordinator` (`http://host:8080`).
pub async fn enroll(
    coordinator: &str,
    token: &str,
    name: &str,
) -> Result<EnrollResponse, WorkerError> {
    let failed = |reason: String| WorkerError::Enroll {
        coordinator: coordinator.to_owned(),
        reason,
    };
    let url = format!(
        "{}/api/v1/workers/enroll",
        coordinator.trim_end_matches('/')
    );
    let response = reqwest::Client::new()
        .post(&url)
        .json(&EnrollRequest {
            token: token.to_owned(),
            name: name.to_owned(),
        })
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(failed(format!("{status}: {body}")));
    }
    response
        .json::<EnrollResponse>()
        .await
        .map_err(|e| failed(format!("unreadable answer: {e}")))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn an_identity_is_kept_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        let identity = EnrollResponse {
            worker_id: protocol::WorkerId::new(),
            owner: "bob".into(),
            region: "eu-west".into(),
            node_classes: vec!["fast".into()],
            device_classes: vec!["cpu".into()],
            queue_url: "amqp://w:secret@queue:5672/%2f".into(),
        };
        save(dir.path(), &identity).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(identity));
        let mode = std::fs::metadata(identity_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
