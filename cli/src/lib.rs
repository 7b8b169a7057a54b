//! `farm`: the render farm's command line. Submit a .blend with every file
//! it uses, follow jobs with progress bars, read jobs, reports and workers,
//! and run the whole farm on this machine with `farm demo`. `farm --help`
//! lists the commands and the exit codes.

mod api;
mod args;
mod benchmark;
mod benchmark_reference;
mod classes;
mod commands;
pub mod demo;
mod error;
mod estimate;
mod output;
mod scene;
mod settings;
mod show;
mod submit;
mod table;
mod upload;
mod views;
mod watch;

use std::process::ExitCode;

use clap::Parser;

pub use crate::error::Failure;
pub use crate::output::Output;

use crate::api::Api;
use crate::args::{ApiCommand, Cli, Command};
use crate::commands::Control;
use crate::error::EXIT_OTHER;

/// Run the command `cli` names.
async fn run(cli: Cli) -> Result<(), Failure> {
    let command = match cli.command {
        Command::Demo(args) => return demo::run(*args, cli.global.verbose).await,
        Command::Api(command) => command,
    };
    let settings = settings::resolve(&cli.global)?;
    let api = Api::new(&settings, cli.global.verbose);
    let output = Output::new(cli.global.json, cli.global.verbose);
    match command {
        ApiCommand::Submit(args) => submit::run(&api, &args, &output).await,
        ApiCommand::Estimate(args) => estimate::run(&api, &args, &output).await,
        ApiCommand::Benchmark(args) => benchmark::run(&api, &args, &output).await,
        ApiCommand::BenchmarkReport { id, csv } => {
            benchmark::report(&api, &id.to_string(), csv, &output).await
        }
        ApiCommand::Watch { id } => watch::follow(&api, id, &output, false).await,
        ApiCommand::Jobs => commands::jobs(&api, &output).await,
        ApiCommand::Job { id } => commands::job(&api, id, &output).await,
        ApiCommand::Pause { id } => commands::control(&api, id, Control::Pause, &output).await,
        ApiCommand::Resume { id } => commands::control(&api, id, Control::Resume, &output).await,
        ApiCommand::Cancel { id } => commands::control(&api, id, Control::Cancel, &output).await,
        ApiCommand::Requeue { id } => commands::control(&api, id, Control::Requeue, &output).await,
        ApiCommand::Report { id, csv } => commands::report(&api, id, csv, &output).await,
        ApiCommand::Workers => commands::workers(&api, &output).await,
        ApiCommand::Farm => commands::offer(&api, &output).await,
        ApiCommand::NodeClasses => classes::list(&api, &output).await,
        ApiCommand::NodeClass(command) => classes::run(&api, &command, &output).await,
    }
}

/// The `farm` binary: parse the command line, run the command, print a
/// failure as one `error: …` line and exit with its code.
pub fn main() -> ExitCode {
    // Usage errors exit with 2 here, as clap does.
    let cli = Cli::parse();
    // The demo runs a coordinator and workers: give them threads.
    let runtime = if matches!(cli.command, Command::Demo(_)) {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(EXIT_OTHER);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
