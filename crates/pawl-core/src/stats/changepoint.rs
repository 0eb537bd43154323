//! Change points: where the level of a series of runs moved, and by how much.
//!
//! The method is Apache Otava's (formerly Hunter's; Fleming et al., "Hunter: Using Change Point
//! Detection to Hunt for Performance Regressions", ICPE 2023), which is MongoDB's (Daly et al., "The Use
//! of Change Point Detection to Identify Software Performance Regressions in a Continuous Integration
//! System", ICPE 2020) with the permutation test replaced by Student's t:
//!
//! 1. **Candidates by E-divisive means** (Matteson & James, "A Nonparametric Approach for Multiple Change
//!    Point Analysis of Multivariate Data", JASA 109, 2014), in windows of [`window`] runs that overlap by
//!    half: within a segment, the split τ that maximises the energy statistic
//!    Q̂(τ) = mn/(m+n) · (2/(mn) Σ|aᵢ−bⱼ| − C(m,2)⁻¹ Σ|aᵢ−aₖ| − C(n,2)⁻¹ Σ|bⱼ−bₖ|) (α = 1, the m runs
//!    before τ against the n from τ on) is tested with Student's t-test (pooled variance); a significant split is kept and
//!    both halves are split again.
//! 2. **Pruning against the neighbours**: every candidate is tested again between the candidates either
//!    side of it, and the weakest one that is not significant (p above [`max_p_value`]), too small
//!    (below [`min_magnitude`]) or too close to a neighbour (a segment shorter than [`min_segment`], so
//!    that one spike is not a change) is dropped, until all that remain pass.
//!
//! Nothing is random: the same series gives the same change points, at any thread count. Cost: O(W²) per
//! window for the pairwise distances, O(n·W) in all, and O(K²) for pruning K candidates; 10,000 runs
//! take a few milliseconds.
//!
//! [`window`]: ChangePointSettings::window
//! [`max_p_value`]: ChangePointSettings::max_p_value
//! [`min_magnitude`]: ChangePointSettings::min_magnitude
//! [`min_segment`]: ChangePointSettings::min_segment
//!
//! # Example
//!
//! ```
//! use pawl_core::stats::changepoint::{ChangePointSettings, change_points};
//!
//! // Forty runs at 100 µs, then forty at 105 µs, with a little noise.
//! let series: Vec<f64> = (0..80)
//!     .map(|i| if i < 40 { 100_000.0 } else { 105_000.0 } + [0.0, 300.0, -200.0, 100.0][i % 4])
//!     .collect();
//! let found = change_points(&series, &ChangePointSettings::default())?;
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].index, 40);
//! assert!((found[0].rel_change - 0.05).abs() < 0.001);
//! # Ok::<(), pawl_core::stats::StatsError>(())
//! ```

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{StatsError, check_confidence, student_t};
use crate::verdict::Estimate;

/// How change points are found. The defaults are Otava's: a window of 50 runs and p ≤ 0.001.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangePointSettings {
    /// Runs per window of the E-divisive search; windows overlap by half.
    pub window: usize,
    /// A split counts only with the t-test's p-value at or below this.
    pub max_p_value: f64,
    /// A split counts only when the levels differ by at least this fraction (0.01 is 1%).
    pub min_magnitude: f64,
    /// Fewest runs on each side of a change: shorter excursions (a spike) are not a change.
    pub min_segment: usize,
    /// Confidence of the intervals of the levels before and after.
    pub confidence: f64,
}

impl Default for ChangePointSettings {
    fn default() -> Self {
        ChangePointSettings {
            window: 50,
            max_p_value: 0.001,
            min_magnitude: 0.005,
            min_segment: 3,
            confidence: 0.99,
        }
    }
}

impl ChangePointSettings {
    fn check(&self) -> Result<(), StatsError> {
        let bad = |name: &'static str, value: f64, rule: &'static str| {
            Err(StatsError::BadSetting { name, value, rule })
        };
        if self.min_segment < 2 {
            return bad("min_segment", self.min_segment as f64, "at least 2 runs: a spread needs two");
        }
        if self.window < 2 * self.min_segment {
            return bad("window", self.window as f64, "at least twice min_segment");
        }
        if !(self.max_p_value > 0.0 && self.max_p_value < 1.0) {
            return bad("max_p_value", self.max_p_value, "strictly between 0 and 1, such as 0.001");
        }
        if !(self.min_magnitude >= 0.0 && self.min_magnitude.is_finite()) {
            return bad("min_magnitude", self.min_magnitude, "a fraction of at least 0, such as 0.005");
        }
        check_confidence(self.confidence)?;
        Ok(())
    }
}

/// A place where the level of a series moved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangePoint {
    /// Index of the first value at the new level.
    pub index: usize,
    /// Two-sided p-value of the t-test, between this change and its neighbours.
    pub p_value: f64,
    /// Mean level of the runs since the previous change, with its t interval.
    pub before: Estimate,
    /// Mean level of the runs up to the next change, with its t interval.
    pub after: Estimate,
    pub runs_before: usize,
    pub runs_after: usize,
    /// `after / before − 1`: positive when the values grew (slower, for times).
    pub rel_change: f64,
}

/// The change points of `values` (one value per run, in order: a case's median times), in order.
///
/// Values must be finite and positive. A series shorter than twice `min_segment` has none.
pub fn change_points(values: &[f64], settings: &ChangePointSettings) -> Result<Vec<ChangePoint>, StatsError> {
    settings.check()?;
    for (index, &value) in values.iter().enumerate() {
        if !value.is_finite() {
            return Err(StatsError::NotFinite { index, value });
        }
        if value <= 0.0 {
            return Err(StatsError::NotPositive { index, value });
        }
    }
    let n = values.len();
    if n < 2 * settings.min_segment {
        return Ok(Vec::new());
    }
    let sums = PrefixSums::new(values);
    let mut candidates = BTreeSet::new();
    let step = (settings.window / 2).max(1);
    let mut start = 0;
    loop {
        let end = (start + settings.window).min(n);
        Window::new(&values[start..end]).bisect(0, end - start, start, &sums, settings, &mut candidates);
        if end == n {
            break;
        }
        start += step;
    }
    let kept = prune(candidates.into_iter().collect(), &sums, settings);
    Ok(describe(&kept, &sums, settings))
}

/// The t-test of the runs in `[a, mid)` against those in `[mid, b)`.
#[derive(Clone, Copy, Debug)]
struct Split {
    p_value: f64,
    rel_change: f64,
}

impl Split {
    fn passes(&self, settings: &ChangePointSettings) -> bool {
        self.p_value <= settings.max_p_value && self.rel_change.abs() >= settings.min_magnitude
    }
}

/// Prefix sums of the values and their squares, centred on the overall mean so that variances of
/// segments keep their precision. Gives any segment's mean and variance in O(1).
struct PrefixSums {
    centre: f64,
    sum: Vec<f64>,
    squares: Vec<f64>,
}

impl PrefixSums {
    fn new(values: &[f64]) -> PrefixSums {
        let centre = values.iter().sum::<f64>() / values.len() as f64;
        let (mut sum, mut squares) = (vec![0.0], vec![0.0]);
        for &v in values {
            let d = v - centre;
            sum.push(sum.last().unwrap_or(&0.0) + d);
            squares.push(squares.last().unwrap_or(&0.0) + d * d);
        }
        PrefixSums { centre, sum, squares }
    }

    /// (n, mean, sample variance) of `[a, b)`.
    fn segment(&self, a: usize, b: usize) -> (f64, f64, f64) {
        let n = (b - a) as f64;
        let s = self.sum[b] - self.sum[a];
        let q = self.squares[b] - self.squares[a];
        let mean = s / n;
        let var = if n > 1.0 { ((q - s * mean) / (n - 1.0)).max(0.0) } else { 0.0 };
        (n, self.centre + mean, var)
    }

    /// Student's two-sample t-test with pooled variance: the runs before and after a step share their
    /// noise, and pooling keeps a short segment's chance tightness from passing for a change.
    fn t_test(&self, a: usize, mid: usize, b: usize) -> Split {
        let (n1, m1, v1) = self.segment(a, mid);
        let (n2, m2, v2) = self.segment(mid, b);
        let rel_change = m2 / m1 - 1.0;
        let df = n1 + n2 - 2.0;
        let pooled = ((n1 - 1.0) * v1 + (n2 - 1.0) * v2) / df;
        let se2 = pooled * (1.0 / n1 + 1.0 / n2);
        let p_value = if se2 > 0.0 {
            student_t::two_sided_p((m2 - m1) / se2.sqrt(), df)
        } else if m1 == m2 {
            1.0
        } else {
            0.0 // Two constant segments at different levels.
        };
        Split { p_value, rel_change }
    }

    /// The mean of `[a, b)` with its t interval.
    fn level(&self, a: usize, b: usize, confidence: f64) -> Estimate {
        let (n, mean, var) = self.segment(a, b);
        let half = student_t::quantile(0.5 + confidence / 2.0, n - 1.0) * (var / n).sqrt();
        Estimate { point: mean, low: mean - half, high: mean + half, confidence }
    }
}

/// One window of the E-divisive search, with the 2-D prefix sums of its pairwise distances |xᵢ − xⱼ|.
struct Window {
    n: usize,
    /// `cumulative[i * (n + 1) + j]` = Σ of |x_p − x_q| over p < i, q < j.
    cumulative: Vec<f64>,
}

impl Window {
    fn new(values: &[f64]) -> Window {
        let n = values.len();
        let stride = n + 1;
        let mut cumulative = vec![0.0; stride * stride];
        for i in 0..n {
            let mut row = 0.0;
            for j in 0..n {
                row += (values[i] - values[j]).abs();
                cumulative[(i + 1) * stride + j + 1] = cumulative[i * stride + j + 1] + row;
            }
        }
        Window { n, cumulative }
    }

    /// Σ |x_p − x_q| over p in `[r0, r1)`, q in `[c0, c1)`.
    fn block(&self, r0: usize, r1: usize, c0: usize, c1: usize) -> f64 {
        let s = self.n + 1;
        let c = &self.cumulative;
        c[r1 * s + c1] - c[r0 * s + c1] - c[r1 * s + c0] + c[r0 * s + c0]
    }

    /// Q̂(τ) of Matteson & James for the segment `[a, b)` split at τ.
    fn energy(&self, a: usize, tau: usize, b: usize) -> f64 {
        let (m, k) = ((tau - a) as f64, (b - tau) as f64);
        let between = self.block(a, tau, tau, b);
        // Each unordered pair appears twice in a square block.
        let within = |lo: usize, hi: usize, count: f64| {
            if count < 2.0 { 0.0 } else { self.block(lo, hi, lo, hi) / (count * (count - 1.0)) }
        };
        m * k / (m + k) * (2.0 * between / (m * k) - within(a, tau, m) - within(tau, b, k))
    }

    /// Splits `[a, b)` (window positions; `offset` places them in the series) at its strongest split
    /// while that split is significant, and again within both halves.
    fn bisect(
        &self,
        a: usize,
        b: usize,
        offset: usize,
        sums: &PrefixSums,
        settings: &ChangePointSettings,
        found: &mut BTreeSet<usize>,
    ) {
        let min = settings.min_segment;
        if b - a < 2 * min {
            return;
        }
        let mut best = (a + min, f64::NEG_INFINITY);
        for tau in a + min..=b - min {
            let q = self.energy(a, tau, b);
            if q > best.1 {
                best = (tau, q);
            }
        }
        let tau = best.0;
        if sums.t_test(offset + a, offset + tau, offset + b).passes(settings) {
            found.insert(offset + tau);
            self.bisect(a, tau, offset, sums, settings, found);
            self.bisect(tau, b, offset, sums, settings, found);
        }
    }
}

/// Drops, one at a time, the weakest candidate that fails against its neighbours, until all pass.
fn prune(mut points: Vec<usize>, sums: &PrefixSums, settings: &ChangePointSettings) -> Vec<usize> {
    let n = sums.sum.len() - 1;
    loop {
        let mut weakest: Option<(usize, f64)> = None;
        for i in 0..points.len() {
            let a = if i == 0 { 0 } else { points[i - 1] };
            let b = points.get(i + 1).copied().unwrap_or(n);
            let p = points[i];
            let too_short = p - a < settings.min_segment || b - p < settings.min_segment;
            let split = sums.t_test(a, p, b);
            if too_short || !split.passes(settings) {
                // Too short ranks weakest of all; then the largest p-value; ties keep the earlier one.
                let weakness = if too_short { f64::INFINITY } else { split.p_value };
                if weakest.is_none_or(|(_, w)| weakness > w) {
                    weakest = Some((i, weakness));
                }
            }
        }
        match weakest {
            Some((i, _)) => {
                points.remove(i);
            }
            None => return points,
        }
    }
}

fn describe(points: &[usize], sums: &PrefixSums, settings: &ChangePointSettings) -> Vec<ChangePoint> {
    let n = sums.sum.len() - 1;
    (0..points.len())
        .map(|i| {
            let a = if i == 0 { 0 } else { points[i - 1] };
            let b = points.get(i + 1).copied().unwrap_or(n);
            let p = points[i];
            let split = sums.t_test(a, p, b);
            ChangePoint {
                index: p,
                p_value: split.p_value,
                before: sums.level(a, p, settings.confidence),
                after: sums.level(p, b, settings.confidence),
                runs_before: p - a,
                runs_after: b - p,
                rel_change: split.rel_change,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::normal;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// `n` values around `level` with Gaussian relative noise `noise`, from `seed`.
    fn noisy(n: usize, level: f64, noise: f64, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let u: f64 = rng.random();
                level * (1.0 + noise * normal::quantile(u.clamp(1e-12, 1.0 - 1e-12)))
            })
            .collect()
    }

    #[test]
    fn finds_a_step_with_its_levels() {
        let mut series = noisy(60, 1000.0, 0.01, 1);
        series.extend(noisy(60, 1100.0, 0.01, 2));
        let found = change_points(&series, &ChangePointSettings::default()).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let cp = &found[0];
        assert_eq!(cp.index, 60);
        assert!((cp.rel_change - 0.10).abs() < 0.01, "{cp:?}");
        assert!(cp.before.low < 1000.0 && 1000.0 < cp.before.high, "{cp:?}");
        assert!(cp.after.low < 1100.0 && 1100.0 < cp.after.high, "{cp:?}");
        assert!(cp.p_value < 1e-20);
        assert_eq!((cp.runs_before, cp.runs_after), (60, 60));
    }

    #[test]
    fn finds_several_steps_across_windows() {
        let mut series = Vec::new();
        for (i, level) in [1000.0, 1060.0, 1000.0, 950.0].iter().enumerate() {
            series.extend(noisy(70, *level, 0.01, 10 + i as u64));
        }
        let all = change_points(&series, &ChangePointSettings::default()).unwrap();
        let found: Vec<usize> = all.iter().map(|c| c.index).collect();
        assert_eq!(found, vec![70, 140, 210]);
    }

    #[test]
    fn noise_spikes_and_constants_are_not_changes() {
        let settings = ChangePointSettings::default();
        assert!(change_points(&noisy(500, 1000.0, 0.02, 3), &settings).unwrap().is_empty());
        let mut spiky = noisy(200, 1000.0, 0.01, 4);
        spiky[50] *= 1.5;
        spiky[120] *= 0.6;
        spiky[121] *= 0.6;
        assert!(change_points(&spiky, &settings).unwrap().is_empty());
        assert!(change_points(&[7.0; 100], &settings).unwrap().is_empty());
    }

    #[test]
    fn minimum_magnitude_and_segment_are_honoured() {
        let mut series = noisy(100, 1000.0, 0.0005, 5);
        series.extend(noisy(100, 1003.0, 0.0005, 6)); // 0.3%: clear, but below 0.5%
        let settings = ChangePointSettings::default();
        assert!(change_points(&series, &settings).unwrap().is_empty());
        let small = ChangePointSettings { min_magnitude: 0.001, ..settings };
        assert_eq!(change_points(&series, &small).unwrap().len(), 1);
        // One high run at the end is a spike; three make a segment at a new level.
        let mut late = noisy(50, 1000.0, 0.01, 7);
        late.push(1200.0);
        assert!(change_points(&late, &settings).unwrap().is_empty());
        late.extend([1200.0, 1200.0]);
        assert_eq!(change_points(&late, &settings).unwrap()[0].index, 50);
    }

    #[test]
    fn same_series_same_answer() {
        let mut series = noisy(300, 1000.0, 0.02, 8);
        for v in &mut series[150..] {
            *v *= 1.05;
        }
        let a = change_points(&series, &ChangePointSettings::default()).unwrap();
        let b = change_points(&series, &ChangePointSettings::default()).unwrap();
        assert_eq!(a, b);
        assert!(!a.is_empty());
    }

    #[test]
    fn bad_input_is_an_error() {
        let s = ChangePointSettings::default();
        assert!(matches!(change_points(&[1.0, f64::NAN], &s), Err(StatsError::NotFinite { index: 1, .. })));
        assert!(matches!(change_points(&[1.0, -2.0], &s), Err(StatsError::NotPositive { index: 1, .. })));
        assert!(change_points(&[1.0; 5], &s).unwrap().is_empty(), "too short to split");
        let bad = ChangePointSettings { window: 4, ..s };
        let err = change_points(&[1.0; 10], &bad).unwrap_err().to_string();
        assert!(err.contains("window") && err.contains('4'), "{err}");
        let bad = ChangePointSettings { max_p_value: 1.5, ..s };
        assert!(change_points(&[1.0; 10], &bad).is_err());
    }
}
