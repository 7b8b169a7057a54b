//! `coordinator`: the render farm's coordinator binary.
//!
//! - `coordinator serve --config coordinator.toml`: run the API, dispatcher,
//!   result consumer and watchdog against the configured queue and store;
//! - `coordinator demo`: the whole farm on this machine (embedded queue, local
//!   folder store, two in-process workers) rendering the sample scene.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use coordinator::config::Config;

/// Command line.
#[derive(Parser)]
#[command(version, about = "Render farm coordinator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Subcommands.
#[derive(Subcommand)]
enum Command {
    /// Run the coordinator.
    Serve {
        /// TOML configuration file; every key has a default.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Render the sample scene on this machine with local workers and print a summary.
    Demo(coordinator::demo::DemoArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,lapin=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve { config } => {
            let config = match config {
                Some(path) => Config::load(&path)?,
                None => Config::default(),
            };
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?;
            let farm = coordinator::server::open(config).await?;
            coordinator::server::run(listener, farm, shutdown_signal()).await?;
        }
        Command::Demo(args) => coordinator::demo::run(args, shutdown_signal()).await?,
    }
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
