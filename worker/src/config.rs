//! The worker's configuration file.
//!
//! ```toml
//! name = "render-07"
//! owner = "studio-a"
//! region = "eu-west"
//! node_class = "cheap"
//! blender = "/usr/bin/blender"
//! work_dir = "/var/lib/renderfarm/worker"
//! heartbeat_secs = 5
//! shutdown_grace_secs = 30
//!
//! [cinema4d]                      # when the machine has Cinema 4D
//! path = "/opt/maxon/cinema4d/2024/bin/Commandline"
//!
//! [octane]                        # Octane Standalone
//! path = "/opt/otoy/octane/octane"
//! version = "2024.1.2"            # optional: probed when absent
//!
//! [queue]
//! kind = "rabbitmq"
//! url = "amqp://guest:guest@127.0.0.1:5672/%2f"
//! ```
//!
//! There is no store section: a worker holds no store credentials. It gets a
//! short-lived URL from the coordinator for each scene it downloads and each
//! frame it uploads.

use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::WorkerId;
use queue::QueueConfig;
use serde::{Deserialize, Serialize};

use crate::error::WorkerError;
#[cfg(feature = "tamper")]
use crate::tamper::Tamper;

/// Name of the file in `work_dir` that keeps a generated worker id.
pub const WORKER_ID_FILE: &str = "worker-id";

/// Everything a worker needs to know; every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// Stable worker id (a UUID). An enrolled worker's comes from its
    /// enrollment (`work_dir/identity.json`); a worker on an embedded queue
    /// of its own generates one on first start and keeps it in
    /// `work_dir/worker-id`.
    #[serde(default)]
    pub id: Option<WorkerId>,
    /// Human name shown in the UI, unique per owner; defaults to the host name.
    #[serde(default = "default_name")]
    pub name: String,
    /// Who operates the machine. An enrolled worker's owner is its
    /// enrollment's (the coordinator ignores what a worker says).
    #[serde(default = "default_owner")]
    pub owner: String,
    /// Region of the machine (`eu-west`), matched against jobs' region constraints.
    #[serde(default = "default_region")]
    pub region: String,
    /// Node class chosen by the operator (`fast`, `cheap`), matched against jobs.
    #[serde(default = "default_node_class")]
    pub node_class: String,
    /// The Blender executable, a path or a name looked up on `PATH`. A
    /// worker with another renderer configured runs without Blender when
    /// this one is not there.
    #[serde(default = "default_blender")]
    pub blender: PathBuf,
    /// Cinema 4D's command-line renderer (`Commandline`), when installed.
    #[serde(default)]
    pub cinema4d: Option<RendererInstall>,
    /// OctaneRender Standalone (`octane`), when installed.
    #[serde(default)]
    pub octane: Option<RendererInstall>,
    /// OctaneRender for Blender: OTOY's Blender build with Octane, when
    /// installed; it renders `octane` jobs of `.blend` scenes.
    #[serde(default)]
    pub octane_blender: Option<RendererInstall>,
    /// Render threads per Blender process (`blender -t`); absent means every
    /// core. Set it when several workers share one machine.
    #[serde(default)]
    pub render_threads: Option<u32>,
    /// Pin the worker to one GPU, by its CUDA index (`0` is the first
    /// device CUDA lists): only that GPU is announced, and Blender sees only
    /// it (`CUDA_VISIBLE_DEVICES` set to its UUID). Absent means every GPU.
    /// A GPU that is not there stops the worker at start.
    #[serde(default)]
    pub gpu: Option<u32>,
    /// Folder for the worker's own files: its id and per-task working folders.
    #[serde(default = "default_work_dir")]
    pub work_dir: PathBuf,
    /// Folder of downloaded scenes, cached by hash; `work_dir/scenes` when absent.
    /// Several workers may share one.
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// Seconds between heartbeats on the results queue.
    #[serde(default = "default_heartbeat_secs")]
    pub heartbeat_secs: u64,
    /// Seconds a task may go on after a shutdown request before Blender is killed
    /// and the task goes back to the queue.
    #[serde(default = "default_shutdown_grace_secs")]
    pub shutdown_grace_secs: u64,
    /// The task queue to connect to.
    #[serde(default)]
    pub queue: QueueConfig,
    /// Seconds to wait for the coordinator's answer to a storage grant
    /// request (the worker holds no store credentials: every scene download
    /// and frame upload goes through a short-lived grant).
    #[serde(default = "default_grant_wait_secs")]
    pub grant_wait_secs: u64,
    /// Test only: deliver deliberately wrong frames (a cheating worker for the
    /// parity tests). Never read from the file; only `worker run --tamper
    /// <MODE> --i-am-a-test-cheater` or code embedding a worker sets it.
    #[cfg(feature = "tamper")]
    #[serde(skip)]
    pub tamper: Option<Tamper>,
}

/// A renderer installed on the machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RendererInstall {
    /// The executable, a path or a name looked up on `PATH`.
    pub path: PathBuf,
    /// Its version, for an installation whose version probing cannot read;
    /// probed at start when absent. The worker announces it, and jobs that
    /// ask for versions are routed by it.
    #[serde(default)]
    pub version: Option<String>,
}

impl RendererInstall {
    /// An installation at `path` whose version is probed.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            version: None,
        }
    }
}

/// The host name.
fn default_name() -> String {
    crate::probe::hostname()
}

/// `local`.
fn default_owner() -> String {
    "local".to_owned()
}

/// `local`.
fn default_region() -> String {
    "local".to_owned()
}

/// `standard`.
fn default_node_class() -> String {
    "standard".to_owned()
}

/// `blender`, found on `PATH`.
fn default_blender() -> PathBuf {
    PathBuf::from("blender")
}

/// `/var/lib/renderfarm/worker`.
fn default_work_dir() -> PathBuf {
    PathBuf::from("/var/lib/renderfarm/worker")
}

/// Five seconds.
fn default_heartbeat_secs() -> u64 {
    5
}

/// Thirty seconds.
fn default_shutdown_grace_secs() -> u64 {
    30
}

/// Two minutes.
fn default_grant_wait_secs() -> u64 {
    120
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            id: None,
            name: default_name(),
            owner: default_owner(),
            region: default_region(),
            node_class: default_node_class(),
            blender: default_blender(),
            cinema4d: None,
            octane: None,
            octane_blender: None,
            render_threads: None,
            gpu: None,
            work_dir: default_work_dir(),
            cache_dir: None,
            heartbeat_secs: default_heartbeat_secs(),
            shutdown_grace_secs: default_shutdown_grace_secs(),
            queue: QueueConfig::default(),
            grant_wait_secs: default_grant_wait_secs(),
            #[cfg(feature = "tamper")]
            tamper: None,
        }
    }
}

impl WorkerConfig {
    /// Read a TOML configuration file.
    pub fn from_file(path: &Path) -> Result<Self, WorkerError> {
        let text = std::fs::read_to_string(path).map_err(|source| WorkerError::ConfigRead {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| WorkerError::ConfigParse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// The scene cache folder.
    pub fn scene_cache_dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| self.work_dir.join("scenes"))
    }

    /// The folder per-task working folders are made in.
    pub fn tasks_dir(&self) -> PathBuf {
        self.work_dir.join("tasks")
    }

    /// Time between heartbeats (at least one second).
    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_secs(self.heartbeat_secs.max(1))
    }

    /// How long to wait for a storage grant (at least one second).
    pub fn grant_wait(&self) -> Duration {
        Duration::from_secs(self.grant_wait_secs.max(1))
    }

    /// How long a running task may go on after shutdown is requested.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// The configured id, or the one persisted in `work_dir`, or a new one
    /// (then persisted). Creates `work_dir`.
    pub fn resolve_id(&self) -> Result<WorkerId, WorkerError> {
        if let Some(id) = self.id {
            return Ok(id);
        }
        std::fs::create_dir_all(&self.work_dir).map_err(WorkerError::io(format!(
            "cannot create the work folder {}",
            self.work_dir.display()
        )))?;
        let path = self.work_dir.join(WORKER_ID_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => text
                .trim()
                .parse()
                .map_err(|e: uuid::Error| WorkerError::BadWorkerId {
                    path: path.clone(),
                    reason: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let id = WorkerId::new();
                let partial = path.with_extension("partial");
                std::fs::write(&partial, format!("{id}\n"))
                    .and_then(|()| std::fs::rename(&partial, &path))
                    .map_err(WorkerError::io(format!(
                        "cannot save the worker id in {}",
                        path.display()
                    )))?;
                Ok(id)
            }
            Err(e) => Err(WorkerError::io(format!("cannot read {}", path.display()))(
                e,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let config: WorkerConfig = toml::from_str("").unwrap();
        assert_eq!(config, WorkerConfig::default());
        assert_eq!(config.heartbeat_secs, 5);
        assert_eq!(config.gpu, None);
        assert_eq!(config.shutdown_grace_secs, 30);
        assert_eq!(config.blender, PathBuf::from("blender"));
        assert_eq!(
            config.scene_cache_dir(),
            PathBuf::from("/var/lib/renderfarm/worker/scenes")
        );
    }

    #[test]
    fn reads_every_section() {
        let config: WorkerConfig = toml::from_str(
            r#"
            id = "0190a1b2-0000-7000-8000-000000000002"
            name = "render-07"
            region = "eu-west"
            node_class = "cheap"
            cache_dir = "/srv/scenes"
            heartbeat_secs = 2
            gpu = 1
            [queue]
            kind = "rabbitmq"
            url = "amqp://farm:secret@queue:5672/%2f"
            "#,
        )
        .unwrap();
        assert_eq!(config.name, "render-07");
        assert_eq!(config.scene_cache_dir(), PathBuf::from("/srv/scenes"));
        assert!(matches!(config.queue, QueueConfig::RabbitMq { .. }));
        assert_eq!(config.heartbeat_interval(), Duration::from_secs(2));
        assert_eq!(config.gpu, Some(1));
    }

    #[test]
    fn the_shipped_example_is_a_valid_config() {
        let config: WorkerConfig = toml::from_str(include_str!("../worker.example.toml")).unwrap();
        assert_eq!(config.name, "render-07");
        assert!(matches!(config.queue, QueueConfig::RabbitMq { .. }));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error = toml::from_str::<WorkerConfig>("heartbeat = 5").unwrap_err();
        assert!(error.to_string().contains("heartbeat"), "{error}");
        let error = toml::from_str::<WorkerConfig>("[store]\nurl = \"s3://renders\"").unwrap_err();
        assert!(
            error.to_string().contains("store"),
            "a worker holds no store credentials: {error}"
        );
    }

    #[test]
    #[cfg(feature = "tamper")]
    fn tampering_cannot_be_set_from_the_file() {
        let error = toml::from_str::<WorkerConfig>("tamper = \"black\"").unwrap_err();
        assert!(error.to_string().contains("tamper"), "{error}");
        assert_eq!(WorkerConfig::default().tamper, None);
    }

    #[test]
    fn a_generated_id_is_kept_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let config = WorkerConfig {
            work_dir: dir.path().join("work"),
            ..WorkerConfig::default()
        };
        let first = config.resolve_id().unwrap();
        assert_eq!(config.resolve_id().unwrap(), first);
        std::fs::write(dir.path().join("work").join(WORKER_ID_FILE), "garbage").unwrap();
        assert!(matches!(
            config.resolve_id(),
            Err(WorkerError::BadWorkerId { .. })
        ));
    }
}
