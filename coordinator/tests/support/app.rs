//! `TestApp`: the real coordinator on `127.0.0.1:0`, and real worker
//! processes.
//!
//! The app's `http` client sends an admin token with every request, so tests
//! that are not about access see the whole API; `client_as`, `anonymous`,
//! `submitter` and `provider` are for the tests that are.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coordinator::auth::Token;
use coordinator::config::Config;
use coordinator::model::{JobDetail, JobSummary};
use protocol::JobId;
use serde_json::Value;
use tokio::sync::watch;

/// A running coordinator.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub api: String,
    /// HTTP client sending the admin token.
    pub http: reqwest::Client,
    /// The admin token the app was started with.
    pub admin_token: Token,
    /// The configuration it runs with (reuse it to restart on the same state).
    pub config: Config,
    /// The queue it uses (in-process workers share it in embedded mode).
    pub broker: Arc<dyn queue::Broker>,
    /// The object store it uses.
    pub store: Arc<dyn object_store::ObjectStore>,
    /// The farm itself (to enroll in-process workers).
    pub farm: coordinator::farm::Farm,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<Result<(), coordinator::Error>>,
}

/// A configuration for tests: files under `dir`, quick watchdog.
pub fn test_config(dir: &Path, queue: queue::QueueConfig, store: storage::StoreConfig) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        database: dir.join("coordinator.sqlite"),
        queue,
        store,
        ..Config::default()
    };
    config.watchdog.worker_timeout_secs = 8;
    config.watchdog.check_interval_secs = 1;
    config.jobs.max_upload_bytes = 16 << 20;
    config.jobs.max_frames_per_job = 10_000;
    // Tests that are not about verification render each frame once; the
    // parity tests ask for their rate per job.
    config.verification.default_parity_percent = 0.0;
    config
}

/// A configuration on the embedded queue and a local-folder store under `dir`.
pub fn local_config(dir: &Path) -> Config {
    let queue = queue::QueueConfig::Embedded {
        path: dir.join("queue.sqlite"),
    };
    test_config(dir, queue, storage::StoreConfig::local(&dir.join("store")))
}

/// Resolve a shutdown future from a watch flag.
pub async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

impl TestApp {
    /// Start a coordinator with `config`, with a random admin token unless
    /// the config names one.
    pub async fn start(mut config: Config) -> Self {
        if config.auth.admin_token.is_none() {
            config.auth.admin_token = Some(Token::generate().expect("random token"));
        }
        let farm = coordinator::server::open(config.clone())
            .await
            .expect("coordinator opens");
        Self::start_with(config, farm).await
    }

    /// Start a coordinator on a farm assembled by the caller; its database
    /// gets the config's admin token, or a random one.
    pub async fn start_with(config: Config, farm: coordinator::farm::Farm) -> Self {
        let admin_token = match &config.auth.admin_token {
            Some(token) => token.clone(),
            None => Token::generate().expect("random token"),
        };
        farm.db
            .ensure_admin_token(&admin_token)
            .expect("admin token stored");
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .expect("bind");
        let api = format!("http://{}", listener.local_addr().expect("address"));
        // Grants signed before the server task first runs point here too.
        farm.storage
            .grants
            .serve_at(&format!("{api}/").parse().expect("a URL"));
        let (broker, store) = (farm.broker.clone(), farm.store.clone());
        let (stop, rx) = watch::channel(false);
        let server = tokio::spawn(coordinator::server::run(
            listener,
            farm.clone(),
            stopped(rx),
        ));
        Self {
            api,
            http: bearer_client(admin_token.expose()),
            admin_token,
            config,
            broker,
            store,
            farm,
            stop,
            server,
        }
    }

    /// Shut the coordinator down gracefully.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.server
            .await
            .expect("server task")
            .expect("server stops cleanly");
    }

    /// A receiver that turns true when the app stops (for in-process workers).
    pub fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// An enrollment token for one worker of `owner` (cpu, this machine's
    /// region), issued by the farm as a provider's would be.
    pub async fn enrollment_token(&self, owner: &str) -> Token {
        let terms = coordinator::db::EnrollmentTerms {
            owner: owner.into(),
            region: "local".into(),
            node_classes: vec!["standard".into()],
            device_classes: vec!["cpu".into()],
        };
        self.farm
            .issue_enrollment(terms, Some(1), None, "test".into())
            .await
            .expect("enrollment token")
    }

    /// Run a worker inside this process, enrolled (owner `owner-<name>`)
    /// with an identity bound to it on the app's own queue; it stops with
    /// the app.
    pub fn spawn_in_process_worker(
        &self,
        name: &str,
        dir: &Path,
    ) -> tokio::task::JoinHandle<Result<(), worker::WorkerError>> {
        self.spawn_in_process_worker_with(name, dir, None)
    }

    /// [`TestApp::spawn_in_process_worker`], cheating as `tamper` says.
    pub fn spawn_in_process_worker_with(
        &self,
        name: &str,
        dir: &Path,
        tamper: Option<worker::Tamper>,
    ) -> tokio::task::JoinHandle<Result<(), worker::WorkerError>> {
        self.spawn_in_process_worker_in(name, dir, tamper, "local")
    }

    /// [`TestApp::spawn_in_process_worker_with`], enrolled in `region`.
    pub fn spawn_in_process_worker_in(
        &self,
        name: &str,
        dir: &Path,
        tamper: Option<worker::Tamper>,
        region: &str,
    ) -> tokio::task::JoinHandle<Result<(), worker::WorkerError>> {
        self.spawn_in_process_worker_of_class(name, dir, tamper, region, "standard")
    }

    /// [`TestApp::spawn_in_process_worker_in`], enrolled in node class
    /// `node_class` (which must be defined).
    pub fn spawn_in_process_worker_of_class(
        &self,
        name: &str,
        dir: &Path,
        tamper: Option<worker::Tamper>,
        region: &str,
        node_class: &str,
    ) -> tokio::task::JoinHandle<Result<(), worker::WorkerError>> {
        let app_farm = self.farm.clone();
        let mut config = worker::WorkerConfig {
            name: name.into(),
            work_dir: dir.join(name),
            heartbeat_secs: 1,
            queue: self.config.queue.clone(),
            tamper,
            ..worker::WorkerConfig::default()
        };
        let stop = stopped(self.stop_signal());
        let owner = format!("owner-{name}");
        let name = name.to_owned();
        let (region, node_class) = (region.to_owned(), node_class.to_owned());
        tokio::spawn(async move {
            let terms = coordinator::db::EnrollmentTerms {
                owner,
                region,
                node_classes: vec![node_class],
                device_classes: vec!["cpu".into()],
            };
            let token = app_farm
                .issue_enrollment(terms, Some(1), None, "test".into())
                .await
                .expect("enrollment token");
            let enrolled = app_farm.enroll(&token, &name).await.expect("enrolled");
            let queue::Granted::InProcess(broker) = enrolled.queue else {
                panic!("in-process workers run on the embedded queue");
            };
            config.id = Some(enrolled.worker.id);
            config.owner = enrolled.worker.terms.owner;
            worker::run(config, broker, stop).await
        })
    }

    /// Define node class `name` as `body` says (`{"device": "cpu"}`), as an
    /// admin through the API.
    pub async fn define_class(&self, name: &str, body: Value) -> Value {
        let response = self
            .http
            .put(format!("{}/api/v1/node-classes/{name}", self.api))
            .json(&body)
            .send()
            .await
            .expect("class sent");
        assert_eq!(
            response.status(),
            reqwest::StatusCode::OK,
            "class {name} defined"
        );
        response.json().await.expect("the class")
    }

    /// Wait until `n` workers are online.
    pub async fn wait_online(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self
            .workers()
            .await
            .iter()
            .filter(|w| w["state"] == "online")
            .count()
            < n
        {
            assert!(Instant::now() < deadline, "{n} workers came online");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// GET the workers.
    pub async fn workers(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/api/v1/workers", self.api))
            .send()
            .await
            .expect("workers fetched")
            .json()
            .await
            .expect("worker list")
    }

    /// POST a control (`pause`, `resume`, `cancel`, `requeue`) to a job.
    pub async fn control(&self, id: JobId, action: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/api/v1/jobs/{id}/{action}", self.api))
            .send()
            .await
            .expect("control sent")
    }

    /// A client that sends `token` (any text) as its bearer token.
    pub fn client_as(&self, token: &str) -> reqwest::Client {
        bearer_client(token)
    }

    /// A client that sends no token.
    pub fn anonymous(&self) -> reqwest::Client {
        reqwest::Client::new()
    }

    /// `POST /api/v1/tokens` as admin; panics unless it is created. Returns
    /// the answer, `token` included.
    pub async fn create_token(&self, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/api/v1/tokens", self.api))
            .json(&body)
            .send()
            .await
            .expect("token request sent");
        assert_eq!(
            response.status(),
            201,
            "token refused: {}",
            response.text().await.unwrap_or_default()
        );
        response.json().await.expect("token answer")
    }

    /// A new submitter token of `tenant`.
    pub async fn submitter(&self, tenant: &str) -> String {
        let answer = self
            .create_token(serde_json::json!({"role": "submitter", "tenant": tenant}))
            .await;
        answer["token"].as_str().expect("token").to_owned()
    }

    /// A new provider token of the workers of `owner`.
    pub async fn provider(&self, owner: &str) -> String {
        let answer = self
            .create_token(serde_json::json!({"role": "provider", "owner": owner}))
            .await;
        answer["token"].as_str().expect("token").to_owned()
    }

    /// Upload a scene file as admin; returns its hash.
    pub async fn upload(&self, path: &Path) -> String {
        self.upload_as(&self.http, path).await
    }

    /// Upload a scene file with `http`'s token; returns its hash.
    pub async fn upload_as(&self, http: &reqwest::Client, path: &Path) -> String {
        let bytes = std::fs::read(path).expect("scene readable");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("file name");
        let response = http
            .post(format!("{}/api/v1/scenes?filename={name}", self.api))
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .expect("upload sent");
        assert!(
            response.status().is_success(),
            "upload refused: {}",
            response.text().await.unwrap_or_default()
        );
        let body: Value = response.json().await.expect("upload answer");
        body["hash"].as_str().expect("hash").to_owned()
    }

    /// POST a job as admin; panics unless it is accepted.
    pub async fn submit(&self, body: Value) -> JobSummary {
        self.submit_as(&self.http, body).await
    }

    /// POST a job with `http`'s token; panics unless it is accepted.
    pub async fn submit_as(&self, http: &reqwest::Client, body: Value) -> JobSummary {
        let response = http
            .post(format!("{}/api/v1/jobs", self.api))
            .json(&body)
            .send()
            .await
            .expect("job sent");
        assert_eq!(
            response.status(),
            201,
            "job refused: {}",
            response.text().await.unwrap_or_default()
        );
        response.json().await.expect("job answer")
    }

    /// GET one job.
    pub async fn job(&self, id: JobId) -> JobDetail {
        self.http
            .get(format!("{}/api/v1/jobs/{id}", self.api))
            .send()
            .await
            .expect("job fetched")
            .error_for_status()
            .expect("job found")
            .json()
            .await
            .expect("job detail")
    }

    /// Wait until the job is in a final state, or `until` says stop waiting.
    pub async fn wait_for(
        &self,
        id: JobId,
        timeout: Duration,
        until: impl Fn(&JobDetail) -> bool,
    ) -> JobDetail {
        let deadline = Instant::now() + timeout;
        loop {
            let job = self.job(id).await;
            if until(&job) {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} did not get there within {timeout:?}: {}",
                serde_json::to_string_pretty(&job).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Wait until a worker is on one of the job's frames.
    pub async fn wait_rendering(&self, id: JobId) -> JobDetail {
        self.wait_for(id, Duration::from_secs(120), |job| {
            job.frame_list
                .iter()
                .any(|f| f.state == coordinator::state::FrameState::Rendering)
        })
        .await
    }

    /// Download an accepted frame as a submitter does: the API's redirect
    /// to a short-lived link, followed.
    pub async fn download(&self, id: JobId, frame: i32) -> Vec<u8> {
        let response = self
            .http
            .get(format!(
                "{}/api/v1/jobs/{id}/frames/{frame}/download",
                self.api
            ))
            .send()
            .await
            .expect("download asked");
        assert!(
            response.status().is_success(),
            "download of frame {frame}: {}",
            response.status()
        );
        response.bytes().await.expect("frame bytes").to_vec()
    }

    /// Wait until the job has ended.
    pub async fn wait_final(&self, id: JobId, timeout: Duration) -> JobDetail {
        self.wait_for(id, timeout, |job| job.job.state.is_final())
            .await
    }
}

/// A client that sends `token` as `Authorization: Bearer <token>`.
fn bearer_client(token: &str) -> reqwest::Client {
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
        .expect("a token fits in a header");
    value.set_sensitive(true);
    reqwest::Client::builder()
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::AUTHORIZATION,
            value,
        )]))
        .build()
        .expect("HTTP client")
}

/// The `worker` binary built next to this test binary.
pub fn worker_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let binary = dir.join("worker");
    assert!(
        binary.exists(),
        "{} is missing: build it first with `cargo build --workspace --bins` (scripts/test.sh does)",
        binary.display()
    );
    binary
}

/// A renderer stand-in built beside the test (`cinema4d-standin`,
/// `octane-standin`, from test-support/renderer-standins).
pub fn standin_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let binary = dir.join(name);
    assert!(
        binary.exists(),
        "{} is missing: build it first with `cargo build --workspace --bins` (scripts/test.sh does)",
        binary.display()
    );
    binary
}

/// A worker running as its own process.
pub struct WorkerProcess {
    child: tokio::process::Child,
    /// Its name.
    pub name: String,
}

impl WorkerProcess {
    /// Start `worker run` with a config file written under `dir`, enrolled
    /// with `app` as a worker of owner `owner-<name>` (on first start; a
    /// restart in the same `dir` keeps its identity).
    pub async fn spawn(app: &TestApp, name: &str, dir: &Path) -> Self {
        Self::spawn_with_args(app, name, dir, &[]).await
    }

    /// [`WorkerProcess::spawn`] with more `worker run` arguments.
    pub async fn spawn_with_args(app: &TestApp, name: &str, dir: &Path, extra: &[&str]) -> Self {
        Self::spawn_configured(app, name, dir, extra, |_| {}).await
    }

    /// [`WorkerProcess::spawn_with_args`] with its config file changed by
    /// `configure` first.
    pub async fn spawn_configured(
        app: &TestApp,
        name: &str,
        dir: &Path,
        extra: &[&str],
        configure: impl FnOnce(&mut worker::WorkerConfig),
    ) -> Self {
        let work_dir = dir.join(name);
        std::fs::create_dir_all(&work_dir).expect("work dir");
        let mut config = worker::WorkerConfig {
            name: name.into(),
            work_dir: work_dir.clone(),
            cache_dir: Some(work_dir.join("scenes")),
            heartbeat_secs: 1,
            shutdown_grace_secs: 5,
            queue: app.config.queue.clone(),
            ..worker::WorkerConfig::default()
        };
        configure(&mut config);
        let path = work_dir.join("worker.toml");
        std::fs::write(&path, toml::to_string(&config).expect("config serialises"))
            .expect("config written");
        let token = app.enrollment_token(&format!("owner-{name}")).await;
        let log = std::fs::File::create(work_dir.join("worker.log")).expect("log file");
        let child = tokio::process::Command::new(worker_binary())
            .args(["run", "--config"])
            .arg(&path)
            .args(["--coordinator", &app.api])
            .env("WORKER_ENROLL_TOKEN", token.expose())
            .args(extra)
            .env("RUST_LOG", "info,lapin=warn")
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("worker starts");
        Self {
            child,
            name: name.into(),
        }
    }

    /// SIGKILL: the process dies at once, mid-render.
    pub async fn kill9(&mut self) {
        self.child.kill().await.expect("kill");
    }

    /// Send a signal to the process.
    pub fn signal(&self, signal: i32) {
        let pid = self.child.id().expect("running") as i32;
        // SAFETY: plain kill(2) on our own child, which has not been reaped.
        unsafe { libc_kill(pid, signal) };
    }

    /// SIGTERM, then wait for a clean exit.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        self.signal(SIGCONT);
        self.signal(SIGTERM);
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("worker exits within 60 s of SIGTERM")
            .expect("exit status")
    }
}

/// Stop the process without closing its connections (a hung worker).
pub const SIGSTOP: i32 = 19;
/// Let a stopped process go on.
pub const SIGCONT: i32 = 18;
/// Ask for a clean shutdown.
pub const SIGTERM: i32 = 15;

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}
