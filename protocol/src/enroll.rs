//! Enrolling a worker over HTTP: the worker presents the enrollment token
//! its provider gave it; the coordinator chooses the worker's id and gives
//! it its own queue credentials.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::WorkerId;

/// `POST /api/v1/workers/enroll`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The enrollment token (the request's only credential).
    pub token: String,
    /// The worker's human name (`render-07`).
    pub name: String,
}

impl fmt::Debug for EnrollRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrollRequest")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What an enrolled worker is and how it reaches the queue.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// The id the coordinator chose for it.
    pub worker_id: WorkerId,
    /// Who owns it (and is paid for its frames).
    pub owner: String,
    /// Its region.
    pub region: String,
    /// Node classes it may claim.
    pub node_classes: Vec<String>,
    /// Billing device classes it may be paid at.
    pub device_classes: Vec<String>,
    /// The AMQP URL of its own broker user (password included: keep it
    /// secret). That user may consume the task queues and the worker's own
    /// queues, and publish only results.
    pub queue_url: String,
}

impl fmt::Debug for EnrollResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrollResponse")
            .field("worker_id", &self.worker_id)
            .field("owner", &self.owner)
            .field("region", &self.region)
            .field("node_classes", &self.node_classes)
            .field("device_classes", &self.device_classes)
            .finish_non_exhaustive()
    }
}
