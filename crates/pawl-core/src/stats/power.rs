//! The smallest change a measurement could have detected: its minimum detectable effect.
//!
//! Bloom (1995), "Minimum detectable effects: a simple way to report the statistical power of
//! experimental designs", Evaluation Review 19(5), 547–556: for an estimate whose sampling error is
//! normal with standard error `se`, a test at level α detects a true effect Δ with probability
//! `power` when Δ ≥ (z₁₋α/₂ + z_power)·se (Cohen 1988, *Statistical Power Analysis for the Behavioral
//! Sciences*, ch. 2, for the same relation). Here the estimate is the log-ratio of two medians, each
//! with its standard error on the log scale, and the test is the one the SOTA report applies: two
//! intervals at `confidence` that do not overlap.

use super::{StatsError, check_confidence, normal};

/// The standard error on the log scale implied by an interval `[low, high]` of a positive quantity at
/// `confidence`, assuming it is roughly symmetric in ln: (ln high − ln low) / (2·z). Zero for a point
/// interval; `None` for an interval that is not positive and ordered.
pub fn log_se_of_interval(low: f64, high: f64, confidence: f64) -> Result<Option<f64>, StatsError> {
    let z = normal::two_sided_critical(check_confidence(confidence)?);
    if !(low > 0.0 && high >= low && high.is_finite()) {
        return Ok(None);
    }
    Ok(Some((high.ln() - low.ln()) / (2.0 * z)))
}

/// The smallest true ratio of two medians, as a relative change (0.02 is 2%), that two intervals at
/// `confidence` with log-scale standard errors `se_a` and `se_b` would tell apart (not overlap) with
/// probability `power`.
///
/// The intervals overlap unless the observed |ln ratio| exceeds z·(se_a + se_b), z = z₁₋α/₂. The
/// observed log-ratio is about normal around the true one, Δ, with standard error √(se_a² + se_b²), so
/// it exceeds that bound with probability `power` when Δ = z·(se_a + se_b) + z_power·√(se_a² + se_b²)
/// (the far tail neglected). Returned as e^Δ − 1.
pub fn detectable_change(se_a: f64, se_b: f64, confidence: f64, power: f64) -> Result<f64, StatsError> {
    let z = normal::two_sided_critical(check_confidence(confidence)?);
    let power = check_confidence(power)?;
    let z_power = normal::quantile(power);
    let (a, b) = (se_a.max(0.0), se_b.max(0.0));
    Ok((z * (a + b) + z_power * a.hypot(b)).exp_m1())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_textbook_multiplier() {
        // One standard error of 1% each side, 95% intervals, 80% power:
        // 1.959964·2·0.01 + 0.841621·√2·0.01 = 0.0511014 → e^Δ − 1.
        let d = detectable_change(0.01, 0.01, 0.95, 0.8).unwrap();
        let want = (1.959_964 * 0.02 + 0.841_621 * 2f64.sqrt() * 0.01f64).exp_m1();
        assert!((d - want).abs() < 1e-5, "{d} vs {want}");
        assert_eq!(detectable_change(0.0, 0.0, 0.95, 0.8).unwrap(), 0.0);
        // More noise, a larger detectable change; more power asked, larger still.
        assert!(detectable_change(0.02, 0.01, 0.95, 0.8).unwrap() > d);
        assert!(detectable_change(0.01, 0.01, 0.95, 0.9).unwrap() > d);
        assert_eq!(detectable_change(0.01, 0.01, 1.0, 0.8), Err(StatsError::BadConfidence(1.0)));
    }

    #[test]
    fn standard_errors_from_intervals() {
        let se = log_se_of_interval(0.99, 1.01, 0.95).unwrap().unwrap();
        assert!((se - (1.01f64.ln() - 0.99f64.ln()) / (2.0 * 1.959_964)).abs() < 1e-6);
        assert_eq!(log_se_of_interval(2.0, 2.0, 0.95).unwrap(), Some(0.0));
        assert_eq!(log_se_of_interval(0.0, 2.0, 0.95).unwrap(), None);
        assert_eq!(log_se_of_interval(3.0, 2.0, 0.95).unwrap(), None);
    }
}
