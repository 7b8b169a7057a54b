//! The coordinator's TOML configuration.
//!
//! ```toml
//! listen = "0.0.0.0:8080"
//! database = "/var/lib/renderfarm/coordinator.sqlite"
//!
//! [queue]
//! kind = "rabbitmq"
//! url = "amqp://guest:guest@rabbit.example:5672/%2f"
//!
//! [store]
//! url = "s3://renders"
//! endpoint = "http://minio.example:9000"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use queue::QueueConfig;

use crate::auth::Token;
use crate::money::Money;
use serde::{Deserialize, Serialize};
use storage::StoreConfig;

/// Everything the coordinator needs to run. Every field has a default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP API and web UI listen on.
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// SQLite database file holding jobs, tasks, frames, workers and results.
    #[serde(default = "defaults::database")]
    pub database: PathBuf,
    /// The task queue: RabbitMQ, or the embedded queue for a single machine.
    #[serde(default)]
    pub queue: QueueConfig,
    /// Object storage for scenes and frames.
    #[serde(default)]
    pub store: StoreConfig,
    /// Job limits and defaults.
    #[serde(default)]
    pub jobs: JobLimits,
    /// Worker liveness and retry policy.
    #[serde(default)]
    pub watchdog: WatchdogConfig,
    /// Parity replicas, arbitration and the blocklist.
    #[serde(default)]
    pub verification: VerificationConfig,
    /// Prices per device class and payment escrow.
    #[serde(default)]
    pub billing: BillingConfig,
    /// API tokens.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Short-lived storage URLs for workers and submitters, who hold no
    /// store credentials.
    #[serde(default)]
    pub grants: GrantsConfig,
    /// The benchmark frame workers render to earn a node class that asks
    /// for one.
    #[serde(default)]
    pub class_check: ClassCheckConfig,
    /// Node classes defined when the coordinator starts, by name, unless
    /// already defined (an admin's changes through the API stick).
    #[serde(default = "defaults::node_classes")]
    pub node_classes: std::collections::BTreeMap<String, NodeClassConfig>,
}

/// The benchmark scene of class checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassCheckConfig {
    /// A Blender scene (single file, no external files) stored when the
    /// coordinator starts; unset, no node class may ask for a benchmark.
    #[serde(default)]
    pub scene: Option<PathBuf>,
    /// The frames of it a check draws its one frame from (`1-8`), so a
    /// worker cannot render it ahead of the check.
    #[serde(default = "defaults::class_check_frames")]
    pub frames: String,
    /// A folder of reference renders of the benchmark frames, made on a
    /// machine the farm trusts: one EXR per frame, the frame number the
    /// last digits of its name (`frame_0003.exr`). Set, a benchmark frame
    /// must also look like its reference; unset, checks only time it.
    #[serde(default)]
    pub reference: Option<PathBuf>,
    /// The largest mean HDR-FLIP against the reference a benchmark frame
    /// may have: high enough for another device's sampling noise (two
    /// seeds of the 16-sample sample scene differ by 0.07), low enough for
    /// a frame rendered with fewer samples (0.50 at one sample), of another
    /// frame (0.34) or faked.
    #[serde(default = "defaults::class_check_max_mean_flip")]
    pub max_mean_flip: f64,
}

impl Default for ClassCheckConfig {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

/// A node class as the configuration defines it (`[node_classes.gpu-fast]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeClassConfig {
    /// What its workers render on.
    #[serde(default)]
    pub device: protocol::RenderDevice,
    /// Price per render second of a frame, as a decimal string
    /// (`"0.0004"`); absent, frames are billed at `billing.rates`.
    #[serde(default, with = "crate::money::optional_decimal")]
    pub price_per_second: Option<Money>,
    /// Least a frame costs on it, as a decimal string.
    #[serde(default, with = "crate::money::decimal")]
    pub min_per_frame: Money,
    /// Its speed relative to the other classes (1.0 when absent).
    #[serde(default = "defaults::speed_score")]
    pub speed_score: f64,
    /// Slowest registration benchmark frame, in seconds, that still earns
    /// the class; absent, no benchmark is asked for.
    #[serde(default)]
    pub benchmark_max_secs: Option<f64>,
    /// What it is, for buyers.
    #[serde(default)]
    pub description: String,
}

impl NodeClassConfig {
    /// The class called `name`.
    pub fn to_class(&self, name: &str) -> crate::db::NodeClass {
        crate::db::NodeClass {
            name: name.to_owned(),
            device: self.device,
            price_micros_per_second: self.price_per_second,
            min_micros_per_frame: self.min_per_frame,
            speed_score: self.speed_score,
            benchmark_max_secs: self.benchmark_max_secs,
            description: self.description.clone(),
        }
    }
}

/// How long storage grants last, and where a local-folder store is served.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantsConfig {
    /// The URL workers and submitters reach this coordinator at
    /// (`https://farm.example/`); a local-folder store's grants point there.
    /// Unset, it is `http://` and the address the coordinator listens on.
    /// S3 grants point at the bucket and ignore it.
    #[serde(default)]
    pub public_url: Option<url::Url>,
    /// Lifetime of a worker's grant (its scene to read, a frame to write),
    /// in seconds; a worker asks for each grant just before it uses it.
    #[serde(default = "defaults::worker_grant_secs")]
    pub worker_grant_secs: u64,
    /// Lifetime of a submitter's download link of an accepted frame, in
    /// seconds.
    #[serde(default = "defaults::download_link_secs")]
    pub download_link_secs: u64,
}

impl Default for GrantsConfig {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

/// The environment variable that overrides `auth.admin_token`.
pub const ADMIN_TOKEN_ENV: &str = "FARM_ADMIN_TOKEN";

/// Who may call the API. Tokens live in the database; this only seeds the
/// first admin token.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// An admin token (`rf_<id>_<secret>`, as `coordinator token generate`
    /// prints) that the coordinator stores, as its hash, when it starts, so a
    /// fresh deployment has a first admin. `FARM_ADMIN_TOKEN` overrides it.
    /// Revoking it through the API or `coordinator token revoke` sticks
    /// across restarts.
    #[serde(default)]
    pub admin_token: Option<Token>,
}

impl AuthConfig {
    /// Let `value` (the environment's `FARM_ADMIN_TOKEN`) replace the
    /// configured admin token; unset or empty leaves it as it is.
    pub fn override_admin_token(&mut self, value: Option<&str>) -> Result<(), ConfigError> {
        let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(());
        };
        let token = Token::parse(text).map_err(|error| ConfigError::Env {
            name: ADMIN_TOKEN_ENV,
            message: format!("{error}; make one with `coordinator token generate`"),
        })?;
        self.admin_token = Some(token);
        Ok(())
    }
}

/// How frames are verified by rendering them twice.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationConfig {
    /// Share of frames rendered a second time by another worker, in percent,
    /// when a job does not say (0 turns parity off; 100 replicates every frame).
    #[serde(default = "defaults::parity_percent")]
    pub default_parity_percent: f64,
    /// A worker with fewer consecutive verified frames than this has every
    /// frame replicated (BOINC's adaptive replication); above it, a frame is
    /// replicated with probability max(1 / verified streak, the job's rate).
    #[serde(default = "defaults::trusted_after")]
    pub trusted_after: u32,
    /// Strikes (being outvoted in an arbitration, or delivering a copy that
    /// is not what was reported) that blocklist a worker.
    #[serde(default = "defaults::strikes_to_blocklist")]
    pub strikes_to_blocklist: u32,
    /// Frames the checker examines at once. Each holds its copies decoded
    /// (a 3840x2160 RGBA float copy is about 130 MB), so this bounds the
    /// checker's memory.
    #[serde(default = "defaults::max_concurrent_checks")]
    pub max_concurrent_checks: usize,
}

/// What render time costs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingConfig {
    /// Currency code shown in reports.
    #[serde(default = "defaults::currency")]
    pub currency: String,
    /// Price per hour of render time by device class (`cpu`, `rtx4090`,
    /// `a100`, `h100`, as workers report them), as decimal strings.
    #[serde(default = "defaults::rates")]
    pub rates: std::collections::BTreeMap<String, RatePerHour>,
    /// Price per hour for a device class missing from `rates`.
    #[serde(default = "defaults::default_rate", with = "crate::money::decimal")]
    pub default_rate: Money,
    /// Seconds after a job ends during which its unverified frames may still
    /// be found wrong; workers' pay for them is held (escrow) until then.
    #[serde(default = "defaults::verification_window_secs")]
    pub verification_window_secs: u64,
}

/// An hourly price written as a decimal string in the config (`"0.40"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatePerHour(#[serde(with = "crate::money::decimal")] pub Money);

impl BillingConfig {
    /// The hourly price of a device class.
    pub fn rate(&self, class: &str) -> Money {
        self.rates
            .get(class)
            .map_or(self.default_rate, |rate| rate.0)
    }
}

/// Limits on what users may submit, and defaults for what they leave out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobLimits {
    /// Largest scene upload accepted, in bytes.
    #[serde(default = "defaults::max_upload_bytes")]
    pub max_upload_bytes: u64,
    /// Most files in one scene bundle.
    #[serde(default = "defaults::max_bundle_files")]
    pub max_bundle_files: usize,
    /// Largest scene bundle, all its files together, in bytes (each file is
    /// limited by `max_upload_bytes`).
    #[serde(default = "defaults::max_bundle_bytes")]
    pub max_bundle_bytes: u64,
    /// Most frames one job may have.
    #[serde(default = "defaults::max_frames_per_job")]
    pub max_frames_per_job: usize,
    /// Frames per task when a job does not say.
    #[serde(default = "defaults::chunk_size")]
    pub default_chunk_size: u32,
    /// Render time limit per task when a job does not say, in seconds.
    #[serde(default = "defaults::task_timeout_secs")]
    pub default_task_timeout_secs: u64,
}

/// When a worker counts as lost, and how often a task is retried.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchdogConfig {
    /// A worker silent (no heartbeat, no result) for this long is marked lost
    /// and its task goes back to the queue, in seconds.
    #[serde(default = "defaults::worker_timeout_secs")]
    pub worker_timeout_secs: u64,
    /// How often the watchdog looks, in seconds.
    #[serde(default = "defaults::check_interval_secs")]
    pub check_interval_secs: u64,
    /// A task that failed on this many different workers fails its frames.
    #[serde(default = "defaults::max_failures")]
    pub max_failures: u32,
}

mod defaults {
    use std::collections::BTreeMap;
    use std::net::SocketAddr;

    use super::{Money, RatePerHour};
    use std::path::PathBuf;

    pub fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8080))
    }
    pub fn database() -> PathBuf {
        PathBuf::from("coordinator.sqlite")
    }
    pub fn max_upload_bytes() -> u64 {
        4 << 30
    }
    pub fn max_bundle_files() -> usize {
        10_000
    }
    pub fn max_bundle_bytes() -> u64 {
        64 << 30
    }
    pub fn max_frames_per_job() -> usize {
        1_000_000
    }
    pub fn chunk_size() -> u32 {
        1
    }
    pub fn task_timeout_secs() -> u64 {
        4 * 3600
    }
    pub fn worker_timeout_secs() -> u64 {
        60
    }
    pub fn check_interval_secs() -> u64 {
        5
    }
    pub fn max_failures() -> u32 {
        3
    }
    pub fn parity_percent() -> f64 {
        5.0
    }
    pub fn trusted_after() -> u32 {
        10
    }
    pub fn strikes_to_blocklist() -> u32 {
        2
    }
    pub fn max_concurrent_checks() -> usize {
        2
    }
    pub fn currency() -> String {
        "USD".to_owned()
    }
    pub fn rates() -> BTreeMap<String, RatePerHour> {
        [
            ("cpu", 400_000),
            ("rtx4090", 1_200_000),
            ("a100", 2_500_000),
            ("h100", 4_000_000),
        ]
        .into_iter()
        .map(|(class, micros)| (class.to_owned(), RatePerHour(Money(micros))))
        .collect()
    }
    pub fn node_classes() -> BTreeMap<String, super::NodeClassConfig> {
        let standard = super::NodeClassConfig {
            device: protocol::RenderDevice::Cpu,
            price_per_second: None,
            min_per_frame: Money::ZERO,
            speed_score: speed_score(),
            benchmark_max_secs: None,
            description: "any worker, billed by its device class".to_owned(),
        };
        BTreeMap::from([("standard".to_owned(), standard)])
    }
    pub fn class_check_frames() -> String {
        "1".to_owned()
    }
    pub fn class_check_max_mean_flip() -> f64 {
        0.15
    }
    pub fn speed_score() -> f64 {
        1.0
    }
    pub fn default_rate() -> Money {
        Money(1_000_000)
    }
    pub fn verification_window_secs() -> u64 {
        24 * 3600
    }
    pub fn worker_grant_secs() -> u64 {
        15 * 60
    }
    pub fn download_link_secs() -> u64 {
        5 * 60
    }
}

impl Default for Config {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

impl Default for JobLimits {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

impl Default for WatchdogConfig {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

impl Default for VerificationConfig {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

impl Default for BillingConfig {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this struct.
    #[error("invalid config {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        source: Box<toml::de::Error>,
    },
    /// An environment variable that overrides a setting is invalid.
    #[error("invalid {name}: {message}")]
    Env {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Load a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// Apply the environment's overrides (`FARM_ADMIN_TOKEN`).
    pub fn apply_env(&mut self) -> Result<(), ConfigError> {
        let value = std::env::var(ADMIN_TOKEN_ENV).ok();
        self.auth.override_admin_token(value.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let config: Config = toml::from_str("").unwrap();
        assert_eq!(config.listen.port(), 8080);
        assert_eq!(config.watchdog.max_failures, 3);
        assert_eq!(config.jobs.default_chunk_size, 1);
    }

    #[test]
    fn rates_are_exact_decimals() {
        let config: Config = toml::from_str(
            "[billing]\ndefault_rate = \"2\"\n[billing.rates]\ncpu = \"0.35\"\nrtx4090 = \"1.1\"\n",
        )
        .unwrap();
        assert_eq!(config.billing.rate("cpu"), Money(350_000));
        assert_eq!(config.billing.rate("rtx4090"), Money(1_100_000));
        assert_eq!(config.billing.rate("mi300"), Money(2_000_000));
        assert_eq!(Config::default().billing.rate("h100"), Money(4_000_000));
        let err = toml::from_str::<Config>("[billing.rates]\ncpu = \"0,35\"\n").unwrap_err();
        assert!(err.to_string().contains("decimal"), "{err}");
    }

    #[test]
    fn the_admin_token_is_checked_and_overridable() {
        assert!(Config::default().auth.admin_token.is_none());
        let token = Token::generate().unwrap();
        let mut config: Config =
            toml::from_str(&format!("[auth]\nadmin_token = \"{}\"\n", token.expose())).unwrap();
        assert_eq!(config.auth.admin_token.as_ref(), Some(&token));
        let err = toml::from_str::<Config>("[auth]\nadmin_token = \"hunter2\"\n").unwrap_err();
        assert!(err.to_string().contains("rf_"), "{err}");

        config.auth.override_admin_token(None).unwrap();
        config.auth.override_admin_token(Some("  ")).unwrap();
        assert_eq!(config.auth.admin_token.as_ref(), Some(&token));
        let other = Token::generate().unwrap();
        config
            .auth
            .override_admin_token(Some(other.expose()))
            .unwrap();
        assert_eq!(config.auth.admin_token.as_ref(), Some(&other));
        let err = config
            .auth
            .override_admin_token(Some("hunter2"))
            .unwrap_err();
        assert!(err.to_string().contains(ADMIN_TOKEN_ENV), "{err}");
        assert!(
            !format!("{config:?}").contains(other.expose()),
            "Debug shows no secret"
        );
    }

    #[test]
    fn node_classes_are_seeded_from_decimals() {
        let standard = &Config::default().node_classes["standard"];
        assert_eq!(standard.price_per_second, None);
        let config: Config = toml::from_str(
            "[node_classes.gpu-fast]\ndevice = \"gpu\"\nprice_per_second = \"0.0004\"\n\
             min_per_frame = \"0.01\"\nspeed_score = 4.0\n",
        )
        .unwrap();
        let class = config.node_classes["gpu-fast"].to_class("gpu-fast");
        assert_eq!(class.device, protocol::RenderDevice::Gpu);
        assert_eq!(class.price_micros_per_second, Some(Money(400)));
        assert_eq!(class.min_micros_per_frame, Money(10_000));
        assert_eq!(class.speed_score, 4.0);
        assert!(!config.node_classes.contains_key("standard"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<Config>("listne = \"0.0.0.0:1\"").unwrap_err();
        assert!(err.to_string().contains("listne"), "{err}");
    }
}
