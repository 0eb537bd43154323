//! Statistics: small pure modules, each one method with its citation.
//!
//! Everything works on timing samples, which are finite and positive; [`Sample`] guarantees that once,
//! at construction, so the functions here need not check again. Nothing allocates more than a copy of
//! the sample, nothing panics, and every random resampling takes an explicit seed.
//!
//! # Example
//!
//! ```
//! use pawl_core::stats::{self, Sample};
//!
//! let sample = Sample::new(&[10.2, 10.0, 10.1, 10.4, 9.9, 10.0, 10.3, 10.1, 10.2, 10.0])?;
//! assert_eq!(sample.median(), 10.1);
//! let ci = stats::median_ci(&sample, 0.95)?;
//! assert!(ci.low <= 10.1 && 10.1 <= ci.high);
//! # Ok::<(), pawl_core::stats::StatsError>(())
//! ```

pub mod binomial;
pub mod bootstrap;
pub mod changepoint;
pub mod fdr;
pub mod mann_whitney;
pub mod median_ci;
pub mod normal;
pub mod outliers;
pub mod power;
pub mod ratio;
pub mod sample;
pub mod student_t;

pub use bootstrap::{BootstrapSettings, MedianInterval, MedianResampler, median_interval};
pub use fdr::benjamini_hochberg;
pub use mann_whitney::{MannWhitney, mann_whitney};
pub use median_ci::{MedianCi, log_median_se, median_ci};
pub use outliers::{TukeyOutliers, tukey_outliers};
pub use ratio::{RatioInterval, price_bonett};
pub use sample::Sample;

use crate::run::SampleStats;

/// Why a statistic could not be computed. Messages quote the bad input and say what to do.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StatsError {
    #[error("no samples: measure the case at least once")]
    Empty,
    #[error("{got} sample(s) is too few for this statistic: it needs at least {needed}")]
    TooFew { needed: usize, got: usize },
    #[error(
        "sample #{index} is {value}, which is not a finite number: samples must be finite positive times"
    )]
    NotFinite { index: usize, value: f64 },
    #[error("sample #{index} is {value}: samples must be positive times")]
    NotPositive { index: usize, value: f64 },
    #[error("confidence {0} is not strictly between 0 and 1: use a level such as 0.99")]
    BadConfidence(f64),
    #[error(
        "paired samples differ in length ({old} old, {new} new): pair every old sample with one new sample"
    )]
    UnpairedLengths { old: usize, new: usize },
    #[error("the setting `{name}` is {value}; it must be {rule}")]
    BadSetting { name: &'static str, value: f64, rule: &'static str },
}

/// Checks a confidence level: strictly between 0 and 1.
pub fn check_confidence(confidence: f64) -> Result<f64, StatsError> {
    if confidence > 0.0 && confidence < 1.0 {
        Ok(confidence)
    } else {
        Err(StatsError::BadConfidence(confidence))
    }
}

/// Summary statistics of one case's samples (nanoseconds), as a run file stores them.
///
/// The median's interval is the distribution-free one from order statistics ([`median_ci`]); outliers
/// are counted by Tukey's fences and kept. Cost: one sort of a copy of the samples, O(n log n).
pub fn summarize(samples: &[f64], confidence: f64) -> Result<SampleStats, StatsError> {
    let sample = Sample::new(samples)?;
    let ci = median_ci(&sample, confidence)?;
    let outliers = tukey_outliers(&sample);
    Ok(SampleStats {
        n: sample.n(),
        median_ns: sample.median(),
        ci_low_ns: ci.low,
        ci_high_ns: ci.high,
        confidence,
        mean_ns: sample.mean(),
        min_ns: sample.min(),
        max_ns: sample.max(),
        rel_mad: sample.rel_noise(),
        outliers_low: outliers.low,
        outliers_high: outliers.high,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarize_fills_every_field() {
        let samples = [5.0, 1.0, 3.0, 2.0, 4.0, 100.0, 3.0, 3.5, 2.5];
        let s = summarize(&samples, 0.9).unwrap();
        assert_eq!(s.n, 9);
        assert_eq!(s.median_ns, 3.0);
        assert_eq!((s.min_ns, s.max_ns), (1.0, 100.0));
        assert!((s.mean_ns - 124.0 / 9.0).abs() < 1e-12);
        assert!(s.ci_low_ns <= 3.0 && s.ci_high_ns >= 3.0);
        assert_eq!(s.confidence, 0.9);
        // |x - 3|: 2, 2, 0, 1, 1, 97, 0, 0.5, 0.5 → median 1.
        assert!((s.rel_mad - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!((s.outliers_low, s.outliers_high), (0, 1));
    }

    #[test]
    fn summarize_rejects_bad_input() {
        assert_eq!(summarize(&[], 0.99), Err(StatsError::Empty));
        assert!(matches!(summarize(&[1.0, f64::NAN], 0.99), Err(StatsError::NotFinite { index: 1, .. })));
        assert!(matches!(summarize(&[-1.0], 0.99), Err(StatsError::NotPositive { index: 0, .. })));
        assert_eq!(summarize(&[1.0], 1.0), Err(StatsError::BadConfidence(1.0)));
    }
}
