//! The worker's life: announce, take tasks one at a time, report, and leave
//! cleanly on shutdown.
//!
//! Survival of a dead worker: a task's delivery stays unacknowledged until its
//! results are published (`TaskDone`, `TaskFailed` or `TaskReturned`), so a
//! worker that dies mid-task has its task delivered again by the queue.

use std::future::Future;
use std::sync::Arc;

use protocol::{
    Renderer, TaskFailed, TaskMessage, TaskReturned, WorkerEvent, WorkerId, WorkerInfo, queues,
};
use queue::{Broker, Delivery, QueueOptions};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::WorkerConfig;
use crate::control::{self, Halt, JobStates};
use crate::error::WorkerError;
use crate::grants::GrantClient;
use crate::heartbeat::{self, Activity};
use crate::renderers::Installed;
use crate::report::Reporter;
use crate::scene_cache::SceneCache;
#[cfg(feature = "tamper")]
use crate::tamper::Tamperer;
use crate::task::{TaskOutcome, TaskRunner};
use crate::{gpu, probe};

/// Run a worker until `shutdown` completes (or the queue fails).
///
/// On shutdown it stops taking tasks; a task in progress may finish within
/// `shutdown_grace_secs`, otherwise Blender is killed and the task goes back
/// to the queue. It then publishes `Leaving` and returns `Ok`.
pub async fn run(
    config: WorkerConfig,
    broker: Arc<dyn Broker>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), WorkerError> {
    let id = config.resolve_id()?;
    let span = tracing::info_span!("worker", worker = %id, name = %config.name);
    async move {
        let stop = CancellationToken::new();
        let abort = CancellationToken::new();
        let grace = config.shutdown_grace();
        let watch_shutdown = async {
            shutdown.await;
            tracing::info!(
                grace_secs = grace.as_secs(),
                "shutdown requested; taking no more tasks"
            );
            stop.cancel();
            tokio::time::sleep(grace).await;
            abort.cancel();
            std::future::pending::<std::convert::Infallible>().await
        };
        tokio::select! {
            result = serve(id, &config, broker, &stop, &abort) => result,
            never = watch_shutdown => match never {},
        }
    }
    .instrument(span)
    .await
}

/// Declare the queues one worker uses: what the coordinator does when it
/// enrolls a worker, for a worker that owns its queue (an embedded queue
/// file of its own) and so has no coordinator to do it.
pub async fn declare_own_queues(broker: &dyn Broker, id: WorkerId) -> Result<(), WorkerError> {
    let plain = QueueOptions { max_priority: 0 };
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
    for queue in [
        queues::worker_tasks(id),
        queues::worker_control(id),
        queues::RESULTS.to_owned(),
    ] {
        broker.declare(&queue, plain).await?;
    }
    Ok(())
}

/// Announce, consume tasks until `stop`, then leave. The worker declares no
/// queue: the coordinator declared the task queues, the results queue and
/// this worker's own queues when it enrolled it (an enrolled worker's broker
/// user may not declare anything).
async fn serve(
    id: WorkerId,
    config: &WorkerConfig,
    broker: Arc<dyn Broker>,
    stop: &CancellationToken,
    abort: &CancellationToken,
) -> Result<(), WorkerError> {
    let installed = Installed::probe(config).await?;
    let octane_script = if installed.renderers().contains(&Renderer::Octane) {
        Some(
            crate::octane::install_batch_script(&config.work_dir).map_err(|source| {
                WorkerError::Io {
                    context: format!(
                        "cannot write the Octane batch script into {}",
                        config.work_dir.display()
                    ),
                    source,
                }
            })?,
        )
    } else {
        None
    };
    let gpus = gpu::probe(config.gpu).await?;
    // A pinned worker's Blender sees its one GPU, named by UUID (CUDA's
    // numbering depends on the environment; the UUID does not).
    let pinned = config
        .gpu
        .and_then(|_| gpus.first())
        .and_then(|gpu| gpu.uuid.clone());
    if let Some(uuid) = &pinned {
        tracing::info!(gpu = %uuid, "pinned to one GPU");
    }
    let has_gpu = !gpus.is_empty();
    let info = WorkerInfo {
        id,
        name: config.name.clone(),
        owner: config.owner.clone(),
        region: config.region.clone(),
        node_class: config.node_class.clone(),
        renderers: installed.announced(),
        cpu: probe::cpu(),
        gpus,
        hostname: probe::hostname(),
    };
    tracing::info!(renderers = ?info.renderers, cores = info.cpu.cores, gpus = info.gpus.len(), "worker starting");
    #[cfg(feature = "tamper")]
    if let Some(mode) = config.tamper {
        tracing::warn!(
            ?mode,
            "!!! TEST CHEATER: THIS WORKER DELIVERS DELIBERATELY WRONG FRAMES; never run it on a real farm !!!"
        );
    }

    let task_queues = TaskQueues {
        shared: installed
            .renderers()
            .into_iter()
            .map(queues::tasks)
            .collect(),
        directed: queues::worker_tasks(id),
    };
    let control_queue = queues::worker_control(id);
    let reporter = Reporter::new(Arc::clone(&broker), id);
    reporter.send(&WorkerEvent::Announce(info)).await?;

    let background = CancellationToken::new();
    let activity = Activity::default();
    let states = JobStates::default();
    let heartbeats = tokio::spawn(
        heartbeat::beat(
            reporter.clone(),
            activity.clone(),
            config.heartbeat_interval(),
            background.clone(),
        )
        .in_current_span(),
    );
    let grants = GrantClient::new(reporter.clone(), config.grant_wait());
    let control_consumer = broker.consume(&[control_queue], 1).await?;
    let controls = tokio::spawn(
        control::listen(
            control_consumer,
            states.clone(),
            grants.clone(),
            background.clone(),
        )
        .in_current_span(),
    );

    let worker = Worker {
        runner: TaskRunner {
            installed,
            octane_script,
            render_threads: config.render_threads,
            gpu: pinned,
            has_gpu,
            tasks_dir: config.tasks_dir(),
            scenes: SceneCache::new(config.scene_cache_dir()),
            grants,
            reporter: reporter.clone(),
            activity,
            #[cfg(feature = "tamper")]
            tamper: config
                .tamper
                .map(|mode| Tamperer::new(mode, &config.work_dir)),
        },
        states,
        queues: task_queues,
    };
    let served = worker.take_tasks(&*broker, stop, abort).await;

    background.cancel();
    let _ = tokio::join!(heartbeats, controls);
    let left = reporter.send(&WorkerEvent::Leaving { worker: id }).await;
    tracing::info!("worker left");
    served.and(left)
}

/// The task queues a worker consumes.
struct TaskQueues {
    /// The queues of the renderers it has, shared by every worker.
    shared: Vec<String>,
    /// This worker's own queue (parity replicas).
    directed: String,
}

/// The task-taking part of a worker.
struct Worker {
    runner: TaskRunner,
    states: JobStates,
    queues: TaskQueues,
}

impl Worker {
    /// Take tasks one at a time until `stop`: a copy waiting on the worker's
    /// own queue always comes before a shared task (parity and arbitration
    /// copies, so verification keeps pace with rendering and trust is earned
    /// early); while the worker is blocklisted the shared queue is not
    /// consumed at all, and while it drains no queue is.
    ///
    /// The worker never holds more than one task: each task is taken by a
    /// fresh prefetch-1 consumer that is stopped before the task starts (so
    /// the broker sends nothing ahead) and dropped once the task is settled.
    async fn take_tasks(
        &self,
        broker: &dyn Broker,
        stop: &CancellationToken,
        abort: &CancellationToken,
    ) -> Result<(), WorkerError> {
        let mut intake = self.states.watch_intake();
        loop {
            let now = *intake.borrow_and_update();
            if !now.takes_directed() {
                tracing::info!("draining: no task is taken until the drain is over");
                tokio::select! {
                    biased;
                    () = stop.cancelled() => return Ok(()),
                    Ok(()) = intake.changed() => continue,
                }
            }
            let queues =
                if !now.takes_shared() || broker.ready_count(&self.queues.directed).await? > 0 {
                    vec![self.queues.directed.clone()]
                } else {
                    std::iter::once(self.queues.directed.clone())
                        .chain(self.queues.shared.iter().cloned())
                        .collect()
                };
            tracing::info!(blocklisted = now.blocklisted, ?queues, "waiting for tasks");
            let mut consumer = broker.consume(&queues, 1).await?;
            let delivery = tokio::select! {
                biased;
                () = stop.cancelled() => return Ok(()),
                Ok(()) = intake.changed() => continue,
                delivery = consumer.next() => delivery?,
            };
            consumer.stop().await?;
            self.handle(delivery, abort).await?;
        }
    }

    /// Render (or hand back) one delivered task and settle its delivery.
    async fn handle(
        &self,
        delivery: Delivery,
        abort: &CancellationToken,
    ) -> Result<(), WorkerError> {
        let task: TaskMessage = match serde_json::from_slice(&delivery.payload) {
            Ok(task) => task,
            Err(error) => {
                tracing::error!(%error, queue = %delivery.queue, "unreadable task message dropped");
                settle(delivery, Settle::Drop).await;
                return Ok(());
            }
        };
        let span = tracing::info_span!("task", task = %task.task_id, job = %task.job_id, attempt = task.attempt);
        self.handle_task(task, delivery, abort)
            .instrument(span)
            .await
    }

    /// Render (or hand back) a parsed task, publish how it ended, then
    /// acknowledge it (or requeue it when interrupted by shutdown).
    async fn handle_task(
        &self,
        task: TaskMessage,
        delivery: Delivery,
        abort: &CancellationToken,
    ) -> Result<(), WorkerError> {
        let reporter = &self.runner.reporter;
        let worker = reporter.worker();
        let returned = |reason| {
            WorkerEvent::TaskReturned(TaskReturned {
                task_id: task.task_id,
                attempt: task.attempt,
                worker,
                reason,
            })
        };
        let intake = self.states.intake();
        if !intake.takes_directed()
            || (self.queues.shared.contains(&delivery.queue) && !intake.takes_shared())
        {
            tracing::info!(?intake, "task put back in the queue unstarted");
            settle(delivery, Settle::Requeue).await;
            return Ok(());
        }
        match self.states.refusal(task.job_id, task.task_id, task.attempt) {
            Some(Halt::Return(reason)) => {
                tracing::info!(?reason, "task handed back");
                reporter.send(&returned(reason)).await?;
                settle(delivery, Settle::Ack).await;
                return Ok(());
            }
            Some(Halt::Abandon) => {
                tracing::info!("task attempt abandoned; acknowledged without results");
                settle(delivery, Settle::Ack).await;
                return Ok(());
            }
            None => {}
        }
        reporter
            .send(&WorkerEvent::TaskStarted {
                task_id: task.task_id,
                attempt: task.attempt,
                worker,
                redelivered: delivery.redelivered,
            })
            .await?;
        self.runner.activity.start(task.task_id, task.attempt);
        let cancel = self.states.begin(task.job_id, task.task_id, task.attempt);
        let outcome = self.runner.execute(&task, &cancel, abort).await;
        let halt = self.states.end();
        self.runner.activity.finish();

        let (event, how) = match outcome {
            TaskOutcome::Done { backend } => {
                tracing::info!(device = %backend, "task done");
                let done = WorkerEvent::TaskDone {
                    task_id: task.task_id,
                    attempt: task.attempt,
                    worker,
                };
                (done, Settle::Ack)
            }
            TaskOutcome::Failed { error, log_tail } => {
                tracing::warn!(%error, "task failed");
                let failed = WorkerEvent::TaskFailed(TaskFailed {
                    task_id: task.task_id,
                    attempt: task.attempt,
                    worker,
                    error,
                    log_tail,
                });
                (failed, Settle::Ack)
            }
            TaskOutcome::Cancelled => match halt {
                Some(Halt::Abandon) => {
                    tracing::info!("task attempt abandoned; acknowledged without results");
                    settle(delivery, Settle::Ack).await;
                    return Ok(());
                }
                Some(Halt::Return(reason)) => {
                    tracing::info!(?reason, "task stopped and handed back");
                    (returned(reason), Settle::Ack)
                }
                None => (returned(protocol::ReturnReason::JobCancelled), Settle::Ack),
            },
            TaskOutcome::Interrupted => {
                tracing::info!("shutdown grace over; task goes back to the queue");
                (
                    returned(protocol::ReturnReason::ShuttingDown),
                    Settle::Requeue,
                )
            }
        };
        if let Err(error) = reporter.send(&event).await {
            // Unreported results: let the queue deliver the task again.
            settle(delivery, Settle::Requeue).await;
            return Err(error);
        }
        settle(delivery, how).await;
        Ok(())
    }
}

/// How a delivery is settled.
#[derive(Debug, Clone, Copy)]
enum Settle {
    /// Acknowledge: the task is finished with.
    Ack,
    /// Negatively acknowledge with requeue: deliver it again.
    Requeue,
    /// Negatively acknowledge without requeue: drop it.
    Drop,
}

/// Settle a delivery. A failure is logged, not fatal: the broker then
/// delivers the task again (the coordinator deduplicates results by task and
/// attempt), and a broken connection surfaces at the next `next()`.
async fn settle(delivery: Delivery, how: Settle) {
    let settled = match how {
        Settle::Ack => delivery.ack().await,
        Settle::Requeue => delivery.nack(true).await,
        Settle::Drop => delivery.nack(false).await,
    };
    if let Err(error) = settled {
        tracing::warn!(%error, ?how, "the task delivery could not be settled; the queue will deliver it again");
    }
}
