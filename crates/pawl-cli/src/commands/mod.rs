//! One module per subcommand. Each returns an [`Outcome`] (exit 0 or 1) or an error (exit 2).

mod ab;
pub mod ceilings;
mod check;
mod comment;
mod compare;
mod env;
pub mod history;
mod import;
mod merge;
mod profile;
mod ratchet;
mod report;
mod run;
mod tune;
mod validate;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use pawl_core::suite::{Suite, Thresholds};

use crate::cli::{Cli, Command, JudgeArgs};

/// The suite file commands use when none is named.
pub const DEFAULT_SUITE: &str = "pawl.toml";

/// How a command that ran to the end turned out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// Nothing regressed, nothing failed.
    Pass,
    /// A regression, a failed case or a wrong result: CI should fail.
    Fail,
    /// An internal worker's own exit code, passed to its parent unchanged.
    Exit(ExitCode),
}

impl Outcome {
    pub fn from_failed(failed: bool) -> Outcome {
        if failed { Outcome::Fail } else { Outcome::Pass }
    }

    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Pass => ExitCode::SUCCESS,
            Outcome::Fail => ExitCode::from(1),
            Outcome::Exit(code) => code,
        }
    }
}

pub fn dispatch(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Merge(args) => merge::run(&args),
        Command::Ratchet(args) => ratchet::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Ab(args) => ab::run(&args),
        Command::Env(args) => env::run(&args),
        Command::History(args) => history::run(&args),
        Command::Comment(args) => comment::run(&args),
        Command::Profile(args) => profile::run(&args),
        Command::Launch(args) => profile::launch(&args),
        Command::Tune(args) => tune::run(&args),
        Command::Ceilings(args) => ceilings::run(&args),
        Command::Report(args) => report::run(&args),
        Command::CeilingProbes { samples } => ceilings::probe(samples),
        // A worker's exit code tells its parent why it stopped (3: the CUDA context is lost).
        Command::Worker => Ok(Outcome::Exit(pawl_cuda::serve_stdio())),
    }
}

/// Loads a suite file, with the path in the error.
pub fn load_suite(path: &Path) -> Result<Suite> {
    Suite::load(path).map_err(anyhow::Error::new)
}

/// The suite's thresholds (or the defaults), overridden by flags, checked by the rule the suite file is.
pub fn thresholds(suite: Option<&Suite>, judge: &JudgeArgs) -> Result<Thresholds> {
    let base = suite.map(|s| s.thresholds).unwrap_or_default();
    Thresholds::new(
        judge.tolerance.unwrap_or(base.tolerance),
        judge.confidence.unwrap_or(base.confidence),
        judge.drift.unwrap_or(base.drift),
        judge.drift_ns.unwrap_or(base.drift_ns),
    )
    // The suite's own values were checked when it was read: a value out of range came from a flag.
    .map_err(|e| {
        let flag = format!("--{}", e.name.replace('_', "-"));
        anyhow::Error::new(e.named(flag))
    })
}

/// What kind of pawl file is at `path`, by its `schema` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Run,
    Baseline,
}

pub fn file_kind(path: &Path) -> Result<FileKind> {
    #[derive(serde::Deserialize)]
    struct Header {
        schema: Option<String>,
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let header: Header = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!("{}:{}:{}: not valid JSON: {e}", path.display(), e.line(), e.column())
    })?;
    match header.schema.as_deref().and_then(|s| s.split_once('/')).map(|(kind, _)| kind) {
        Some("pawl-run") => Ok(FileKind::Run),
        Some("pawl-baseline") => Ok(FileKind::Baseline),
        Some(other) => bail!("{}: a `{other}` file is neither a run file nor a baseline", path.display()),
        None => bail!(
            "{}: no `schema` field; expected a pawl run file (\"pawl-run/1\") or baseline (\"pawl-baseline/1\")",
            path.display()
        ),
    }
}
