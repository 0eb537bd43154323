//! One module per subcommand. Each returns an [`Outcome`] (exit 0 or 1) or an error (exit 2).

mod ab;
pub mod ceilings;
mod check;
mod comment;
mod compare;
mod completions;
mod env;
pub mod history;
mod import;
mod init;
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
    if writes_a_file_to_stdout(&cli.command) {
        crate::log::stdout_carries_a_file();
    }
    match cli.command {
        Command::Init(args) => init::run(&args),
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
        Command::Completions(args) => completions::completions(&args),
        Command::Man(args) => completions::man(&args),
        Command::Launch(args) => profile::launch(&args),
        Command::Tune(args) => tune::run(&args),
        Command::Ceilings(args) => ceilings::run(&args),
        Command::Report(args) => report::run(&args),
        Command::CeilingProbes { samples } => ceilings::probe(samples),
        // A worker's exit code tells its parent why it stopped (3: the CUDA context is lost).
        Command::Worker => Ok(Outcome::Exit(pawl_cuda::serve_stdio())),
    }
}

/// Whether the command was asked to write a file to standard output (`-o -`), where nothing else may go.
fn writes_a_file_to_stdout(command: &Command) -> bool {
    use crate::cli::HistoryCommand;
    use crate::output::is_stdout;
    let report = |args: &crate::cli::ReportArgs| args.output.as_deref().is_some_and(is_stdout);
    match command {
        Command::Run(args) => is_stdout(&args.output),
        Command::Merge(args) => is_stdout(&args.output),
        Command::Import(args) => is_stdout(&args.output),
        Command::Compare(args) => report(&args.report),
        Command::Ab(args) => report(&args.report),
        Command::Ratchet(args) => {
            report(&args.report) || args.profile_targets.as_deref().is_some_and(is_stdout)
        }
        Command::Check(args) => {
            [&Some(args.save_run.clone()), &args.markdown, &args.junit, &args.json, &args.profile_targets]
                .into_iter()
                .flatten()
                .any(|path| is_stdout(path))
        }
        Command::History(args) => match &args.command {
            HistoryCommand::Export { output, .. } | HistoryCommand::Html { output, .. } => is_stdout(output),
            _ => false,
        },
        _ => false,
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

/// The suite whose thresholds judge a comparison of runs of suite `run_suite`, and where they came from
/// in words (for the report's header): `--suite FILE` when given; else `pawl.toml` in the current folder
/// when it is that very suite (a `pawl.toml` of another suite is not used, and the header says so);
/// else pawl's defaults.
pub fn suite_for_thresholds(
    flag: Option<&Path>,
    run_suite: &str,
    judge: &JudgeArgs,
) -> Result<(Option<Suite>, String)> {
    if let Some(path) = flag {
        let suite = load_suite(path)?;
        return Ok((Some(suite), thresholds_words(Some(path), judge)));
    }
    let here = Path::new(DEFAULT_SUITE);
    if !here.exists() {
        return Ok((None, thresholds_words(None, judge)));
    }
    match Suite::load(here) {
        Ok(suite) if suite.name == run_suite => Ok((Some(suite), thresholds_words(Some(here), judge))),
        Ok(suite) => {
            let why = format!(
                "pawl's defaults: ./{DEFAULT_SUITE} is suite `{}`, not `{run_suite}` (--suite FILE names the suite to use)",
                suite.name
            );
            Ok((None, with_flags(why, judge)))
        }
        Err(err) => {
            crate::log::warn(
                "pawl thresholds",
                &format!(
                    "./{DEFAULT_SUITE} is not used for the thresholds: {}",
                    crate::errors::message(&err.into())
                ),
            );
            Ok((None, thresholds_words(None, judge)))
        }
    }
}

/// Where the thresholds came from, in words: `suite file pawl.toml`, or `pawl's defaults`, and the
/// flags that overrode them.
pub fn thresholds_words(suite: Option<&Path>, judge: &JudgeArgs) -> String {
    let base = match suite {
        Some(path) => format!("suite file {}", path.display()),
        None => "pawl's defaults (no suite file)".to_owned(),
    };
    with_flags(base, judge)
}

/// `words`, and the threshold flags given on the command line, which override it.
fn with_flags(words: String, judge: &JudgeArgs) -> String {
    let flags: Vec<&str> = [
        ("--tolerance", judge.tolerance.is_some()),
        ("--confidence", judge.confidence.is_some()),
        ("--drift", judge.drift.is_some()),
        ("--drift-ns", judge.drift_ns.is_some()),
    ]
    .into_iter()
    .filter_map(|(flag, given)| given.then_some(flag))
    .collect();
    if flags.is_empty() { words } else { format!("{words}, with {} from the command line", flags.join(", ")) }
}

/// What kind of file is at `path`: a pawl file by its `schema` field, a suite, or another tool's
/// results; so that a command given the wrong file can say which file it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    Run,
    Baseline,
    /// A JSON report (`pawl check --json`, `--format json`).
    Report,
    /// A suite file (`pawl.toml`).
    Suite,
    /// Results of another tool that `pawl import` reads (`nvbench`, `gbench`, …).
    Imported(pawl_core::import::Format),
    /// JSON with some other `schema`, or none.
    OtherJson(Option<String>),
}

impl FileKind {
    /// The kind of file in words: `a suite file`.
    pub fn noun(&self) -> String {
        match self {
            FileKind::Run => "a run file".to_owned(),
            FileKind::Baseline => "a baseline".to_owned(),
            FileKind::Report => "a JSON report".to_owned(),
            FileKind::Suite => "a suite file".to_owned(),
            FileKind::Imported(format) => format!("{format} results"),
            FileKind::OtherJson(Some(schema)) => format!("a `{schema}` file"),
            FileKind::OtherJson(None) => "JSON without a `schema` field".to_owned(),
        }
    }

    /// What to do with such a file to get a run file.
    pub fn advice(&self) -> &'static str {
        match self {
            FileKind::Run | FileKind::Baseline => "",
            FileKind::Report => "compare the run files it came from",
            FileKind::Suite => "measure it first: `pawl run SUITE -o run.json`",
            FileKind::Imported(_) => "turn them into a run file first: `pawl import FILE -o run.json`",
            FileKind::OtherJson(_) => "give a run file (`pawl run -o FILE` writes one) or a baseline",
        }
    }

    /// `{path} is a suite file; measure it first: …`.
    pub fn described(&self) -> String {
        let advice = self.advice();
        if advice.is_empty() { self.noun() } else { format!("{}; {advice}", self.noun()) }
    }
}

pub fn file_kind(path: &Path) -> Result<FileKind> {
    #[derive(serde::Deserialize)]
    struct Header {
        schema: Option<serde_json::Value>,
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let header: Header = match serde_json::from_str(&text) {
        Ok(header) => header,
        Err(e) => {
            if looks_like_suite(&text) {
                return Ok(FileKind::Suite);
            }
            if let Ok(format) = pawl_core::import::detect(path, &text) {
                return Ok(FileKind::Imported(format));
            }
            bail!(
                "{}:{}:{}: not valid JSON ({e}); pawl compares run files (`pawl run -o FILE`) and baselines",
                path.display(),
                e.line(),
                e.column()
            );
        }
    };
    let schema = header.schema.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
    Ok(match schema.as_deref().map(|s| s.split_once('/').map_or(s, |(kind, _)| kind)) {
        Some("pawl-run") => FileKind::Run,
        Some("pawl-baseline") => FileKind::Baseline,
        Some("pawl-report") => FileKind::Report,
        None => match pawl_core::import::detect(path, &text) {
            Ok(format) => FileKind::Imported(format),
            Err(_) => FileKind::OtherJson(None),
        },
        Some(_) => FileKind::OtherJson(schema),
    })
}

/// TOML with a `[suite]` table.
fn looks_like_suite(text: &str) -> bool {
    toml::from_str::<toml::Table>(text)
        .is_ok_and(|table| table.get("suite").is_some_and(toml::Value::is_table))
}
