//! The coordinator's running parts: the dispatcher that publishes pending
//! tasks, the consumer that applies worker results, and the watchdog.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use object_store::ObjectStore;
use protocol::{Control, Renderer, WorkerEvent, WorkerId, queues};
use queue::{Broker, Outgoing, QueueOptions};
use tokio::sync::{Notify, broadcast};
use tracing::Instrument;

use crate::config::Config;
use crate::db::{Db, Followup, Policy, Sender};

/// Tasks published per dispatcher round.
const DISPATCH_BATCH: usize = 10_000;

/// Tries to apply a worker event before it goes to the dead-letter queue.
const APPLY_TRIES: u32 = 5;

/// Worker events that failed to apply, by the hash of their bytes, and how
/// often. Entries go when the event is applied or dead-lettered.
#[derive(Default)]
struct FailingResults(std::collections::HashMap<blake3::Hash, u32>);

impl FailingResults {
    /// Count one more failure; returns the total.
    fn count(&mut self, key: blake3::Hash) -> u32 {
        let tries = self.0.entry(key).or_default();
        *tries += 1;
        *tries
    }

    /// Drop the entry of an event that is dealt with.
    fn forget(&mut self, key: &blake3::Hash) {
        self.0.remove(key);
    }
}

/// Everything the API handlers and background loops share.
#[derive(Clone)]
pub struct Farm {
    /// State.
    pub db: Db,
    /// Task queue.
    pub broker: Arc<dyn Broker>,
    /// Object storage.
    pub store: Arc<dyn ObjectStore>,
    /// The store with its grants (workers and submitters get URLs, never
    /// credentials).
    pub storage: storage::GrantingStore,
    /// Configuration.
    pub config: Arc<Config>,
    /// The rules events are applied under (from the configuration).
    pub policy: Arc<Policy>,
    dispatch: Arc<Notify>,
    /// Frames being compared now (job, frame), so each is compared once.
    pub(crate) comparing: Arc<Mutex<HashSet<(String, i32)>>>,
    /// Results whose upload is being looked at now (job, frame, replica).
    pub(crate) intaking: Arc<Mutex<HashSet<(String, i32, u32)>>>,
    /// Benchmarks being compared now, each with whether it was asked for
    /// again meanwhile (then it runs once more).
    pub(crate) benchmarking:
        Arc<Mutex<std::collections::HashMap<crate::benchmark::BenchmarkId, bool>>>,
    /// The benchmark frame of class checks, when one is configured.
    pub class_check: Option<Arc<crate::db::CheckScene>>,
    /// The reference renders a benchmark frame must look like
    /// (`class_check.reference`), when the farm has them.
    pub class_reference: Option<Arc<crate::class_reference::ClassReference>>,
    /// Slots for frames the checker examines at once.
    pub(crate) checks: Arc<tokio::sync::Semaphore>,
    /// Slots for copies whose previews are made at once.
    pub(crate) previews: Arc<tokio::sync::Semaphore>,
    /// Worker queues already declared by this coordinator.
    declared: Arc<Mutex<HashSet<String>>>,
    /// Set when the server shuts down: long-lived responses (the event
    /// stream) end so the graceful shutdown can finish.
    stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Farm {
    /// Assemble the farm and declare the queues the coordinator uses.
    pub async fn new(
        config: Config,
        db: Db,
        broker: Arc<dyn Broker>,
        storage: storage::GrantingStore,
    ) -> Result<Self, queue::QueueError> {
        for renderer in Renderer::ALL {
            broker
                .declare(
                    &queues::tasks(renderer),
                    QueueOptions {
                        max_priority: queues::MAX_PRIORITY,
                    },
                )
                .await?;
        }
        for queue in [queues::RESULTS, queues::RESULTS_DEAD] {
            broker
                .declare(queue, QueueOptions { max_priority: 0 })
                .await?;
        }
        let checks = Arc::new(tokio::sync::Semaphore::new(
            config.verification.max_concurrent_checks.max(1),
        ));
        Ok(Self {
            db,
            broker,
            store: Arc::clone(&storage.store),
            storage,
            policy: Arc::new(Policy::from_config(&config)),
            config: Arc::new(config),
            dispatch: Arc::new(Notify::new()),
            comparing: Arc::default(),
            intaking: Arc::default(),
            benchmarking: Arc::default(),
            class_check: None,
            class_reference: None,
            checks,
            previews: Arc::new(tokio::sync::Semaphore::new(crate::preview::PREVIEW_SLOTS)),
            declared: Arc::default(),
            stopping: Arc::new(tokio::sync::watch::Sender::new(false)),
        })
    }

    /// End the long-lived responses (event streams): the server is
    /// shutting down.
    pub fn stop_streams(&self) {
        self.stopping.send_replace(true);
    }

    /// Completes once [`Farm::stop_streams`] was called.
    pub fn streams_stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut stopping = self.stopping.subscribe();
        async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        }
    }

    /// Ask the dispatcher to publish pending tasks now.
    pub fn wake_dispatcher(&self) {
        self.dispatch.notify_one();
    }

    /// Start the dispatcher, the results consumer and the watchdog; they stop
    /// when `shutdown` fires.
    pub fn spawn_background(&self, shutdown: &broadcast::Sender<()>) -> tokio::task::JoinSet<()> {
        let mut set = tokio::task::JoinSet::new();
        let farm = self.clone();
        let stop = shutdown.subscribe();
        set.spawn(
            async move { farm.dispatch_loop(stop).await }
                .instrument(tracing::info_span!("dispatcher")),
        );
        let farm = self.clone();
        let stop = shutdown.subscribe();
        set.spawn(
            async move { farm.results_loop(stop).await }.instrument(tracing::info_span!("results")),
        );
        let farm = self.clone();
        let stop = shutdown.subscribe();
        set.spawn(
            async move { farm.watchdog_loop(stop).await }
                .instrument(tracing::info_span!("watchdog")),
        );
        self.wake_dispatcher();
        set
    }

    /// Publish every pending task; returns how many were published.
    /// Parity copies waiting for a worker, and routed jobs' tasks, are
    /// placed on workers first.
    pub async fn dispatch_pending(&self) -> Result<usize, crate::Error> {
        let placed = self.db.call(|db| db.place_waiting_copies()).await?;
        self.follow(placed).await;
        if let Some(check) = self.class_check.clone() {
            self.db
                .call(move |db| db.start_class_checks(&check))
                .await?;
        }
        self.db.call(|db| db.place_routed_tasks()).await?;
        let mut total = 0;
        loop {
            let batch = self.db.call(|db| db.take_pending(DISPATCH_BATCH)).await?;
            if batch.is_empty() {
                return Ok(total);
            }
            for task in &batch {
                if task.target.is_some() {
                    self.declare_worker_queue(task.queue()).await?;
                }
            }
            let messages = batch
                .iter()
                .map(|task| Outgoing {
                    queue: task.queue(),
                    payload: serde_json::to_vec(&task.message).expect("task messages serialise"),
                    priority: task.priority,
                })
                .collect();
            self.broker.publish(messages).await?;
            let published: Vec<_> = batch
                .iter()
                .map(|task| (task.message.task_id, task.message.attempt))
                .collect();
            total += published.len();
            self.db.call(move |db| db.mark_queued(&published)).await?;
        }
    }

    async fn dispatch_loop(self, mut stop: broadcast::Receiver<()>) {
        loop {
            match self.dispatch_pending().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(tasks = n, "tasks published"),
                Err(error) => {
                    tracing::error!(%error, "dispatch failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = stop.recv() => return,
                    }
                }
            }
            tokio::select! {
                _ = self.dispatch.notified() => {}
                _ = stop.recv() => return,
            }
        }
    }

    async fn results_loop(self, mut stop: broadcast::Receiver<()>) {
        let results = [queues::RESULTS.to_owned()];
        let mut failing = FailingResults::default();
        loop {
            let consumer = tokio::select! {
                consumer = self.broker.consume(&results, 64) => consumer,
                _ = stop.recv() => return,
            };
            let mut consumer = match consumer {
                Ok(consumer) => consumer,
                Err(error) => {
                    tracing::error!(%error, "cannot consume results; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            loop {
                let delivery = tokio::select! {
                    delivery = consumer.next() => delivery,
                    _ = stop.recv() => return,
                };
                match delivery {
                    Ok(delivery) => self.take_result(delivery, &mut failing).await,
                    Err(error) => {
                        tracing::error!(%error, "results consumer broke; reconnecting");
                        break;
                    }
                }
            }
        }
    }

    /// Apply one delivery of the results queue, attributed to its
    /// broker-authenticated sender. One that keeps failing to apply goes to
    /// the dead-letter queue after [`APPLY_TRIES`] tries instead of looping.
    async fn take_result(&self, delivery: queue::Delivery, failing: &mut FailingResults) {
        let sender = Sender::from_transport(delivery.sender.as_deref(), delivery.redelivered);
        let event: WorkerEvent = match serde_json::from_slice(&delivery.payload) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(%error, ?sender, "unreadable worker event dropped");
                let _ = delivery.nack(false).await;
                return;
            }
        };
        let key = blake3::hash(&delivery.payload);
        match self.apply(event, sender).await {
            Ok(()) => {
                failing.forget(&key);
                if let Err(error) = delivery.ack().await {
                    tracing::warn!(%error, "result ack failed; it will be delivered again");
                }
            }
            Err(error) if failing.count(key) >= APPLY_TRIES => {
                tracing::error!(%error, ?sender, tries = APPLY_TRIES,
                    "a worker event keeps failing to apply; moved to the dead-letter queue");
                let dead = Outgoing {
                    queue: queues::RESULTS_DEAD.to_owned(),
                    payload: delivery.payload.clone(),
                    priority: 0,
                };
                match self.broker.publish(vec![dead]).await {
                    Ok(()) => {
                        failing.forget(&key);
                        let _ = delivery.ack().await;
                    }
                    Err(error) => {
                        tracing::error!(%error, "dead-letter queue unreachable; the event stays");
                        let _ = delivery.nack(true).await;
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, "applying a worker event failed; it will be retried");
                let _ = delivery.nack(true).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    /// Declare a worker's directed queue (as the worker does), so a copy
    /// published before the worker's first connection is kept.
    async fn declare_worker_queue(&self, queue: String) -> Result<(), crate::Error> {
        if self.declared.lock().expect("not poisoned").contains(&queue) {
            return Ok(());
        }
        self.broker
            .declare(&queue, QueueOptions { max_priority: 0 })
            .await?;
        self.declared.lock().expect("not poisoned").insert(queue);
        Ok(())
    }

    /// Apply one worker event from `sender` and carry out what follows
    /// from it.
    pub async fn apply(&self, event: WorkerEvent, sender: Sender) -> Result<(), crate::Error> {
        let policy = Arc::clone(&self.policy);
        let followup = self
            .db
            .call(move |db| db.apply_event(&event, sender, &policy))
            .await?;
        self.follow(followup).await;
        Ok(())
    }

    /// Carry out what the database said must follow: wake the dispatcher,
    /// send controls, compare frames, write the reports of finished jobs.
    pub async fn follow(&self, followup: Followup) {
        if followup.dispatch {
            self.wake_dispatcher();
        }
        self.send_controls(followup.controls).await;
        self.send_grants(followup.grants).await;
        for (job, frame, replica) in followup.intakes {
            self.spawn_intake(job, frame, replica);
        }
        for (job, frame) in followup.comparisons {
            self.spawn_comparison(job, frame);
        }
        for job in followup.finished_jobs {
            if let Ok(job) = job.parse() {
                self.spawn_report(job);
                self.spawn_benchmark_of_job(job);
            }
        }
    }

    /// Send control messages to workers' control queues. Controls are
    /// advisory (results of stale attempts are ignored anyway), so a worker
    /// whose queue is gone is logged, not an error.
    pub async fn send_controls(&self, controls: Vec<(WorkerId, Control)>) {
        for (worker, control) in controls {
            let message = Outgoing {
                queue: queues::worker_control(worker),
                payload: serde_json::to_vec(&control).expect("controls serialise"),
                priority: 0,
            };
            if let Err(error) = self.broker.publish(vec![message]).await {
                tracing::warn!(%worker, ?control, %error, "control message not delivered");
            }
        }
    }

    /// Tell every online worker about a job's new state.
    pub async fn broadcast(&self, control: Control) -> Result<(), crate::Error> {
        let workers = self.db.call(|db| db.online_workers()).await?;
        self.send_controls(workers.into_iter().map(|w| (w, control.clone())).collect())
            .await;
        Ok(())
    }

    async fn watchdog_loop(self, mut stop: broadcast::Receiver<()>) {
        let timeout_ms = self.config.watchdog.worker_timeout_secs as i64 * 1000;
        let mut tick = tokio::time::interval(Duration::from_secs(
            self.config.watchdog.check_interval_secs.max(1),
        ));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.recv() => return,
            }
            self.catch_up().await;
            if let Err(error) = self
                .db
                .call(|db| db.prune_changes(crate::db::CHANGES_KEPT))
                .await
            {
                tracing::error!(%error, "the change feed could not be pruned");
            }
            match self
                .db
                .call(move |db| db.reap_lost_workers(timeout_ms))
                .await
            {
                Ok((lost, requeued)) => {
                    if !lost.is_empty() {
                        tracing::warn!(workers = ?lost, requeued, "workers lost");
                    }
                    if requeued > 0 {
                        self.wake_dispatcher();
                    }
                }
                Err(error) => tracing::error!(%error, "watchdog check failed"),
            }
        }
    }
}
