//! The decision among the finalists: a suggestion with a speed-up interval, or an honest tie.
//!
//! Each finalist was measured interleaved with the default (A B B A, one process); the paired bootstrap
//! of the ratio of medians ([`paired_ratio_of_medians`]) gives its time over the default's with an
//! interval, at the suite's confidence shared among the finalists (Bonferroni: 1 − α/k for k
//! finalists). Two configurations are told apart only when one is slower than the other by the rules
//! of every pawl verdict ([`settle`]): the interval of their ratio above 1 *and* the estimate beyond
//! the tolerance. Between two finalists the interval of their ratio is bounded by the two intervals
//! against the default (low₁/high₂ to high₁/low₂), conservatively.
//!
//! The **tie set** holds every configuration not told apart from the fastest. When the default is in
//! it, the default stays (nothing is gained by a change within noise). Otherwise the suggestion is the
//! member of the tie set that is significantly faster than the default and changes the fewest
//! parameters, then the fastest: among configurations equal within noise, the smallest change to the
//! suite is preferred, which is also the choice that repeats from one run to the next.

use serde::{Deserialize, Serialize};

use super::search::PairObservation;
use super::space::Space;
use crate::paired::{PairedCase, Settled, settle};
use crate::stats::RatioInterval;
use crate::stats::bootstrap::{self, BootstrapSettings, DEFAULT_RESAMPLES};
use crate::verdict::Estimate;

/// What the decision rests on.
#[derive(Clone, Debug)]
pub struct Evidence<'a> {
    /// The default configuration was timed.
    pub default_ok: bool,
    /// Why it was rejected, when it was.
    pub default_reason: Option<String>,
    /// Every timed configuration with its median, fastest first.
    pub screened: &'a [(usize, f64)],
    pub finalists: &'a [usize],
    pub pairs: &'a [PairObservation],
}

/// How configurations are told apart.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub tolerance: f64,
    pub confidence: f64,
    pub seed: u64,
}

/// Why the suggestion is what it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Basis {
    /// A configuration significantly faster than the default by more than the tolerance.
    Faster,
    /// The default is within noise of the fastest configuration: it stays.
    DefaultTied,
    /// No finalist could be compared with the default (none measured, or no time left): it stays.
    NoComparison,
    /// The default configuration failed (the reason); the fastest verified configuration is suggested
    /// without an interval.
    DefaultFailed { reason: String },
    /// Nothing at all could be timed.
    NothingTimed,
}

/// One finalist against the default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Compared {
    pub config: usize,
    /// Its time over the default's (below 1: faster), with the interval.
    pub ratio: Option<Estimate>,
    pub settled: Option<Settled>,
    /// Why there is no ratio: the comparison failed, or too few pairs.
    pub note: Option<String>,
}

/// The outcome for one case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The configuration to use (the default when nothing beats it).
    pub suggested: usize,
    pub basis: Basis,
    /// The configurations within noise of the fastest, the suggestion among them.
    pub ties: Vec<usize>,
    /// Every finalist's comparison with the default.
    pub compared: Vec<Compared>,
    /// The default's time over the suggestion's (above 1: faster), with its interval; only for
    /// [`Basis::Faster`].
    pub speedup: Option<Estimate>,
}

impl Decision {
    /// Whether the suite should change for this case.
    pub fn changes_default(&self) -> bool {
        self.basis == Basis::Faster || matches!(self.basis, Basis::DefaultFailed { .. })
    }
}

/// Decides for one case (see the module docs).
pub fn decide(space: &Space, ev: &Evidence<'_>, rule: &Rule) -> Decision {
    let default = space.default;
    let keep = |basis: Basis| Decision {
        suggested: default,
        basis,
        ties: vec![default],
        compared: Vec::new(),
        speedup: None,
    };
    if !ev.default_ok {
        return match ev.screened.first() {
            Some(&(best, _)) => Decision {
                suggested: best,
                basis: Basis::DefaultFailed {
                    reason: ev.default_reason.clone().unwrap_or_else(|| "it was not measured".into()),
                },
                ties: vec![best],
                compared: Vec::new(),
                speedup: None,
            },
            None => keep(Basis::NothingTimed),
        };
    }

    let measured = ev.pairs.iter().filter(|p| matches!(p.outcome, PairedCase::Measured { .. })).count();
    let level = 1.0 - (1.0 - rule.confidence) / measured.max(1) as f64;
    let mut compared = Vec::new();
    // (config, ratio to the default with its interval); the default is 1 exactly.
    let mut members: Vec<(usize, RatioInterval)> = vec![(default, exact(1.0, level))];
    for pair in ev.pairs {
        let (interval, note) = match &pair.outcome {
            PairedCase::Measured { samples, .. } => {
                let n = samples.pairs();
                let settings = BootstrapSettings {
                    resamples: DEFAULT_RESAMPLES,
                    seed: bootstrap::mix_seed(rule.seed, pair.config as u64),
                };
                match bootstrap::paired_ratio_of_medians(
                    &samples.base_ns[..n],
                    &samples.head_ns[..n],
                    level,
                    settings,
                ) {
                    Ok(interval) => (Some(interval), None),
                    Err(e) => (None, Some(format!("not compared: {e}"))),
                }
            }
            // Both build the very same code and launch: equal by construction.
            PairedCase::Identical => (Some(exact(1.0, level)), Some("identical code to the default".into())),
            PairedCase::Failed { message } => {
                (None, Some(format!("the paired comparison failed: {message}")))
            }
            PairedCase::OnlyBase | PairedCase::OnlyHead => (None, Some("not compared".into())),
        };
        compared.push(Compared {
            config: pair.config,
            ratio: interval.map(|i| Estimate { point: i.ratio, low: i.low, high: i.high, confidence: level }),
            settled: interval.map(|i| settle(&i, rule.tolerance)),
            note,
        });
        if let Some(interval) = interval {
            members.push((pair.config, interval));
        }
    }
    if members.len() == 1 {
        return Decision { compared, ..keep(Basis::NoComparison) };
    }

    let order = |a: &(usize, RatioInterval), b: &(usize, RatioInterval)| {
        a.1.ratio.total_cmp(&b.1.ratio).then(space.changes(a.0).cmp(&space.changes(b.0))).then(a.0.cmp(&b.0))
    };
    let fastest = *members.iter().min_by(|a, b| order(a, b)).expect("the default is a member");
    let ties: Vec<(usize, RatioInterval)> =
        members.iter().copied().filter(|m| !slower(m, &fastest, rule.tolerance, level)).collect();
    let tie_ids: Vec<usize> = {
        let mut sorted = ties.clone();
        sorted.sort_by(order);
        sorted.into_iter().map(|(c, _)| c).collect()
    };
    if tie_ids.contains(&default) {
        return Decision { ties: tie_ids, compared, ..keep(Basis::DefaultTied) };
    }
    let suggested = ties
        .iter()
        .filter(|(_, i)| settle(i, rule.tolerance) == Settled::Improvement)
        .min_by(|a, b| {
            space
                .changes(a.0)
                .cmp(&space.changes(b.0))
                .then(a.1.ratio.total_cmp(&b.1.ratio))
                .then(a.0.cmp(&b.0))
        })
        .copied()
        .unwrap_or(fastest);
    let (config, interval) = suggested;
    Decision {
        suggested: config,
        basis: Basis::Faster,
        ties: tie_ids,
        compared,
        speedup: Some(Estimate {
            point: 1.0 / interval.ratio,
            low: 1.0 / interval.high,
            high: 1.0 / interval.low,
            confidence: level,
        }),
    }
}

fn exact(ratio: f64, confidence: f64) -> RatioInterval {
    RatioInterval { ratio, low: ratio, high: ratio, confidence, p_value: 1.0 }
}

/// Whether `x` is told apart from `y` as slower: their ratio's interval (from each one's interval
/// against the default) says a regression beyond the tolerance.
fn slower(x: &(usize, RatioInterval), y: &(usize, RatioInterval), tolerance: f64, level: f64) -> bool {
    if x.0 == y.0 {
        return false;
    }
    let (a, b) = (&x.1, &y.1);
    let between = RatioInterval {
        ratio: a.ratio / b.ratio,
        low: a.low / b.high,
        high: a.high / b.low,
        confidence: level,
        p_value: 1.0,
    };
    settle(&between, tolerance) == Settled::Regression
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::paired::PairedSamples;
    use crate::tune::space::Axis;
    use crate::value::{Params, Value};

    /// A one-axis space X = 0..n, default X = 0.
    fn space(n: i64) -> Space {
        let configs: Vec<Params> =
            (0..n).map(|x| [("X".to_owned(), Value::Int(x))].into_iter().collect()).collect();
        let axes = vec![Axis { name: "X".into(), values: (0..n).map(Value::Int).collect() }];
        Space::from_parts(axes, configs, 0, 0, vec![])
    }

    /// Paired samples whose head is `ratio` times the base, with noise of about `noise` (relative),
    /// the same drift on both sides.
    fn pair(config: usize, ratio: f64, noise: f64, seed: u64) -> PairObservation {
        let mut base = Vec::new();
        let mut head = Vec::new();
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let mut uniform = || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        for i in 0..120 {
            let drift = 1.0 + 0.01 * (i as f64 / 120.0);
            base.push(100_000.0 * drift * (1.0 + noise * uniform()));
            head.push(100_000.0 * ratio * drift * (1.0 + noise * uniform()));
        }
        PairObservation {
            config,
            outcome: PairedCase::Measured {
                samples: PairedSamples { base_ns: base, head_ns: head, ..Default::default() },
                looks: 1,
                settled: Settled::Open,
            },
            elapsed: Duration::from_secs(1),
            cached: false,
        }
    }

    fn rule() -> Rule {
        Rule { tolerance: 0.02, confidence: 0.99, seed: 7 }
    }

    fn decide_with(space: &Space, pairs: &[PairObservation]) -> Decision {
        let finalists: Vec<usize> = pairs.iter().map(|p| p.config).collect();
        let ev =
            Evidence { default_ok: true, default_reason: None, screened: &[], finalists: &finalists, pairs };
        decide(space, &ev, &rule())
    }

    #[test]
    fn a_clearly_faster_configuration_is_suggested_with_its_speedup() {
        let s = space(4);
        let d = decide_with(&s, &[pair(1, 0.90, 0.01, 1), pair(2, 0.97, 0.01, 2), pair(3, 1.10, 0.01, 3)]);
        assert_eq!((d.suggested, &d.basis), (1, &Basis::Faster));
        assert_eq!(d.ties, vec![1]);
        let up = d.speedup.unwrap();
        assert!(up.low > 1.08 && up.high < 1.14 && up.low < up.point && up.point < up.high, "{up:?}");
        assert!(d.changes_default());
    }

    #[test]
    fn near_equal_configurations_are_a_tie_and_the_smaller_change_is_suggested() {
        // X=2 and X=1 are the same speed within noise; both clearly beat the default.
        let s = space(3);
        let d = decide_with(&s, &[pair(2, 0.895, 0.01, 4), pair(1, 0.90, 0.01, 5)]);
        assert_eq!(d.ties.len(), 2, "{d:?}");
        assert!(d.ties.contains(&1) && d.ties.contains(&2));
        assert_eq!(d.basis, Basis::Faster);
    }

    #[test]
    fn a_default_within_noise_of_the_fastest_stays() {
        let s = space(3);
        let d = decide_with(&s, &[pair(1, 0.99, 0.01, 6), pair(2, 1.05, 0.01, 7)]);
        assert_eq!((d.suggested, &d.basis), (0, &Basis::DefaultTied));
        assert!(d.ties.contains(&0) && d.ties.contains(&1) && !d.ties.contains(&2), "{:?}", d.ties);
        assert!(!d.changes_default() && d.speedup.is_none());
    }

    #[test]
    fn a_failed_comparison_never_wins() {
        let s = space(3);
        let failed = PairObservation {
            config: 2,
            outcome: PairedCase::Failed { message: "CUDA_ERROR_ILLEGAL_ADDRESS".into() },
            elapsed: Duration::ZERO,
            cached: false,
        };
        let d = decide_with(&s, &[failed, pair(1, 0.95, 0.005, 8)]);
        assert_eq!(d.suggested, 1);
        assert!(!d.ties.contains(&2));
        assert!(d.compared[0].note.as_deref().unwrap().contains("ILLEGAL_ADDRESS"));
    }

    #[test]
    fn without_comparisons_or_a_default_the_decision_says_so() {
        let s = space(3);
        let d = decide_with(&s, &[]);
        assert_eq!((d.suggested, &d.basis), (0, &Basis::NoComparison));
        let ev = Evidence {
            default_ok: false,
            default_reason: Some("too many resources requested for launch".into()),
            screened: &[(2, 1.0), (1, 2.0)],
            finalists: &[],
            pairs: &[],
        };
        let d = decide(&s, &ev, &rule());
        assert_eq!(d.suggested, 2);
        assert!(matches!(&d.basis, Basis::DefaultFailed { reason } if reason.contains("resources")));
        let ev =
            Evidence { default_ok: false, default_reason: None, screened: &[], finalists: &[], pairs: &[] };
        assert_eq!(decide(&s, &ev, &rule()).basis, Basis::NothingTimed);
    }
}
