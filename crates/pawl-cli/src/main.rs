//! `pawl`: a performance ratchet for GPU kernels.
//!
//! Exit codes: 0 no regression, 1 a regression or a wrong result, 2 a usage or runtime error.

mod cli;
mod command_backend;
mod commands;
mod forge;
mod git;
mod log;
mod measure;
mod ncu;
mod output;
mod revision;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            // An error may quote files and servers: shown safe for a terminal or a CI log.
            eprintln!("error: {}", pawl_core::report::escape::terminal_lines(&format!("{err:#}")));
            ExitCode::from(2)
        }
    }
}
