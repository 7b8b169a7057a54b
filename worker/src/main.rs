//! `worker`: run a render node.
//!
//! ```text
//! worker run --coordinator http://farm:8080 --enroll-token rf_… [--name render-07]
//! worker run --config worker.toml            # enrolled before: identity in the work folder
//! ```
//!
//! A worker on RabbitMQ enrolls once with its provider's enrollment token:
//! the coordinator gives it its id and its own broker user, kept in
//! `work_dir/identity.json`. A worker on an embedded queue file of its own
//! (a laptop test) needs no enrollment.
//!
//! Test only, in a build with the `tamper` feature (never a release):
//! `--tamper <MODE> --i-am-a-test-cheater` makes a cheating worker for the
//! coordinator's parity tests (see `worker::tamper`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use queue::QueueConfig;
use tracing_subscriber::EnvFilter;
#[cfg(feature = "tamper")]
use worker::Tamper;
use worker::WorkerConfig;

/// Render farm worker: takes tasks from the queue, renders them with
/// headless Blender and uploads the frames.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
enum Command {
    /// Connect to the queue and render tasks until SIGTERM or Ctrl-C.
    Run(RunArgs),
}

/// `worker run` options; flags override the configuration file.
#[derive(Debug, Args)]
struct RunArgs {
    /// TOML configuration file (every setting has a default without one).
    #[arg(long, short, env = "WORKER_CONFIG")]
    config: Option<PathBuf>,
    /// Human name of this worker.
    #[arg(long)]
    name: Option<String>,
    /// Who operates this machine.
    #[arg(long)]
    owner: Option<String>,
    /// Region of this machine (`eu-west`).
    #[arg(long)]
    region: Option<String>,
    /// Node class (`fast`, `cheap`).
    #[arg(long)]
    node_class: Option<String>,
    /// RabbitMQ URL; selects the RabbitMQ queue.
    #[arg(long, env = "WORKER_QUEUE_URL", conflicts_with = "queue_path")]
    queue_url: Option<String>,
    /// SQLite file of the embedded queue; selects the embedded queue.
    #[arg(long)]
    queue_path: Option<PathBuf>,
    /// Blender executable.
    #[arg(long)]
    blender: Option<PathBuf>,
    /// Cinema 4D's `Commandline` executable.
    #[arg(long)]
    cinema4d: Option<PathBuf>,
    /// Octane Standalone's executable.
    #[arg(long)]
    octane: Option<PathBuf>,
    /// OctaneRender for Blender's executable.
    #[arg(long)]
    octane_blender: Option<PathBuf>,
    /// Work folder (worker id, task folders).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Scene cache folder.
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Seconds between heartbeats.
    #[arg(long)]
    heartbeat_secs: Option<u64>,
    /// Seconds a running task may finish in after a shutdown request.
    #[arg(long)]
    shutdown_grace_secs: Option<u64>,
    /// Pin the worker to one GPU, by CUDA index (`0` is the first): only it
    /// is announced and Blender sees only it. Default: every GPU.
    #[arg(long, value_name = "N")]
    gpu: Option<u32>,
    /// The coordinator to enroll with (`http://farm:8080`).
    #[arg(long, env = "WORKER_COORDINATOR", requires = "enroll_token")]
    coordinator: Option<String>,
    /// The enrollment token from the provider; used once, on first start.
    #[arg(long, env = "WORKER_ENROLL_TOKEN", requires = "coordinator")]
    enroll_token: Option<String>,
    /// TEST ONLY: deliver deliberately wrong frames, to test the parity
    /// checks against a cheater. Needs `--i-am-a-test-cheater`.
    #[cfg(feature = "tamper")]
    #[arg(long, value_enum, requires = "i_am_a_test_cheater")]
    tamper: Option<Tamper>,
    /// Confirms `--tamper` is wanted: this worker is a test cheater.
    #[cfg(feature = "tamper")]
    #[arg(long)]
    i_am_a_test_cheater: bool,
}

impl RunArgs {
    /// The configuration file (or the defaults) with the flags applied.
    fn config(&self) -> anyhow::Result<WorkerConfig> {
        let mut config = match &self.config {
            Some(path) => WorkerConfig::from_file(path)?,
            None => WorkerConfig::default(),
        };
        let set = |target: &mut String, value: &Option<String>| {
            if let Some(value) = value {
                target.clone_from(value);
            }
        };
        set(&mut config.name, &self.name);
        set(&mut config.owner, &self.owner);
        set(&mut config.region, &self.region);
        set(&mut config.node_class, &self.node_class);
        if let Some(url) = &self.queue_url {
            match &mut config.queue {
                QueueConfig::RabbitMq { url: target, .. } => target.clone_from(url),
                QueueConfig::Embedded { .. } => {
                    config.queue = toml::from_str(&format!("kind = \"rabbitmq\"\nurl = {url:?}"))
                        .context("invalid --queue-url")?;
                }
            }
        }
        if let Some(path) = &self.queue_path {
            config.queue = QueueConfig::Embedded { path: path.clone() };
        }
        if let Some(blender) = &self.blender {
            config.blender.clone_from(blender);
        }
        for (flag, install) in [
            (&self.cinema4d, &mut config.cinema4d),
            (&self.octane, &mut config.octane),
            (&self.octane_blender, &mut config.octane_blender),
        ] {
            if let Some(path) = flag {
                *install = Some(worker::config::RendererInstall::at(path.clone()));
            }
        }
        if let Some(work_dir) = &self.work_dir {
            config.work_dir.clone_from(work_dir);
        }
        if let Some(cache_dir) = &self.cache_dir {
            config.cache_dir = Some(cache_dir.clone());
        }
        if let Some(secs) = self.heartbeat_secs {
            config.heartbeat_secs = secs;
        }
        if let Some(secs) = self.shutdown_grace_secs {
            config.shutdown_grace_secs = secs;
        }
        if let Some(gpu) = self.gpu {
            config.gpu = Some(gpu);
        }
        #[cfg(feature = "tamper")]
        {
            config.tamper = self.tamper;
        }
        Ok(config)
    }
}

/// Completes on SIGTERM or SIGINT.
async fn termination() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut sigterm) => {
            tokio::select! {
                _ = sigterm.recv() => tracing::info!("SIGTERM received"),
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the worker");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Take on the identity the coordinator gave when this worker enrolled
/// (`kept`, from the work folder), enrolling now when there is none and
/// `args` carry a token.
async fn identify(
    args: &RunArgs,
    config: &mut WorkerConfig,
    kept: Option<protocol::EnrollResponse>,
) -> anyhow::Result<()> {
    let identity = match kept {
        Some(identity) => identity,
        None => {
            let (Some(coordinator), Some(token)) = (&args.coordinator, &args.enroll_token) else {
                return Err(worker::WorkerError::NotEnrolled {
                    path: worker::enroll::identity_path(&config.work_dir),
                }
                .into());
            };
            let identity = worker::enroll::enroll(coordinator, token, &config.name).await?;
            worker::enroll::save(&config.work_dir, &identity)?;
            tracing::info!(worker = %identity.worker_id, owner = %identity.owner, "enrolled");
            identity
        }
    };
    config.id = Some(identity.worker_id);
    config.owner = identity.owner;
    config.region = identity.region;
    if let Some(class) = identity.node_classes.first() {
        config.node_class.clone_from(class);
    }
    match &mut config.queue {
        QueueConfig::RabbitMq { url, .. } => *url = identity.queue_url,
        QueueConfig::Embedded { .. } => {
            config.queue = toml::from_str(&format!(
                "kind = \"rabbitmq\"\nurl = {:?}",
                identity.queue_url
            ))?;
        }
    }
    Ok(())
}

/// `worker run`: connect to the queue, then run until a signal.
async fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut config = args.config()?;
    // A worker that enrolled before, or is told to enroll now, uses its own
    // broker user; only one on an embedded queue file of its own does not.
    let kept = worker::enroll::load(&config.work_dir)?;
    let owns_queue = matches!(config.queue, QueueConfig::Embedded { .. })
        && args.coordinator.is_none()
        && kept.is_none();
    if !owns_queue {
        identify(&args, &mut config, kept).await?;
    }
    let queue_target = match &config.queue {
        QueueConfig::RabbitMq { url, .. } => format!("RabbitMQ at {}", redact(url)),
        QueueConfig::Embedded { path } => format!("embedded queue {}", path.display()),
    };
    let broker = queue::connect(&config.queue)
        .await
        .with_context(|| format!("cannot connect to the {queue_target}"))?;
    if owns_queue {
        // This process owns the embedded queue's file: nobody else can have
        // declared the queues in it.
        worker::declare_own_queues(&*broker, config.resolve_id()?).await?;
    }
    worker::run(config, broker, termination()).await?;
    Ok(())
}

/// An AMQP URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The error and each cause not already spelled out by the one before.
fn describe(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    let mut previous = text.clone();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !previous.contains(&cause) {
            text.push_str(&format!("\n  caused by: {cause}"));
        }
        previous = cause;
    }
    text
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let result = match Cli::parse().command {
        Command::Run(args) => run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file() {
        let cli = Cli::parse_from([
            "worker",
            "run",
            "--name",
            "render-07",
            "--queue-url",
            "amqp://farm:secret@queue:5672/%2f",
            "--heartbeat-secs",
            "2",
            "--gpu",
            "1",
        ]);
        let Command::Run(args) = cli.command;
        let config = args.config().unwrap();
        assert_eq!(config.name, "render-07");
        assert_eq!(config.heartbeat_secs, 2);
        assert_eq!(config.gpu, Some(1));
        assert!(
            matches!(&config.queue, QueueConfig::RabbitMq { url, .. } if url.contains("queue:5672"))
        );
    }

    #[cfg(feature = "tamper")]
    #[test]
    fn tampering_needs_the_cheater_flag() {
        let error = Cli::try_parse_from(["worker", "run", "--tamper", "black"]).unwrap_err();
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
        assert!(
            error.to_string().contains("--i-am-a-test-cheater"),
            "{error}"
        );

        let cli = Cli::parse_from([
            "worker",
            "run",
            "--tamper",
            "stale",
            "--i-am-a-test-cheater",
        ]);
        let Command::Run(args) = cli.command;
        assert_eq!(args.config().unwrap().tamper, Some(Tamper::Stale));

        let Command::Run(args) = Cli::parse_from(["worker", "run"]).command;
        assert_eq!(args.config().unwrap().tamper, None);
    }

    #[test]
    fn passwords_are_not_logged() {
        assert_eq!(
            redact("amqp://farm:secret@queue:5672/%2f"),
            "amqp://farm:***@queue:5672/%2f"
        );
        assert_eq!(redact("amqp://queue:5672"), "amqp://queue:5672");
    }
}
