//! How long each case will take to measure, from what was measured before: what `--gpus` hands out
//! longest first and `--shard` balances on.
//!
//! The honest figure is a previous run's `elapsed_s` per case: the wall-clock time its measuring took,
//! preparing, checking, warming up and timing included. Where a run predates that field (or came from
//! another tool) the sum of its samples stands in, and a baseline gives its median times its sample
//! count: both count only the timed kernel launches, so they understate small kernels, whose
//! measuring is mostly flushing the cache and waiting, but they still order the long cases first.
//!
//! Flops and bytes are not estimates: they say how much work one launch does, not how long pawl measures
//! the case (adaptive stopping gives a 5 µs kernel and a 5 ms one about the same time when both reach
//! `max_time_s`). Without a previous run or a baseline, cases keep suite order.

use std::collections::BTreeMap;

use crate::baseline::TestbedBaseline;
use crate::case::CaseId;
use crate::run::Run;

/// Seconds per case, where known, and where they came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Estimates {
    seconds: BTreeMap<CaseId, f64>,
    /// Where they came from, for messages (`the run file old.json`).
    pub source: String,
}

impl Estimates {
    /// Each case's `elapsed_s`, else the sum of its samples. Cases with neither are not known.
    pub fn from_run(run: &Run, source: impl Into<String>) -> Estimates {
        let seconds = run
            .cases
            .iter()
            .filter_map(|case| {
                let timed = (!case.samples_ns.is_empty()).then(|| case.samples_ns.iter().sum::<f64>() / 1e9);
                Some((case.id.clone(), case.elapsed_s.or(timed)?))
            })
            .collect();
        Estimates { seconds, source: source.into() }.finite()
    }

    /// Each case's median times its sample count.
    pub fn from_baseline(testbed: &TestbedBaseline, source: impl Into<String>) -> Estimates {
        let seconds = testbed
            .cases
            .iter()
            .map(|(id, entry)| (id.clone(), entry.median_ns * entry.samples as f64 / 1e9))
            .collect();
        Estimates { seconds, source: source.into() }.finite()
    }

    /// Only finite, non-negative figures (a hand-edited file cannot make the split depend on a NaN).
    fn finite(mut self) -> Estimates {
        self.seconds.retain(|_, s| s.is_finite() && *s >= 0.0);
        self
    }

    pub fn get(&self, id: &CaseId) -> Option<f64> {
        self.seconds.get(id).copied()
    }

    /// One cost per id: its estimate, or for a case not known (new since), the median of those known.
    /// `None` when not one of the ids is known.
    pub fn costs(&self, ids: &[&CaseId]) -> Option<Vec<f64>> {
        let known: Vec<Option<f64>> = ids.iter().map(|id| self.get(id)).collect();
        let mut values: Vec<f64> = known.iter().flatten().copied().collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let median = values[values.len() / 2];
        Some(known.into_iter().map(|k| k.unwrap_or(median)).collect())
    }

    /// How many of `ids` are known.
    pub fn known(&self, ids: &[&CaseId]) -> usize {
        ids.iter().filter(|id| self.seconds.contains_key(**id)).count()
    }
}

/// The order to hand `n` cases out in: the longest estimated first, equals in suite order; suite order
/// without costs.
pub fn longest_first(n: usize, costs: Option<&[f64]>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if let Some(costs) = costs.filter(|c| c.len() == n) {
        // A stable sort: equal estimates keep suite order.
        order.sort_by(|&a, &b| costs[b].total_cmp(&costs[a]));
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::{BaselineEntry, Testbed};
    use crate::run::{CaseResult, CaseStatus, Environment};
    use crate::suite::MeasureSettings;

    fn case(id: &str, samples: Vec<f64>, elapsed: Option<f64>) -> CaseResult {
        let status = if samples.is_empty() { CaseStatus::Failed } else { CaseStatus::Ok };
        let mut c = CaseResult::not_measured(CaseId::from_raw(id), "b", Default::default(), status, "");
        c.samples_ns = samples;
        c.elapsed_s = elapsed;
        c
    }

    #[test]
    fn a_run_gives_elapsed_seconds_else_its_timed_samples() {
        let mut run = Run::new("s", "t", Environment::default(), MeasureSettings::default());
        run.cases = vec![
            case("b/a", vec![1e9, 1e9], Some(7.5)),
            case("b/b", vec![2e9, 1e9], None),
            case("b/c", vec![], Some(10.0)), // a timeout took its time too
            case("b/d", vec![], None),
        ];
        let e = Estimates::from_run(&run, "old.json");
        assert_eq!(e.get(&CaseId::from_raw("b/a")), Some(7.5));
        assert_eq!(e.get(&CaseId::from_raw("b/b")), Some(3.0));
        assert_eq!(e.get(&CaseId::from_raw("b/c")), Some(10.0));
        assert_eq!(e.get(&CaseId::from_raw("b/d")), None);
        let ids: Vec<CaseId> = ["b/a", "b/new", "b/b", "b/c"].map(CaseId::from_raw).to_vec();
        let refs: Vec<&CaseId> = ids.iter().collect();
        assert_eq!(e.known(&refs), 3);
        // The new case costs the median of the known ones.
        assert_eq!(e.costs(&refs), Some(vec![7.5, 7.5, 3.0, 10.0]));
        assert_eq!(longest_first(4, e.costs(&refs).as_deref()), [3, 0, 1, 2]);
        let unknown = [CaseId::from_raw("x")];
        assert_eq!(e.costs(&[&unknown[0]]), None);
        assert_eq!(longest_first(3, None), [0, 1, 2]);
    }

    #[test]
    fn a_baseline_gives_median_times_samples() {
        let mut tb =
            TestbedBaseline { testbed: Testbed::from_env(&Environment::default()), cases: BTreeMap::new() };
        let entry = |median_ns: f64, samples| BaselineEntry {
            median_ns,
            ci_low_ns: median_ns,
            ci_high_ns: median_ns,
            confidence: 0.99,
            rel_noise: 0.0,
            samples,
            commit: None,
            set_at: String::new(),
        };
        tb.cases.insert(CaseId::from_raw("b/a"), entry(1e6, 500));
        tb.cases.insert(CaseId::from_raw("b/b"), entry(f64::MAX, 500));
        let e = Estimates::from_baseline(&tb, "pawl-baseline.json");
        assert_eq!(e.get(&CaseId::from_raw("b/a")), Some(0.5));
        assert_eq!(e.get(&CaseId::from_raw("b/b")), None, "an overflow is not an estimate");
    }
}
