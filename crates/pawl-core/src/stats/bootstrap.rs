//! Bootstrap intervals of medians and their ratios, always seeded.
//!
//! Same inputs and seed ⇒ the same interval, bit for bit, whatever the thread count: generators are
//! ChaCha8 streams seeded from [`BootstrapSettings::seed`], and parallel work splits into fixed chunks,
//! each with its own derived seed.

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::sample::select_median;
use super::{RatioInterval, Sample, StatsError, binomial, check_confidence, normal};

/// Resamples drawn when a caller has no reason to choose: enough for stable 99% percentile ends.
pub const DEFAULT_RESAMPLES: usize = 10_000;

/// How many resamples to draw, from which seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootstrapSettings {
    /// At least 1 is used.
    pub resamples: usize,
    pub seed: u64,
}

impl Default for BootstrapSettings {
    fn default() -> Self {
        BootstrapSettings { resamples: DEFAULT_RESAMPLES, seed: 0 }
    }
}

/// Draws bootstrap replicates of a sample's median in O(log n) each, exactly as if n values had been
/// resampled with replacement.
///
/// The trick (Efron 1982, *The Jackknife, the Bootstrap and Other Resampling Plans*, §10.7; Maritz &
/// Jarrett 1978, "A note on estimating the variance of the sample median", JASA 73, 194–196): the number
/// N_j of resampled values at or below x_(j) is Binomial(n, j/n), so the m-th smallest resampled value
/// is x_(j) with probability F(j) − F(j−1), F(j) = P(N_j ≥ m). One replicate is then a uniform draw and
/// a binary search over F instead of n draws and a selection.
///
/// For even n the median also needs the (m+1)-th value. Given the m-th is x_(j), it is x_(j) again
/// unless N_j = m, which has probability P(N_j = m)·(1 − ((j−1)/j)^m) / (F(j) − F(j−1)); then the n − m
/// draws above x_(j) are uniform over the n − j larger ranks, and their minimum is drawn by inversion.
///
/// F is tabulated only where it is neither 0 nor 1 to double precision (within about ±8.5 standard
/// deviations of the middle rank), so setting up costs O(√n) incomplete-beta evaluations.
#[derive(Clone, Debug)]
pub struct MedianResampler<'a> {
    sorted: &'a [f64],
    /// Rank (1-based) just below the first tabulated cell: `cdf[t]` is F(`base` + t).
    base: usize,
    cdf: Vec<f64>,
    /// Even n only: per cell, the probability that the upper middle value lies above the lower one.
    split: Vec<f64>,
    /// Lower middle rank.
    m: usize,
}

impl<'a> MedianResampler<'a> {
    pub fn new(sample: &'a Sample) -> MedianResampler<'a> {
        // Tail mass below this is below the resolution of a 53-bit uniform draw.
        const NEGLIGIBLE: f64 = 1e-17;
        let sorted = sample.sorted();
        let n = sorted.len();
        let m = n.div_ceil(2);
        let (n64, m64) = (n as u64, m as u64);
        let cell = |j: usize| j as f64 / n as f64;

        let mut base = m;
        while base > 0 && binomial::at_least(m64, n64, cell(base)) >= NEGLIGIBLE {
            base -= 1;
        }
        let mut top = m;
        while top < n && binomial::below(m64, n64, cell(top)) >= NEGLIGIBLE {
            top += 1;
        }
        let mut cdf: Vec<f64> = (base..=top).map(|j| binomial::at_least(m64, n64, cell(j))).collect();
        cdf[0] = 0.0;
        let last = cdf.len() - 1;
        cdf[last] = 1.0;

        let split = if n % 2 == 1 {
            Vec::new()
        } else {
            (base..=top)
                .enumerate()
                .map(|(t, j)| {
                    if t == 0 {
                        return 0.0;
                    }
                    let width = cdf[t] - cdf[t - 1];
                    let exactly_m = binomial::ln_pmf(m64, n64, cell(j)).exp();
                    // 1 − ((j−1)/j)^m: not all m values at or below x_(j) lie below it.
                    let reaches_j = -(m as f64 * (-1.0 / j as f64).ln_1p()).exp_m1();
                    if width > 0.0 { (exactly_m * reaches_j / width).clamp(0.0, 1.0) } else { 0.0 }
                })
                .collect()
        };
        MedianResampler { sorted, base, cdf, split, m }
    }

    /// One bootstrap replicate of the median.
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let u: f64 = rng.random();
        // First cell whose F exceeds u; cdf[0] = 0 ≤ u < 1 = cdf[last], so 1 ≤ t ≤ last.
        let t = self.cdf.partition_point(|&c| c <= u).clamp(1, self.cdf.len() - 1);
        let j = self.base + t;
        let lower = self.sorted[j - 1];
        if self.split.is_empty() {
            return lower;
        }
        let n = self.sorted.len();
        if rng.random::<f64>() >= self.split[t] || j == n {
            return lower;
        }
        // Minimum rank among n − m uniform draws over the n − j ranks above j:
        // P(step ≤ s) = 1 − (1 − s/(n−j))^(n−m).
        let above = (n - j) as f64;
        let v: f64 = rng.random();
        let fraction = -((-v).ln_1p() / (n - self.m) as f64).exp_m1();
        let step = ((above * fraction).ceil() as usize).clamp(1, n - j);
        0.5 * (lower + self.sorted[j + step - 1])
    }

    /// The exact probability that a replicate equals each rank's value (odd n) — for tests and for
    /// computing bootstrap moments without sampling.
    pub fn lower_middle_probabilities(&self) -> Vec<(usize, f64)> {
        (1..self.cdf.len()).map(|t| (self.base + t, self.cdf[t] - self.cdf[t - 1])).collect()
    }
}

/// A bootstrap interval of one median.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MedianInterval {
    pub median: f64,
    pub low: f64,
    pub high: f64,
    pub confidence: f64,
}

/// The percentile bootstrap interval of a sample's median (Efron & Tibshirani 1993, *An Introduction
/// to the Bootstrap*, §13.3), with replicates from [`MedianResampler`]; seeded, so the same sample and
/// seed give the same interval. Ends by Hyndman–Fan definition 7, stretched to contain the median.
/// Cost: O(√n) setup plus O(B log n).
pub fn median_interval(
    sample: &Sample,
    confidence: f64,
    settings: BootstrapSettings,
) -> Result<MedianInterval, StatsError> {
    let confidence = check_confidence(confidence)?;
    let resampler = MedianResampler::new(sample);
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let mut medians: Vec<f64> = (0..settings.resamples.max(1)).map(|_| resampler.draw(&mut rng)).collect();
    let median = sample.median();
    let low = select_quantile(&mut medians, (1.0 - confidence) / 2.0).min(median);
    let high = select_quantile(&mut medians, (1.0 + confidence) / 2.0).max(median);
    Ok(MedianInterval { median, low, high, confidence })
}

/// A uniform draw in the open interval (0, 1), for inverse-CDF sampling that must not hit ±∞.
fn open_unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    ((rng.random::<u64>() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// Percentile bootstrap interval of the ratio of two independent medians, new over old (Efron &
/// Tibshirani 1993, *An Introduction to the Bootstrap*, §13.3), with replicates from
/// [`MedianResampler`], widened by `allowance` for drift between the two sides' processes. The p-value
/// inverts the same interval (see [`percentile_interval`]). Cost: O(√n) setup per side plus O(B log n).
pub fn ratio_of_medians(
    old: &Sample,
    new: &Sample,
    confidence: f64,
    allowance: f64,
    settings: BootstrapSettings,
) -> Result<RatioInterval, StatsError> {
    let confidence = check_confidence(confidence)?;
    let (old_rs, new_rs) = (MedianResampler::new(old), MedianResampler::new(new));
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let mut log_ratios: Vec<f64> = (0..settings.resamples.max(1))
        .map(|_| new_rs.draw(&mut rng).ln() - old_rs.draw(&mut rng).ln())
        .collect();
    let point = new.median().ln() - old.median().ln();
    Ok(percentile_interval(&mut log_ratios, point, confidence, allowance))
}

/// Percentile interval of the ratio of a new sample's median to a stored reference median known only
/// through its log-scale standard error: each replicate is ln(bootstrap median) − ln(reference) +
/// se·Z, Z standard normal (a bootstrap on one side, a parametric one on the other). The interval is
/// widened by `allowance` and the p-value tests |ln ratio| ≤ ln(1 + allowance).
pub fn ratio_to_reference(
    reference_median: f64,
    reference_log_se: f64,
    new: &Sample,
    confidence: f64,
    allowance: f64,
    settings: BootstrapSettings,
) -> Result<RatioInterval, StatsError> {
    let confidence = check_confidence(confidence)?;
    let resampler = MedianResampler::new(new);
    let reference_ln = reference_median.ln();
    let se = if reference_log_se.is_finite() { reference_log_se.max(0.0) } else { 0.0 };
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let mut log_ratios: Vec<f64> = (0..settings.resamples.max(1))
        .map(|_| {
            let noise = if se > 0.0 { se * normal::quantile(open_unit(&mut rng)) } else { 0.0 };
            resampler.draw(&mut rng).ln() - reference_ln + noise
        })
        .collect();
    let point = new.median().ln() - reference_ln;
    Ok(percentile_interval(&mut log_ratios, point, confidence, allowance))
}

/// Paired bootstrap of the ratio of medians: pairs (old_i, new_i) are resampled jointly, so whatever
/// the two sides share within a pair (clock, temperature, the neighbouring launch) stays in every
/// replicate (Efron & Tibshirani 1993, §6.9 on resampling pairs). Replicates run in parallel chunks,
/// each seeded from (`seed`, chunk), so the result does not depend on the thread count.
/// Cost: O(B·n).
pub fn paired_ratio_of_medians(
    old: &[f64],
    new: &[f64],
    confidence: f64,
    settings: BootstrapSettings,
) -> Result<RatioInterval, StatsError> {
    const CHUNK: usize = 64;
    let confidence = check_confidence(confidence)?;
    if old.len() != new.len() {
        return Err(StatsError::UnpairedLengths { old: old.len(), new: new.len() });
    }
    let (old_sample, new_sample) = (Sample::with_at_least(old, 2)?, Sample::with_at_least(new, 2)?);
    let n = old.len();
    let resamples = settings.resamples.max(1);
    let chunks = resamples.div_ceil(CHUNK);
    let mut log_ratios: Vec<f64> = (0..chunks)
        .into_par_iter()
        .flat_map_iter(|chunk| {
            let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(settings.seed, chunk as u64));
            let count = CHUNK.min(resamples - chunk * CHUNK);
            let (mut old_buf, mut new_buf) = (vec![0.0; n], vec![0.0; n]);
            (0..count)
                .map(|_| {
                    for k in 0..n {
                        let i = rng.random_range(0..n);
                        old_buf[k] = old[i];
                        new_buf[k] = new[i];
                    }
                    select_median(&mut new_buf).ln() - select_median(&mut old_buf).ln()
                })
                .collect::<Vec<f64>>()
        })
        .collect();
    let point = new_sample.median().ln() - old_sample.median().ln();
    Ok(percentile_interval(&mut log_ratios, point, confidence, 0.0))
}

/// The percentile interval of bootstrap log-ratios, widened by `allowance`, and the p-value that
/// inverts it: with δ = ln(1 + allowance), p = 2·min(#(d ≤ δ) + 1, #(d ≥ −δ) + 1) / (B + 1), capped at
/// 1 (Davison & Hinkley 1997, *Bootstrap Methods and their Application*, §4.4; the +1 keeps p above 0).
/// Ends by Hyndman–Fan definition 7; the interval is stretched to contain the estimate, which a
/// percentile interval can miss only on degenerate samples. Reorders `log_ratios`. Cost: O(B).
pub fn percentile_interval(
    log_ratios: &mut [f64],
    point: f64,
    confidence: f64,
    allowance: f64,
) -> RatioInterval {
    let delta = allowance.max(0.0).ln_1p();
    let b = log_ratios.len();
    if b == 0 {
        return RatioInterval::from_log_normal(point, 0.0, confidence, allowance);
    }
    let below = log_ratios.iter().filter(|&&d| d <= delta).count();
    let above = log_ratios.iter().filter(|&&d| d >= -delta).count();
    let p_value = (2.0 * (below.min(above) + 1) as f64 / (b + 1) as f64).min(1.0);
    let low = select_quantile(log_ratios, (1.0 - confidence) / 2.0);
    let high = select_quantile(log_ratios, (1.0 + confidence) / 2.0);
    let ratio = point.exp();
    RatioInterval {
        ratio,
        low: (low - delta).exp().min(ratio),
        high: (high + delta).exp().max(ratio),
        confidence,
        p_value,
    }
}

/// Hyndman–Fan definition 7 quantile by selection (reorders `values`, non-empty). Cost: O(n).
fn select_quantile(values: &mut [f64], p: f64) -> f64 {
    let h = (values.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let below = h.floor() as usize;
    let (_, &mut low, rest) = values.select_nth_unstable_by(below, f64::total_cmp);
    let frac = h - below as f64;
    if frac == 0.0 || rest.is_empty() {
        return low;
    }
    let next = rest.iter().copied().fold(f64::INFINITY, f64::min);
    low + frac * (next - low)
}

/// A seed for stream `stream` of a computation seeded with `seed`: SplitMix64 finalisers (Steele, Lea
/// & Flood 2014, "Fast splittable pseudorandom number generators"), so nearby streams are unrelated.
pub fn mix_seed(seed: u64, stream: u64) -> u64 {
    use crate::hash::splitmix64;
    splitmix64(seed ^ splitmix64(stream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The exact bootstrap distribution of the median by enumerating all n^n resamples.
    fn enumerate(values: &[f64]) -> BTreeMap<u64, f64> {
        let n = values.len();
        let total = n.pow(n as u32);
        let mut out = BTreeMap::new();
        let mut pick = vec![0.0; n];
        for code in 0..total {
            let mut c = code;
            for slot in pick.iter_mut() {
                *slot = values[c % n];
                c /= n;
            }
            let median = select_median(&mut pick);
            *out.entry(median.to_bits()).or_insert(0.0) += 1.0 / total as f64;
        }
        out
    }

    fn sampled(values: &[f64], draws: usize) -> BTreeMap<u64, f64> {
        let sample = Sample::new(values).unwrap();
        let rs = MedianResampler::new(&sample);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut out = BTreeMap::new();
        for _ in 0..draws {
            *out.entry(rs.draw(&mut rng).to_bits()).or_insert(0.0) += 1.0 / draws as f64;
        }
        out
    }

    #[test]
    fn odd_n_table_is_exact() {
        let values = [1.0, 2.0, 4.0, 8.0, 16.0];
        let exact = enumerate(&values);
        let sample = Sample::new(&values).unwrap();
        for (rank, p) in MedianResampler::new(&sample).lower_middle_probabilities() {
            let want = exact.get(&values[rank - 1].to_bits()).copied().unwrap_or(0.0);
            assert!((p - want).abs() < 1e-12, "rank {rank}: {p} vs {want}");
        }
    }

    #[test]
    fn even_n_draws_match_enumeration() {
        let values = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0];
        let exact = enumerate(&values);
        let got = sampled(&values, 400_000);
        for (bits, want) in &exact {
            let p = got.get(bits).copied().unwrap_or(0.0);
            // Binomial standard error at 400k draws is below 8e-4.
            assert!((p - want).abs() < 4e-3, "median {}: {p} vs {want}", f64::from_bits(*bits));
        }
        assert!(got.keys().all(|k| exact.contains_key(k)), "drew a value the bootstrap cannot produce");
    }

    #[test]
    fn ties_and_tiny_samples() {
        let one = Sample::new(&[3.0]).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(MedianResampler::new(&one).draw(&mut rng), 3.0);
        let tied = Sample::new(&[2.0; 40]).unwrap();
        let r = ratio_of_medians(&tied, &tied, 0.99, 0.0, BootstrapSettings::default()).unwrap();
        assert_eq!((r.ratio, r.low, r.high, r.p_value), (1.0, 1.0, 1.0, 1.0));
    }

    fn noisy(n: usize, seed: u64, scale: f64) -> Sample {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let values: Vec<f64> =
            (0..n).map(|_| scale * (1.0 + 0.02 * normal::quantile(open_unit(&mut rng)))).collect();
        Sample::new(&values).unwrap()
    }

    #[test]
    fn seeded_and_reproducible() {
        let (old, new) = (noisy(25, 1, 100.0), noisy(24, 2, 103.0));
        let a =
            ratio_of_medians(&old, &new, 0.99, 0.0, BootstrapSettings { resamples: 5000, seed: 42 }).unwrap();
        let b =
            ratio_of_medians(&old, &new, 0.99, 0.0, BootstrapSettings { resamples: 5000, seed: 42 }).unwrap();
        assert_eq!(a, b);
        let c =
            ratio_of_medians(&old, &new, 0.99, 0.0, BootstrapSettings { resamples: 5000, seed: 43 }).unwrap();
        assert_ne!(a, c);
        assert!((a.low.ln() - c.low.ln()).abs() < 0.01 && (a.high.ln() - c.high.ln()).abs() < 0.01);
        assert!(a.low <= a.ratio && a.ratio <= a.high);
    }

    #[test]
    fn bootstrap_agrees_with_price_bonett_on_smooth_data() {
        let (old, new) = (noisy(400, 3, 100.0), noisy(400, 4, 101.0));
        let boot = ratio_of_medians(&old, &new, 0.99, 0.0, BootstrapSettings::default()).unwrap();
        let analytic = super::super::price_bonett(&old, &new, 0.99, 0.0).unwrap();
        let half = (analytic.high.ln() - analytic.low.ln()) / 2.0;
        assert!((boot.low.ln() - analytic.low.ln()).abs() < 0.25 * half, "{boot:?} vs {analytic:?}");
        assert!((boot.high.ln() - analytic.high.ln()).abs() < 0.25 * half, "{boot:?} vs {analytic:?}");
    }

    #[test]
    fn reference_mode_widens_by_the_allowance() {
        let new = noisy(200, 5, 100.0);
        let settings = BootstrapSettings::default();
        let plain = ratio_to_reference(new.median(), 0.002, &new, 0.99, 0.0, settings).unwrap();
        let wide = ratio_to_reference(new.median(), 0.002, &new, 0.99, 0.01, settings).unwrap();
        assert_eq!(plain.ratio, 1.0);
        assert!((wide.high / plain.high - 1.01).abs() < 1e-12);
        assert!(wide.low < 1.0 && wide.high > 1.0 && wide.p_value == 1.0);
    }

    #[test]
    fn paired_bootstrap_is_deterministic_and_sees_shared_noise() {
        // Each pair shares a large common factor; new is 2% slower within every pair.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let common: Vec<f64> = (0..300).map(|_| 100.0 * (1.0 + 0.1 * open_unit(&mut rng))).collect();
        let old: Vec<f64> = common.iter().map(|c| c * (1.0 + 0.001 * open_unit(&mut rng))).collect();
        let new: Vec<f64> = common.iter().map(|c| 1.02 * c * (1.0 + 0.001 * open_unit(&mut rng))).collect();
        let settings = BootstrapSettings { resamples: 2000, seed: 5 };
        let a = paired_ratio_of_medians(&old, &new, 0.99, settings).unwrap();
        assert_eq!(a, paired_ratio_of_medians(&old, &new, 0.99, settings).unwrap());
        assert!(a.low > 1.0 && a.p_value < 0.01, "{a:?}");
        assert_eq!(
            paired_ratio_of_medians(&old, &new[1..], 0.99, settings),
            Err(StatsError::UnpairedLengths { old: 300, new: 299 })
        );
    }

    #[test]
    fn median_interval_is_seeded_and_covers_like_the_order_statistic_one() {
        let sample = noisy(301, 11, 50.0);
        let settings = BootstrapSettings { resamples: 4000, seed: 3 };
        let a = median_interval(&sample, 0.95, settings).unwrap();
        assert_eq!(a, median_interval(&sample, 0.95, settings).unwrap());
        assert_eq!(a.median, sample.median());
        assert!(a.low < a.median && a.median < a.high, "{a:?}");
        // On smooth data the bootstrap and the distribution-free interval agree closely.
        let exact = super::super::median_ci(&sample, 0.95).unwrap();
        let width = exact.high - exact.low;
        assert!((a.low - exact.low).abs() < 0.3 * width && (a.high - exact.high).abs() < 0.3 * width);
        let narrow = median_interval(&sample, 0.5, settings).unwrap();
        assert!(narrow.high - narrow.low < a.high - a.low);
        assert_eq!(median_interval(&sample, 1.5, settings), Err(StatsError::BadConfidence(1.5)));
        let one = Sample::new(&[4.0]).unwrap();
        let point = median_interval(&one, 0.95, settings).unwrap();
        assert_eq!((point.low, point.median, point.high), (4.0, 4.0, 4.0));
    }

    #[test]
    fn quantile_selection_matches_sorted() {
        let mut v = vec![5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(select_quantile(&mut v, 0.5), 3.0);
        assert_eq!(select_quantile(&mut v, 0.1), 1.4);
        assert_eq!(select_quantile(&mut v, 1.0), 5.0);
        assert_ne!(mix_seed(0, 0), mix_seed(0, 1));
    }
}
