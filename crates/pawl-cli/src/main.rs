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

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
