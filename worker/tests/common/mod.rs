//! A one-machine farm for the worker's integration tests: the embedded queue,
//! a local-folder store served over HTTP with real grants (the harness
//! answers the worker's grant requests as the coordinator does), the sample
//! scene and a worker running the real loop with real Blender.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use object_store::{ObjectStore, ObjectStoreExt};
use protocol::{
    Control, ExrDepth, GpuInfo, GrantObject, GrantRefused, GrantRequest, JobId, OutputSpec,
    Overrides, RenderDevice, Renderer, SceneHash, SceneRef, StorageGrant, TaskId, TaskMessage,
    WorkerEvent, WorkerId, queues,
};
use queue::{Broker, Consumer, Outgoing, QueueOptions};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use worker::{Tamper, WorkerConfig, WorkerError};

/// How long a test waits for the next event before failing.
const EVENT_TIMEOUT: Duration = Duration::from_secs(180);

/// Whether Blender can run here. In CI (`CI=true`) a missing Blender fails
/// the test; elsewhere the test is skipped with a loud message.
pub fn blender_available() -> bool {
    let found = std::process::Command::new("blender")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !in_ci,
            "Blender is not installed but CI=true: install the `blender` package"
        );
        eprintln!("\n*** SKIPPED: `blender` is not on PATH; install it to run this test ***\n");
    }
    found
}

/// Whether `rabbitmqctl` can reach the local RabbitMQ. In CI a missing
/// RabbitMQ fails the test; elsewhere the test is skipped with a loud message.
pub fn rabbitmq_available() -> bool {
    let found = std::process::Command::new("rabbitmqctl")
        .args(["-q", "status"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !in_ci,
            "RabbitMQ (with rabbitmqctl) is not available but CI=true"
        );
        eprintln!("\n*** SKIPPED: no RabbitMQ reachable with rabbitmqctl ***\n");
    }
    found
}

/// Run `rabbitmqctl` with `args`, asserting it succeeds.
pub fn rabbitmqctl(args: &[&str]) {
    let status = std::process::Command::new("rabbitmqctl")
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("rabbitmqctl runs");
    assert!(status.success(), "rabbitmqctl {args:?} failed");
}

/// A throw-away RabbitMQ virtual host on 127.0.0.1:5672 (guest/guest),
/// deleted when dropped, so a test shares no queue with anything else.
pub struct Vhost {
    /// Its name.
    pub name: String,
}

impl Vhost {
    /// Create a fresh virtual host.
    pub fn create() -> Self {
        let name = format!("worker-test-{}", uuid::Uuid::new_v4().simple());
        rabbitmqctl(&["add_vhost", &name]);
        rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"]);
        Self { name }
    }

    /// A broker connected to it.
    pub async fn broker(&self) -> Arc<dyn Broker> {
        let url = format!("amqp://guest:guest@127.0.0.1:5672/{}", self.name);
        Arc::new(queue::RabbitMq::connect(&url).await.unwrap())
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        rabbitmqctl(&["delete_vhost", &self.name]);
    }
}

/// The checked-in sample scene.
pub fn sample_blend() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/sample.blend")
}

/// A running worker and the queue and store around it.
pub struct Farm {
    /// Temporary folder holding the store and the worker's work folder.
    pub dir: tempfile::TempDir,
    /// The queue.
    pub broker: Arc<dyn Broker>,
    /// The object store.
    pub store: Arc<dyn ObjectStore>,
    /// The worker's id.
    pub worker: WorkerId,
    /// The GPUs the worker announced (none on a machine without a CUDA
    /// driver).
    pub gpus: Vec<GpuInfo>,
    /// Tasks published, by id (grants are for their objects only).
    tasks: Arc<Mutex<HashMap<TaskId, TaskMessage>>>,
    /// The worker's events, but heartbeats and grant requests.
    events: mpsc::UnboundedReceiver<WorkerEvent>,
    /// Reads the results queue, answering grant requests as they come.
    pump: JoinHandle<()>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), WorkerError>>>,
}

impl Farm {
    /// Start a worker with this shutdown grace; `None` when Blender is missing
    /// (outside CI).
    pub async fn start(shutdown_grace_secs: u64) -> Option<Self> {
        if !blender_available() {
            return None;
        }
        let broker: Arc<dyn Broker> = Arc::new(queue::Embedded::in_memory().unwrap());
        Some(Self::start_on(broker, shutdown_grace_secs).await)
    }

    /// Start a cheating worker that tampers with its frames; `None` when
    /// Blender is missing (outside CI).
    pub async fn start_tampering(mode: Tamper) -> Option<Self> {
        if !blender_available() {
            return None;
        }
        let broker: Arc<dyn Broker> = Arc::new(queue::Embedded::in_memory().unwrap());
        Some(Self::start_configured(broker, 30, Some(mode)).await)
    }

    /// Start a worker on `broker` (Blender must be available).
    pub async fn start_on(broker: Arc<dyn Broker>, shutdown_grace_secs: u64) -> Self {
        Self::start_configured(broker, shutdown_grace_secs, None).await
    }

    /// Start a worker on `broker`, tampering with its frames or not (Blender
    /// must be available).
    pub async fn start_configured(
        broker: Arc<dyn Broker>,
        shutdown_grace_secs: u64,
        tamper: Option<Tamper>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let grants = storage::open_granting(
            &storage::StoreConfig::local(&dir.path().join("store")),
            None,
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        grants.grants.serve_at(&base.parse().unwrap());
        let router = grants.router().expect("a local store is served");
        tokio::spawn(async move { axum::serve(listener, router).await });
        let store = Arc::clone(&grants.store);
        let worker = WorkerId::new();
        broker
            .declare(queues::RESULTS, QueueOptions { max_priority: 0 })
            .await
            .unwrap();
        broker
            .declare(
                &queues::tasks(Renderer::Blender),
                QueueOptions {
                    max_priority: queues::MAX_PRIORITY,
                },
            )
            .await
            .unwrap();
        // The coordinator declares a worker's queues when it enrolls it.
        for queue in [queues::worker_tasks(worker), queues::worker_control(worker)] {
            broker
                .declare(&queue, QueueOptions { max_priority: 0 })
                .await
                .unwrap();
        }
        let results = broker
            .consume(&[queues::RESULTS.to_owned()], 64)
            .await
            .unwrap();
        let tasks = Arc::<Mutex<HashMap<TaskId, TaskMessage>>>::default();
        let (events_tx, events) = mpsc::unbounded_channel();
        let grantor = Grantor {
            grants,
            broker: Arc::clone(&broker),
            worker,
            tasks: Arc::clone(&tasks),
            nonces: HashMap::new(),
        };
        let pump = tokio::spawn(grantor.pump(results, events_tx));
        let config = WorkerConfig {
            id: Some(worker),
            name: "test-worker".into(),
            work_dir: dir.path().join("work"),
            heartbeat_secs: 1,
            shutdown_grace_secs,
            tamper,
            ..WorkerConfig::default()
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(worker::run(config, Arc::clone(&broker), async move {
            let _ = stopped.await;
        }));
        let mut farm = Self {
            dir,
            broker,
            store,
            worker,
            gpus: Vec::new(),
            tasks,
            events,
            pump,
            stop: Some(stop),
            handle: Some(handle),
        };
        match farm.next_event().await {
            WorkerEvent::Announce(info) => {
                assert_eq!(info.id, worker);
                assert_eq!(info.renderers[0].renderer, Renderer::Blender);
                assert!(info.renderers[0].version.starts_with(char::is_numeric));
                assert!(info.cpu.cores >= 1);
                farm.gpus = info.gpus;
            }
            other => panic!("expected Announce first, got {other:?}"),
        }
        farm
    }

    /// Put `bytes` in the store as a scene; returns its reference.
    pub async fn upload_scene(&self, bytes: &[u8]) -> SceneRef {
        let hash: SceneHash = blake3::hash(bytes).to_hex().as_str().parse().unwrap();
        self.store
            .put(&storage::scene_key(&hash, "blend"), bytes.to_vec().into())
            .await
            .unwrap();
        SceneRef {
            hash,
            ext: "blend".into(),
        }
    }

    /// Upload the sample scene.
    pub async fn sample_scene(&self) -> SceneRef {
        self.upload_scene(&std::fs::read(sample_blend()).unwrap())
            .await
    }

    /// A task of a new job for `frames` of `scene`.
    pub fn task(&self, scene: &SceneRef, frames: &[i32]) -> TaskMessage {
        TaskMessage {
            task_id: TaskId::new(),
            job_id: JobId::new(),
            attempt: 1,
            renderer: Renderer::Blender,
            scene: scene.clone(),
            bundle: None,
            frames: frames.to_vec(),
            replica: 0,
            output: OutputSpec {
                depth: ExrDepth::Half,
            },
            overrides: Overrides::default(),
            scene_options: protocol::SceneOptions::default(),
            timeout_secs: 300,
            device: RenderDevice::Cpu,
        }
    }

    /// A one-frame task of a new job that renders in well under a second.
    pub fn quick_task(&self, scene: &SceneRef) -> TaskMessage {
        let mut task = self.task(scene, &[1]);
        task.overrides.samples = Some(1);
        task.overrides.resolution = Some([32, 18]);
        task
    }

    /// Publish `task` on the worker's own (directed) queue.
    pub async fn publish_directed(&self, task: &TaskMessage) {
        self.remember(task);
        self.publish_to(
            &queues::worker_tasks(self.worker),
            serde_json::to_vec(task).unwrap(),
        )
        .await;
    }

    /// Send a control message and wait until the worker has taken it.
    pub async fn control_taken(&self, message: &Control) {
        self.control(message).await;
        let queue = queues::worker_control(self.worker);
        while self.broker.ready_count(&queue).await.unwrap() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    /// Publish `task` on the shared Blender queue.
    pub async fn publish(&self, task: &TaskMessage) {
        self.remember(task);
        self.publish_to(
            &queues::tasks(Renderer::Blender),
            serde_json::to_vec(task).unwrap(),
        )
        .await;
    }

    /// Send a control message to the worker.
    pub async fn control(&self, control: &Control) {
        self.publish_to(
            &queues::worker_control(self.worker),
            serde_json::to_vec(control).unwrap(),
        )
        .await;
    }

    async fn publish_to(&self, queue: &str, payload: Vec<u8>) {
        self.broker
            .publish(vec![Outgoing {
                queue: queue.to_owned(),
                payload,
                priority: 0,
            }])
            .await
            .unwrap();
    }

    /// Remember a task so its objects can be granted.
    fn remember(&self, task: &TaskMessage) {
        self.tasks
            .lock()
            .unwrap()
            .insert(task.task_id, task.clone());
    }

    /// The next event other than a heartbeat or a grant request (those are
    /// answered as they come, whether a test reads events or not).
    pub async fn next_event(&mut self) -> WorkerEvent {
        tokio::time::timeout(EVENT_TIMEOUT, self.events.recv())
            .await
            .expect("no worker event in time")
            .expect("the results queue is read")
    }

    /// Events up to and including the one that settles a task
    /// (`TaskDone`, `TaskFailed` or `TaskReturned`).
    pub async fn events_until_settled(&mut self) -> Vec<WorkerEvent> {
        let mut events = Vec::new();
        loop {
            let event = self.next_event().await;
            let settled = matches!(
                event,
                WorkerEvent::TaskDone { .. }
                    | WorkerEvent::TaskFailed(_)
                    | WorkerEvent::TaskReturned(_)
            );
            events.push(event);
            if settled {
                return events;
            }
        }
    }

    /// Ask the worker to stop, and wait for `run` to return.
    pub async fn shutdown(&mut self) -> Result<(), WorkerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let handle = self.handle.take().expect("the worker was already stopped");
        tokio::time::timeout(EVENT_TIMEOUT, handle)
            .await
            .expect("the worker did not stop in time")
            .unwrap()
    }

    /// Command lines of processes whose arguments mention this farm's folder
    /// (Blender processes this worker started and left running).
    pub fn stray_processes(&self) -> Vec<String> {
        let needle = self.dir.path().to_string_lossy().into_owned();
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| {
                let cmdline = std::fs::read(entry.ok()?.path().join("cmdline")).ok()?;
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                cmdline.contains(&needle).then_some(cmdline)
            })
            .collect()
    }
}

/// The coordinator's part in a worker's storage grants.
struct Grantor {
    grants: storage::GrantingStore,
    broker: Arc<dyn Broker>,
    worker: WorkerId,
    tasks: Arc<Mutex<HashMap<TaskId, TaskMessage>>>,
    nonces: HashMap<(TaskId, u32), storage::KeyNonce>,
}

impl Grantor {
    /// Read the results queue: answer grant requests, drop heartbeats, pass
    /// every other event on.
    async fn pump(
        mut self,
        mut results: Box<dyn Consumer>,
        events: mpsc::UnboundedSender<WorkerEvent>,
    ) {
        while let Ok(delivery) = results.next().await {
            let event: WorkerEvent = serde_json::from_slice(&delivery.payload).unwrap();
            delivery.ack().await.unwrap();
            match event {
                WorkerEvent::Heartbeat(_) => {}
                WorkerEvent::GrantRequest(request) => self.answer(request).await,
                event => {
                    if events.send(event).is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Answer a grant request as the coordinator does: a task's scene, or a
    /// frame of it at an upload key of its own per attempt.
    async fn answer(&mut self, request: GrantRequest) {
        let task = self.tasks.lock().unwrap().get(&request.task_id).cloned();
        let nonce = self
            .nonces
            .entry((request.task_id, request.attempt))
            .or_insert_with(storage::KeyNonce::random)
            .clone();
        let order = task.and_then(|task| match &request.object {
            GrantObject::Scene => Some((
                storage::scene_key(&task.scene.hash, &task.scene.ext),
                storage::Access::Read,
            )),
            GrantObject::Frame { frame } => task.frames.contains(frame).then(|| {
                (
                    storage::upload_key(task.job_id, *frame, task.replica, &nonce),
                    storage::Access::Write,
                )
            }),
            GrantObject::Blob { hash } => task
                .bundle
                .as_ref()
                .is_some_and(|bundle| bundle.files.iter().any(|file| file.hash == *hash))
                .then(|| (storage::blob_key(hash), storage::Access::Read)),
        });
        let control = match order {
            Some((key, access)) => {
                let url = self
                    .grants
                    .grants
                    .url(access, &key, Duration::from_secs(600))
                    .await
                    .unwrap();
                Control::Grant(StorageGrant {
                    task_id: request.task_id,
                    attempt: request.attempt,
                    object: request.object.clone(),
                    key: key.to_string(),
                    url: url.to_string(),
                    expires_at_ms: protocol::now_ms() + 600_000,
                })
            }
            None => Control::GrantRefused(GrantRefused {
                task_id: request.task_id,
                attempt: request.attempt,
                object: request.object,
                reason: "not a task of this test".into(),
            }),
        };
        self.broker
            .publish(vec![Outgoing {
                queue: queues::worker_control(self.worker),
                payload: serde_json::to_vec(&control).unwrap(),
                priority: 0,
            }])
            .await
            .unwrap();
    }
}

impl Drop for Farm {
    fn drop(&mut self) {
        if let Some(handle) = &self.handle {
            handle.abort();
        }
        self.pump.abort();
    }
}
