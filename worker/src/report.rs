//! Publishing the worker's events on the results queue.

use std::sync::Arc;

use protocol::{WorkerEvent, WorkerId, queues};
use queue::{Broker, Outgoing};

use crate::error::WorkerError;

/// Sends [`WorkerEvent`]s to the coordinator.
#[derive(Clone)]
pub struct Reporter {
    broker: Arc<dyn Broker>,
    worker: WorkerId,
}

impl Reporter {
    /// A reporter for `worker`.
    pub fn new(broker: Arc<dyn Broker>, worker: WorkerId) -> Self {
        Self { broker, worker }
    }

    /// The worker this reporter speaks for.
    pub fn worker(&self) -> WorkerId {
        self.worker
    }

    /// Publish one event; returns once the broker stored it.
    pub async fn send(&self, event: &WorkerEvent) -> Result<(), WorkerError> {
        let payload = serde_json::to_vec(event)?;
        self.broker
            .publish(vec![Outgoing {
                queue: queues::RESULTS.to_owned(),
                payload,
                priority: 0,
            }])
            .await?;
        Ok(())
    }
}
