//! `coordinator`: the render farm's coordinator binary.
//!
//! - `coordinator serve --config coordinator.toml`: run the API, dispatcher,
//!   result consumer and watchdog against the configured queue and store;
//! - `coordinator token create|list|revoke|generate`: API tokens, in the
//!   database `serve` uses.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use coordinator::auth::{Grant, Role, Token, TokenId, TokenInfo, TokenRequest, format_utc};
use coordinator::config::Config;
use coordinator::db::Db;

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
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `coordinator token …`.
#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it; it is shown only this once.
    Create {
        /// TOML configuration file naming the database; every key has a default.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// `submitter` (needs --tenant), `provider` (needs --owner) or `admin`.
        #[arg(long)]
        role: Role,
        /// The tenant a submitter token acts for.
        #[arg(long)]
        tenant: Option<String>,
        /// The workers' `owner` a provider token acts for.
        #[arg(long)]
        owner: Option<String>,
        /// Who or what will hold the token.
        #[arg(long, default_value = "")]
        label: String,
        /// Days until the token stops working; never when absent.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List tokens: ids, roles, tenants or owners, dates (never secrets).
    List {
        /// TOML configuration file naming the database.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Revoke a token: it stops working at once.
    Revoke {
        /// The token's id (the 12 hex digits after `rf_`).
        id: TokenId,
        /// TOML configuration file naming the database.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Print a new random token without storing it, for `auth.admin_token`
    /// or `FARM_ADMIN_TOKEN`.
    Generate,
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
            let config = load_config(config.as_deref())?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?;
            let farm = coordinator::server::open(config).await?;
            coordinator::server::run(listener, farm, shutdown_signal()).await?;
        }
        Command::Token(command) => token(command)?,
    }
    Ok(())
}

/// The configuration file, or the defaults, with the environment's overrides.
fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    let mut config = match path {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    config.apply_env()?;
    Ok(config)
}

/// The database `serve` would use with this configuration.
fn open_db(config: Option<&Path>) -> anyhow::Result<Db> {
    let config = load_config(config)?;
    Db::open(&config.database)
        .with_context(|| format!("cannot open the database {}", config.database.display()))
}

/// `coordinator token …`.
fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            config,
            role,
            tenant,
            owner,
            label,
            expires_in_days,
        } => {
            let grant = Grant::new(role, tenant.as_deref(), owner.as_deref())?;
            let request = TokenRequest::new(grant, &label, expires_in_days, protocol::now_ms())?;
            let db = open_db(config.as_deref())?;
            let token = Token::generate()?;
            let info = db.insert_token(&token, &request)?;
            eprintln!(
                "Created {} token {}{}. It is shown only this once; send it as `Authorization: Bearer <token>`:",
                info.grant.role(),
                info.id,
                scope(&info)
            );
            println!("{}", token.expose());
        }
        TokenCommand::List { config } => {
            let tokens = open_db(config.as_deref())?.list_tokens()?;
            println!(
                "{:<12}  {:<9}  {:<24}  {:<20}  {:<20}  {:<20}  LABEL",
                "ID", "ROLE", "TENANT / OWNER", "CREATED", "EXPIRES", "REVOKED"
            );
            for info in tokens {
                let of = info
                    .grant
                    .tenant()
                    .map(|t| t.to_string())
                    .or_else(|| info.grant.owner().map(|o| format!("owner {o}")))
                    .unwrap_or_else(|| "-".into());
                let when = |ms: Option<i64>| ms.map_or_else(|| "-".into(), format_utc);
                println!(
                    "{:<12}  {:<9}  {:<24}  {:<20}  {:<20}  {:<20}  {}",
                    info.id,
                    info.grant.role(),
                    of,
                    format_utc(info.created_ms),
                    when(info.expires_ms),
                    when(info.revoked_ms),
                    info.label
                );
            }
        }
        TokenCommand::Revoke { id, config } => {
            let info = open_db(config.as_deref())?.revoke_token(&id)?;
            println!(
                "Revoked {} token {}{} at {}.",
                info.grant.role(),
                info.id,
                scope(&info),
                info.revoked_ms.map_or_else(String::new, format_utc)
            );
        }
        TokenCommand::Generate => println!("{}", Token::generate()?.expose()),
    }
    Ok(())
}

/// ` for tenant acme`, ` for owner bob` or nothing.
fn scope(info: &TokenInfo) -> String {
    match (info.grant.tenant(), info.grant.owner()) {
        (Some(tenant), _) => format!(" for tenant {tenant}"),
        (_, Some(owner)) => format!(" for owner {owner}"),
        _ => String::new(),
    }
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
