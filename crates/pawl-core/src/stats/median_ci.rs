//! Distribution-free inference on a median from order statistics.

use super::{Sample, StatsError, binomial, check_confidence, normal};

/// A confidence interval of a population median: `[x_(rank), x_(n+1−rank)]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MedianCi {
    pub median: f64,
    pub low: f64,
    pub high: f64,
    /// The level asked for.
    pub confidence: f64,
    /// The level the interval actually has: at least `confidence`, unless the sample is too small for
    /// any order-statistic interval to reach it (then `[min, max]`, with less).
    pub coverage: f64,
    /// 1-based rank of the lower end.
    pub rank: usize,
}

impl MedianCi {
    /// The larger distance from the median to an end, over the median: 0.005 is ±0.5%.
    pub fn rel_half_width(&self) -> f64 {
        (self.median - self.low).max(self.high - self.median) / self.median
    }

    /// Whether the interval reaches the requested level and lies within ±`rel` of the median: the
    /// stopping rule of adaptive sampling.
    pub fn is_within(&self, rel: f64) -> bool {
        self.coverage >= self.confidence && self.rel_half_width() <= rel
    }
}

/// The order-statistic interval of the median: the widest-rank symmetric pair whose exact coverage,
/// 1 − 2·P(Bin(n, ½) ≤ rank − 1), is at least `confidence`.
///
/// W. J. Conover, *Practical Nonparametric Statistics* (3rd ed., 1999), §3.2 (confidence interval for
/// a quantile); Hahn & Meeker, *Statistical Intervals* (1991), §5.2. Valid for any continuous
/// distribution, no assumption of shape. The rank is found from the normal approximation and then
/// settled with exact binomial tails, so it is exact for every n. Cost: O(1) on the sorted sample plus
/// a few incomplete-beta evaluations — cheap enough to call after every batch of samples.
pub fn median_ci(sample: &Sample, confidence: f64) -> Result<MedianCi, StatsError> {
    let confidence = check_confidence(confidence)?;
    let n = sample.n();
    let (rank, coverage) = median_ci_rank(n, confidence);
    Ok(MedianCi {
        median: sample.median(),
        low: sample.order_statistic(rank),
        high: sample.order_statistic(n + 1 - rank),
        confidence,
        coverage,
        rank,
    })
}

/// The lower rank of the order-statistic interval for `n` values, and its exact coverage.
pub fn median_ci_rank(n: usize, confidence: f64) -> (usize, f64) {
    let tail = (1.0 - confidence) / 2.0;
    let coverage = |rank: usize| 1.0 - 2.0 * binomial::below(rank as u64, n as u64, 0.5);
    // Ranks beyond the middle would invert the interval.
    let top = n.div_ceil(2).max(1);
    let fits = |rank: usize| rank <= top && binomial::below(rank as u64, n as u64, 0.5) <= tail;
    // Start from the normal approximation n/2 − z·√n/2 and walk to the exact answer.
    let z = normal::two_sided_critical(confidence);
    let guess = (n as f64 / 2.0 - z * (n as f64).sqrt() / 2.0).floor();
    let mut rank = if guess.is_finite() && guess >= 1.0 { (guess as usize).min(top) } else { 1 };
    while rank > 1 && !fits(rank) {
        rank -= 1;
    }
    while fits(rank + 1) {
        rank += 1;
    }
    (rank, coverage(rank))
}

/// Standard error of a sample median from two order statistics, on whatever monotone scale the sorted
/// values are given: `(y_(n−a+1) − y_(a)) / (2·z)` with a = round(n/2 − √n) and z = Φ⁻¹(1 − P(Bin(n, ½)
/// ≤ a − 1)), the normal quantile matching that pair's exact coverage.
///
/// Price & Bonett (2002), "Distribution-free confidence intervals for difference and ratio of medians",
/// J. Statist. Comput. Simul. 72(2), 119–124; Bonett & Price (2002), Psychological Methods 7(3),
/// 370–383 (a modified McKean–Schrader estimator). `None` for fewer than 2 values. Zero when the two
/// order statistics tie: heavy ties make it useless, which callers must check.
pub fn order_statistic_se(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    if n < 2 {
        return None;
    }
    let a = ((n as f64 / 2.0 - (n as f64).sqrt()).round() as usize).clamp(1, n / 2);
    let z = normal::quantile(1.0 - binomial::below(a as u64, n as u64, 0.5));
    let span = sorted[n - a] - sorted[a - 1];
    Some(span / (2.0 * z))
}

/// Standard error of ln(median) by [`order_statistic_se`] on the log scale (order statistics commute
/// with the logarithm, so this is the sorted sample's logs at two ranks).
pub fn log_median_se(sample: &Sample) -> Result<f64, StatsError> {
    let n = sample.n();
    if n < 2 {
        return Err(StatsError::TooFew { needed: 2, got: n });
    }
    let a = ((n as f64 / 2.0 - (n as f64).sqrt()).round() as usize).clamp(1, n / 2);
    let z = normal::quantile(1.0 - binomial::below(a as u64, n as u64, 0.5));
    let span = sample.order_statistic(n + 1 - a).ln() - sample.order_statistic(a).ln();
    Ok(span / (2.0 * z))
}

/// How far apart (as a factor) the two standard errors of [`smooth_near_median`] may be.
pub const SMOOTHNESS_FACTOR: f64 = 1.5;

/// Whether the data around the median look like a smooth density, as the normal approximation behind
/// [`log_median_se`] assumes: the standard error from the Bonett–Price pair of order statistics (ranks
/// n/2 ± √n) and the one implied by the `confidence`-level interval of [`median_ci`] (ranks
/// n/2 ± z·√n/2) agree within [`SMOOTHNESS_FACTOR`]. Both estimate the same quantity when the density is
/// locally flat (Hettmansperger & Sheather 1986, "Confidence intervals based on interpolated order
/// statistics", Statist. Probab. Lett. 4, 75–79, study this family of estimators); they part when the
/// median sits in a narrow mode between gaps — GPU clocks stepping between levels — or on heavily
/// tied values, and then the interval should come from the bootstrap.
pub fn smooth_near_median(sample: &Sample, confidence: f64) -> bool {
    let (Ok(near), Ok(ci)) = (log_median_se(sample), median_ci(sample, confidence)) else {
        return false;
    };
    let z = normal::two_sided_critical(ci.coverage);
    if !(near > 0.0 && z > 0.0) {
        return false;
    }
    let far = (ci.high.ln() - ci.low.ln()) / (2.0 * z);
    (1.0 / SMOOTHNESS_FACTOR..=SMOOTHNESS_FACTOR).contains(&(far / near))
}

/// The sample size below which no order-statistic interval of the median reaches `confidence`
/// (8 at 99%, 6 at 95%): the interval [min, max] covers with probability 1 − 2^(1−n).
pub fn min_samples_for(confidence: f64) -> usize {
    let mut n = 1;
    while n < 64 && 1.0 - 0.5f64.powi(n as i32 - 1) < confidence {
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Bonett's statpsych `ci.median` example (its 0 replaced by 1, which keeps every rank).
    const BONETT: [f64; 19] = [
        30.2, 20.4, 15.1, 10.2, 10.5, 60.8, 20.8, 25.0, 20.7, 30.9, 10.8, 5.1, 50.9, 40.0, 20.9, 10.8, 1.0,
        20.5, 50.8,
    ];

    #[test]
    fn bonett_example() {
        let sample = Sample::new(&BONETT).unwrap();
        let ci = median_ci(&sample, 0.95).unwrap();
        assert_eq!((ci.median, ci.low, ci.high, ci.rank), (20.7, 10.8, 30.9, 5));
        // 1 − 2·5036/2^19
        assert!((ci.coverage - (1.0 - 2.0 * 5036.0 / 524_288.0)).abs() < 1e-14);
        // statpsych: SE 4.292277
        let se = order_statistic_se(sample.sorted()).unwrap();
        assert!((se - 4.292_277).abs() < 5e-7, "{se}");
    }

    #[test]
    fn textbook_ranks() {
        // Conover's table / the usual table of median intervals: n = 10 at 95% is [x(2), x(9)],
        // 97.9%; n = 20 at 95% is [x(6), x(15)], 95.9%; n = 8 at 99% is [x(1), x(8)], 99.2%.
        assert_eq!(median_ci_rank(10, 0.95).0, 2);
        assert!((median_ci_rank(10, 0.95).1 - 0.978_515_625).abs() < 1e-12);
        assert_eq!(median_ci_rank(20, 0.95).0, 6);
        assert_eq!(median_ci_rank(8, 0.99).0, 1);
        assert!(median_ci_rank(8, 0.99).1 >= 0.99);
        // Too few: [min, max] with less than asked.
        let (rank, coverage) = median_ci_rank(5, 0.99);
        assert_eq!(rank, 1);
        assert!((coverage - 0.9375).abs() < 1e-12);
        assert_eq!(median_ci_rank(1, 0.99), (1, 0.0));
        assert_eq!(min_samples_for(0.99), 8);
        assert_eq!(min_samples_for(0.95), 6);
    }

    #[test]
    fn large_n_rank_is_exact() {
        for n in [100usize, 999, 1000, 5000, 10_000] {
            let (rank, coverage) = median_ci_rank(n, 0.99);
            assert!(coverage >= 0.99);
            let next = 1.0 - 2.0 * binomial::below(rank as u64 + 1, n as u64, 0.5);
            assert!(next < 0.99, "n = {n}: rank {rank} is not the widest");
        }
    }

    #[test]
    fn adaptive_check() {
        let values: Vec<f64> = (0..200).map(|i| 100.0 + f64::from(i % 10) * 0.01).collect();
        let ci = median_ci(&Sample::new(&values).unwrap(), 0.99).unwrap();
        assert!(ci.is_within(0.005));
        assert!(!ci.is_within(0.0));
        let tiny = median_ci(&Sample::new(&[1.0, 1.0, 1.0]).unwrap(), 0.99).unwrap();
        assert!(!tiny.is_within(1.0), "three samples cannot reach 99%");
        assert_eq!(median_ci(&Sample::new(&[1.0]).unwrap(), 0.0), Err(StatsError::BadConfidence(0.0)));
    }

    #[test]
    fn smoothness() {
        // Evenly spread values: a flat density.
        let flat: Vec<f64> = (1..=400).map(|i| 100.0 + f64::from(i) * 0.01).collect();
        assert!(smooth_near_median(&Sample::new(&flat).unwrap(), 0.99));
        // The median in a narrow mode with gaps on both sides (clock steps).
        // 700 values: ranks 321..=380 in the middle mode. The Bonett–Price pair (ranks 324 and 377)
        // stays inside it; the 99% pair (ranks n/2 ± 34) reaches the modes either side.
        let mut modes: Vec<f64> = (0..60).map(|i| 100.0 + f64::from(i) * 0.001).collect();
        modes.extend((0..320).map(|i| 95.0 + f64::from(i) * 0.001));
        modes.extend((0..320).map(|i| 105.0 + f64::from(i) * 0.001));
        assert!(!smooth_near_median(&Sample::new(&modes).unwrap(), 0.99));
        assert!(!smooth_near_median(&Sample::new(&[3.0; 50]).unwrap(), 0.99));
        assert!(!smooth_near_median(&Sample::new(&[3.0]).unwrap(), 0.99));
    }

    proptest! {
        #[test]
        fn interval_contains_median_and_scales(
            values in prop::collection::vec(0.01f64..1e4, 1..300),
            k in 0.001f64..1000.0,
            confidence in 0.5f64..0.999,
        ) {
            let s = Sample::new(&values).unwrap();
            let ci = median_ci(&s, confidence).unwrap();
            prop_assert!(ci.low <= ci.median && ci.median <= ci.high);
            let scaled = median_ci(&s.scaled(k).unwrap(), confidence).unwrap();
            let tol = 1e-12 * k * s.max();
            prop_assert!((scaled.median - k * ci.median).abs() <= tol);
            prop_assert!((scaled.low - k * ci.low).abs() <= tol);
            prop_assert!((scaled.high - k * ci.high).abs() <= tol);
            if values.len() >= 2 {
                let se = log_median_se(&s).unwrap();
                let se_scaled = log_median_se(&s.scaled(k).unwrap()).unwrap();
                prop_assert!(se >= 0.0 && (se - se_scaled).abs() < 1e-9);
            }
        }
    }
}
