//! Outliers by Tukey's fences: counted and reported, never dropped.

use super::Sample;

/// How many values fall outside Tukey's fences, and where the fences are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TukeyOutliers {
    /// Values below `low_fence`.
    pub low: usize,
    /// Values above `high_fence`.
    pub high: usize,
    pub low_fence: f64,
    pub high_fence: f64,
}

impl TukeyOutliers {
    pub fn total(&self) -> usize {
        self.low + self.high
    }
}

/// Counts values outside [Q1 − 1.5·IQR, Q3 + 1.5·IQR]: J. W. Tukey, *Exploratory Data Analysis*
/// (1977), §2C. Quartiles by [`Sample::quantile`]. Cost: O(log n) on the sorted sample.
///
/// GPU timings have a heavy right tail (a context switch, a clock dip), so a high count is a reason to
/// distrust a run, not a reason to delete samples: the median is already robust to them.
pub fn tukey_outliers(sample: &Sample) -> TukeyOutliers {
    let q1 = sample.quantile(0.25);
    let q3 = sample.quantile(0.75);
    let iqr = q3 - q1;
    let low_fence = q1 - 1.5 * iqr;
    let high_fence = q3 + 1.5 * iqr;
    let sorted = sample.sorted();
    let low = sorted.partition_point(|&x| x < low_fence);
    let high = sorted.len() - sorted.partition_point(|&x| x <= high_fence);
    TukeyOutliers { low, high, low_fence, high_fence }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_both_sides() {
        // Quartiles of 1..=9 are 3 and 7, IQR 4, fences -3 and 13.
        let mut values: Vec<f64> = (1..=9).map(f64::from).collect();
        values.extend([13.0, 13.5, 40.0]);
        let s = Sample::new(&values).unwrap();
        // With the three extra values: Q1 = 3.75, Q3 = 10, IQR 6.25, fences -5.625 and 19.375.
        let o = tukey_outliers(&s);
        assert_eq!((o.low, o.high, o.total()), (0, 1, 1));
        assert_eq!((o.low_fence, o.high_fence), (-5.625, 19.375));

        let mut values = vec![10.0; 20];
        values.extend([0.5, 30.0, 31.0]);
        let o = tukey_outliers(&Sample::new(&values).unwrap());
        assert_eq!((o.low, o.high), (1, 2));
    }

    #[test]
    fn a_single_value_has_none() {
        let o = tukey_outliers(&Sample::new(&[5.0]).unwrap());
        assert_eq!(o.total(), 0);
    }
}
