//! `pawl compare OLD NEW`: verdicts for every case of NEW against a run file or a baseline.

use anyhow::{Result, bail};
use pawl_core::baseline::Baseline;
use pawl_core::compare::{self, CompareOptions};
use pawl_core::run::Run;

use super::{FileKind, Outcome, file_kind, suite_for_thresholds, thresholds};
use crate::cli::CompareArgs;
use crate::output;

pub fn run(args: &CompareArgs) -> Result<Outcome> {
    let old_kind = file_kind(&args.old)?;
    let new_kind = file_kind(&args.new)?;
    if !matches!(old_kind, FileKind::Run | FileKind::Baseline) {
        bail!(
            "pawl compare takes run files and baselines: OLD ({}) is {}",
            args.old.display(),
            old_kind.described()
        );
    }
    match new_kind {
        FileKind::Run => {}
        FileKind::Baseline => bail!(
            "pawl compare takes the baseline as OLD and a run file as NEW: NEW ({}) is a baseline; swap them: \
             `pawl compare {} {}`",
            args.new.display(),
            args.new.display(),
            args.old.display()
        ),
        other => bail!(
            "pawl compare takes run files and baselines: NEW ({}) is {}",
            args.new.display(),
            other.described()
        ),
    }
    let new = Run::load(&args.new)?;
    let (suite, from) = suite_for_thresholds(args.suite.as_deref(), &new.suite, &args.judge)?;
    let opts = CompareOptions {
        thresholds: thresholds(suite.as_ref(), &args.judge)?,
        force: args.judge.force,
        seed: args.judge.bootstrap_seed,
    };
    let old_label = args.old.display().to_string();
    let new_label = args.new.display().to_string();
    let mut comparison = match old_kind {
        FileKind::Run => compare::compare_runs(&Run::load(&args.old)?, &new, &old_label, &new_label, &opts)?,
        FileKind::Baseline => {
            compare::compare_baseline(&Baseline::load(&args.old)?, &new, &old_label, &new_label, &opts)?
        }
        _ => unreachable!("OLD was checked to be a run file or a baseline"),
    };
    comparison.thresholds_from = Some(from);
    output::write_report(&comparison, &args.report)?;
    Ok(Outcome::from_failed(comparison.fails_check()))
}
