//! `pawl compare OLD NEW`: verdicts for every case of NEW against a run file or a baseline.

use std::path::PathBuf;

use anyhow::Result;
use pawl_core::baseline::Baseline;
use pawl_core::compare::{self, CompareOptions};
use pawl_core::run::Run;

use super::{DEFAULT_SUITE, FileKind, Outcome, file_kind, load_suite, thresholds};
use crate::cli::CompareArgs;
use crate::output;

pub fn run(args: &CompareArgs) -> Result<Outcome> {
    // The suite's thresholds apply when it is named, or when `pawl.toml` is in the current folder.
    let suite_path = args.suite.clone().or_else(|| Some(PathBuf::from(DEFAULT_SUITE)).filter(|p| p.exists()));
    let suite = suite_path.as_deref().map(load_suite).transpose()?;
    let opts = CompareOptions {
        thresholds: thresholds(suite.as_ref(), &args.judge)?,
        force: args.judge.force,
        seed: args.judge.bootstrap_seed,
    };
    let new = Run::load(&args.new)?;
    let old_label = args.old.display().to_string();
    let new_label = args.new.display().to_string();
    let comparison = match file_kind(&args.old)? {
        FileKind::Run => compare::compare_runs(&Run::load(&args.old)?, &new, &old_label, &new_label, &opts)?,
        FileKind::Baseline => {
            compare::compare_baseline(&Baseline::load(&args.old)?, &new, &old_label, &new_label, &opts)?
        }
    };
    output::write_report(&comparison, &args.report)?;
    Ok(Outcome::from_failed(comparison.fails_check()))
}
