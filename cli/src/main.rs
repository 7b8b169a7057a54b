//! `farm`: the render farm's command line. Submit a .blend with every file
//! it uses, follow jobs with progress bars, read jobs, reports and workers.
//! `farm --help` lists the commands and the exit codes.

mod api;
mod args;
mod commands;
mod error;
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

use crate::api::Api;
use crate::args::{Cli, Command};
use crate::commands::Control;
use crate::error::{EXIT_OTHER, Failure};
use crate::output::Output;

/// Run the command `cli` names.
async fn run(cli: Cli) -> Result<(), Failure> {
    let settings = settings::resolve(&cli.global)?;
    let api = Api::new(&settings, cli.global.verbose);
    let output = Output::new(cli.global.json, cli.global.verbose);
    match cli.command {
        Command::Submit(args) => submit::run(&api, &args, &output).await,
        Command::Watch { id } => watch::follow(&api, id, &output).await,
        Command::Jobs => commands::jobs(&api, &output).await,
        Command::Job { id } => commands::job(&api, id, &output).await,
        Command::Pause { id } => commands::control(&api, id, Control::Pause, &output).await,
        Command::Resume { id } => commands::control(&api, id, Control::Resume, &output).await,
        Command::Cancel { id } => commands::control(&api, id, Control::Cancel, &output).await,
        Command::Requeue { id } => commands::control(&api, id, Control::Requeue, &output).await,
        Command::Report { id, csv } => commands::report(&api, id, csv, &output).await,
        Command::Workers => commands::workers(&api, &output).await,
        Command::Farm => commands::offer(&api, &output).await,
    }
}

fn main() -> ExitCode {
    // Usage errors exit with 2 here, as clap does.
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
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
