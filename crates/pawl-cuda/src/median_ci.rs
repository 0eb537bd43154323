//! The distribution-free confidence interval of the median, for adaptive stopping.
//!
//! Stand-in until `pawl_core::stats::summarize` lands on main; `timing.rs` calls only [`median_ci`],
//! so swapping is one line there.
//!
//! Method: order statistics. The number of samples below the true median is Binomial(n, ½), so
//! `[x₍ₗ₎, x₍ᵤ₎]` with `l` the largest rank such that `P(B < l) ≤ α/2` and `u = n + 1 − l` covers it
//! with probability at least `1 − α` (Conover, *Practical Nonparametric Statistics*, 3rd ed., §3.2;
//! Hollander, Wolfe & Chicco, *Nonparametric Statistical Methods*, §3.6).

/// Median and its interval at `confidence`, in the units of `samples`. `None` with fewer than two
/// samples, or too few for the interval to exclude the extremes.
pub fn median_ci(samples: &[f64], confidence: f64) -> Option<(f64, f64, f64)> {
    let n = samples.len();
    if n < 2 {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
    let alpha_half = (1.0 - confidence) / 2.0;
    // Largest l ≥ 1 with P(B ≤ l − 1) ≤ α/2, summing the binomial pmf in log space (n up to 10⁵).
    let ln_half_n = n as f64 * 0.5f64.ln();
    let mut ln_pmf = ln_half_n; // P(B = 0)
    let mut cdf = 0.0;
    let mut l = 0;
    for k in 0..n {
        cdf += ln_pmf.exp();
        if cdf > alpha_half {
            break;
        }
        l = k + 1; // P(B ≤ k) ≤ α/2, so rank k + 1 is a valid lower bound
        ln_pmf += ((n - k) as f64).ln() - ((k + 1) as f64).ln();
    }
    if l == 0 {
        return None;
    }
    Some((median, sorted[l - 1], sorted[n - l]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_match_published_tables() {
        // Conover, Table A3: n = 20 at 95% gives ranks 6 and 15; n = 100 at 99% gives 37 and 64.
        let samples: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(median_ci(&samples, 0.95), Some((10.5, 6.0, 15.0)));
        let samples: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(median_ci(&samples, 0.99), Some((50.5, 37.0, 64.0)));
    }

    #[test]
    fn too_few_samples_give_no_interval() {
        assert_eq!(median_ci(&[1.0], 0.99), None);
        // With 5 samples P(B = 0) = 1/32 > 0.005: no interval at 99%.
        assert_eq!(median_ci(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.99), None);
    }
}
