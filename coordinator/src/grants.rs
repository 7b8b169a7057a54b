//! Signing storage grants: the URLs a worker gets for its attempt's objects,
//! and the download links of accepted frames that submitters get.

use std::time::Duration;

use protocol::{Control, StorageGrant, now_ms};
use storage::{Access, ObjectPath};

use crate::db::GrantOrder;
use crate::farm::Farm;

impl Farm {
    /// Sign the grants the database decided on and send each to the worker
    /// that asked, on its own control queue (no other worker can read it).
    pub(crate) async fn send_grants(&self, orders: Vec<GrantOrder>) {
        let ttl = Duration::from_secs(self.config.grants.worker_grant_secs.max(1));
        let mut controls = Vec::with_capacity(orders.len());
        for order in orders {
            let key = ObjectPath::from(order.key.as_str());
            let control = match self.storage.grants.url(order.access, &key, ttl).await {
                Ok(url) => Control::Grant(StorageGrant {
                    task_id: order.task_id,
                    attempt: order.attempt,
                    object: order.object,
                    key: order.key,
                    url: url.to_string(),
                    expires_at_ms: now_ms().saturating_add(ttl.as_millis() as i64),
                }),
                Err(error) => {
                    tracing::error!(%error, worker = %order.worker, key = %order.key,
                        "cannot sign a storage grant");
                    Control::GrantRefused(protocol::GrantRefused {
                        task_id: order.task_id,
                        attempt: order.attempt,
                        object: order.object,
                        reason: format!("the coordinator could not sign the grant: {error}"),
                    })
                }
            };
            controls.push((order.worker, control));
        }
        self.send_controls(controls).await;
    }

    /// A short-lived link to read `key` (an accepted frame's copy).
    pub async fn download_link(&self, key: &str) -> Result<url::Url, storage::StoreError> {
        let ttl = Duration::from_secs(self.config.grants.download_link_secs.max(1));
        self.storage
            .grants
            .url(Access::Read, &ObjectPath::from(key), ttl)
            .await
    }
}
