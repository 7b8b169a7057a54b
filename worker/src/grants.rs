//! Storage grants from the coordinator. The worker holds no store
//! credentials: before each transfer it asks, on the results queue, for a
//! URL for that one object of the attempt it holds, and the coordinator
//! answers on the worker's own control queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use protocol::{Control, GrantObject, GrantRequest, StorageGrant, TaskId, WorkerEvent};
use tokio::sync::oneshot;

use crate::error::WorkerError;
use crate::report::Reporter;

/// Why no grant came.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The coordinator refused it.
    #[error("the coordinator refused the storage grant: {0}")]
    Refused(String),
    /// No answer in time.
    #[error("no storage grant from the coordinator within {0} s")]
    NoAnswer(u64),
    /// The request could not be sent.
    #[error("cannot ask for a storage grant: {0}")]
    Send(#[from] WorkerError),
    /// The grant's URL does not parse.
    #[error("the coordinator's grant URL is not a URL: {0}")]
    BadUrl(String),
}

/// What a grant is for: one object of one attempt.
type Wanted = (TaskId, u32, GrantObject);

/// Answers not yet received, by what they are for.
type Pending = HashMap<Wanted, Vec<oneshot::Sender<Result<StorageGrant, String>>>>;

/// Asks for grants and hands out the answers the control listener passes on.
#[derive(Clone)]
pub struct GrantClient {
    reporter: Reporter,
    pending: Arc<Mutex<Pending>>,
    http: reqwest::Client,
    wait: Duration,
}

/// A grant received, with its URL parsed.
#[derive(Debug, Clone)]
pub struct Granted {
    /// The object key (a frame's `FrameDone` names it).
    pub key: String,
    /// The URL to use.
    pub url: url::Url,
}

impl GrantClient {
    /// A client asking through `reporter`, waiting up to `wait` for answers.
    pub fn new(reporter: Reporter, wait: Duration) -> Self {
        Self {
            reporter,
            pending: Arc::default(),
            http: reqwest::Client::new(),
            wait,
        }
    }

    /// The HTTP client transfers use.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Ask for a grant for `object` of attempt `attempt` of `task`, and wait
    /// for the answer.
    pub async fn request(
        &self,
        task: TaskId,
        attempt: u32,
        object: GrantObject,
    ) -> Result<Granted, GrantError> {
        let (tx, rx) = oneshot::channel();
        self.lock()
            .entry((task, attempt, object.clone()))
            .or_default()
            .push(tx);
        let request = GrantRequest {
            task_id: task,
            attempt,
            worker: self.reporter.worker(),
            object: object.clone(),
        };
        self.reporter
            .send(&WorkerEvent::GrantRequest(request))
            .await?;
        let answer = tokio::time::timeout(self.wait, rx).await;
        let grant = match answer {
            Ok(Ok(Ok(grant))) => grant,
            Ok(Ok(Err(reason))) => return Err(GrantError::Refused(reason)),
            Ok(Err(_)) | Err(_) => {
                self.lock().remove(&(task, attempt, object));
                return Err(GrantError::NoAnswer(self.wait.as_secs()));
            }
        };
        let url = grant
            .url
            .parse()
            .map_err(|_| GrantError::BadUrl(grant.url.clone()))?;
        Ok(Granted {
            key: grant.key,
            url,
        })
    }

    /// Hand a `Grant` or `GrantRefused` to whoever waits for it; returns
    /// `false` for any other control message. An answer nobody waits for
    /// (it came after the wait ran out) is dropped.
    pub fn answer(&self, control: &Control) -> bool {
        let (wanted, answer) = match control {
            Control::Grant(grant) => (
                (grant.task_id, grant.attempt, grant.object.clone()),
                Ok(grant.clone()),
            ),
            Control::GrantRefused(refused) => (
                (refused.task_id, refused.attempt, refused.object.clone()),
                Err(refused.reason.clone()),
            ),
            _ => return false,
        };
        let waiting = {
            let mut pending = self.lock();
            let first = pending
                .get_mut(&wanted)
                .and_then(|senders| (!senders.is_empty()).then(|| senders.remove(0)));
            if pending.get(&wanted).is_some_and(Vec::is_empty) {
                pending.remove(&wanted);
            }
            first
        };
        match waiting {
            Some(sender) => {
                let _ = sender.send(answer);
            }
            None => tracing::debug!(?wanted, "a storage grant nobody waits for was dropped"),
        }
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{GrantRefused, WorkerId, queues};
    use queue::{Broker, QueueOptions};

    async fn client(wait: Duration) -> (GrantClient, Arc<dyn Broker>) {
        let broker: Arc<dyn Broker> = Arc::new(queue::Embedded::in_memory().unwrap());
        broker
            .declare(queues::RESULTS, QueueOptions { max_priority: 0 })
            .await
            .unwrap();
        let reporter = Reporter::new(Arc::clone(&broker), WorkerId::new());
        (GrantClient::new(reporter, wait), broker)
    }

    #[tokio::test]
    async fn answers_reach_the_request_they_are_for() {
        let (grants, broker) = client(Duration::from_secs(60)).await;
        let task = TaskId::new();
        let object = GrantObject::Frame { frame: 3 };
        let waiting = tokio::spawn({
            let (grants, object) = (grants.clone(), object.clone());
            async move { grants.request(task, 1, object).await }
        });
        let mut results = broker
            .consume(&[queues::RESULTS.to_owned()], 1)
            .await
            .unwrap();
        let asked: WorkerEvent =
            serde_json::from_slice(&results.next().await.unwrap().payload).unwrap();
        assert!(matches!(asked, WorkerEvent::GrantRequest(r) if r.object == object));
        let other = Control::GrantRefused(GrantRefused {
            task_id: task,
            attempt: 2,
            object: object.clone(),
            reason: "another attempt".into(),
        });
        assert!(grants.answer(&other), "dropped: nobody waits for attempt 2");
        assert!(grants.answer(&Control::Grant(StorageGrant {
            task_id: task,
            attempt: 1,
            object,
            key: "uploads/k".into(),
            url: "http://127.0.0.1:1/storage/uploads/k?sig=x".into(),
            expires_at_ms: 0,
        })));
        let granted = waiting.await.unwrap().unwrap();
        assert_eq!(granted.key, "uploads/k");
        assert!(!grants.answer(&Control::Reinstated));
    }

    #[tokio::test]
    async fn a_refusal_or_silence_ends_the_wait() {
        let (grants, _broker) = client(Duration::from_millis(10)).await;
        let task = TaskId::new();
        assert!(matches!(
            grants.request(task, 1, GrantObject::Scene).await,
            Err(GrantError::NoAnswer(_))
        ));
        let (grants, _broker) = client(Duration::from_secs(60)).await;
        let waiting = tokio::spawn({
            let grants = grants.clone();
            async move { grants.request(task, 1, GrantObject::Scene).await }
        });
        while grants.lock().is_empty() {
            tokio::task::yield_now().await;
        }
        grants.answer(&Control::GrantRefused(GrantRefused {
            task_id: task,
            attempt: 1,
            object: GrantObject::Scene,
            reason: "not yours".into(),
        }));
        assert!(matches!(waiting.await.unwrap(), Err(GrantError::Refused(r)) if r == "not yours"));
    }
}
