//! A farm in this process: a coordinator on the embedded queue and a
//! local-folder store, serving its API on a local port, and workers that
//! run real Blender, each enrolled as another provider's machine.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use coordinator::auth::Token;
use coordinator::config::Config;
use coordinator::db::{Db, EnrollmentTerms};
use queue::QueueConfig;
use storage::StoreConfig;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::DemoError;

/// How long the workers may take to come online.
const WORKERS_START: Duration = Duration::from_secs(60);

/// What the local farm is made of.
#[derive(Debug, Clone)]
pub struct LocalFarmSpec {
    /// Folder for the database, queue, store and worker files.
    pub dir: PathBuf,
    /// Number of workers.
    pub workers: usize,
    /// The Blender they run.
    pub blender: PathBuf,
    /// Address for the API (port 0 picks a free one).
    pub listen: SocketAddr,
    /// How the last worker cheats, if it does.
    #[cfg(feature = "tamper")]
    pub tamper: Option<worker::Tamper>,
}

/// A running farm; [`LocalFarm::stop`] stops it.
pub struct LocalFarm {
    /// The API's base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    /// The coordinator's admin token.
    pub admin_token: Token,
    /// Where the store keeps its objects.
    pub store: PathBuf,
    stop: watch::Sender<bool>,
    server: JoinHandle<Result<(), coordinator::Error>>,
    workers: Vec<JoinHandle<Result<(), worker::WorkerError>>>,
}

/// Completes once `stop` says true.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// `error` as a [`DemoError::Start`].
fn start_error(error: impl std::fmt::Display) -> DemoError {
    DemoError::Start(error.to_string())
}

impl LocalFarm {
    /// Start the coordinator and the workers and wait until every worker
    /// is online.
    pub async fn start(spec: &LocalFarmSpec) -> Result<Self, DemoError> {
        let admin_token = Token::generate().map_err(start_error)?;
        let store = spec.dir.join("store");
        let mut config = Config {
            listen: spec.listen,
            database: spec.dir.join("coordinator.sqlite"),
            queue: QueueConfig::Embedded {
                path: spec.dir.join("queue.sqlite"),
            },
            store: StoreConfig::local(&store),
            ..Config::default()
        };
        config.auth.admin_token = Some(admin_token.clone());
        let broker = queue::connect(&config.queue).await.map_err(start_error)?;
        let storage = storage::open_granting(&config.store, None).map_err(start_error)?;
        let db = Db::open(&config.database).map_err(start_error)?;
        let farm = coordinator::server::open_with(config.clone(), db, broker, storage)
            .await
            .map_err(start_error)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| DemoError::Listen(config.listen, e))?;
        let url = format!(
            "http://{}",
            listener
                .local_addr()
                .map_err(|e| DemoError::Listen(config.listen, e))?
        );
        let (stop, stop_rx) = watch::channel(false);
        let server = tokio::spawn(coordinator::server::run(
            listener,
            farm.clone(),
            stopped(stop_rx.clone()),
        ));
        let mut local = Self {
            url,
            admin_token,
            store,
            stop,
            server,
            workers: Vec::new(),
        };
        if let Err(error) = local.start_workers(spec, &farm, &config).await {
            let _ = local.stop().await;
            return Err(error);
        }
        if let Err(error) = wait_online(&farm, spec.workers).await {
            let _ = local.stop().await;
            return Err(error);
        }
        Ok(local)
    }

    /// Enroll and start `spec.workers` workers. They share this machine's
    /// cores instead of each starting a Blender that uses all of them.
    async fn start_workers(
        &mut self,
        spec: &LocalFarmSpec,
        farm: &coordinator::farm::Farm,
        config: &Config,
    ) -> Result<(), DemoError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let render_threads = (cores / spec.workers).max(1) as u32;
        for n in 1..=spec.workers {
            // Each worker stands for another provider, so parity copies
            // (which always go to another owner) have somewhere to go.
            let owner = format!("demo-provider-{n}");
            let name = format!("demo-worker-{n}");
            let terms = EnrollmentTerms {
                owner: owner.clone(),
                region: "local".into(),
                node_classes: vec!["standard".into()],
                device_classes: vec!["cpu".into()],
            };
            let token = farm
                .issue_enrollment(terms, Some(1), None, "demo".into())
                .await
                .map_err(start_error)?;
            let enrolled = farm.enroll(&token, &name).await.map_err(start_error)?;
            let queue::Granted::InProcess(broker) = enrolled.queue else {
                return Err(start_error("the demo's workers need the embedded queue"));
            };
            let worker_config = worker::WorkerConfig {
                id: Some(enrolled.worker.id),
                name,
                owner,
                blender: spec.blender.clone(),
                render_threads: Some(render_threads),
                work_dir: spec.dir.join(format!("worker-{n}")),
                cache_dir: Some(spec.dir.join("scene-cache")),
                heartbeat_secs: 2,
                queue: config.queue.clone(),
                #[cfg(feature = "tamper")]
                tamper: spec.tamper.filter(|_| n == spec.workers),
                ..worker::WorkerConfig::default()
            };
            self.workers.push(tokio::spawn(worker::run(
                worker_config,
                broker,
                stopped(self.stop.subscribe()),
            )));
        }
        Ok(())
    }

    /// Stop the workers (each finishes or hands back its task) and then the
    /// coordinator.
    pub async fn stop(self) -> Result<(), DemoError> {
        let _ = self.stop.send(true);
        let mut first_error = None;
        for worker in self.workers {
            let outcome = match worker.await {
                Ok(result) => result.map_err(|e| DemoError::Worker(e.to_string())),
                Err(panic) => Err(DemoError::Worker(panic.to_string())),
            };
            if let Err(error) = outcome {
                first_error.get_or_insert(error);
            }
        }
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                first_error.get_or_insert(DemoError::Coordinator(error.to_string()));
            }
            Err(panic) => {
                first_error.get_or_insert(DemoError::Coordinator(panic.to_string()));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The folder of job `job`'s EXRs.
    pub fn renders(&self, job: protocol::JobId) -> PathBuf {
        self.store.join("renders").join(job.to_string())
    }

    /// The store path of an object key.
    pub fn object(&self, key: &str) -> PathBuf {
        Path::new(&self.store).join(key)
    }
}

/// Wait until `count` workers have sent a heartbeat, so the measured time
/// is the farm's, not the workers' start-up.
async fn wait_online(farm: &coordinator::farm::Farm, count: usize) -> Result<(), DemoError> {
    let deadline = Instant::now() + WORKERS_START;
    loop {
        let workers = farm
            .db
            .call(|db| db.list_workers())
            .await
            .map_err(start_error)?;
        let online = workers
            .iter()
            .filter(|w| w.state == coordinator::state::WorkerState::Online)
            .count();
        if online >= count {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(DemoError::WorkersSilent {
                online,
                count,
                seconds: WORKERS_START.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
