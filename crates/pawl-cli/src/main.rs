//! `pawl`: a performance ratchet for GPU kernels.
//!
//! Exit codes: 0 no regression, 1 a regression or a wrong result, 2 a usage or runtime error.

mod cli;
mod commands;
mod errors;
mod forge;
mod git;
mod gpus;
mod harness;
mod lanes;
mod log;
mod measure;
mod ncu;
mod output;
mod revision;
mod tuning;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    log::set_level(cli.log_level());
    // Children run in process groups of their own: on Ctrl-C (or SIGTERM, SIGHUP) pawl kills them all.
    // Workers start none, and keep the default: a signal ends them where they are.
    let worker = matches!(cli.command, cli::Command::Worker | cli::Command::Launch(_));
    if !worker && let Err(err) = pawl_supervise::install_interrupt_handler() {
        eprintln!("warning: {err}; child processes may outlive an interrupted pawl");
    }
    match commands::dispatch(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            // An error may quote files and servers: shown safe for a terminal or a CI log.
            eprintln!(
                "error: {}",
                pawl_core::report::escape::terminal_lines(errors::message(&err).trim_end())
            );
            if let Some(hint) = errors::hint(&err) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(2)
        }
    }
}
