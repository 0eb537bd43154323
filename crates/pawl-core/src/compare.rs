//! Comparison: the only place verdicts are decided.
//!
//! Per case, the ratio r = new median / old median with a confidence interval on the log scale:
//! Price–Bonett where it is valid, the exact median bootstrap where it is not (small samples, heavy
//! ties, data that are not smooth around the median, an interval near a decision boundary). Against a stored baseline, the old side is a median
//! with a stored interval and the drift allowance widens every interval. Each case's p-value of "no
//! change" then goes through Benjamini–Hochberg across the run, and the verdict follows DESIGN.md
//! "Comparing honestly": significant (q ≤ α) and beyond the tolerance is a regression or an
//! improvement; within the tolerance is unchanged; anything else is inconclusive.
//!
//! Deterministic: the same inputs and seed give the same [`Comparison`], whatever the thread count.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::baseline::{Baseline, BaselineEntry, Testbed, TestbedBaseline};
use crate::case::CaseId;
use crate::hash::fnv1a;
use crate::report::text::percent;
use crate::run::{CaseResult, CaseStatus, Run};
use crate::stats::bootstrap::{self, BootstrapSettings, DEFAULT_RESAMPLES};
use crate::stats::median_ci::{min_samples_for, smooth_near_median};
use crate::stats::ratio::log_se_from_interval;
use crate::stats::{
    RatioInterval, Sample, StatsError, benjamini_hochberg, log_median_se, median_ci, price_bonett,
    tukey_outliers,
};
use crate::suite::{OutOfRange, Thresholds};
use crate::verdict::{
    BootstrapCause, Change, CompareMode, Comparison, Estimate, Note, OldName, Reason, Side, SideSummary,
    Verdict, VerdictKind,
};

/// Below this many samples on a side, intervals come from the bootstrap.
pub const SMALL_SAMPLE: usize = 30;
/// Fewer distinct values than this among the order statistics the analytic interval rests on count as
/// heavy ties (timer resolution, say), and send a case to the bootstrap.
const MIN_DISTINCT_CENTRAL: usize = 10;
/// An analytic interval whose end lies within this share of its half-width of a decision boundary (1,
/// or the tolerance either side) is recomputed by bootstrap, so that borderline calls do not rest on a
/// normal approximation.
const BOUNDARY_MARGIN: f64 = 0.1;
/// Notes flag a side with more outliers than this share.
const OUTLIER_NOTE_SHARE: f64 = 0.05;

/// How to compare.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompareOptions {
    pub thresholds: Thresholds,
    /// Compare across testbeds anyway.
    pub force: bool,
    /// Seed of every bootstrap; the same seed gives the same intervals.
    pub seed: u64,
}

/// Why two sides could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("{}", mismatch_message(baseline, run, differences, available))]
    TestbedMismatch {
        /// The old side's testbed (the closest one a baseline holds).
        baseline: Box<Testbed>,
        run: Box<Testbed>,
        /// How `baseline` differs from `run`, in words.
        differences: Vec<String>,
        /// Every testbed the baseline holds, closest first; empty when comparing two runs.
        available: Vec<Testbed>,
    },
    #[error(
        "the baseline has no figures for `{run}` and holds {} other testbeds ({}): --force can only \
         compare with a baseline that holds a single testbed; record a baseline on this testbed instead",
        available.len(),
        list_testbeds(available)
    )]
    AmbiguousTestbed { run: Testbed, available: Vec<Testbed> },
    #[error("invalid thresholds: {0}")]
    InvalidThresholds(#[from] OutOfRange),
}

fn list_testbeds(testbeds: &[Testbed]) -> String {
    testbeds.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
}

fn mismatch_message(
    baseline: &Testbed,
    run: &Testbed,
    differences: &[String],
    available: &[Testbed],
) -> String {
    let how = differences.join(", ");
    if available.is_empty() {
        format!(
            "the old run was measured on `{baseline}` and the new one on `{run}` ({how}): timings from \
             different testbeds are not comparable; measure both on one testbed, or pass --force to \
             compare anyway"
        )
    } else {
        format!(
            "the baseline has no figures for `{run}`; it holds {} (closest first; the closest differs in \
             {how}): record a baseline on this testbed, or pass --force to compare with the closest anyway",
            list_testbeds(available)
        )
    }
}

/// Compares two runs with raw samples. Refuses runs from different testbeds unless `opts.force`.
pub fn compare_runs(
    old: &Run,
    new: &Run,
    old_label: &str,
    new_label: &str,
    opts: &CompareOptions,
) -> Result<Comparison, CompareError> {
    opts.thresholds.validate()?;
    let (old_tb, new_tb) = (Testbed::from_env(&old.env), Testbed::from_env(&new.env));
    let differences = old_tb.differences(&new_tb);
    if !differences.is_empty() && !opts.force {
        return Err(CompareError::TestbedMismatch {
            baseline: Box::new(old_tb),
            run: Box::new(new_tb),
            differences,
            available: Vec::new(),
        });
    }
    let mut pairs: BTreeMap<&CaseId, (Option<OldSide>, Option<&CaseResult>)> = BTreeMap::new();
    for case in &old.cases {
        pairs.entry(&case.id).or_default().0 = Some(OldSide::Run(case));
    }
    for case in &new.cases {
        pairs.entry(&case.id).or_default().1 = Some(case);
    }
    // Two run files come from two processes: the same drift allowance as a stored baseline.
    let (drift, drift_ns) = (opts.thresholds.drift, opts.thresholds.drift_ns);
    let ctx = Context::new(opts, drift, drift_ns, OldName::OldRun);
    let testbed = testbed_words(new, &new_tb, &old_tb);
    Ok(finish(ctx, pairs, new, old_label, new_label, CompareMode::Runs { drift, drift_ns }, testbed))
}

/// Compares a run with a stored baseline: the entries of the run's testbed, or with `opts.force` and no
/// such entries, those of the baseline's single testbed. An empty baseline makes every case new.
pub fn compare_baseline(
    baseline: &Baseline,
    new: &Run,
    baseline_label: &str,
    new_label: &str,
    opts: &CompareOptions,
) -> Result<Comparison, CompareError> {
    opts.thresholds.validate()?;
    let run_tb = Testbed::from_env(&new.env);
    let chosen = choose_testbed(baseline, &run_tb, opts.force)?;
    let mut pairs: BTreeMap<&CaseId, (Option<OldSide>, Option<&CaseResult>)> = BTreeMap::new();
    if let Some(tb) = chosen {
        for (id, entry) in &tb.cases {
            pairs.entry(id).or_default().0 = Some(OldSide::Entry(entry));
        }
    }
    for case in &new.cases {
        pairs.entry(&case.id).or_default().1 = Some(case);
    }
    let (drift, drift_ns) = (opts.thresholds.drift, opts.thresholds.drift_ns);
    let ctx = Context::new(opts, drift, drift_ns, OldName::Baseline);
    let testbed = match chosen {
        Some(tb) => testbed_words(new, &run_tb, &tb.testbed),
        None => testbed_words(new, &run_tb, &run_tb),
    };
    Ok(finish(ctx, pairs, new, baseline_label, new_label, CompareMode::Baseline { drift, drift_ns }, testbed))
}

/// The baseline section to compare with, `None` for an empty baseline.
fn choose_testbed<'b>(
    baseline: &'b Baseline,
    run: &Testbed,
    force: bool,
) -> Result<Option<&'b TestbedBaseline>, CompareError> {
    if let Some(tb) = baseline.testbed(run) {
        return Ok(Some(tb));
    }
    let mut others: Vec<&TestbedBaseline> = baseline.testbeds.values().collect();
    if others.is_empty() {
        return Ok(None);
    }
    // Closest first: a different GPU matters most, then the driver, then CUDA.
    let distance = |t: &Testbed| {
        4 * usize::from(t.gpu != run.gpu)
            + 2 * usize::from(t.driver_major != run.driver_major)
            + usize::from(t.cuda_major != run.cuda_major)
    };
    others.sort_by(|a, b| distance(&a.testbed).cmp(&distance(&b.testbed)).then(a.testbed.cmp(&b.testbed)));
    let available: Vec<Testbed> = others.iter().map(|t| t.testbed.clone()).collect();
    match (force, others.as_slice()) {
        (true, [only]) => Ok(Some(only)),
        (true, _) => Err(CompareError::AmbiguousTestbed { run: run.clone(), available }),
        (false, _) => Err(CompareError::TestbedMismatch {
            baseline: Box::new(available[0].clone()),
            run: Box::new(run.clone()),
            differences: available[0].differences(run),
            available,
        }),
    }
}

/// The new side's testbed in words; a run pawl measured without a GPU says that its harnesses timed it.
fn testbed_words(run: &Run, new: &Testbed, old: &Testbed) -> String {
    let words = if run.env.gpu.is_none() && run.imported.is_empty() {
        format!("{new} (command benches, timed by their harnesses)")
    } else {
        new.to_string()
    };
    if new == old { words } else { format!("{words} (compared with `{old}`, forced)") }
}

/// The old side of one case.
#[derive(Clone, Copy, Debug)]
enum OldSide<'a> {
    Run(&'a CaseResult),
    Entry(&'a BaselineEntry),
}

/// Settings every case shares.
#[derive(Clone, Debug)]
struct Context {
    tolerance: f64,
    confidence: f64,
    /// Drift allowance between processes, relative (0 for one process).
    drift: f64,
    /// Drift allowance in nanoseconds: the floor of the relative one for short kernels.
    drift_ns: f64,
    seed: u64,
    /// What the old side is, for reasons.
    old_name: OldName,
}

impl Context {
    fn new(opts: &CompareOptions, drift: f64, drift_ns: f64, old_name: OldName) -> Context {
        Context {
            tolerance: opts.thresholds.tolerance,
            confidence: opts.thresholds.confidence,
            drift,
            drift_ns,
            seed: opts.seed,
            old_name,
        }
    }

    /// The drift allowance of a case whose old median is `old_median_ns`: the relative allowance, or
    /// the absolute one where that is larger (a short kernel shifts by a fixed ~0.1–0.2 µs between
    /// processes, which is several percent of a few microseconds).
    fn drift_for(&self, old_median_ns: f64) -> f64 {
        if self.drift_ns > 0.0 && old_median_ns > 0.0 {
            self.drift.max(self.drift_ns / old_median_ns)
        } else {
            self.drift
        }
    }

    fn alpha(&self) -> f64 {
        1.0 - self.confidence
    }
}

/// A case decided without statistics, or one waiting for its q-value.
enum Outcome {
    Decided(Verdict),
    /// `drift`: the case's drift allowance, already in `interval`, for the reason.
    Measured {
        verdict: Verdict,
        interval: RatioInterval,
        drift: f64,
    },
}

fn finish(
    ctx: Context,
    pairs: BTreeMap<&CaseId, (Option<OldSide>, Option<&CaseResult>)>,
    new: &Run,
    old_label: &str,
    new_label: &str,
    mode: CompareMode,
    testbed: String,
) -> Comparison {
    let jobs: Vec<_> = pairs.into_iter().collect();
    let outcomes: Vec<Outcome> =
        jobs.par_iter().map(|(id, (old, new_case))| judge(id, *old, *new_case, &ctx)).collect();

    let p_values: Vec<f64> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Measured { interval, .. } => Some(interval.p_value),
            Outcome::Decided(_) => None,
        })
        .collect();
    let measured = p_values.len();
    let mut q_values = benjamini_hochberg(&p_values).into_iter();
    let mut verdicts: Vec<Verdict> = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Outcome::Decided(verdict) => verdict,
            Outcome::Measured { verdict, interval, drift } => {
                let q = q_values.next().unwrap_or(1.0);
                decide(verdict, &interval, q, measured, &ctx, drift)
            }
        })
        .collect();
    let rank = |kind: VerdictKind| VerdictKind::ALL.iter().position(|&k| k == kind).unwrap_or(usize::MAX);
    verdicts.sort_by(|a, b| rank(a.kind).cmp(&rank(b.kind)).then_with(|| a.id.cmp(&b.id)));

    Comparison {
        suite: new.suite.clone(),
        old_label: old_label.to_owned(),
        new_label: new_label.to_owned(),
        mode,
        tolerance: ctx.tolerance,
        confidence: ctx.confidence,
        multiple_comparisons: multiple_comparisons_words(measured, ctx.alpha()),
        testbed,
        thresholds_from: None,
        verdicts,
    }
}

pub(crate) fn multiple_comparisons_words(measured: usize, alpha: f64) -> String {
    match measured {
        0 => "none: no case was measured on both sides".to_owned(),
        1 => format!("Benjamini–Hochberg, false discovery rate {} over 1 case", percent(alpha)),
        m => format!("Benjamini–Hochberg, false discovery rate {} over {m} cases", percent(alpha)),
    }
}

/// Everything about one case except what needs the other cases (its q-value).
fn judge(id: &CaseId, old: Option<OldSide>, new: Option<&CaseResult>, ctx: &Context) -> Outcome {
    let shell = |kind: VerdictKind, case: Option<&CaseResult>, reason: Reason| {
        let bench = case.map_or_else(|| id.bench().to_owned(), |c| c.bench.clone());
        Verdict::bare(id.clone(), bench, case.map(|c| c.params.clone()).unwrap_or_default(), kind, reason)
    };
    let old_case = match old {
        Some(OldSide::Run(case)) => Some(case),
        _ => None,
    };
    let old_summary = || old.and_then(|o| old_side_summary(o, new, ctx.confidence));
    let not_measured =
        |case: &CaseResult| Reason::NotMeasured { status: case.status, error: case.error.clone() };

    let Some(new_case) = new else {
        let mut v = shell(VerdictKind::Missing, old_case, Reason::NotInNew { old: ctx.old_name });
        v.old = old_summary();
        return Outcome::Decided(v);
    };
    match new_case.status {
        CaseStatus::Failed | CaseStatus::Wrong | CaseStatus::Timeout => {
            let mut v = shell(VerdictKind::Failed, Some(new_case), not_measured(new_case));
            v.old = old_summary();
            return Outcome::Decided(v);
        }
        CaseStatus::Skipped => {
            let mut v = shell(VerdictKind::Missing, Some(new_case), not_measured(new_case));
            v.old = old_summary();
            return Outcome::Decided(v);
        }
        CaseStatus::Ok => {}
    }
    if new_case.is_summary_only() {
        let (kind, reason) = match old {
            None => (VerdictKind::New, Reason::NotInOld { old: ctx.old_name }),
            Some(_) => (VerdictKind::Inconclusive, Reason::SummaryOnly { side: Side::New }),
        };
        let mut v = shell(kind, Some(new_case), reason);
        v.old = old_summary();
        v.notes.extend(summary_note(Side::New, new_case));
        if let Some(old_case) = old_case.filter(|c| c.is_summary_only()) {
            v.notes.extend(summary_note(Side::Old, old_case));
        }
        return Outcome::Decided(v);
    }
    let new_sample = match Sample::new(&new_case.samples_ns) {
        Ok(sample) => sample,
        Err(e) => {
            let reason = Reason::UnusableSamples { side: Side::New, error: e.to_string() };
            let mut v = shell(VerdictKind::Failed, Some(new_case), reason);
            v.old = old_summary();
            return Outcome::Decided(v);
        }
    };
    let new_summary = run_side_summary(new_case, &new_sample, ctx.confidence);
    let mut notes = Vec::new();
    side_notes(Side::New, new_case, &new_sample, &mut notes);

    let Some(old) = old else {
        let mut v = shell(VerdictKind::New, Some(new_case), Reason::NotInOld { old: ctx.old_name });
        v.new = Some(new_summary);
        v.notes = notes;
        return Outcome::Decided(v);
    };
    let old_sample = match old {
        OldSide::Run(case) if case.status != CaseStatus::Ok => {
            let mut v =
                shell(VerdictKind::New, Some(new_case), Reason::MeasuredNow { old_status: case.status });
            notes.push(Note::OldStatus { status: case.status, error: case.error.clone() });
            v.new = Some(new_summary);
            v.notes = notes;
            return Outcome::Decided(v);
        }
        OldSide::Run(case) if case.is_summary_only() => {
            let mut v =
                shell(VerdictKind::Inconclusive, Some(new_case), Reason::SummaryOnly { side: Side::Old });
            notes.extend(summary_note(Side::Old, case));
            v.new = Some(new_summary);
            v.notes = notes;
            return Outcome::Decided(v);
        }
        OldSide::Run(case) => match Sample::new(&case.samples_ns) {
            Ok(sample) => {
                side_notes(Side::Old, case, &sample, &mut notes);
                Some(sample)
            }
            Err(e) => {
                let reason = Reason::UnusableSamples { side: Side::Old, error: e.to_string() };
                let mut v = shell(VerdictKind::Inconclusive, Some(new_case), reason);
                v.new = Some(new_summary);
                v.notes = notes;
                return Outcome::Decided(v);
            }
        },
        OldSide::Entry(_) => None,
    };

    let mut verdict =
        shell(VerdictKind::Inconclusive, Some(new_case), Reason::CannotCompare { error: String::new() });
    verdict.old = old_side_summary(old, Some(new_case), ctx.confidence);
    verdict.new = Some(new_summary);

    let need = min_samples_for(ctx.confidence);
    let old_n = old_sample.as_ref().map_or(usize::MAX, Sample::n);
    if new_sample.n() < need || old_n < need {
        let ratio = match old {
            OldSide::Run(_) => old_sample.as_ref().map_or(1.0, |s| new_sample.median() / s.median()),
            OldSide::Entry(e) => new_sample.median() / e.median_ns,
        };
        verdict.reason = Reason::TooFewSamples {
            ratio,
            new: new_sample.n(),
            old: old_sample.as_ref().map(Sample::n),
            needed: need,
            confidence: ctx.confidence,
        };
        verdict.notes = notes;
        return Outcome::Decided(verdict);
    }

    let seed = bootstrap::mix_seed(ctx.seed, fnv1a(id.as_str()));
    let drift = match (old, &old_sample) {
        (OldSide::Entry(entry), _) => ctx.drift_for(entry.median_ns),
        (OldSide::Run(_), Some(sample)) => ctx.drift_for(sample.median()),
        (OldSide::Run(_), None) => ctx.drift,
    };
    let computed = match (old, &old_sample) {
        (OldSide::Run(_), Some(old_sample)) => runs_interval(old_sample, &new_sample, ctx, drift, seed),
        (OldSide::Entry(entry), _) => baseline_interval(entry, &new_sample, ctx, drift, seed, &mut notes),
        (OldSide::Run(_), None) => Err(StatsError::Empty),
    };
    match computed {
        Ok((interval, method)) => {
            if let Method::Bootstrap(because) = method {
                notes.push(Note::Bootstrap { resamples: DEFAULT_RESAMPLES, seed, because });
            }
            verdict.ratio = Some(Estimate {
                point: interval.ratio,
                low: interval.low,
                high: interval.high,
                confidence: ctx.confidence,
            });
            verdict.p_value = Some(interval.p_value);
            verdict.notes = notes;
            Outcome::Measured { verdict, interval, drift }
        }
        Err(e) => {
            verdict.reason = Reason::CannotCompare { error: e.to_string() };
            verdict.notes = notes;
            Outcome::Decided(verdict)
        }
    }
}

/// How a case's interval was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Analytic,
    Bootstrap(BootstrapCause),
}

/// Runs against runs: Price–Bonett, or the bootstrap where it is not to be trusted, widened by the
/// drift allowance between the two runs' processes.
fn runs_interval(
    old: &Sample,
    new: &Sample,
    ctx: &Context,
    drift: f64,
    seed: u64,
) -> Result<(RatioInterval, Method), StatsError> {
    let why = if old.n().min(new.n()) < SMALL_SAMPLE {
        BootstrapCause::FewSamples
    } else if heavy_ties(old) || heavy_ties(new) {
        BootstrapCause::Ties
    } else if !smooth_near_median(old, ctx.confidence) || !smooth_near_median(new, ctx.confidence) {
        BootstrapCause::NotSmooth
    } else {
        let analytic = price_bonett(old, new, ctx.confidence, drift)?;
        if !near_boundary(&analytic, ctx.tolerance) {
            return Ok((analytic, Method::Analytic));
        }
        BootstrapCause::NearBoundary
    };
    let settings = BootstrapSettings { resamples: DEFAULT_RESAMPLES, seed };
    Ok((bootstrap::ratio_of_medians(old, new, ctx.confidence, drift, settings)?, Method::Bootstrap(why)))
}

/// A run against a stored figure: the stored interval gives the old side's standard error on the log
/// scale; the drift allowance widens the interval and shifts the null of the p-value.
fn baseline_interval(
    entry: &BaselineEntry,
    new: &Sample,
    ctx: &Context,
    drift: f64,
    seed: u64,
    notes: &mut Vec<Note>,
) -> Result<(RatioInterval, Method), StatsError> {
    let old_se =
        log_se_from_interval(entry.ci_low_ns, entry.ci_high_ns, entry.confidence).unwrap_or_else(|_| {
            notes.push(Note::IgnoredBaselineInterval { confidence: entry.confidence });
            0.0
        });
    let why = if new.n() < SMALL_SAMPLE {
        BootstrapCause::FewSamples
    } else if heavy_ties(new) {
        BootstrapCause::Ties
    } else if !smooth_near_median(new, ctx.confidence) {
        BootstrapCause::NotSmooth
    } else {
        let log_ratio = new.median().ln() - entry.median_ns.ln();
        let se = old_se.hypot(log_median_se(new)?);
        let analytic = RatioInterval::from_log_normal(log_ratio, se, ctx.confidence, drift);
        if !near_boundary(&analytic, ctx.tolerance) {
            return Ok((analytic, Method::Analytic));
        }
        BootstrapCause::NearBoundary
    };
    let settings = BootstrapSettings { resamples: DEFAULT_RESAMPLES, seed };
    let interval =
        bootstrap::ratio_to_reference(entry.median_ns, old_se, new, ctx.confidence, drift, settings)?;
    Ok((interval, Method::Bootstrap(why)))
}

/// Whether the order statistics Price–Bonett rests on take too few distinct values for a
/// continuous-distribution approximation.
fn heavy_ties(sample: &Sample) -> bool {
    let n = sample.n();
    let a = ((n as f64 / 2.0 - (n as f64).sqrt()).round() as usize).clamp(1, n / 2);
    let central = &sample.sorted()[a - 1..=n - a];
    let distinct = 1 + central.windows(2).filter(|w| w[0] != w[1]).count();
    distinct < MIN_DISTINCT_CENTRAL
}

/// Whether an end of the interval lies within [`BOUNDARY_MARGIN`] of its half-width of 1 or of the
/// tolerance on either side (all on the log scale).
fn near_boundary(interval: &RatioInterval, tolerance: f64) -> bool {
    let (low, high) = (interval.low.ln(), interval.high.ln());
    let margin = BOUNDARY_MARGIN * (high - low) / 2.0;
    let edge = tolerance.ln_1p();
    [0.0, edge, -edge].iter().any(|b| (low - b).abs() < margin || (high - b).abs() < margin)
}

/// The verdict of a measured paired case (base and head interleaved in one process, so no drift
/// allowance), by the same rules and in the same words as [`compare_runs`]. For `paired`.
pub(crate) fn decide_paired(
    v: Verdict,
    interval: &RatioInterval,
    q: f64,
    measured: usize,
    tolerance: f64,
    confidence: f64,
) -> Verdict {
    let ctx = Context {
        tolerance,
        confidence,
        drift: 0.0,
        drift_ns: 0.0,
        seed: 0,
        old_name: OldName::BaseRevision,
    };
    decide(v, interval, q, measured, &ctx, 0.0)
}

/// The one rule behind every verdict (regressed, improved, unchanged, inconclusive) and behind the
/// paired schedule's stopping (`paired::settle`): where a measured ratio stands against the tolerance.
/// Classifies ratio `ratio` (new over old) at `tolerance`, given whether it is `significant` (its
/// interval, or its adjusted q-value, excludes no change).
pub fn classify(ratio: f64, significant: bool, tolerance: f64) -> Change {
    let upper = 1.0 + tolerance;
    let lower = 1.0 / upper;
    if significant && ratio > upper {
        Change::Slower
    } else if significant && ratio < lower {
        Change::Faster
    } else if (lower..=upper).contains(&ratio) {
        Change::Within
    } else {
        Change::Unsettled
    }
}

/// The verdict of a measured case, now that its q-value is known.
fn decide(
    mut v: Verdict,
    interval: &RatioInterval,
    q: f64,
    measured: usize,
    ctx: &Context,
    drift: f64,
) -> Verdict {
    let significant = q <= ctx.alpha();
    let change = classify(interval.ratio, significant, ctx.tolerance);
    v.kind = match change {
        Change::Slower => VerdictKind::Regressed,
        Change::Faster => VerdictKind::Improved,
        Change::Within => VerdictKind::Unchanged,
        Change::Unsettled => VerdictKind::Inconclusive,
    };
    v.reason = Reason::Judged {
        change,
        significant,
        tolerance: ctx.tolerance,
        confidence: ctx.confidence,
        drift,
        cases: measured,
    };
    v.q_value = Some(q);
    v
}

fn run_side_summary(case: &CaseResult, sample: &Sample, confidence: f64) -> SideSummary {
    let median = sample.median();
    let (low, high) = median_ci(sample, confidence).map_or((median, median), |ci| (ci.low, ci.high));
    SideSummary {
        median_ns: Estimate { point: median, low, high, confidence },
        rel_noise: sample.rel_noise(),
        samples: sample.n(),
        tflops: rate(case.flops, median, 1e3),
        gbps: rate(case.bytes, median, 1.0),
    }
}

fn old_side_summary(old: OldSide, new: Option<&CaseResult>, confidence: f64) -> Option<SideSummary> {
    match old {
        OldSide::Run(case) => {
            let sample = Sample::new(&case.samples_ns).ok()?;
            Some(run_side_summary(case, &sample, confidence))
        }
        OldSide::Entry(e) => Some(SideSummary {
            median_ns: Estimate {
                point: e.median_ns,
                low: e.ci_low_ns,
                high: e.ci_high_ns,
                confidence: e.confidence,
            },
            rel_noise: e.rel_noise,
            samples: e.samples,
            // The work of a case does not change between sides.
            tflops: new.and_then(|c| rate(c.flops, e.median_ns, 1e3)),
            gbps: new.and_then(|c| rate(c.bytes, e.median_ns, 1.0)),
        }),
    }
}

/// `amount` per nanosecond over `scale`: FLOPs / (ns · 1e3) is TFLOP/s, bytes / ns is GB/s.
fn rate(amount: Option<f64>, median_ns: f64, scale: f64) -> Option<f64> {
    amount.filter(|a| a.is_finite() && *a > 0.0).map(|a| a / (median_ns * scale))
}

fn side_notes(side: Side, case: &CaseResult, sample: &Sample, notes: &mut Vec<Note>) {
    let n = sample.n();
    if case.throttled_samples > 0 {
        notes.push(Note::Throttled { side, throttled: case.throttled_samples, samples: n });
    }
    let outliers = tukey_outliers(sample);
    let share = outliers.total() as f64 / n as f64;
    if share > OUTLIER_NOTE_SHARE {
        notes.push(Note::Outliers { side, share, low: outliers.low, high: outliers.high });
    }
    if n < SMALL_SAMPLE {
        notes.push(Note::FewSamples { side, samples: n });
    }
}

/// The summary another tool reported for a side that has no samples.
fn summary_note(side: Side, case: &CaseResult) -> Option<Note> {
    case.summary.clone().map(|summary| Note::Summary { side, summary })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiple_comparisons_in_words() {
        assert_eq!(
            multiple_comparisons_words(240, 0.01),
            "Benjamini–Hochberg, false discovery rate 1% over 240 cases"
        );
    }

    #[test]
    fn boundaries() {
        let r = RatioInterval::from_log_normal(0.0, 0.01, 0.99, 0.0);
        assert!(!near_boundary(&r, 0.02));
        // Low end right at 1.
        let z = crate::stats::normal::two_sided_critical(0.99);
        let r = RatioInterval::from_log_normal(z * 0.01, 0.01, 0.99, 0.0);
        assert!(near_boundary(&r, 0.5));
        let tied = Sample::new(&[1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 3.0]).unwrap();
        assert!(heavy_ties(&tied));
        let spread = Sample::new(&(1..=100).map(f64::from).collect::<Vec<_>>()).unwrap();
        assert!(!heavy_ties(&spread));
    }
}
