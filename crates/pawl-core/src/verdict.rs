//! Verdicts: what a comparison concludes about each case, as plain data for the reports.
//!
//! `compare` computes them; `report` renders them; nothing else decides what a verdict is.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::case::CaseId;
use crate::suite::Thresholds;
use crate::value::Params;

/// What happened to one case between the old side and the new.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub point: f64,
    pub low: f64,
    pub high: f64,
    pub confidence: f64,
}

/// One side of a comparison for one case, as the reports show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Why, in words: "4.1% slower (99% CI 3.2% to 5.0%), beyond the 2% tolerance".
    pub reason: String,
    /// Things a reader should know: measured while throttled, many outliers, identical code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Verdict {
    /// A verdict with its kind and reason only; comparisons fill in ratio, sides and notes.
    pub fn bare(id: CaseId, bench: String, params: Params, kind: VerdictKind, reason: String) -> Verdict {
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
