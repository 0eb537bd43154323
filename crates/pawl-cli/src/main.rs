//! `pawl`: a performance ratchet for GPU kernels.
//!
//! Exit codes: 0 no regression, 1 a regression or a wrong result, 2 a usage or runtime error.

mod cli;
mod commands;
mod git;
mod github;
mod harness;
mod measure;
mod ncu;
mod output;
mod revision;
mod tuning;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // Children run in process groups of their own: on Ctrl-C (or SIGTERM, SIGHUP) pawl kills them all.
    // Workers start none, and keep the default: a signal ends them where they are.
    let worker = matches!(cli.command, cli::Command::Worker | cli::Command::Launch(_));
    if !worker && let Err(err) = pawl_supervise::install_interrupt_handler() {
        eprintln!("warning: {err}; child processes may outlive an interrupted pawl");
    }
    match commands::dispatch(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
