//! The ratchet: a baseline moves when, and only when, a case got significantly faster.
//!
//! Only cases the comparison calls [`VerdictKind::Improved`] move (so an improvement within the noise
//! never churns the file), new cases are added only when asked, no figure ever gets slower, and entries
//! not touched stay byte-identical. Figures are written rounded (medians and their intervals to 0.1 ns,
//! relative noise to 6 significant digits) so the JSON is byte-stable across machines.

use crate::baseline::{Baseline, BaselineEntry, Testbed};
use crate::case::CaseId;
use crate::run::{CaseResult, CaseStatus, Run};
use crate::stats;
use crate::verdict::{Comparison, VerdictKind};

/// What the ratchet may do beyond moving improved cases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RatchetOptions {
    /// Add cases the baseline does not have yet.
    pub accept_new: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoveKind {
    /// A faster figure replaced the stored one.
    Improved,
    /// A case the baseline did not have.
    Added,
}

/// One change the ratchet made to the baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct Move {
    pub id: CaseId,
    pub kind: MoveKind,
    pub old_median_ns: Option<f64>,
    pub new_median_ns: f64,
}

/// The moved baseline, what moved, and what regressed (which the ratchet never writes).
#[derive(Clone, Debug, PartialEq)]
pub struct RatchetOutcome {
    pub baseline: Baseline,
    pub moves: Vec<Move>,
    pub regressed: Vec<CaseId>,
}

/// Moves `baseline` up with `run`, as `comparison` (of `run` against that baseline) decided. Entries go
/// under the run's testbed; each carries the run's commit and timestamp.
pub fn ratchet(
    mut baseline: Baseline,
    run: &Run,
    comparison: &Comparison,
    opts: &RatchetOptions,
) -> RatchetOutcome {
    let testbed = Testbed::from_env(&run.env);
    let commit = run.git.as_ref().map(|g| g.commit.as_str());
    let mut moves = Vec::new();
    let mut regressed = Vec::new();
    for verdict in &comparison.verdicts {
        let kind = match verdict.kind {
            VerdictKind::Regressed => {
                regressed.push(verdict.id.clone());
                continue;
            }
            VerdictKind::Improved => MoveKind::Improved,
            VerdictKind::New if opts.accept_new => MoveKind::Added,
            _ => continue,
        };
        let Some(case) = run.case(&verdict.id) else { continue };
        let Some(entry) = baseline_entry(case, commit, &run.timestamp, comparison.confidence) else {
            continue;
        };
        let stored = baseline.testbed(&testbed).and_then(|tb| tb.cases.get(&verdict.id)).map(|e| e.median_ns);
        let old_median_ns = match (kind, stored) {
            // Never down: a figure is replaced only by a faster one.
            (MoveKind::Improved, Some(old)) if entry.median_ns < old => Some(old),
            (MoveKind::Improved, Some(_)) => continue,
            // Improved against a figure from another testbed (a forced comparison): this testbed gets
            // its first figure.
            (MoveKind::Improved, None) => verdict.old.as_ref().map(|s| s.median_ns.point),
            (MoveKind::Added, None) => None,
            // A new case never overwrites a stored figure.
            (MoveKind::Added, Some(_)) => continue,
        };
        moves.push(Move { id: verdict.id.clone(), kind, old_median_ns, new_median_ns: entry.median_ns });
        baseline.testbed_mut(&testbed).cases.insert(verdict.id.clone(), entry);
    }
    RatchetOutcome { baseline, moves, regressed }
}

/// The baseline figure a measured case sets: its median, the median's order-statistic interval at
/// `confidence`, relative noise and sample count, rounded for a byte-stable file. `None` unless the case
/// was measured with usable samples.
pub fn baseline_entry(
    case: &CaseResult,
    commit: Option<&str>,
    set_at: &str,
    confidence: f64,
) -> Option<BaselineEntry> {
    if case.status != CaseStatus::Ok {
        return None;
    }
    let summary = stats::summarize(&case.samples_ns, confidence).ok()?;
    Some(BaselineEntry {
        median_ns: round_ns(summary.median_ns),
        ci_low_ns: round_ns(summary.ci_low_ns),
        ci_high_ns: round_ns(summary.ci_high_ns),
        confidence,
        rel_noise: round_significant(summary.rel_mad, 6),
        samples: summary.n,
        commit: commit.map(str::to_owned),
        set_at: set_at.to_owned(),
    })
}

/// The cases to profile: every regressed case, in the comparison's order (write one per line).
pub fn profile_targets(comparison: &Comparison) -> Vec<CaseId> {
    comparison.verdicts.iter().filter(|v| v.kind == VerdictKind::Regressed).map(|v| v.id.clone()).collect()
}

/// Rounds to 0.1 ns; below 0.05 ns (which would round to 0, an invalid figure), to 6 significant digits.
fn round_ns(ns: f64) -> f64 {
    let rounded = (ns * 10.0).round() / 10.0;
    if rounded > 0.0 { rounded } else { round_significant(ns, 6) }
}

/// Rounds to `digits` significant decimal digits, dividing or multiplying by an exact power of ten so
/// the result is the double nearest the decimal (and prints as it).
fn round_significant(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let shift = digits - 1 - x.abs().log10().floor() as i32;
    let power = 10f64.powi(shift.abs());
    if shift >= 0 { (x * power).round() / power } else { (x / power).round() * power }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding() {
        assert_eq!(round_ns(1234.5678), 1234.6);
        assert_eq!(round_ns(0.03), 0.03);
        assert_eq!(round_significant(0.012_345_678, 6), 0.012_345_7);
        assert_eq!(round_significant(123_456_789.0, 6), 123_457_000.0);
        assert_eq!(round_significant(0.0, 6), 0.0);
        assert_eq!(serde_json::to_string(&round_significant(0.006_543_219_9, 6)).unwrap(), "0.00654322");
    }
}
