//! `pawl tune [SUITE] --budget 10m`: searches each selected case's tune space for a faster, verified
//! configuration (pawl-core's `tune::search`, measured live through the engine or replayed from a
//! recording) and writes, in the output folder, `suggestions.md`, `suggestions.patch` (when anything
//! is faster) and `tuning.json`; live, also the measurement cache `cache.json`.
//!
//! The budget is wall time for the whole tune, planning and worker start-ups included. Cases are tuned
//! one after another; each gets an equal share of what is left, so time one case does not need goes to
//! the next. With `--gpus`, each GPU tunes every n-th case the same way, all GPUs at once, and the
//! results keep the suite's order. Everything is written after each case, so an interrupt loses only
//! the cases in progress.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pawl_core::expr::Expr;
use pawl_core::files;
use pawl_core::plan::PlannedCase;
use pawl_core::plan::{self, Selection};
use pawl_core::report::tuning::suggestions;
use pawl_core::suite::{Bench, MeasureSettings, Suite};
use pawl_core::tune::cache::MeasurementCache;
use pawl_core::tune::patch::{self, Patch};
use pawl_core::tune::record::{TUNING_SCHEMA, TunedCase, Tuning};
use pawl_core::tune::replay::{self, Replay};
use pawl_core::tune::search::{self, SearchSettings};
use pawl_core::tune::space::Space;

use super::ab::parse_budget;
use super::{Outcome, load_suite};
use crate::cli::{GpuArgs, TuneArgs};
use crate::tuning::Live;
use crate::{git, gpus, measure};

const DEFAULT_BUDGET: &str = "10m";
/// The share of an exhaustive recording's measuring time a replay gets by default: the share the
/// search is tested at.
const REPLAY_SHARE: f64 = 0.25;

pub fn run(args: &TuneArgs) -> Result<Outcome> {
    if args.max_pairs < 2 {
        bail!("--max-pairs must be at least 2, got {}", args.max_pairs);
    }
    match &args.replay {
        Some(path) => replay_run(args, path),
        None => live(args),
    }
}

fn live(args: &TuneArgs) -> Result<Outcome> {
    let origin = Instant::now();
    let budget_text = args.budget.as_deref().unwrap_or(DEFAULT_BUDGET);
    if budget_text.trim_end().ends_with('%') {
        bail!(
            "--budget {budget_text}: a share of the exhaustive time is for --replay; give a time such as 10m"
        );
    }
    let budget = parse_budget(budget_text)?;
    let suite = load_suite(&args.suite)?;
    let text = std::fs::read_to_string(&args.suite)
        .with_context(|| format!("cannot read {}", args.suite.display()))?;
    let settings = measure::settings(&suite, &args.measure)?;
    let filter = args
        .measure
        .filter
        .as_deref()
        .map(Expr::parse)
        .transpose()
        .context("--where is not a valid expression")?;
    let plans =
        plan::plan(&suite, &Selection { bench: args.measure.bench.as_deref(), filter: filter.as_ref() })?;
    let mut cases = Vec::new();
    for bench_plan in &plans {
        if bench_plan.bench.tune.iter().any(|t| t.is_tunable()) {
            cases.extend(bench_plan.cases.iter().map(|c| (bench_plan.bench, c)));
        } else {
            crate::log::info(format_args!(
                "pawl tune: bench `{}` has no tune parameter with more than one candidate; skipped",
                bench_plan.bench.name
            ));
        }
    }
    if cases.is_empty() {
        bail!(
            "nothing to tune in {}: give a bench's [bench.tune] parameters `candidates` to try (docs/suite.md)",
            args.suite.display()
        );
    }
    let needs_gpu = cases.iter().any(|(b, _)| matches!(b.kind, pawl_core::suite::BenchKind::Cuda(_)));
    let places = gpus::places(gpus::selected(&GpuArgs { gpus: args.gpus.clone(), estimates: None })?);
    let env = measure::environment(needs_gpu, places[0].as_ref().map(|d| d.uuid.as_str()))?;
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create the output folder {}", args.out_dir.display()))?;
    let cache_path = args.out_dir.join("cache.json");
    let cache = if args.fresh {
        MeasurementCache::default()
    } else {
        MeasurementCache::load(&cache_path)
            .context("the measurement cache is unreadable: delete it or use --fresh")?
    };
    let (tolerance, confidence) = judged(args, suite.thresholds.tolerance, suite.thresholds.confidence)?;
    let search_settings = SearchSettings {
        budget_s: budget.as_secs_f64(),
        tolerance,
        confidence,
        seed: settings.seed,
        max_pairs: args.max_pairs,
        exhaustive: args.exhaustive,
        ..SearchSettings::default()
    };
    let worker = measure::worker_argv()?;
    let timestamp =
        jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| jiff::Timestamp::now());
    let tuning = Tuning {
        schema: TUNING_SCHEMA.to_owned(),
        suite: suite.name.clone(),
        timestamp: timestamp.to_string(),
        source: if args.exhaustive { "live, exhaustive".into() } else { "live".into() },
        env: env.clone(),
        settings: settings.clone(),
        search: search_settings.clone(),
        spent_s: 0.0,
        cases: Vec::new(),
    };
    crate::log::info(format_args!(
        "pawl tune: {} case{} of {}, budget {}, output in {}",
        cases.len(),
        if cases.len() == 1 { "" } else { "s" },
        args.suite.display(),
        budget_text,
        args.out_dir.display()
    ));
    let lane = Lane {
        cases: &cases,
        settings: &settings,
        search: &search_settings,
        env: &env,
        origin,
        budget,
        worker,
        out_dir: &args.out_dir,
        progress: Mutex::new(Progress { cache, order: Vec::new(), tuning }),
    };
    // Each place (a GPU of --gpus, or the one the driver shows) tunes every n-th case.
    let stride = places.len();
    std::thread::scope(|scope| {
        let lanes: Vec<_> = places
            .iter()
            .enumerate()
            .map(|(first, place)| {
                let lane = &lane;
                scope.spawn(move || lane.tune((first..lane.cases.len()).step_by(stride), place.as_ref()))
            })
            .collect();
        lanes.into_iter().try_for_each(|l| l.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    })?;
    let Progress { mut tuning, .. } = lane.progress.into_inner().unwrap_or_else(|e| e.into_inner());
    tuning.spent_s = origin.elapsed().as_secs_f64();
    let display = patch_path(&args.suite);
    write_outputs(&args.out_dir, &tuning, Some((&suite, &text, &display)), true)?;
    Ok(Outcome::Pass)
}

/// What every place's thread of a live tune shares.
struct Lane<'a> {
    cases: &'a [(&'a Bench, &'a PlannedCase)],
    settings: &'a MeasureSettings,
    search: &'a SearchSettings,
    env: &'a pawl_core::run::Environment,
    origin: Instant,
    budget: Duration,
    worker: Vec<std::ffi::OsString>,
    out_dir: &'a Path,
    progress: Mutex<Progress>,
}

/// The tune so far: the measurement cache, and the cases tuned, in suite order.
struct Progress {
    cache: MeasurementCache,
    /// The suite index of each of `tuning.cases`, ascending.
    order: Vec<usize>,
    tuning: Tuning,
}

impl Lane<'_> {
    /// Tunes the cases at `indices`, one after another, on `gpu` (pinned) or wherever the driver
    /// chooses; each case within an even share of what is left of the budget.
    fn tune(
        &self,
        indices: impl Iterator<Item = usize>,
        gpu: Option<&pawl_cuda::devices::Device>,
    ) -> Result<()> {
        let indices: Vec<usize> = indices.collect();
        // A copy of the cache of its own, merged back after each case.
        let mut cache = self.lock().cache.clone();
        for (done, &k) in indices.iter().enumerate() {
            let (bench, case) = self.cases[k];
            let left = self.budget.saturating_sub(self.origin.elapsed());
            let share = left / u32::try_from(indices.len() - done).unwrap_or(u32::MAX);
            let space = match Space::new(bench, &case.case, &case.tune) {
                Ok(space) => space,
                Err(e) => {
                    crate::log::info(format_args!("pawl tune: {}: not tuned: {e}", case.case.id));
                    continue;
                }
            };
            let on = gpu.map(|d| format!(" on {}", d.uuid)).unwrap_or_default();
            crate::log::info(format_args!(
                "[{}/{}] {}: {} configurations, {:.0} s{on}",
                k + 1,
                self.cases.len(),
                case.case.id,
                space.len(),
                share.as_secs_f64()
            ));
            let mut measurer = Live::new(
                bench,
                case,
                &space,
                self.settings,
                self.env,
                self.origin,
                &mut cache,
                self.worker.clone(),
                gpu,
            );
            let result = search::run(
                &space,
                &mut measurer,
                &SearchSettings { budget_s: share.as_secs_f64(), ..self.search.clone() },
            );
            for warning in measurer.finish() {
                eprintln!("warning: {}", pawl_core::harness::shown(&warning.message));
            }
            let mut tuned = TunedCase::new(case, &space, share, &result);
            tuned.gpu_uuid = gpu.map(|d| d.uuid.clone());
            crate::log::info(format_args!("    {}", one_line(&tuned)));
            // Saved as it goes: an interrupt loses only the cases in progress.
            let mut progress = self.lock();
            progress.cache.merge(&cache);
            let at = progress.order.partition_point(|&i| i < k);
            progress.order.insert(at, k);
            progress.tuning.cases.insert(at, tuned);
            progress.tuning.spent_s = self.origin.elapsed().as_secs_f64();
            progress.cache.save(&self.out_dir.join("cache.json"))?;
            progress.tuning.save(&self.out_dir.join("tuning.json"))?;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn replay_run(args: &TuneArgs, path: &Path) -> Result<Outcome> {
    let recording = Tuning::load(path)?;
    if recording.cases.is_empty() {
        bail!("{}: the recording has no case to replay", path.display());
    }
    let exhaustive: Duration =
        recording.cases.iter().filter(|c| c.is_exhaustive()).map(|c| Replay::new(c).exhaustive_cost()).sum();
    let all_exhaustive = recording.cases.iter().all(TunedCase::is_exhaustive);
    let budget = match args.budget.as_deref().map(str::trim) {
        Some(text) if text.ends_with('%') => {
            let share: f64 = text
                .trim_end_matches('%')
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| *s > 0.0 && s.is_finite())
                .with_context(|| format!("--budget {text}: a share is a positive percentage, like 25%"))?;
            if !all_exhaustive {
                bail!(
                    "--budget {text}: a share of the exhaustive time needs a recording of every configuration (pawl tune --exhaustive)"
                );
            }
            exhaustive.mul_f64(share / 100.0)
        }
        Some(text) => parse_budget(text)?,
        None if all_exhaustive => exhaustive.mul_f64(REPLAY_SHARE),
        None => Duration::from_secs_f64(recording.search.budget_s.max(0.0)),
    };
    let (tolerance, confidence) = judged(args, recording.search.tolerance, recording.search.confidence)?;
    let settings = SearchSettings {
        tolerance,
        confidence,
        seed: args.measure.seed.unwrap_or(recording.search.seed),
        max_pairs: args.max_pairs,
        ..recording.search.clone()
    };
    let source = format!("replay of {}", path.display());
    let tuning = replay::replay(&recording, &source, budget, &settings);
    crate::log::info(format_args!(
        "pawl tune: replayed {} case{} of {} within {:.1} s of its clock",
        tuning.cases.len(),
        if tuning.cases.len() == 1 { "" } else { "s" },
        path.display(),
        budget.as_secs_f64()
    ));
    for case in &tuning.cases {
        crate::log::info(format_args!("    {}: {}", case.id, one_line(case)));
    }
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create the output folder {}", args.out_dir.display()))?;
    // The suite to patch, when there is one: a recording replays without it.
    let suite = if args.suite.is_file() {
        let suite = load_suite(&args.suite)?;
        let text = std::fs::read_to_string(&args.suite)?;
        Some((suite, text, patch_path(&args.suite)))
    } else {
        crate::log::info(format_args!(
            "pawl tune: {} does not exist: no suggestions.patch",
            args.suite.display()
        ));
        None
    };
    write_outputs(
        &args.out_dir,
        &tuning,
        suite.as_ref().map(|(s, t, d)| (s, t.as_str(), d.as_str())),
        false,
    )?;
    Ok(Outcome::Pass)
}

/// The tolerance and confidence to decide with: the flags, else the given ones, checked.
fn judged(args: &TuneArgs, tolerance: f64, confidence: f64) -> Result<(f64, f64)> {
    let tolerance = args.tolerance.unwrap_or(tolerance);
    let confidence = args.confidence.unwrap_or(confidence);
    if !(tolerance > 0.0 && tolerance < 1.0) {
        bail!("--tolerance must be between 0 and 1 (a fraction: 0.02 is 2%), got {tolerance}");
    }
    if !(confidence > 0.5 && confidence < 1.0) {
        bail!("--confidence must be between 0.5 and 1 (0.99 is 99%), got {confidence}");
    }
    Ok((tolerance, confidence))
}

/// Writes tuning.json, suggestions.patch (or removes a stale one) and suggestions.md, and prints the
/// summary. A patch that cannot be made is an error when `strict` (after the other files are
/// written), a warning otherwise.
fn write_outputs(
    out: &Path,
    tuning: &Tuning,
    suite: Option<(&Suite, &str, &str)>,
    strict: bool,
) -> Result<()> {
    tuning.save(&out.join("tuning.json"))?;
    let changes: Vec<_> = tuning
        .cases
        .iter()
        .filter(|c| c.decision.changes_default())
        .map(|c| (c.id.clone(), c.space.configs[c.decision.suggested].clone()))
        .collect();
    let patch_file = out.join("suggestions.patch");
    let (patch, patch_error): (Option<Patch>, Option<anyhow::Error>) = match suite {
        Some((suite, text, display)) => match patch::suite_patch(suite, text, &changes, display) {
            Ok(patch) => (patch, None),
            Err(e) => (None, Some(anyhow::Error::new(e).context("cannot write suggestions.patch"))),
        },
        None => (None, None),
    };
    match &patch {
        Some(p) => files::write_atomic(&patch_file, p.diff.as_bytes())?,
        None if patch_file.exists() => std::fs::remove_file(&patch_file)
            .with_context(|| format!("cannot remove the stale {}", patch_file.display()))?,
        None => {}
    }
    let mut md = suggestions(tuning);
    md.push_str("\n## The patch\n\n");
    match (&patch, suite) {
        (Some(p), Some((_, _, display))) => md.push_str(&format!(
            "`suggestions.patch` changes {} tune default{} of `{display}` so that `pawl run` uses the faster \
             configurations; apply it from the repository root with `git apply {}`.\n",
            p.edits.len(),
            if p.edits.len() == 1 { "" } else { "s" },
            patch_file.display()
        )),
        (None, Some(_)) if patch_error.is_none() => {
            md.push_str("Nothing is faster: the suite stays as it is.\n")
        }
        _ => md.push_str("No patch: there is no suite to patch, or it could not be patched.\n"),
    }
    files::write_atomic(&out.join("suggestions.md"), md.as_bytes())?;
    let summary = md.split("\n## ").next().unwrap_or("");
    println!("{}", summary.trim_end());
    println!(
        "\nWritten: {}",
        [
            Some(out.join("suggestions.md")),
            patch.as_ref().map(|_| patch_file.clone()),
            Some(out.join("tuning.json")),
        ]
        .into_iter()
        .flatten()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
    );
    match patch_error {
        Some(e) if strict => Err(e),
        Some(e) => {
            eprintln!("warning: {e:#}");
            Ok(())
        }
        None => Ok(()),
    }
}

/// The suite's path as the patch names it: relative to the repository root (where `git apply` runs),
/// or as given outside a repository.
fn patch_path(suite: &Path) -> String {
    let absolute = suite.canonicalize().unwrap_or_else(|_| suite.to_owned());
    let root = absolute.parent().and_then(|dir| git::repo_root(dir).ok()).and_then(|r| r.canonicalize().ok());
    let relative: PathBuf = match root {
        Some(root) => absolute.strip_prefix(&root).map(Path::to_owned).unwrap_or_else(|_| suite.to_owned()),
        None => suite.to_owned(),
    };
    relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

/// One case's outcome in a line, for progress.
fn one_line(case: &TunedCase) -> String {
    let d = &case.decision;
    let result = case.result();
    let config = case.space.configs[d.suggested].to_id_string();
    let what = match (&d.basis, &d.speedup) {
        (pawl_core::tune::decide::Basis::Faster, Some(s)) => {
            format!("{config}: ×{:.3} [{:.3}, {:.3}] over the default", s.point, s.low, s.high)
        }
        (pawl_core::tune::decide::Basis::DefaultTied, _) => {
            format!("the default stays (a tie of {})", d.ties.len())
        }
        (pawl_core::tune::decide::Basis::DefaultFailed { reason }, _) => {
            format!("{config} (the default failed: {})", pawl_core::harness::shown(reason))
        }
        _ => "the default stays (nothing compared)".to_owned(),
    };
    format!(
        "{what}; {} of {} configurations measured in {:.1} s",
        result.measured().len(),
        case.space.len(),
        case.spent_s
    )
}
