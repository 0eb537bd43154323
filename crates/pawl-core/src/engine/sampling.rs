//! When to start counting samples and when to stop: warm-up and the adaptive stopping rule.
//!
//! Warm-up runs batches for at least `warmup_ms`, then until the SM clock stops rising (a GPU idles at
//! a few hundred MHz and boosts within tens of milliseconds of load), but never longer than
//! [`WARMUP_CAP_FACTOR`] × `warmup_ms` (at least [`WARMUP_CAP_MIN`]). Sampling then stops as soon as the
//! median's 99% confidence interval (distribution-free, from order statistics: `stats::median_ci`)
//! is within ±`target_rel_ci` of the median with at least `min_samples` taken, or at `max_samples`, or
//! after `max_time_s` of sampling once `min_samples` are taken — whichever comes first. The rule is nvbench's idea (stop on the
//! noise, not on a count) with the median's interval in place of the relative standard deviation,
//! because GPU timings are skewed and the median is what pawl compares.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Batch;
use crate::run::CaseResult;
use crate::stats::{Sample, median_ci};
use crate::suite::{MeasureSettings, limits};

/// Samples per batch: between two readings of the clocks and two looks at the stopping rule.
pub const BATCH: usize = 16;
/// Warm-up stops waiting for the clock after this many times `warmup_ms`…
pub const WARMUP_CAP_FACTOR: u32 = 10;
/// …and never before this.
pub const WARMUP_CAP_MIN: Duration = Duration::from_millis(500);
/// Confidence of the median's interval that stopping looks at.
pub const STOP_CONFIDENCE: f64 = 0.99;

/// How samples are taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimingMode {
    /// One launch per sample, L2 flushed clean before each. The default.
    #[default]
    Cold,
    /// One launch per sample, L2 left as the last launch left it (`warm_cache`).
    Warm,
    /// Back-to-back launches replayed from a CUDA graph, time per launch (warm cache).
    Graph,
}

impl TimingMode {
    pub fn for_settings(settings: &MeasureSettings) -> TimingMode {
        match (settings.graph, settings.warm_cache) {
            (true, _) => TimingMode::Graph,
            (false, true) => TimingMode::Warm,
            (false, false) => TimingMode::Cold,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TimingMode::Cold => "cold",
            TimingMode::Warm => "warm",
            TimingMode::Graph => "graph",
        }
    }

    /// Whether L2 is flushed before each sample.
    pub fn flushes(self) -> bool {
        self == TimingMode::Cold
    }
}

/// Warm-up: at least `warmup_ms`, then until the SM clock stops rising, within a cap.
#[derive(Clone, Debug)]
pub struct Warmup {
    start: Duration,
    least: Duration,
    cap: Duration,
    last_clock: Option<u32>,
}

impl Warmup {
    pub fn new(settings: &MeasureSettings, now: Duration) -> Warmup {
        let least = limits::duration(settings.warmup_ms / 1000.0);
        let cap = least.saturating_mul(WARMUP_CAP_FACTOR).max(WARMUP_CAP_MIN);
        Warmup { start: now, least, cap, last_clock: None }
    }

    /// Whether warm-up is over, after a batch that ended at `now` with the SM clock at `clock`.
    pub fn done(&mut self, now: Duration, clock: Option<u32>) -> bool {
        let elapsed = now.saturating_sub(self.start);
        if elapsed < self.least {
            return false;
        }
        let rising = match (self.last_clock, clock) {
            (Some(before), Some(after)) => after > before,
            // The first reading after the minimum: one more batch to see whether it still rises.
            (None, Some(_)) => true,
            (_, None) => false,
        };
        self.last_clock = clock;
        !rising || elapsed >= self.cap
    }
}

/// Why sampling stopped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stop {
    /// The median's interval reached the target.
    Converged,
    /// `max_samples` taken before it did.
    SampleCap,
    /// `max_time_s` spent before it did.
    TimeCap,
}

/// The adaptive stopping rule of one case.
#[derive(Clone, Debug)]
pub struct Stopping {
    start: Duration,
    max_time: Duration,
    pub min_samples: usize,
    pub max_samples: usize,
    pub target_rel_ci: f64,
}

impl Stopping {
    pub fn new(settings: &MeasureSettings, now: Duration) -> Stopping {
        Stopping {
            start: now,
            max_time: limits::duration(settings.max_time_s),
            min_samples: settings.min_samples,
            max_samples: settings.max_samples.max(1),
            target_rel_ci: settings.target_rel_ci,
        }
    }

    /// Whether to stop with the samples taken so far, at `now`.
    pub fn stop(&self, samples: &Samples, now: Duration) -> Option<Stop> {
        let n = samples.len();
        if n >= self.min_samples && samples.rel_ci.is_some_and(|r| r <= self.target_rel_ci) {
            Some(Stop::Converged)
        } else if n >= self.max_samples {
            Some(Stop::SampleCap)
        } else if n >= self.min_samples && now.saturating_sub(self.start) >= self.max_time {
            // The time cap never cuts a case below its fewest samples: `timeout_s` guards against hangs.
            Some(Stop::TimeCap)
        } else {
            None
        }
    }
}

/// The samples of a case so far, with the clocks and throttling read after each batch.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    pub samples_ns: Vec<f64>,
    pub sm_clock_mhz: Vec<u32>,
    pub throttled: usize,
    pub throttle_reasons: BTreeSet<String>,
    /// Half-width of the median's 99% interval over the median; `None` while there are too few samples
    /// for an interval at that level.
    pub rel_ci: Option<f64>,
}

impl Samples {
    pub fn len(&self) -> usize {
        self.samples_ns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples_ns.is_empty()
    }

    pub fn add(&mut self, batch: Batch) {
        let count = batch.samples_ns.len();
        self.samples_ns.extend(batch.samples_ns);
        self.sm_clock_mhz.extend(batch.state.sm_clock_mhz);
        if !batch.state.throttle_reasons.is_empty() {
            self.throttled += count;
            self.throttle_reasons.extend(batch.state.throttle_reasons);
        }
        self.rel_ci = Sample::new(&self.samples_ns)
            .ok()
            .and_then(|sample| median_ci(&sample, STOP_CONFIDENCE).ok())
            .filter(|ci| ci.coverage >= STOP_CONFIDENCE)
            .map(|ci| ci.rel_half_width());
    }

    /// Writes the samples into `result`, with notes on throttling and on a target not reached.
    pub fn finish(self, stop: Stop, settings: &MeasureSettings, mode: TimingMode, result: &mut CaseResult) {
        let n = self.samples_ns.len();
        let mut notes = Vec::new();
        if self.throttled * 2 > n {
            notes.push(format!(
                "measured while throttled: {} of {n} samples ({})",
                self.throttled,
                self.throttle_reasons.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if stop != Stop::Converged {
            let reached = self.rel_ci.map_or("no interval".to_owned(), |r| format!("±{:.2}%", r * 100.0));
            let cap = match stop {
                Stop::TimeCap => format!("max_time_s = {}", settings.max_time_s),
                _ => format!("max_samples = {}", settings.max_samples),
            };
            notes.push(format!(
                "stopped at {n} samples ({cap}) before the median's 99% interval reached ±{:.2}% (reached \
                 {reached})",
                settings.target_rel_ci * 100.0
            ));
        }
        result.status = crate::run::CaseStatus::Ok;
        result.error = (!notes.is_empty()).then(|| format!("note: {}", notes.join("; ")));
        result.samples_ns = self.samples_ns;
        result.sm_clock_mhz = self.sm_clock_mhz;
        result.throttled_samples = self.throttled;
        result.timing = Some(mode.as_str().to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn mode_follows_settings() {
        let mut s = MeasureSettings::default();
        assert_eq!(TimingMode::for_settings(&s), TimingMode::Cold);
        s.warm_cache = true;
        assert_eq!(TimingMode::for_settings(&s), TimingMode::Warm);
        s.graph = true;
        assert_eq!(TimingMode::for_settings(&s), TimingMode::Graph);
        assert!(TimingMode::Cold.flushes() && !TimingMode::Graph.flushes());
    }

    #[test]
    fn warm_up_lasts_its_minimum_then_waits_for_the_clock() {
        let settings = MeasureSettings { warmup_ms: 100.0, ..MeasureSettings::default() };
        let mut w = Warmup::new(&settings, ms(1000));
        assert!(!w.done(ms(1050), Some(1980)), "before the minimum");
        assert!(!w.done(ms(1100), Some(1500)), "first reading: one more batch");
        assert!(!w.done(ms(1110), Some(1800)), "still rising");
        assert!(w.done(ms(1120), Some(1800)), "level");
        let mut w = Warmup::new(&settings, ms(0));
        assert!(w.done(ms(100), None), "no clock to wait for");
        let mut w = Warmup::new(&settings, ms(0));
        let mut clock = 1000;
        let mut t = 100;
        while !w.done(ms(t), Some(clock)) {
            clock += 1;
            t += 10;
        }
        assert_eq!(t, 1000, "a clock that rises forever is cut off at 10 × warmup_ms");
    }

    #[test]
    fn stop_rule_converges_or_hits_a_cap() {
        let settings =
            MeasureSettings { min_samples: 20, max_samples: 64, max_time_s: 1.0, ..Default::default() };
        let rule = Stopping::new(&settings, ms(0));
        let mut quiet = Samples::default();
        quiet.add(Batch { samples_ns: vec![100.0; 16], ..Batch::default() });
        assert_eq!(rule.stop(&quiet, ms(1)), None, "too few");
        quiet.add(Batch { samples_ns: vec![100.0; 16], ..Batch::default() });
        assert_eq!(rule.stop(&quiet, ms(1)), Some(Stop::Converged));

        let mut noisy = Samples::default();
        for i in 0..4 {
            let values = (0..16).map(|j| if (i + j) % 2 == 0 { 100.0 } else { 200.0 }).collect();
            noisy.add(Batch { samples_ns: values, ..Batch::default() });
        }
        assert_eq!(rule.stop(&noisy, ms(1)), Some(Stop::SampleCap));
        let mut slow = Samples::default();
        slow.add(Batch { samples_ns: vec![100.0, 200.0], ..Batch::default() });
        assert_eq!(rule.stop(&slow, ms(1000)), None, "the time cap waits for min_samples");
        for _ in 0..9 {
            slow.add(Batch { samples_ns: vec![100.0, 200.0], ..Batch::default() });
        }
        assert_eq!(rule.stop(&slow, ms(1000)), Some(Stop::TimeCap));
    }

    #[test]
    fn throttling_is_counted_per_batch() {
        let mut s = Samples::default();
        let state = super::super::DeviceState {
            sm_clock_mhz: Some(1500),
            throttle_reasons: vec!["sw_power_cap".into()],
        };
        s.add(Batch { samples_ns: vec![1.0; 16], state });
        s.add(Batch { samples_ns: vec![1.0; 16], ..Batch::default() });
        assert_eq!((s.throttled, s.sm_clock_mhz.clone()), (16, vec![1500]));
        let mut result = CaseResult::not_measured(
            crate::case::CaseId::from_raw("b"),
            "b",
            crate::value::Params::new(),
            crate::run::CaseStatus::Failed,
            "",
        );
        s.finish(Stop::SampleCap, &MeasureSettings::default(), TimingMode::Cold, &mut result);
        assert_eq!(result.throttled_samples, 16);
        let note = result.error.unwrap();
        assert!(!note.contains("throttled"), "half throttled is not most: {note}");
        assert!(note.contains("max_samples = 10000"), "{note}");
    }
}
