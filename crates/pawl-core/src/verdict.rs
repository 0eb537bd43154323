//! Verdicts: what a comparison concludes about each case, as plain data for the reports.
//!
//! `compare` computes them; `report` renders them; nothing else decides what a verdict is.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::case::CaseId;
use crate::paired::Settled;
use crate::run::{CaseStatus, ToolSummary};
use crate::suite::Thresholds;
use crate::value::Params;

/// What happened to one case between the old side and the new.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum VerdictKind {
    /// Slower by more than the tolerance, at the requested confidence.
    Regressed,
    /// Could not be measured, or gave a wrong result, on the new side.
    Failed,
    /// Too noisy to say at the requested confidence.
    Inconclusive,
    /// Faster by more than the tolerance, at the requested confidence.
    Improved,
    /// No change beyond the tolerance.
    Unchanged,
    /// Only on the new side.
    New,
    /// Only on the old side.
    Missing,
}

impl VerdictKind {
    /// All kinds, most urgent first: the order reports list them in.
    pub const ALL: [VerdictKind; 7] = [
        VerdictKind::Regressed,
        VerdictKind::Failed,
        VerdictKind::Inconclusive,
        VerdictKind::Improved,
        VerdictKind::Unchanged,
        VerdictKind::New,
        VerdictKind::Missing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Regressed => "regressed",
            VerdictKind::Failed => "failed",
            VerdictKind::Inconclusive => "inconclusive",
            VerdictKind::Improved => "improved",
            VerdictKind::Unchanged => "unchanged",
            VerdictKind::New => "new",
            VerdictKind::Missing => "missing",
        }
    }

    /// Whether this verdict fails a check (exit code 1).
    pub fn fails_check(self) -> bool {
        matches!(self, VerdictKind::Regressed | VerdictKind::Failed)
    }
}

impl fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A point estimate with its confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Estimate {
    pub point: f64,
    pub low: f64,
    pub high: f64,
    pub confidence: f64,
}

/// One side of a comparison for one case, as the reports show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SideSummary {
    /// Median in nanoseconds, with its interval.
    pub median_ns: Estimate,
    pub rel_noise: f64,
    pub samples: usize,
    /// TFLOP/s at the median, when the case declares its FLOPs.
    pub tflops: Option<f64>,
    /// GB/s at the median, when the case declares its bytes.
    pub gbps: Option<f64>,
}

/// The verdict on one case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Verdict {
    pub id: CaseId,
    pub bench: String,
    pub params: Params,
    pub kind: VerdictKind,
    /// New over old median, with its interval (drift allowance included where it applies).
    pub ratio: Option<Estimate>,
    /// p-value of "no change", before and after the multiple-comparison adjustment.
    pub p_value: Option<f64>,
    pub q_value: Option<f64>,
    pub old: Option<SideSummary>,
    pub new: Option<SideSummary>,
    /// Why, as data; `report::words` says it in words ("4.1% slower (99% CI +3.2% to +5.0%), beyond the
    /// 2% tolerance").
    pub reason: Reason,
    /// Things a reader should know: measured while throttled, many outliers, how the interval was made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

/// One side of a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Old,
    New,
}

/// What the old side of a comparison is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OldName {
    /// A run file.
    OldRun,
    /// A stored baseline.
    Baseline,
    /// The base revision of an A/B run.
    BaseRevision,
}

/// Why a verdict is what it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum Reason {
    /// Measured on both sides: the ratio (the verdict's `ratio`) classified against the tolerance.
    Judged {
        change: Change,
        /// The q-value (after Benjamini–Hochberg) is at most 1 − confidence.
        significant: bool,
        tolerance: f64,
        confidence: f64,
        /// The drift allowance between processes inside the interval (0 for one process).
        drift: f64,
        /// Cases measured on both sides: the Benjamini–Hochberg family.
        cases: usize,
    },
    /// Too few samples on a side for an interval at the confidence level.
    TooFewSamples { ratio: f64, new: usize, old: Option<usize>, needed: usize, confidence: f64 },
    /// Only in the old side.
    NotInNew { old: OldName },
    /// Only in the new side.
    NotInOld { old: OldName },
    /// The new side was not measured: failed, wrong, timed out or skipped.
    NotMeasured { status: CaseStatus, error: Option<String> },
    /// Measured now; the old run had it with this status.
    MeasuredNow { old_status: CaseStatus },
    /// A side's samples are unusable.
    UnusableSamples { side: Side, error: String },
    /// A side holds only another tool's summary, no samples.
    SummaryOnly { side: Side },
    /// The interval could not be computed.
    CannotCompare { error: String },
    /// Both revisions build byte-identical code with identical launches: not measured.
    IdenticalCode,
}

/// Where a measured ratio stands against the tolerance (see `compare::classify`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Significant, and slower by more than the tolerance.
    Slower,
    /// Significant, and faster by more than the tolerance.
    Faster,
    /// The estimate lies within the tolerance.
    Within,
    /// Beyond the tolerance, but not significant.
    Unsettled,
}

/// Something a reader of a verdict should know.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "note", rename_all = "snake_case")]
pub enum Note {
    /// Samples taken while the GPU reported throttling.
    Throttled { side: Side, throttled: usize, samples: usize },
    /// A share of the samples outside Tukey's fences; kept.
    Outliers { side: Side, share: f64, low: usize, high: usize },
    /// Fewer samples than the analytic interval wants.
    FewSamples { side: Side, samples: usize },
    /// The interval came from the bootstrap, and why.
    Bootstrap { resamples: usize, seed: u64, because: BootstrapCause },
    /// A baseline entry's stored confidence is not a level; its interval was ignored.
    IgnoredBaselineInterval { confidence: f64 },
    /// The old run's status, where it was not measured.
    OldStatus { status: CaseStatus, error: Option<String> },
    /// A side's summary from another tool, in place of samples.
    Summary { side: Side, summary: ToolSummary },
    /// Identical code on both sides of an A/B run.
    IdenticalCode,
    /// How an A/B case was measured and when it stopped.
    Paired { pairs: usize, resamples: usize, seed: u64, settled: Settled, looks: usize },
    /// The same paired comparison in SM cycles: whether it agrees with time.
    Cycles { agree: bool, time: Estimate, cycles: Estimate },
}

/// Why a case's interval came from the bootstrap rather than the analytic formula.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BootstrapCause {
    /// A side has fewer than 30 samples.
    FewSamples,
    /// The values around a median are heavily tied (timer resolution).
    Ties,
    /// The data around a median are not smooth (the median sits in a narrow mode).
    NotSmooth,
    /// The analytic interval lies near a decision boundary.
    NearBoundary,
}

impl Verdict {
    /// A verdict with its kind and reason only; comparisons fill in ratio, sides and notes.
    pub fn bare(id: CaseId, bench: String, params: Params, kind: VerdictKind, reason: Reason) -> Verdict {
        Verdict {
            id,
            bench,
            params,
            kind,
            ratio: None,
            p_value: None,
            q_value: None,
            old: None,
            new: None,
            reason,
            notes: Vec::new(),
        }
    }
}

/// What the old side of a comparison was.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CompareMode {
    /// Two run files with raw samples, from two processes: the drift allowance widens every interval, as
    /// against a stored baseline.
    Runs {
        #[serde(default)]
        drift: f64,
        #[serde(default)]
        drift_ns: f64,
    },
    /// A stored baseline; the drift allowance (relative, or `drift_ns` where that is larger) widens every
    /// interval.
    Baseline {
        drift: f64,
        #[serde(default)]
        drift_ns: f64,
    },
    /// Paired, interleaved samples of two revisions in one process.
    Paired,
}

/// All verdicts of one comparison, with the settings that produced them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Comparison {
    pub suite: String,
    /// Labels of the two sides (file names, revisions).
    pub old_label: String,
    pub new_label: String,
    pub mode: CompareMode,
    pub tolerance: f64,
    pub confidence: f64,
    /// How the false-alarm rate across cases is controlled, in words.
    pub multiple_comparisons: String,
    /// Testbed of the new side, in words.
    pub testbed: String,
    /// Where tolerance, confidence and drift came from, in words (`suite file pawl.toml`, `pawl's
    /// defaults`), where the caller says; reports show it beside the settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds_from: Option<String>,
    /// Verdicts, most urgent first (regressed, failed, inconclusive, improved, unchanged, new, missing),
    /// then by case id.
    pub verdicts: Vec<Verdict>,
}

impl Comparison {
    pub fn thresholds(&self) -> Thresholds {
        let (drift, drift_ns) = match self.mode {
            CompareMode::Runs { drift, drift_ns } | CompareMode::Baseline { drift, drift_ns } => {
                (drift, drift_ns)
            }
            CompareMode::Paired => (0.0, 0.0),
        };
        Thresholds { tolerance: self.tolerance, confidence: self.confidence, drift, drift_ns }
    }

    pub fn count(&self, kind: VerdictKind) -> usize {
        self.verdicts.iter().filter(|v| v.kind == kind).count()
    }

    /// Whether the check fails: any regression, failure or wrong result.
    pub fn fails_check(&self) -> bool {
        self.verdicts.iter().any(|v| v.kind.fails_check())
    }

    /// "2 regressed, 1 improved, 37 unchanged": counts of the kinds present, most urgent first.
    pub fn summary_line(&self) -> String {
        let parts: Vec<String> = VerdictKind::ALL
            .iter()
            .filter_map(|&kind| {
                let n = self.count(kind);
                (n > 0).then(|| format!("{n} {kind}"))
            })
            .collect();
        if parts.is_empty() { "no cases".to_owned() } else { parts.join(", ") }
    }
}
