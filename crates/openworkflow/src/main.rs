//! `openworkflow`: install, validate, publish and verify OpenWorkflow plugins.

mod commands;
mod output;
mod progress;

use clap::Parser;

use crate::commands::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let out = output::Output::new(cli.json, cli.quiet);
    match commands::run(cli, &out).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(failure) => {
            out.failure(&failure);
            std::process::ExitCode::from(failure.exit_code())
        }
    }
}
