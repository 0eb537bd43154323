//! `pawl history …`: the history of runs. Also [`record`] and [`record_ab`], which `pawl run`, `pawl
//! check` and `pawl ab` call once they have their results.
//!
//! Which history: `--history`, else `$PAWL_HISTORY`, else the suite's `history` key. A suite that names
//! none records nothing unless `$PAWL_HISTORY` is set.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use comfy_table::{LineStyle, Table, TableStyle};
use pawl_core::baseline::{Baseline, Testbed};
use pawl_core::compare::{self, CompareOptions};
use pawl_core::files;
use pawl_core::paired::{PairedCase, PairedOutcome};
use pawl_core::report::text::duration;
use pawl_core::run::{CaseResult, CaseStatus, Environment, GitInfo, Run};
use pawl_core::stats::{self, changepoint::ChangePointSettings};
use pawl_core::suite::{MeasureSettings, Suite};
use pawl_core::verdict::Comparison;
use pawl_history::page::{self, PageOptions};
use pawl_history::{HISTORY_ENV, HistoryStore, Location, Origin, PointFilter, RunFilter, Trend};

use super::{DEFAULT_SUITE, Outcome, load_suite};
use crate::cli::{ChangeArgs, HistoryArgs, HistoryCommand, HistoryFormat, HistoryPlace};

/// The confidence of the summaries of A/B sides, as run files carry them.
const SUMMARY_CONFIDENCE: f64 = 0.99;

pub fn run(args: &HistoryArgs) -> Result<Outcome> {
    match &args.command {
        HistoryCommand::Add { runs, place } => add(runs, place),
        HistoryCommand::List { limit, since, format, place } => {
            list(*limit, since.as_deref(), *format, place)
        }
        HistoryCommand::Show { case, format, changes, place } => show(case, *format, changes, place),
        HistoryCommand::Changes { case, since, tolerance, format, changes, place } => {
            changes_command(case.as_deref(), since.as_deref(), *tolerance, *format, changes, place)
        }
        HistoryCommand::Plot { case, output, changes, place } => {
            plot(case.as_deref(), output, changes, place)
        }
        HistoryCommand::Html { output, tolerance, changes, place } => {
            html(output, *tolerance, changes, place)
        }
        HistoryCommand::Export { key, output, place } => export(key, output, place),
    }
}

// ---- where the history is ----

/// `$PAWL_HISTORY`, when set and not empty.
fn env_location() -> Option<String> {
    std::env::var(HISTORY_ENV).ok().filter(|v| !v.trim().is_empty())
}

/// The history a measuring command records into: `$PAWL_HISTORY`, else the suite's; `None` records
/// nothing.
fn recording_location(suite: &Suite) -> Result<Option<Location>> {
    if let Some(text) = env_location() {
        return Ok(Some(Location::parse(&text, Path::new(""))?));
    }
    Ok(suite.history.as_ref().map(Location::from_suite).transpose()?)
}

/// The suite of a history command: `--suite`, else `pawl.toml` when it exists.
fn place_suite(place: &HistoryPlace) -> Result<Option<Suite>> {
    match &place.suite {
        Some(path) => Ok(Some(load_suite(path)?)),
        None if Path::new(DEFAULT_SUITE).exists() => Ok(Some(load_suite(Path::new(DEFAULT_SUITE))?)),
        None => Ok(None),
    }
}

/// The history a history command names: `--history`, else `$PAWL_HISTORY`, else the suite's.
fn named_location(place: &HistoryPlace, suite: Option<&Suite>) -> Result<Location> {
    Ok(match (&place.history, env_location(), suite.and_then(|s| s.history.as_ref())) {
        (Some(text), _, _) => Location::parse(text, Path::new(""))?,
        (None, Some(text), _) => Location::parse(&text, Path::new(""))?,
        (None, None, Some(location)) => Location::from_suite(location)?,
        (None, None, None) => bail!(
            "no history named: pass --history FILE (or a postgres:// URL), set ${HISTORY_ENV}, or add \
             `history = \".pawl/history.sqlite\"` to the [suite] table of {}",
            place.suite.as_deref().unwrap_or(Path::new(DEFAULT_SUITE)).display()
        ),
    })
}

/// Opens the history a reading command names, with the suite it reads.
fn open_place(place: &HistoryPlace) -> Result<(Box<dyn HistoryStore>, Option<Suite>)> {
    let suite = place_suite(place)?;
    let location = named_location(place, suite.as_ref())?;
    if let Location::Sqlite(path) = &location {
        // Reading commands never create a history by accident.
        if !path.exists() {
            bail!(
                "no history at {}: record runs first (`pawl run`, or `pawl history add RUN.json`)",
                path.display()
            );
        }
    }
    Ok((pawl_history::open(&location)?, suite))
}

// ---- recording ----

/// Records a finished run in the history, unless `skip` or no history is named. Says what it did on
/// standard error.
pub fn record(suite: &Suite, run: &Run, origin: Origin, skip: bool) -> Result<()> {
    if skip {
        return Ok(());
    }
    let Some(location) = recording_location(suite)? else { return Ok(()) };
    append(&location, &[(run, origin)])
}

fn append(location: &Location, runs: &[(&Run, Origin)]) -> Result<()> {
    let mut store = pawl_history::open(location)
        .with_context(|| "the run was not recorded in the history; its run file is kept: record it later with `pawl history add FILE`")?;
    for (run, origin) in runs {
        let done = store.append(run, *origin).with_context(|| {
            "the run was not recorded in the history; its run file is kept: record it later with `pawl history add FILE`"
        })?;
        let key = &done.key[..12];
        if done.inserted {
            crate::log::info(format_args!(
                "history: recorded run {key} ({} cases, {}) in {location}",
                done.cases,
                origin.as_str()
            ));
        } else {
            crate::log::info(format_args!("history: run {key} was already in {location}"));
        }
    }
    Ok(())
}

/// The latest run of `suite` on `testbed` in the history it records into, to estimate each case's
/// time from; `None` without a history or such a run. Only `pawl run` and `pawl check` runs count:
/// their cases were measured one by one, as `--gpus` will measure them.
pub fn latest_run(suite: &Suite, testbed: &Testbed) -> Result<Option<Run>> {
    let Some(location) = recording_location(suite)? else { return Ok(None) };
    if let Location::Sqlite(path) = &location {
        if !path.exists() {
            return Ok(None);
        }
    }
    let mut store = pawl_history::open(&location)?;
    let runs = store.runs(&RunFilter { suite: Some(suite.name.clone()), ..RunFilter::default() })?;
    let wanted = [Origin::Run.as_str(), Origin::Check.as_str()];
    let latest = runs.iter().find(|r| r.testbed == testbed.key() && wanted.contains(&r.origin.as_str()));
    Ok(match latest {
        Some(summary) => Some(store.run(&summary.key)?),
        None => None,
    })
}

/// What `pawl ab` knows of its two sides besides the outcomes.
pub struct AbSides<'a> {
    pub suite: &'a Suite,
    /// When measuring began (RFC 3339).
    pub started: jiff::Timestamp,
    pub env: &'a Environment,
    pub settings: &'a MeasureSettings,
    pub base: GitInfo,
    pub head: Option<GitInfo>,
}

/// Records an A/B run as two runs, the base side and the head side (see [`ab_runs`]).
pub fn record_ab(sides: &AbSides, outcomes: &[PairedOutcome], skip: bool) -> Result<()> {
    if skip {
        return Ok(());
    }
    let Some(location) = recording_location(sides.suite)? else { return Ok(()) };
    let (base, head) = ab_runs(sides, outcomes);
    if base.cases.is_empty() {
        crate::log::info("history: the A/B run measured no case; nothing recorded");
        return Ok(());
    }
    append(&location, &[(&base, Origin::AbBase), (&head, Origin::AbHead)])
}

/// The two runs an A/B run is recorded as: each side's samples and clocks under its own commit
/// (`origin` ab-base and ab-head), measured cases and failed ones; identical code and one-sided cases
/// were not timed and are left out. The head is stamped one second after the base, so that a trend
/// shows the older code first.
pub fn ab_runs(sides: &AbSides, outcomes: &[PairedOutcome]) -> (Run, Run) {
    let stamp = |offset: i64| {
        (sides.started + jiff::SignedDuration::from_secs(offset))
            .round(jiff::Unit::Second)
            .unwrap_or(sides.started)
    };
    let mut base =
        Run::new(&sides.suite.name, stamp(0).to_string(), sides.env.clone(), sides.settings.clone());
    base.git = Some(sides.base.clone());
    let mut head =
        Run::new(&sides.suite.name, stamp(1).to_string(), sides.env.clone(), sides.settings.clone());
    head.git = sides.head.clone();
    for outcome in outcomes {
        let side = |samples: &[f64], clocks: &[u32]| {
            let mut case = CaseResult::not_measured(
                outcome.id.clone(),
                &outcome.bench,
                outcome.params.clone(),
                CaseStatus::Ok,
                "",
            );
            case.error = None;
            case.samples_ns = samples.to_vec();
            case.sm_clock_mhz = clocks.to_vec();
            case.stats = stats::summarize(samples, SUMMARY_CONFIDENCE).ok();
            case.flops = outcome.flops;
            case.bytes = outcome.bytes;
            case.timing = Some("paired".to_owned());
            case
        };
        match &outcome.case {
            PairedCase::Measured { samples, .. } if samples.pairs() > 0 => {
                let n = samples.pairs();
                let clocks = |c: &[u32]| if c.len() >= n { c[..n].to_vec() } else { Vec::new() };
                base.cases.push(side(&samples.base_ns[..n], &clocks(&samples.base_clock_mhz)));
                head.cases.push(side(&samples.head_ns[..n], &clocks(&samples.head_clock_mhz)));
            }
            PairedCase::Failed { message: why } => {
                for run in [&mut base, &mut head] {
                    run.cases.push(CaseResult::not_measured(
                        outcome.id.clone(),
                        &outcome.bench,
                        outcome.params.clone(),
                        CaseStatus::Failed,
                        why.clone(),
                    ));
                }
            }
            _ => {}
        }
    }
    (base, head)
}

// ---- commands ----

fn add(paths: &[PathBuf], place: &HistoryPlace) -> Result<Outcome> {
    // Read every file first: a bad one is reported before anything is written.
    let mut runs = Vec::new();
    for path in paths {
        runs.push(Run::load(path)?);
    }
    let location = named_location(place, place_suite(place)?.as_ref())?;
    let batch: Vec<(&Run, Origin)> = runs.iter().map(|r| (r, Origin::Import)).collect();
    append(&location, &batch)?;
    Ok(Outcome::Pass)
}

/// `--since`: a date, an RFC 3339 time, or a commit (the first run at it); µs since 1970.
fn since_us(store: &mut dyn HistoryStore, text: &str, suite: Option<&str>) -> Result<i64> {
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        let instant = date.to_zoned(jiff::tz::TimeZone::UTC).context("--since is out of range")?.timestamp();
        return Ok(instant.as_microsecond());
    }
    if let Ok(us) = pawl_history::micros(text) {
        return Ok(us);
    }
    if text.len() >= 4 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        let runs = store.runs(&RunFilter { suite: suite.map(str::to_owned), ..RunFilter::default() })?;
        let first = runs
            .iter()
            .filter(|r| r.git.as_ref().is_some_and(|g| g.commit.starts_with(&text.to_ascii_lowercase())))
            .filter_map(|r| pawl_history::micros(&r.started_at).ok())
            .min();
        if let Some(us) = first {
            return Ok(us);
        }
        bail!("--since {text}: no run in the history is at a commit starting with `{text}`");
    }
    bail!("--since `{text}` is not a date (2026-05-20), a time (2026-05-20T10:00:00Z) or a commit")
}

fn list(limit: usize, since: Option<&str>, format: HistoryFormat, place: &HistoryPlace) -> Result<Outcome> {
    let (mut store, suite) = open_place(place)?;
    let suite_name = suite.map(|s| s.name);
    let since_us = since.map(|s| since_us(store.as_mut(), s, suite_name.as_deref())).transpose()?;
    let runs = store.runs(&RunFilter { suite: suite_name, since_us, limit: Some(limit) })?;
    let mut out = std::io::stdout().lock();
    if format == HistoryFormat::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&runs)?)?;
        return Ok(Outcome::Pass);
    }
    let mut table =
        table(["run", "started", "suite", "commit", "branch", "origin", "cases", "not ok", "testbed"]);
    for r in &runs {
        let git = r.git.as_ref();
        table.add_row([
            r.key[..12].to_owned(),
            r.started_at.clone(),
            r.suite.clone(),
            git.map(|g| format!("{}{}", short(&g.commit), if g.dirty { "+" } else { "" }))
                .unwrap_or_default(),
            git.and_then(|g| g.branch.clone()).unwrap_or_default(),
            r.origin.clone(),
            r.cases.to_string(),
            r.not_ok.to_string(),
            Testbed::label_of_key(&r.testbed),
        ]);
    }
    print_table(&mut out, &table)?;
    writeln!(out, "{} run{} in {}", runs.len(), if runs.len() == 1 { "" } else { "s" }, store.location())?;
    Ok(Outcome::Pass)
}

fn settings(args: &ChangeArgs, confidence: f64) -> ChangePointSettings {
    ChangePointSettings {
        window: args.window,
        max_p_value: args.max_p,
        min_magnitude: args.min_magnitude,
        min_segment: args.min_segment,
        confidence,
    }
}

/// The trends of the suite's cases (or one case), with their change points.
fn read_trends(
    store: &mut dyn HistoryStore,
    suite: Option<&Suite>,
    case: Option<&str>,
    args: &ChangeArgs,
) -> Result<Vec<Trend>> {
    let confidence = suite.map_or(0.99, |s| s.thresholds.confidence);
    let points =
        store.points(&PointFilter { suite: suite.map(|s| s.name.clone()), case: case.map(str::to_owned) })?;
    if let Some(case) = case {
        if points.is_empty() {
            bail!("the history has no run of case `{case}`; `pawl history list` shows what it holds");
        }
    }
    Ok(pawl_history::trends(points, &settings(args, confidence))?)
}

fn show(case: &str, format: HistoryFormat, args: &ChangeArgs, place: &HistoryPlace) -> Result<Outcome> {
    let (mut store, suite) = open_place(place)?;
    let trends = read_trends(store.as_mut(), suite.as_ref(), Some(case), args)?;
    let mut out = std::io::stdout().lock();
    if format == HistoryFormat::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&trends)?)?;
        return Ok(Outcome::Pass);
    }
    for trend in &trends {
        writeln!(out, "{} · {} · {}", trend.case_id, trend.suite, Testbed::label_of_key(&trend.testbed))?;
        let starts: HashMap<&str, &pawl_history::Change> =
            trend.changes.iter().map(|c| (c.run_key.as_str(), c)).collect();
        let mut table = table(["run", "started", "commit", "status", "median", "99% CI", "n", "change"]);
        for p in &trend.points {
            let ci = match (p.ci_low_ns, p.ci_high_ns) {
                (Some(lo), Some(hi)) => format!("{} – {}", duration(lo), duration(hi)),
                _ => String::new(),
            };
            table.add_row([
                p.run_key[..12].to_owned(),
                p.started_at.clone(),
                p.git.as_ref().map(|g| short(&g.commit).to_owned()).unwrap_or_default(),
                p.status.as_str().to_owned(),
                p.median_ns.map(duration).unwrap_or_default(),
                ci,
                p.samples.to_string(),
                starts
                    .get(p.run_key.as_str())
                    .map(|c| format!("◀ {}", signed_percent(c.change.rel_change)))
                    .unwrap_or_default(),
            ]);
        }
        print_table(&mut out, &table)?;
        writeln!(
            out,
            "{} change point{}\n",
            trend.changes.len(),
            if trend.changes.len() == 1 { "" } else { "s" }
        )?;
    }
    Ok(Outcome::Pass)
}

#[derive(serde::Serialize)]
struct ChangesReport<'a> {
    schema: &'static str,
    settings: ChangePointSettings,
    tolerance: f64,
    since: Option<&'a str>,
    regressions: usize,
    cases: Vec<CaseChanges<'a>>,
}

#[derive(serde::Serialize)]
struct CaseChanges<'a> {
    suite: &'a str,
    testbed: &'a str,
    case_id: &'a str,
    runs: usize,
    changes: Vec<&'a pawl_history::Change>,
}

fn tolerance(suite: Option<&Suite>, flag: Option<f64>) -> Result<f64> {
    let t = flag.unwrap_or_else(|| suite.map_or(0.02, |s| s.thresholds.tolerance));
    if !(t > 0.0 && t < 1.0) {
        bail!("--tolerance must be between 0 and 1 (a fraction: 0.02 is 2%), got {t}");
    }
    Ok(t)
}

fn changes_command(
    case: Option<&str>,
    since: Option<&str>,
    tolerance_flag: Option<f64>,
    format: HistoryFormat,
    args: &ChangeArgs,
    place: &HistoryPlace,
) -> Result<Outcome> {
    let (mut store, suite) = open_place(place)?;
    let tolerance = tolerance(suite.as_ref(), tolerance_flag)?;
    let since_us =
        since.map(|s| since_us(store.as_mut(), s, suite.as_ref().map(|s| s.name.as_str()))).transpose()?;
    let trends = read_trends(store.as_mut(), suite.as_ref(), case, args)?;
    let in_range = |c: &pawl_history::Change| since_us.is_none_or(|s| c.started_us >= s);
    let cases: Vec<CaseChanges> = trends
        .iter()
        .map(|t| CaseChanges {
            suite: &t.suite,
            testbed: &t.testbed,
            case_id: t.case_id.as_str(),
            runs: t.measured().len(),
            changes: t.changes.iter().filter(|c| in_range(c)).collect(),
        })
        .collect();
    let regressions = cases.iter().flat_map(|c| &c.changes).filter(|c| c.is_regression(tolerance)).count();
    let mut out = std::io::stdout().lock();
    if format == HistoryFormat::Json {
        let report = ChangesReport {
            schema: "pawl-history-changes/1",
            settings: settings(args, suite.as_ref().map_or(0.99, |s| s.thresholds.confidence)),
            tolerance,
            since,
            regressions,
            cases: cases.into_iter().filter(|c| !c.changes.is_empty()).collect(),
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(Outcome::from_failed(regressions > 0));
    }
    let mut total = 0;
    let mut with = 0;
    for c in cases.iter().filter(|c| !c.changes.is_empty()) {
        with += 1;
        writeln!(out, "{} · {} ({} runs)", c.case_id, Testbed::label_of_key(c.testbed), c.runs)?;
        for change in &c.changes {
            total += 1;
            let cp = &change.change;
            let level = |e: &pawl_core::verdict::Estimate, n: usize| {
                format!(
                    "{} ({:.0}% CI {} – {}, {n} runs)",
                    duration(e.point),
                    e.confidence * 100.0,
                    duration(e.low),
                    duration(e.high)
                )
            };
            writeln!(
                out,
                "  {} at run {} (commit {}, {}), after run {} (commit {})",
                signed_percent(cp.rel_change),
                &change.run_key[..12],
                change.commit.as_deref().map_or("unknown", short),
                change.started_at,
                &change.previous_run_key[..12],
                change.previous_commit.as_deref().map_or("unknown", short),
            )?;
            writeln!(
                out,
                "    {} → {}, p = {:.1e}{}",
                level(&cp.before, cp.runs_before),
                level(&cp.after, cp.runs_after),
                cp.p_value,
                if change.is_regression(tolerance) {
                    format!("  REGRESSION: slower by more than the {} tolerance", percent(tolerance))
                } else {
                    String::new()
                }
            )?;
        }
    }
    writeln!(
        out,
        "{total} change point{} in {with} of {} case{}{}; {regressions} regression{} beyond the {} tolerance \
         (E-divisive means, t-test p ≤ {}, window {} runs, at least {} runs a level, at least {} change)",
        if total == 1 { "" } else { "s" },
        cases.len(),
        if cases.len() == 1 { "" } else { "s" },
        since.map(|s| format!(" since {s}")).unwrap_or_default(),
        if regressions == 1 { "" } else { "s" },
        percent(tolerance),
        args.max_p,
        args.window,
        args.min_segment,
        percent(args.min_magnitude),
    )?;
    Ok(Outcome::from_failed(regressions > 0))
}

/// The baseline's median of every (testbed key, case id), when the suite has a baseline file.
fn baseline_levels(suite: Option<&Suite>) -> Result<HashMap<(String, String), f64>> {
    let mut levels = HashMap::new();
    if let Some(path) = suite.and_then(|s| s.baseline.as_ref()).filter(|p| p.exists()) {
        let baseline = Baseline::load(path)?;
        for (key, tb) in &baseline.testbeds {
            for (id, entry) in &tb.cases {
                levels.insert((key.clone(), id.to_string()), entry.median_ns);
            }
        }
    }
    Ok(levels)
}

fn plot(case: Option<&str>, dir: &Path, args: &ChangeArgs, place: &HistoryPlace) -> Result<Outcome> {
    let (mut store, suite) = open_place(place)?;
    let trends = read_trends(store.as_mut(), suite.as_ref(), case, args)?;
    let levels = baseline_levels(suite.as_ref())?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let testbeds: std::collections::BTreeSet<&str> = trends.iter().map(|t| t.testbed.as_str()).collect();
    let mut written = 0;
    for trend in &trends {
        let baseline = levels.get(&(trend.testbed.clone(), trend.case_id.to_string())).copied();
        let figure = trend.figure(baseline);
        let mut name = file_name(trend.case_id.as_str());
        if testbeds.len() > 1 {
            name = format!("{name}--{}", file_name(&trend.testbed));
        }
        if trends.iter().filter(|t| t.case_id == trend.case_id && t.testbed == trend.testbed).count() > 1 {
            name = format!("{name}--{}", file_name(&trend.suite));
        }
        let svg = pawl_figures::render::svg(&figure)?;
        let png = pawl_figures::render::png(&figure)?;
        files::write_atomic(&dir.join(format!("{name}.svg")), svg.as_bytes())?;
        files::write_atomic(&dir.join(format!("{name}.png")), &png)?;
        written += 1;
    }
    println!(
        "{written} trend{} written to {} (SVG and PNG)",
        if written == 1 { "" } else { "s" },
        dir.display()
    );
    Ok(Outcome::Pass)
}

fn html(
    output: &Path,
    tolerance_flag: Option<f64>,
    args: &ChangeArgs,
    place: &HistoryPlace,
) -> Result<Outcome> {
    let (mut store, suite) = open_place(place)?;
    let tolerance = tolerance(suite.as_ref(), tolerance_flag)?;
    let trends = read_trends(store.as_mut(), suite.as_ref(), None, args)?;
    let latest = latest_verdicts(store.as_mut(), suite.as_ref())?;
    let suites: std::collections::BTreeSet<&str> = trends.iter().map(|t| t.suite.as_str()).collect();
    let options = PageOptions {
        title: format!("pawl history: {}", suites.into_iter().collect::<Vec<_>>().join(", ")),
        baseline: baseline_levels(suite.as_ref())?,
        latest: latest.as_ref(),
        tolerance,
        generated_at: jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        method: format!(
            "change points by E-divisive means with a t-test (p ≤ {}, window {} runs, at least {} runs a level, at \
             least {} change)",
            args.max_p,
            args.window,
            args.min_segment,
            percent(args.min_magnitude)
        ),
    };
    let page = page::render(&trends, &options);
    crate::output::write_bytes(output, page.as_bytes())?;
    crate::output::say_written(
        output,
        format_args!(
            "{} cases written to {} ({} KiB)",
            trends.len(),
            crate::output::shown(output),
            page.len() / 1024
        ),
    );
    Ok(Outcome::Pass)
}

/// The newest run's verdicts: against the suite's baseline when it has one for that testbed, else
/// against the run before it on the same testbed. `None` with fewer than two runs and no baseline.
fn latest_verdicts(store: &mut dyn HistoryStore, suite: Option<&Suite>) -> Result<Option<Comparison>> {
    let runs =
        store.runs(&RunFilter { suite: suite.map(|s| s.name.clone()), since_us: None, limit: Some(500) })?;
    let Some(newest) = runs.first() else { return Ok(None) };
    let opts =
        CompareOptions { thresholds: suite.map(|s| s.thresholds).unwrap_or_default(), force: false, seed: 0 };
    let new = store.run(&newest.key)?;
    let new_label = format!("run {}", &newest.key[..12]);
    if let Some(path) = suite.and_then(|s| s.baseline.as_ref()).filter(|p| p.exists()) {
        let baseline = Baseline::load(path)?;
        if baseline.testbed(&Testbed::from_env(&new.env)).is_some() {
            return Ok(Some(compare::compare_baseline(
                &baseline,
                &new,
                &path.display().to_string(),
                &new_label,
                &opts,
            )?));
        }
    }
    let Some(previous) = runs.iter().skip(1).find(|r| r.testbed == newest.testbed && r.suite == newest.suite)
    else {
        return Ok(None);
    };
    let old = store.run(&previous.key)?;
    Ok(Some(compare::compare_runs(&old, &new, &format!("run {}", &previous.key[..12]), &new_label, &opts)?))
}

fn export(key: &str, output: &Path, place: &HistoryPlace) -> Result<Outcome> {
    let (mut store, _) = open_place(place)?;
    let run = store.run(key)?;
    crate::output::write_json(output, &run)?;
    crate::output::say_written(
        output,
        format_args!(
            "run {} ({} cases) written to {}",
            pawl_history::run_key(&run).get(..12).unwrap_or(key),
            run.cases.len(),
            crate::output::shown(output)
        ),
    );
    Ok(Outcome::Pass)
}

// ---- words ----

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

fn percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if (p - p.round()).abs() < 1e-9 { format!("{p:.0}%") } else { format!("{p:.1}%") }
}

fn signed_percent(fraction: f64) -> String {
    format!("{}{:.1}%", if fraction >= 0.0 { "+" } else { "" }, fraction * 100.0)
}

/// A file name from a case id or testbed: letters, digits and `._=-` kept, anything else `_`.
fn file_name(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._=-".contains(c) { c } else { '_' })
        .take(150)
        .collect()
}

fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table
        .force_no_tty()
        .load_style(TableStyle::new().header_separator(LineStyle::none().fill('─').junction('─')));
    table.set_header(header);
    table
}

fn print_table(out: &mut impl Write, table: &Table) -> Result<()> {
    for line in table.to_string().lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// The git state of an A/B side given by revision: its commit, not dirty.
pub fn commit_info(commit: &str) -> GitInfo {
    GitInfo { commit: commit.to_owned(), branch: None, dirty: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ab_run_is_two_runs_with_their_own_samples_and_commits() {
        use pawl_core::case::CaseId;
        use pawl_core::paired::{PairedSamples, Settled};
        use pawl_core::value::Params;
        let suite = Suite::from_str(
            "[suite]\nname = \"k\"\n[[bench]]\nname = \"b\"\nkind = \"command\"\nrun = [\"x\"]\n",
            Path::new("pawl.toml"),
        )
        .unwrap();
        let outcome = |id: &str, case: PairedCase| PairedOutcome {
            id: CaseId::from_raw(id),
            bench: "b".into(),
            params: Params::new(),
            flops: None,
            bytes: Some(64.0),
            case,
        };
        let samples = PairedSamples {
            base_ns: vec![10.0, 11.0, 10.5],
            head_ns: vec![12.0, 12.5, 12.2, 99.0],
            base_clock_mhz: vec![1980, 1980, 1965],
            head_clock_mhz: vec![],
        };
        let outcomes = [
            outcome("b/measured", PairedCase::Measured { samples, looks: 1, settled: Settled::Open }),
            outcome("b/same", PairedCase::Identical),
            outcome("b/new", PairedCase::OnlyHead),
            outcome("b/broken", PairedCase::Failed { message: "fault".into() }),
        ];
        let env = Environment::default();
        let sides = AbSides {
            suite: &suite,
            started: "2026-05-20T10:00:00.4Z".parse().unwrap(),
            env: &env,
            settings: &MeasureSettings::default(),
            base: commit_info("aaaa"),
            head: Some(GitInfo { commit: "bbbb".into(), branch: Some("pr".into()), dirty: true }),
        };
        let (base, head) = ab_runs(&sides, &outcomes);
        assert_eq!(
            (base.timestamp.as_str(), head.timestamp.as_str()),
            ("2026-05-20T10:00:00Z", "2026-05-20T10:00:01Z")
        );
        assert_eq!(base.git.as_ref().unwrap().commit, "aaaa");
        assert!(head.git.as_ref().unwrap().dirty);
        let ids: Vec<&str> = head.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["b/measured", "b/broken"]);
        assert_eq!(base.cases[0].samples_ns, [10.0, 11.0, 10.5]);
        assert_eq!(head.cases[0].samples_ns, [12.0, 12.5, 12.2], "only whole pairs");
        assert_eq!(base.cases[0].sm_clock_mhz, [1980, 1980, 1965]);
        assert!(head.cases[0].sm_clock_mhz.is_empty());
        assert_eq!(head.cases[0].stats.as_ref().unwrap().median_ns, 12.2);
        assert_eq!(base.cases[1].status, CaseStatus::Failed);
        assert!(base.validate().is_ok() && head.validate().is_ok());
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_name("flash/B=4,S=512,dtype=f16"), "flash_B=4_S=512_dtype=f16");
        assert_eq!(file_name("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(file_name("NVIDIA H100 / driver 580"), "NVIDIA_H100___driver_580");
    }

    #[test]
    fn percents_read_well() {
        assert_eq!(percent(0.02), "2%");
        assert_eq!(percent(0.005), "0.5%");
        assert_eq!(signed_percent(0.051), "+5.1%");
        assert_eq!(signed_percent(-0.1), "-10.0%");
    }
}
