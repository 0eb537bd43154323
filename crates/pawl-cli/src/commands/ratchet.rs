//! `pawl ratchet`: compare a run with the baseline, and move the baseline up where it improved.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use pawl_core::baseline::Baseline;
use pawl_core::compare::{self, CompareOptions};
use pawl_core::files::{FileError, UpdateLock};
use pawl_core::ratchet::{self, Move, MoveKind, RatchetOptions};
use pawl_core::report::escape;
use pawl_core::run::Run;
use pawl_core::suite::Suite;
use pawl_core::targets;
use pawl_core::verdict::Comparison;

use super::{DEFAULT_SUITE, Outcome, load_suite, suite_for_thresholds, thresholds, thresholds_words};
use crate::cli::RatchetArgs;
use crate::{git, log, measure, output};
use pawl_core::report::text::duration as format_ns;

const DEFAULT_RUN_FILE: &str = "pawl-run.json";

pub fn run(args: &RatchetArgs) -> Result<Outcome> {
    output::at_most_one_stdout([
        ("--output", args.report.output.as_deref()),
        ("--profile-targets", args.profile_targets.as_deref()),
    ])?;
    // With a run file, the suite gives the thresholds and the baseline's path where it is that run's
    // suite (or is named); without one, the suite is what gets measured.
    let (suite, run, run_label, from) = match &args.run {
        Some(path) => {
            let run = Run::load(path)?;
            let (suite, from) = suite_for_thresholds(args.suite.as_deref(), &run.suite, &args.judge)?;
            (suite, run, path.display().to_string(), from)
        }
        None => {
            let suite_path = args.suite.as_deref().unwrap_or(Path::new(DEFAULT_SUITE));
            let suite = load_suite(suite_path)?;
            let run = measure::measure(&suite, &args.measure, &args.gpus, None, Path::new(DEFAULT_RUN_FILE))?;
            (Some(suite), run, DEFAULT_RUN_FILE.to_owned(), thresholds_words(Some(suite_path), &args.judge))
        }
    };
    let baseline_path = baseline_path(args.baseline.as_deref(), suite.as_ref())?;
    let opts = CompareOptions {
        thresholds: thresholds(suite.as_ref(), &args.judge)?,
        force: args.judge.force,
        seed: args.judge.bootstrap_seed,
    };
    // Read, move and write the baseline under its update lock (after measuring, which may take
    // minutes), so that concurrent updaters take turns instead of overwriting each other's moves.
    let _lock = if args.dry_run { None } else { lock_baseline(&baseline_path)? };
    let baseline = load_or_create(&baseline_path, &run, args.accept_new)?;
    let mut comparison =
        compare::compare_baseline(&baseline, &run, &baseline_path.display().to_string(), &run_label, &opts)?;
    comparison.thresholds_from = Some(from);
    output::write_report(&comparison, &args.report)?;

    let outcome =
        ratchet::ratchet(baseline, &run, &comparison, &RatchetOptions { accept_new: args.accept_new });
    for m in &outcome.moves {
        let from = m.old_median_ns.map(format_ns).unwrap_or_else(|| "new".to_owned());
        let how = match m.kind {
            MoveKind::Improved => "moved up",
            MoveKind::Added => "added",
        };
        crate::log::info(format_args!(
            "baseline: {how} {}: {from} → {}",
            escape::terminal(m.id.as_str()),
            format_ns(m.new_median_ns)
        ));
    }
    let file_missing = !baseline_path.exists();
    // Writing is the default (moving the baseline is what this command is for); `--update` spells it out
    // in CI, and `pawl check` / `pawl compare` / `--dry-run` are the read-only ways to compare.
    if args.dry_run {
        crate::log::info(format_args!("baseline: --dry-run, {} left as it is", baseline_path.display()));
    } else if !outcome.moves.is_empty() || file_missing {
        outcome.baseline.save(&baseline_path)?;
        crate::log::info(format_args!(
            "baseline: {} cases changed in {}",
            outcome.moves.len(),
            baseline_path.display()
        ));
        if args.git_commit {
            let message = commit_message(&run.suite, &outcome.moves);
            let commit = git::commit_only(&baseline_path, &message)?;
            crate::log::info(format_args!("baseline: committed {} as {commit}", baseline_path.display()));
        }
    } else {
        crate::log::info(format_args!("baseline: nothing moved; {} unchanged", baseline_path.display()));
        if args.git_commit {
            crate::log::info(format_args!("baseline: nothing to commit"));
        }
    }
    if let Some(path) = &args.profile_targets {
        write_profile_targets(Some(path), &comparison)?;
    }
    Ok(Outcome::from_failed(comparison.fails_check()))
}

/// The baseline file: `--baseline`, else the suite's `baseline`.
pub fn baseline_path(flag: Option<&Path>, suite: Option<&Suite>) -> Result<PathBuf> {
    match (flag, suite.and_then(|s| s.baseline.clone())) {
        (Some(path), _) => Ok(path.to_owned()),
        (None, Some(path)) => Ok(path),
        (None, None) => {
            bail!("no baseline file: pass --baseline FILE, or set `baseline` in the suite's [suite] table")
        }
    }
}

/// The baseline's update lock. In a folder where the lock file cannot be created, the baseline cannot
/// be written either (writing needs a new file beside it): the comparison goes on unlocked, and a
/// move, should one come, fails on writing with the folder named.
fn lock_baseline(path: &Path) -> Result<Option<UpdateLock>> {
    let waiting = |lock: &Path| {
        crate::log::info(format_args!(
            "baseline: waiting for another pawl to finish updating it ({})",
            lock.display()
        ))
    };
    match UpdateLock::acquire(path, waiting) {
        Ok(lock) => Ok(Some(lock)),
        Err(FileError::Lock { source, .. })
            if matches!(source.kind(), ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem) =>
        {
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

/// Loads the baseline; a missing file is an error unless new cases are accepted, which creates it.
fn load_or_create(path: &Path, run: &Run, accept_new: bool) -> Result<Baseline> {
    if path.exists() {
        return Ok(Baseline::load(path)?);
    }
    if !accept_new {
        bail!(
            "no baseline at {}; create it from this run with `pawl ratchet --accept-new --baseline {} RUN`",
            path.display(),
            path.display()
        );
    }
    Ok(Baseline::new(&run.suite))
}

/// Where `pawl check` writes the targets file when not told.
pub const DEFAULT_TARGETS: &str = "profile_targets.txt";

/// Writes the regressed case ids, one per line, for `pawl profile`: to `asked` when given (even with
/// none, so a CI step can count on the file), else to [`DEFAULT_TARGETS`] only when a case regressed.
/// An id that cannot be written safely is left out with a warning ([`targets`]).
pub fn write_profile_targets(asked: Option<&Path>, comparison: &Comparison) -> Result<()> {
    let ids = ratchet::profile_targets(comparison);
    let path = match asked {
        Some(path) => path,
        None if ids.is_empty() => return Ok(()),
        None => Path::new(DEFAULT_TARGETS),
    };
    let (text, left_out) = targets::render(&ids);
    for id in left_out {
        log::warn(
            "pawl profile targets",
            &format!(
                "case `{id}` is left out of {}: its id holds control characters or a workflow command, \
                 which cannot be written there safely",
                path.display()
            ),
        );
    }
    output::write_bytes(path, text.as_bytes())?;
    Ok(())
}

/// The commit message for a baseline update: a subject with the counts, then one line per case.
fn commit_message(suite: &str, moves: &[Move]) -> String {
    let improved = moves.iter().filter(|m| m.kind == MoveKind::Improved).count();
    let added = moves.len() - improved;
    let mut counts = Vec::new();
    if improved > 0 {
        counts.push(format!("{improved} improved"));
    }
    if added > 0 {
        counts.push(format!("{added} added"));
    }
    let counts = if counts.is_empty() { "created".to_owned() } else { counts.join(", ") };
    let mut message = format!("pawl: baseline of suite {suite} moves up ({counts})\n\n");
    for m in moves {
        let from = m.old_median_ns.map(format_ns).unwrap_or_else(|| "new".to_owned());
        message.push_str(&format!("{}: {from} -> {}\n", m.id, format_ns(m.new_median_ns)));
    }
    message
        .push_str("\nWritten by `pawl ratchet --git-commit`: only improvements beyond the noise move it.\n");
    message
}
