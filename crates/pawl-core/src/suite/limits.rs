//! The range of every number a suite sets, written once: the suite file, the command-line flags that
//! override it and the comparison all check against these, and say the same thing the same way.
//!
//! The ranges are wide enough for any real use (timeouts up to a day, a million samples) and narrow
//! enough that nothing built from them can overflow: a [`Duration`] from seconds, a sample buffer,
//! a sweep expanded into cases.

use std::time::Duration;

/// The values one setting accepts, with the range in words for messages.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    /// The setting's key in `pawl.toml`.
    pub key: &'static str,
    min: Bound,
    max: Bound,
    /// The range in words, with an example: "above 0 and below 1, like 0.02 for 2%".
    pub allowed: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Bound {
    Inclusive(f64),
    Exclusive(f64),
}

use Bound::{Exclusive, Inclusive};

/// A setting outside its range: "`tolerance` is 2; it must be above 0 and below 1, like 0.02 for 2%".
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("`{name}` is {value}; it must be {allowed}")]
pub struct OutOfRange {
    /// The setting as the user wrote it: a suite key, or a flag such as `--timeout`.
    pub name: String,
    /// The value as the user wrote it, where known.
    pub value: String,
    pub allowed: String,
}

impl OutOfRange {
    /// The same error for a setting named otherwise (a command-line flag rather than a suite key).
    pub fn named(self, name: impl Into<String>) -> OutOfRange {
        OutOfRange { name: name.into(), ..self }
    }
}

impl Limit {
    /// True when `value` lies in the range (never for NaN).
    pub fn contains(&self, value: f64) -> bool {
        let above = match self.min {
            Inclusive(min) => value >= min,
            Exclusive(min) => value > min,
        };
        let below = match self.max {
            Inclusive(max) => value <= max,
            Exclusive(max) => value < max,
        };
        above && below
    }

    /// `value` when it lies in the range; otherwise an error naming the setting by its suite key.
    pub fn check(&self, value: f64) -> Result<f64, OutOfRange> {
        if self.contains(value) {
            Ok(value)
        } else {
            Err(OutOfRange {
                name: self.key.to_owned(),
                value: shown(value),
                allowed: self.allowed.to_owned(),
            })
        }
    }

    /// A count (`min_samples`) when it lies in the range.
    pub fn check_count(&self, value: usize) -> Result<usize, OutOfRange> {
        self.check(value as f64).map(|_| value).map_err(|e| OutOfRange { value: value.to_string(), ..e })
    }
}

/// A number as a message shows it: plain when short, in scientific notation when huge or tiny.
fn shown(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-4..1e9).contains(&magnitude) {
        format!("{value:e}")
    } else {
        value.to_string()
    }
}

const DAY_S: f64 = 86_400.0;

/// Relative change that counts as a regression or an improvement.
pub const TOLERANCE: Limit = Limit {
    key: "tolerance",
    min: Exclusive(0.0),
    max: Exclusive(1.0),
    allowed: "a fraction above 0 and below 1, like 0.02 for 2%",
};
/// Confidence level of intervals and decisions.
pub const CONFIDENCE: Limit = Limit {
    key: "confidence",
    min: Exclusive(0.5),
    max: Exclusive(1.0),
    allowed: "above 0.5 and below 1, like 0.99 for 99%",
};
/// Allowance for drift between processes, relative.
pub const DRIFT: Limit = Limit {
    key: "drift",
    min: Inclusive(0.0),
    max: Exclusive(1.0),
    allowed: "a fraction from 0 up to 1 (not 1 itself), like 0.01 for 1%",
};
/// Allowance for drift between processes, in nanoseconds.
pub const DRIFT_NS: Limit = Limit {
    key: "drift_ns",
    min: Inclusive(0.0),
    max: Inclusive(1e9),
    allowed: "a number of nanoseconds from 0 to 1000000000 (a second), like 250",
};

/// The GPU machine's price per hour, for the cost line of a check.
pub const GPU_PRICE_PER_HOUR: Limit = Limit {
    key: "gpu_price_per_hour",
    min: Inclusive(0.0),
    max: Inclusive(1e6),
    allowed: "US dollars per hour from 0 to 1000000, like 2.5",
};

/// Stop sampling once the median's interval is within ± this fraction.
pub const TARGET_REL_CI: Limit = Limit {
    key: "target_rel_ci",
    min: Exclusive(0.0),
    max: Exclusive(1.0),
    allowed: "a fraction above 0 and below 1, like 0.005 for ±0.5%",
};
/// Fewest samples per case.
pub const MIN_SAMPLES: Limit = Limit {
    key: "min_samples",
    min: Inclusive(2.0),
    max: Inclusive(1e6),
    allowed: "an integer from 2 to 1000000",
};
/// Most samples per case: every one is kept in the run file.
pub const MAX_SAMPLES: Limit = Limit {
    key: "max_samples",
    min: Inclusive(2.0),
    max: Inclusive(1e6),
    allowed: "an integer from 2 to 1000000, and at least min_samples",
};
/// Seconds of measuring per case.
pub const MAX_TIME_S: Limit = Limit {
    key: "max_time_s",
    min: Exclusive(0.0),
    max: Inclusive(DAY_S),
    allowed: "a number of seconds above 0 and at most 86400 (a day), like 5",
};
/// Minimum warm-up per case, in milliseconds.
pub const WARMUP_MS: Limit = Limit {
    key: "warmup_ms",
    min: Inclusive(0.0),
    max: Inclusive(3_600_000.0),
    allowed: "a number of milliseconds from 0 to 3600000 (an hour), like 100",
};
/// Seconds after which a case is stopped and failed.
pub const TIMEOUT_S: Limit = Limit {
    key: "timeout_s",
    min: Exclusive(0.0),
    max: Inclusive(DAY_S),
    allowed: "a number of seconds above 0 and at most 86400 (a day), like 60",
};
/// Seconds a command bench's process may run in all, for all its cases.
pub const COMMAND_TIMEOUT_S: Limit = Limit {
    key: "timeout_s",
    min: Exclusive(0.0),
    max: Inclusive(7.0 * DAY_S),
    allowed: "a number of seconds above 0 and at most 604800 (a week), like 600",
};

/// Most cases one bench's sweep may expand to (the product of its params' lengths).
pub const MAX_CASES: usize = 1_000_000;

/// The longest [`duration`] gives: a year, longer than any setting allows, and short enough that an
/// `Instant` can always be moved by it.
const MAX_DURATION_S: f64 = 365.0 * DAY_S;

/// `seconds` as a [`Duration`], for durations computed from settings. It never panics, as
/// `Duration::from_secs_f64` does on a huge or negative number: negative and NaN give zero, and anything
/// beyond a year gives a year.
pub fn duration(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds.clamp(0.0, MAX_DURATION_S)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive_or_exclusive_as_declared() {
        assert!(!TOLERANCE.contains(0.0) && TOLERANCE.contains(1e-9) && !TOLERANCE.contains(1.0));
        assert!(DRIFT.contains(0.0) && !DRIFT.contains(1.0) && !DRIFT.contains(-0.01));
        assert!(TIMEOUT_S.contains(DAY_S) && !TIMEOUT_S.contains(DAY_S + 1.0) && !TIMEOUT_S.contains(0.0));
        for limit in [TOLERANCE, CONFIDENCE, DRIFT, DRIFT_NS, TARGET_REL_CI, MAX_TIME_S, WARMUP_MS, TIMEOUT_S]
        {
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e19, -1e-300] {
                assert!(!limit.contains(bad), "{} accepts {bad}", limit.key);
            }
        }
    }

    #[test]
    fn errors_name_the_setting_the_value_and_the_range() {
        let err = TIMEOUT_S.check(1e19).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`timeout_s` is 1e19; it must be a number of seconds above 0 and at most 86400 (a day), like 60"
        );
        let err = TOLERANCE.check(2.0).unwrap_err().named("--tolerance");
        assert_eq!(
            err.to_string(),
            "`--tolerance` is 2; it must be a fraction above 0 and below 1, like 0.02 for 2%"
        );
        let err = MIN_SAMPLES.check_count(usize::MAX).unwrap_err();
        assert!(err.to_string().starts_with(&format!("`min_samples` is {}; ", usize::MAX)), "{err}");
        assert_eq!(CONFIDENCE.check(0.99), Ok(0.99));
    }

    #[test]
    fn durations_never_panic() {
        assert_eq!(duration(1.5), Duration::from_millis(1500));
        assert_eq!(duration(-1.0), Duration::ZERO);
        assert_eq!(duration(f64::NAN), Duration::ZERO);
        assert_eq!(duration(1e300), Duration::from_secs(365 * 86_400));
        assert_eq!(duration(f64::INFINITY), Duration::from_secs(365 * 86_400));
        // The longest setting and the longest duration fit in an Instant's range.
        assert!(std::time::Instant::now().checked_add(duration(f64::MAX)).is_some());
        assert!(duration(7.0 * DAY_S) < duration(MAX_DURATION_S));
    }
}
