//! `pawl check`: the one command CI runs. Measure (or read a run, or merge the shards' runs), compare
//! with the baseline (or, with `--ab-base REV`, measure both revisions paired), write every report
//! asked for, and exit 0 (no regression), 1 (regression or failure) or 2 (error).
//!
//! Sharded across runners: `pawl check --shard i/n` on each runner measures and judges its own cases
//! (the other shards' cases are left out of its baseline, not reported missing); a final `pawl check
//! --merge RUN…` joins the shards' run files and judges the whole suite, for the one PR comment.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use pawl_core::baseline::Baseline;
use pawl_core::case::CaseId;
use pawl_core::compare::{self, CompareOptions};
use pawl_core::report::{self, Cost, Format, ReportOptions};
use pawl_core::run::Run;
use pawl_core::suite::Suite;
use pawl_core::verdict::Comparison;

use super::ratchet::{baseline_path, write_profile_targets};
use super::{Outcome, load_suite, thresholds};
use crate::cli::{AB_MAX_PAIRS, AbArgs, CheckArgs, ReportArgs, ShardArg};
use crate::{measure, output};

pub fn run(args: &CheckArgs) -> Result<Outcome> {
    output::at_most_one_stdout([
        ("--save-run", Some(args.save_run.as_path())),
        ("--markdown", args.markdown.as_deref()),
        ("--junit", args.junit.as_deref()),
        ("--json", args.json.as_deref()),
        ("--profile-targets", args.profile_targets.as_deref()),
    ])?;
    let suite = load_suite(&args.suite)?;
    let price_per_hour = args.gpu_price_per_hour.and_then(|p| p.0).or(suite.gpu_price_per_hour);
    let (comparison, gpu_seconds) = match &args.ab_base {
        Some(base) => {
            let started = Instant::now();
            let comparison = super::ab::compare(&paired_args(args, base))?;
            (comparison, Some(started.elapsed().as_secs_f64()))
        }
        None => against_baseline(args, &suite)?,
    };
    let on_gpu = !comparison.testbed.starts_with(pawl_core::baseline::Testbed::NO_GPU);
    let cost = gpu_seconds.map(|gpu_seconds| Cost { gpu_seconds, price_per_hour, on_gpu });
    let mut comparison = comparison;
    comparison.thresholds_from = Some(super::thresholds_words(Some(&args.suite), &args.judge));
    let opts = ReportOptions { cost, ..ReportOptions::default() };
    // The human report goes to standard output, unless a file was asked there (`--json -`).
    let stdout_taken = [
        Some(args.save_run.as_path()),
        args.markdown.as_deref(),
        args.junit.as_deref(),
        args.json.as_deref(),
        args.profile_targets.as_deref(),
    ]
    .into_iter()
    .flatten()
    .any(output::is_stdout);
    if stdout_taken {
        output::to_stderr(&comparison, Format::Human, &opts)?;
    } else {
        output::write_format_with(&comparison, Format::Human, None, &opts)?;
    }
    if let Some(cost) = &cost {
        crate::log::info(format_args!("pawl: measuring cost {}", report::text::cost(cost)));
    }
    for (path, format) in
        [(&args.markdown, Format::Markdown), (&args.junit, Format::Junit), (&args.json, Format::Json)]
    {
        if let Some(path) = path {
            let extra_markdown = if format == Format::Markdown {
                read_extra_markdown(&args.extra_markdown)?
            } else {
                Vec::new()
            };
            output::write_format_with(
                &comparison,
                format,
                Some(path),
                &ReportOptions { extra_markdown, ..opts.clone() },
            )
            .with_context(|| format!("cannot write the {format} report"))?;
        }
    }
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        // Annotations go to standard output, where the runner reads workflow commands, or to standard
        // error where standard output carries a report (`--json -`).
        if stdout_taken {
            output::to_stderr(&comparison, Format::Github, &opts)?;
        } else {
            output::write_format_with(&comparison, Format::Github, None, &opts)?;
        }
    }
    write_profile_targets(args.profile_targets.as_deref(), &comparison)?;
    Ok(Outcome::from_failed(comparison.fails_check()))
}

/// Measures the suite (or reads `--run`) and compares it with the stored baseline; also the seconds
/// the measuring took, when the run file says.
fn against_baseline(args: &CheckArgs, suite: &Suite) -> Result<(Comparison, Option<f64>)> {
    let baseline_path = baseline_path(args.baseline.as_deref(), Some(suite))?;
    if !baseline_path.exists() {
        bail!(
            "no baseline at {}; measure once and create it with `pawl ratchet --accept-new --baseline {}`",
            baseline_path.display(),
            baseline_path.display()
        );
    }
    let mut baseline = Baseline::load(&baseline_path)?;
    let opts = CompareOptions {
        thresholds: thresholds(Some(suite), &args.judge)?,
        force: args.judge.force,
        seed: args.judge.bootstrap_seed,
    };
    let saved = args.save_run.display().to_string();
    let (run, run_label) = match (&args.run, args.merge.is_empty()) {
        (Some(path), _) => (Run::load(path)?, path.display().to_string()),
        (None, false) => {
            let merged = super::merge::merge_files(&args.merge)?;
            output::write_json(&args.save_run, &merged)
                .with_context(|| "cannot save the merged run file".to_owned())?;
            crate::log::info(format_args!(
                "pawl: merged {} into {}",
                super::merge::describe(&merged),
                output::shown(&args.save_run)
            ));
            (merged, saved)
        }
        (None, true) => {
            let shard = args.shard.map(ShardArg::resolve).transpose()?;
            (measure::measure(suite, &args.measure, &args.gpus, shard, &args.save_run)?, saved)
        }
    };
    if args.merge.is_empty() {
        super::history::record(suite, &run, pawl_history::Origin::Check, args.no_history)?;
    } else if !args.no_history {
        // Each shard recorded its own cases as it finished; the merged run would record them twice.
        crate::log::info(
            "history: the merged run is not recorded again (its shards record their own cases); a shard \
             that could not reach the history can be added with `pawl history add SHARD.json`",
        );
    }
    if run.shard.is_some() {
        // A shard answers for its own cases: the other shards' are not missing, only elsewhere.
        let ids: BTreeSet<&CaseId> = run.cases.iter().map(|c| &c.id).collect();
        baseline.retain_cases(|id| ids.contains(id));
    }
    let comparison =
        compare::compare_baseline(&baseline, &run, &baseline_path.display().to_string(), &run_label, &opts)?;
    Ok((comparison, run.measure_seconds))
}

/// `pawl ab`'s arguments for `pawl check --ab-base REV`: the working tree against REV.
fn paired_args(args: &CheckArgs, base: &str) -> AbArgs {
    AbArgs {
        base: base.to_owned(),
        head: None,
        suite: args.suite.clone(),
        bench: args.measure.bench.clone(),
        filter: args.measure.filter.clone(),
        budget: args.ab_budget.clone(),
        max_pairs: AB_MAX_PAIRS,
        measure_identical: false,
        seed: args.measure.seed,
        no_history: args.no_history,
        gpus: args.gpus.clone(),
        judge: args.judge.clone(),
        report: ReportArgs { format: Format::Human, output: None },
    }
}

/// The sections to append to the markdown report; empty files (`pawl profile` with nothing to profile)
/// add nothing.
pub fn read_extra_markdown(paths: &[PathBuf]) -> Result<Vec<String>> {
    let mut sections = Vec::new();
    for path in paths {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        if !text.trim().is_empty() {
            sections.push(text);
        }
    }
    Ok(sections)
}
