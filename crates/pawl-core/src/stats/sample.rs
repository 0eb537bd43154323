//! [`Sample`]: timing samples with their invariants checked once.

use super::StatsError;

/// At least one finite, positive value, kept sorted.
///
/// Timing samples are durations, so zero, negative and non-finite values are errors of the measurement,
/// not data; rejecting them here lets every statistic assume them away. The sorted copy makes medians,
/// quantiles and order statistics O(1).
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    sorted: Vec<f64>,
    mean: f64,
}

impl Sample {
    /// Checks and copies `values`. Cost: O(n log n) for the sort.
    pub fn new(values: &[f64]) -> Result<Sample, StatsError> {
        Sample::from_vec(values.to_vec())
    }

    /// Like [`Sample::new`], reusing the vector.
    pub fn from_vec(mut values: Vec<f64>) -> Result<Sample, StatsError> {
        if values.is_empty() {
            return Err(StatsError::Empty);
        }
        for (index, &value) in values.iter().enumerate() {
            if !value.is_finite() {
                return Err(StatsError::NotFinite { index, value });
            }
            if value <= 0.0 {
                return Err(StatsError::NotPositive { index, value });
            }
        }
        values.sort_unstable_by(f64::total_cmp);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        Ok(Sample { sorted: values, mean })
    }

    /// Like [`Sample::new`], requiring at least `needed` values (2 where a spread is estimated).
    pub fn with_at_least(values: &[f64], needed: usize) -> Result<Sample, StatsError> {
        if values.len() < needed {
            return Err(if values.is_empty() {
                StatsError::Empty
            } else {
                StatsError::TooFew { needed, got: values.len() }
            });
        }
        Sample::new(values)
    }

    /// Number of values (at least 1).
    pub fn n(&self) -> usize {
        self.sorted.len()
    }

    /// The values in ascending order.
    pub fn sorted(&self) -> &[f64] {
        &self.sorted
    }

    pub fn min(&self) -> f64 {
        self.sorted[0]
    }

    pub fn max(&self) -> f64 {
        self.sorted[self.sorted.len() - 1]
    }

    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The `rank`-th smallest value, 1-based, clamped to `1..=n`.
    pub fn order_statistic(&self, rank: usize) -> f64 {
        self.sorted[rank.clamp(1, self.n()) - 1]
    }

    /// The sample median: the middle value, or the mean of the two middle values.
    pub fn median(&self) -> f64 {
        median_of_sorted(&self.sorted)
    }

    /// The `p`-quantile (`p` clamped to [0, 1]) by linear interpolation between order statistics,
    /// Hyndman & Fan (1996), "Sample quantiles in statistical packages", definition 7 (R's default).
    pub fn quantile(&self, p: f64) -> f64 {
        let p = if p.is_nan() { 0.5 } else { p.clamp(0.0, 1.0) };
        let h = (self.n() - 1) as f64 * p;
        let below = h.floor() as usize;
        let above = (below + 1).min(self.n() - 1);
        let low = self.sorted[below];
        low + (h - below as f64) * (self.sorted[above] - low)
    }

    /// Median absolute deviation from the median, unscaled (no 1.4826 normal-consistency factor):
    /// Hampel (1974), "The influence curve and its role in robust estimation". Cost: O(n).
    pub fn mad(&self) -> f64 {
        let median = self.median();
        let mut deviations: Vec<f64> = self.sorted.iter().map(|x| (x - median).abs()).collect();
        select_median(&mut deviations)
    }

    /// Relative noise: MAD over the median (a scale-free spread; 0.01 is 1%).
    pub fn rel_noise(&self) -> f64 {
        self.mad() / self.median()
    }

    /// Every value multiplied by `factor` (finite and positive, else the error names it).
    pub fn scaled(&self, factor: f64) -> Result<Sample, StatsError> {
        Sample::from_vec(self.sorted.iter().map(|x| x * factor).collect())
    }
}

/// Median of an ascending, non-empty slice.
pub(crate) fn median_of_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]) }
}

/// Median of an unsorted, non-empty slice by selection (reorders it). Cost: O(n).
pub(crate) fn select_median(values: &mut [f64]) -> f64 {
    let n = values.len();
    let (_, &mut upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        upper
    } else {
        let lower = values[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lower + upper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        let s = Sample::new(&[3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]).unwrap();
        assert_eq!(s.sorted(), &[1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 9.0]);
        assert_eq!(s.median(), 3.5);
        assert_eq!(s.mean(), 31.0 / 8.0);
        assert_eq!((s.min(), s.max()), (1.0, 9.0));
        // |x - 3.5|: 2.5 2.5 1.5 0.5 0.5 1.5 2.5 5.5 → sorted 0.5 0.5 1.5 1.5 2.5 2.5 2.5 5.5 → 2.0
        assert_eq!(s.mad(), 2.0);
        assert_eq!(s.rel_noise(), 2.0 / 3.5);
        // R: quantile(c(1,1,2,3,4,5,6,9), c(.25,.75)) = 1.75, 5.25
        assert_eq!(s.quantile(0.25), 1.75);
        assert_eq!(s.quantile(0.75), 5.25);
        assert_eq!(s.quantile(0.0), 1.0);
        assert_eq!(s.quantile(1.0), 9.0);
        assert_eq!(s.order_statistic(0), 1.0);
        assert_eq!(s.order_statistic(8), 9.0);
        assert_eq!(s.order_statistic(99), 9.0);
    }

    #[test]
    fn one_value_is_a_sample() {
        let s = Sample::new(&[7.0]).unwrap();
        assert_eq!((s.median(), s.mad(), s.quantile(0.3)), (7.0, 0.0, 7.0));
    }

    #[test]
    fn violations_are_named() {
        assert_eq!(Sample::new(&[]), Err(StatsError::Empty));
        assert!(matches!(
            Sample::new(&[1.0, 2.0, f64::INFINITY]),
            Err(StatsError::NotFinite { index: 2, .. })
        ));
        assert_eq!(Sample::new(&[1.0, 0.0]), Err(StatsError::NotPositive { index: 1, value: 0.0 }));
        assert_eq!(Sample::with_at_least(&[1.0], 2), Err(StatsError::TooFew { needed: 2, got: 1 }));
        assert_eq!(Sample::with_at_least(&[], 2), Err(StatsError::Empty));
        let message = Sample::new(&[-3.5]).unwrap_err().to_string();
        assert!(message.contains("-3.5") && message.contains("positive"), "{message}");
    }

    proptest! {
        #[test]
        fn median_and_mad_scale(values in prop::collection::vec(0.001f64..1e6, 1..200), k in 0.01f64..100.0) {
            let s = Sample::new(&values).unwrap();
            let t = s.scaled(k).unwrap();
            prop_assert!((t.median() - k * s.median()).abs() <= 1e-9 * k * s.median());
            prop_assert!((t.mad() - k * s.mad()).abs() <= 1e-9 * k * s.max());
            prop_assert!(s.min() <= s.median() && s.median() <= s.max());
            let mut copy = values.clone();
            prop_assert_eq!(select_median(&mut copy), s.median());
        }
    }
}
