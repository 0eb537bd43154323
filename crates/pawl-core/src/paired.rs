//! Paired A/B comparison: base and head revisions measured interleaved (A B B A …) in one process.
//!
//! Whatever drifts during a run (clock, temperature, the neighbouring work) hits both sides of a pair
//! alike, so the paired bootstrap of the ratio of medians ([`bootstrap::paired_ratio_of_medians`])
//! sees only the code's difference. Sampling is sequential — *decide, then stop*: at each look of a
//! fixed schedule ([`look_schedule`]) the case is settled when its interval says regression,
//! improvement or equivalence within the tolerance ([`settle`]). Repeated looks would inflate the
//! false-alarm rate, so each look uses the Bonferroni share α/K of the K looks the schedule allows, and
//! the final p-value is multiplied by the looks taken (a conservative group-sequential bound; Jennison
//! & Turnbull 2000, *Group Sequential Methods with Applications to Clinical Trials*, §1.3 and ch. 2).
//! Equivalence is Schuirmann's two one-sided tests (1987, J. Pharmacokinet. Biopharm. 15, 657–680):
//! the whole interval inside ±tolerance. The verdicts use [`compare`](crate::compare)'s rules and words,
//! with Benjamini–Hochberg across cases.

use std::time::Duration;

use crate::case::CaseId;
use crate::compare::{classify, decide_paired, multiple_comparisons_words};
use crate::hash::fnv1a;
use crate::run::CaseStatus;
use crate::stats::bootstrap::{self, BootstrapSettings, DEFAULT_RESAMPLES};
use crate::stats::{RatioInterval, Sample, StatsError, benjamini_hochberg, median_ci};
use crate::value::Params;
use crate::verdict::{
    Change, CompareMode, Comparison, Estimate, Note, OldName, Reason, SideSummary, Verdict, VerdictKind,
};

/// Pairs at the first look: fewer give no interval worth stopping on.
pub const FIRST_LOOK: usize = 32;
/// Each look comes after this many times the pairs of the one before.
const LOOK_GROWTH: f64 = 1.5;
/// Resamples of an interim look: cheap, and the look's level is already conservative.
const INTERIM_RESAMPLES: usize = 2_000;

/// How a paired case is judged and when it stops.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct StopRule {
    /// Relative change that counts.
    pub tolerance: f64,
    /// Confidence of the final verdict.
    pub confidence: f64,
    /// Most pairs a case may take; the look schedule ends there.
    pub max_pairs: usize,
    /// Seed of every bootstrap.
    pub seed: u64,
}

impl StopRule {
    /// The looks this rule allows: sample counts, ascending.
    pub fn looks(&self) -> Vec<usize> {
        look_schedule(self.max_pairs)
    }

    /// The confidence of one interim look: 1 − α/K over the K looks of the schedule.
    pub fn look_confidence(&self) -> f64 {
        let looks = self.looks().len().max(1) as f64;
        1.0 - (1.0 - self.confidence) / looks
    }
}

/// Pair counts at which a case is examined: [`FIRST_LOOK`], then ×1.5 each, the last at `max_pairs`.
pub fn look_schedule(max_pairs: usize) -> Vec<usize> {
    let mut looks = Vec::new();
    let mut n = FIRST_LOOK as f64;
    while (n as usize) < max_pairs {
        looks.push(n as usize);
        n = (n * LOOK_GROWTH).ceil();
    }
    looks.push(max_pairs.max(2));
    looks
}

/// Where a case stands after a look.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Settled {
    /// Slower beyond the tolerance, significantly.
    Regression,
    /// Faster beyond the tolerance, significantly.
    Improvement,
    /// The whole interval within ± the tolerance.
    Equivalent,
    /// Not yet decided.
    Open,
}

/// What an interval says at tolerance `tolerance`, by the rule of every verdict
/// ([`compare::classify`](crate::compare::classify)), significance being an interval that excludes 1;
/// and, to stop early on no change, equivalence: the whole interval within the tolerance.
pub fn settle(interval: &RatioInterval, tolerance: f64) -> Settled {
    let upper = 1.0 + tolerance;
    match classify(interval.ratio, interval.excludes_one(), tolerance) {
        Change::Slower => Settled::Regression,
        Change::Faster => Settled::Improvement,
        _ if interval.low >= 1.0 / upper && interval.high <= upper => Settled::Equivalent,
        _ => Settled::Open,
    }
}

/// One interim look at `pairs` pairs: the paired bootstrap interval at the look's level.
pub fn look(base_ns: &[f64], head_ns: &[f64], rule: &StopRule, id: &CaseId) -> Result<Settled, StatsError> {
    let settings = BootstrapSettings {
        resamples: INTERIM_RESAMPLES,
        seed: bootstrap::mix_seed(rule.seed, fnv1a(id.as_str()) ^ base_ns.len() as u64),
    };
    let interval = bootstrap::paired_ratio_of_medians(base_ns, head_ns, rule.look_confidence(), settings)?;
    Ok(settle(&interval, rule.tolerance))
}

/// A global time budget shared by cases: each first gets an equal share; what settled cases leave
/// over goes, in equal parts, to the cases still undecided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    total: Duration,
    spent: Duration,
}

impl Budget {
    pub fn new(total: Duration) -> Budget {
        Budget { total, spent: Duration::ZERO }
    }

    /// The first pass's share of each of `cases` cases.
    pub fn first_share(&self, cases: usize) -> Duration {
        self.total / u32::try_from(cases.max(1)).unwrap_or(u32::MAX)
    }

    /// Records time spent measuring.
    pub fn spend(&mut self, time: Duration) {
        self.spent += time;
    }

    pub fn left(&self) -> Duration {
        self.total.saturating_sub(self.spent)
    }

    /// The share of one of `undecided` cases still waiting in a later pass.
    pub fn leftover_share(&self, undecided: usize) -> Duration {
        self.left() / u32::try_from(undecided.max(1)).unwrap_or(u32::MAX)
    }
}

/// The paired samples of one case: `base_ns[i]` and `head_ns[i]` were taken next to each other. Clocks
/// (SM MHz per sample, as read around its batch) are empty where none were read.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct PairedSamples {
    pub base_ns: Vec<f64>,
    pub head_ns: Vec<f64>,
    #[serde(default)]
    pub base_clock_mhz: Vec<u32>,
    #[serde(default)]
    pub head_clock_mhz: Vec<u32>,
}

impl PairedSamples {
    pub fn pairs(&self) -> usize {
        self.base_ns.len().min(self.head_ns.len())
    }

    /// Cycles per sample (ns × MHz / 1000), both sides, when every sample has a clock.
    pub fn cycles(&self) -> Option<(Vec<f64>, Vec<f64>)> {
        let n = self.pairs();
        if self.base_clock_mhz.len() < n || self.head_clock_mhz.len() < n || n == 0 {
            return None;
        }
        let cycles = |ns: &[f64], mhz: &[u32]| -> Vec<f64> {
            ns.iter().zip(mhz).take(n).map(|(t, &f)| t * f64::from(f) / 1000.0).collect()
        };
        Some((cycles(&self.base_ns, &self.base_clock_mhz), cycles(&self.head_ns, &self.head_clock_mhz)))
    }
}

/// One case of an A/B run, as the measuring left it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PairedCase {
    /// Measured interleaved; `looks` interim looks were taken, and `settled` is where the last left it.
    Measured { samples: PairedSamples, looks: usize, settled: Settled },
    /// Both revisions build byte-identical code with identical launches: not measured.
    Identical,
    /// Only in the head revision.
    OnlyHead,
    /// Only in the base revision.
    OnlyBase,
    /// Could not be measured (compile error, fault, timeout): why.
    Failed { message: String },
}

/// A case of an A/B run with what identifies it.
#[derive(Clone, Debug, PartialEq)]
pub struct PairedOutcome {
    pub id: CaseId,
    pub bench: String,
    pub params: Params,
    pub flops: Option<f64>,
    pub bytes: Option<f64>,
    pub case: PairedCase,
}

/// Labels and settings of a paired comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct PairedOptions {
    pub suite: String,
    pub base_label: String,
    pub head_label: String,
    pub testbed: String,
    pub rule: StopRule,
}

/// Verdicts for every case of an A/B run (see the module docs for the method).
pub fn compare_paired(outcomes: &[PairedOutcome], opts: &PairedOptions) -> Comparison {
    let rule = &opts.rule;
    let mut decided = Vec::new();
    let mut measured: Vec<(Verdict, RatioInterval, f64)> = Vec::new();
    for outcome in outcomes {
        match judge(outcome, rule) {
            Judged::Decided(v) => decided.push(v),
            Judged::Measured { verdict, interval, p } => measured.push((verdict, interval, p)),
        }
    }
    let p_values: Vec<f64> = measured.iter().map(|(_, _, p)| *p).collect();
    let q_values = benjamini_hochberg(&p_values);
    let count = measured.len();
    for ((verdict, mut interval, p), q) in measured.into_iter().zip(q_values) {
        interval.p_value = p;
        let mut verdict = decide_paired(verdict, &interval, q, count, rule.tolerance, rule.confidence);
        verdict.p_value = Some(p);
        decided.push(verdict);
    }
    let rank = |kind: VerdictKind| VerdictKind::ALL.iter().position(|&k| k == kind).unwrap_or(usize::MAX);
    decided.sort_by(|a, b| rank(a.kind).cmp(&rank(b.kind)).then_with(|| a.id.cmp(&b.id)));
    Comparison {
        suite: opts.suite.clone(),
        old_label: opts.base_label.clone(),
        new_label: opts.head_label.clone(),
        mode: CompareMode::Paired,
        tolerance: rule.tolerance,
        confidence: rule.confidence,
        multiple_comparisons: format!(
            "{}; within a case, Bonferroni over its sequential looks",
            multiple_comparisons_words(count, 1.0 - rule.confidence)
        ),
        testbed: opts.testbed.clone(),
        thresholds_from: None,
        verdicts: decided,
    }
}

/// How many cases of `comparison` were skipped as identical code.
pub fn identical_count(comparison: &Comparison) -> usize {
    comparison.verdicts.iter().filter(|v| v.reason == Reason::IdenticalCode).count()
}

/// A case decided without statistics, or a measured one waiting for its q-value.
enum Judged {
    Decided(Verdict),
    /// With its interval and its p-value adjusted for the looks taken.
    Measured {
        verdict: Verdict,
        interval: RatioInterval,
        p: f64,
    },
}

fn judge(o: &PairedOutcome, rule: &StopRule) -> Judged {
    let shell = |kind: VerdictKind, reason: Reason| {
        Verdict::bare(o.id.clone(), o.bench.clone(), o.params.clone(), kind, reason)
    };
    let (samples, looks, settled) = match &o.case {
        PairedCase::Identical => {
            let mut v = shell(VerdictKind::Unchanged, Reason::IdenticalCode);
            v.notes.push(Note::IdenticalCode);
            return Judged::Decided(v);
        }
        PairedCase::OnlyHead => {
            return Judged::Decided(shell(VerdictKind::New, Reason::NotInOld { old: OldName::BaseRevision }));
        }
        PairedCase::OnlyBase => {
            return Judged::Decided(shell(
                VerdictKind::Missing,
                Reason::NotInNew { old: OldName::BaseRevision },
            ));
        }
        PairedCase::Failed { message } => {
            let reason = Reason::NotMeasured { status: CaseStatus::Failed, error: Some(message.clone()) };
            return Judged::Decided(shell(VerdictKind::Failed, reason));
        }
        PairedCase::Measured { samples, looks, settled } => (samples, *looks, *settled),
    };
    let n = samples.pairs();
    let (base, head) = (&samples.base_ns[..n], &samples.head_ns[..n]);
    let mut v = shell(VerdictKind::Inconclusive, Reason::CannotCompare { error: String::new() });
    v.old = summary(base, o, rule.confidence);
    v.new = summary(head, o, rule.confidence);
    let seed = bootstrap::mix_seed(rule.seed, fnv1a(o.id.as_str()));
    let settings = BootstrapSettings { resamples: DEFAULT_RESAMPLES, seed };
    let interval = match bootstrap::paired_ratio_of_medians(base, head, rule.confidence, settings) {
        Ok(interval) => interval,
        Err(e) => {
            v.reason = Reason::CannotCompare { error: format!("{e} ({n} pairs)") };
            return Judged::Decided(v);
        }
    };
    let looks = looks.max(1);
    let p = (interval.p_value * looks as f64).min(1.0);
    v.ratio = Some(estimate(&interval));
    v.notes.push(Note::Paired { pairs: n, resamples: DEFAULT_RESAMPLES, seed, settled, looks });
    v.notes.extend(cycles_note(samples, &interval, rule, seed));
    Judged::Measured { verdict: v, interval, p }
}

fn estimate(r: &RatioInterval) -> Estimate {
    Estimate { point: r.ratio, low: r.low, high: r.high, confidence: r.confidence }
}

/// How the comparison reads in SM cycles: whether it settles as time does (a disagreement is a clock
/// change, not a code change).
fn cycles_note(samples: &PairedSamples, time: &RatioInterval, rule: &StopRule, seed: u64) -> Option<Note> {
    let (base, head) = samples.cycles()?;
    let settings = BootstrapSettings { resamples: DEFAULT_RESAMPLES, seed: bootstrap::mix_seed(seed, 1) };
    let cycles = bootstrap::paired_ratio_of_medians(&base, &head, rule.confidence, settings).ok()?;
    let agree = settle(time, rule.tolerance) == settle(&cycles, rule.tolerance);
    Some(Note::Cycles { agree, time: estimate(time), cycles: estimate(&cycles) })
}

fn summary(samples: &[f64], o: &PairedOutcome, confidence: f64) -> Option<SideSummary> {
    let sample = Sample::new(samples).ok()?;
    let median = sample.median();
    let (low, high) = median_ci(&sample, confidence).map_or((median, median), |ci| (ci.low, ci.high));
    let rate = |amount: Option<f64>, scale: f64| {
        amount.filter(|a| a.is_finite() && *a > 0.0).map(|a| a / (median * scale))
    };
    Some(SideSummary {
        median_ns: Estimate { point: median, low, high, confidence },
        rel_noise: sample.rel_noise(),
        samples: sample.n(),
        tflops: rate(o.flops, 1e3),
        gbps: rate(o.bytes, 1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_grows_and_ends_at_the_cap() {
        let looks = look_schedule(500);
        assert_eq!(looks[0], FIRST_LOOK);
        assert_eq!(*looks.last().unwrap(), 500);
        assert!(looks.windows(2).all(|w| w[1] > w[0]), "{looks:?}");
        assert_eq!(look_schedule(10), vec![10]);
    }

    #[test]
    fn settle_follows_the_verdict_rules() {
        let iv = |ratio: f64, low: f64, high: f64| RatioInterval {
            ratio,
            low,
            high,
            confidence: 0.99,
            p_value: 0.5,
        };
        assert_eq!(settle(&iv(1.01, 1.004, 1.016), 0.005), Settled::Regression);
        assert_eq!(
            settle(&iv(1.004, 1.001, 1.007), 0.005),
            Settled::Open,
            "significant but within tolerance"
        );
        assert_eq!(settle(&iv(0.99, 0.985, 0.995), 0.005), Settled::Improvement);
        assert_eq!(settle(&iv(1.001, 0.997, 1.004), 0.005), Settled::Equivalent);
        assert_eq!(settle(&iv(1.0, 0.99, 1.01), 0.005), Settled::Open);
    }

    #[test]
    fn budget_gives_leftovers_to_the_undecided() {
        let mut budget = Budget::new(Duration::from_secs(60));
        assert_eq!(budget.first_share(4), Duration::from_secs(15));
        budget.spend(Duration::from_secs(30));
        assert_eq!(budget.leftover_share(2), Duration::from_secs(15));
        budget.spend(Duration::from_secs(40));
        assert_eq!(budget.leftover_share(1), Duration::ZERO);
    }
}
