//! Intervals for the ratio of two medians (new over old), on the log scale.

use super::{Sample, StatsError, check_confidence, log_median_se, normal};

/// A ratio of medians with its interval and the p-value of "no change".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RatioInterval {
    /// New median over old median.
    pub ratio: f64,
    pub low: f64,
    pub high: f64,
    pub confidence: f64,
    /// Two-sided p-value of "no change beyond the allowance" (|ln ratio| ≤ ln(1 + allowance)), from the
    /// same statistic as the interval: the interval excludes 1 exactly when `p_value < 1 − confidence`.
    pub p_value: f64,
}

impl RatioInterval {
    /// The interval from a normal approximation of ln(ratio): `exp(ln r ± z·se)`, then widened by an
    /// allowance for drift, low ÷ (1 + allowance) and high × (1 + allowance).
    ///
    /// The p-value tests the composite null |ln r| ≤ δ = ln(1 + allowance) at its least favourable
    /// point, 2·(1 − Φ((|ln r̂| − δ)/se)), capped at 1 — the test that the widened interval inverts.
    /// A zero `se` gives a point interval and a p-value of 0 or 1.
    pub fn from_log_normal(log_ratio: f64, se: f64, confidence: f64, allowance: f64) -> RatioInterval {
        let z = normal::two_sided_critical(confidence);
        let delta = allowance.max(0.0).ln_1p();
        let excess = log_ratio.abs() - delta;
        let p_value = if excess <= 0.0 {
            1.0
        } else if se > 0.0 {
            normal::two_sided_p(excess / se)
        } else {
            0.0
        };
        RatioInterval {
            ratio: log_ratio.exp(),
            low: (log_ratio - z * se - delta).exp(),
            high: (log_ratio + z * se + delta).exp(),
            confidence,
            p_value,
        }
    }

    /// Whether the interval lies entirely above 1 or entirely below it.
    pub fn excludes_one(&self) -> bool {
        self.low > 1.0 || self.high < 1.0
    }
}

/// The ratio of two independent medians, new over old, by Price & Bonett (2002), "Distribution-free
/// confidence intervals for difference and ratio of medians", J. Statist. Comput. Simul. 72(2),
/// 119–124: ln(m_new/m_old) ± z·√(se²_old + se²_new), each se from [`log_median_se`], widened by
/// `allowance` for drift between the processes the two sides come from (0 for one process; see
/// [`RatioInterval::from_log_normal`]).
///
/// Needs two values a side; meant for samples of 30 or more without heavy ties (where its two order
/// statistics coincide the se collapses: use the bootstrap). Cost: O(1) on sorted samples.
pub fn price_bonett(
    old: &Sample,
    new: &Sample,
    confidence: f64,
    allowance: f64,
) -> Result<RatioInterval, StatsError> {
    let confidence = check_confidence(confidence)?;
    let se = log_median_se(old)?.hypot(log_median_se(new)?);
    let log_ratio = new.median().ln() - old.median().ln();
    Ok(RatioInterval::from_log_normal(log_ratio, se, confidence, allowance))
}

/// The standard error on the log scale implied by a stored interval `[low, high]` at `confidence`,
/// assuming it is roughly symmetric in ln: (ln high − ln low) / (2·z). How a baseline's stored figure
/// re-enters a comparison without its raw samples.
pub fn log_se_from_interval(low: f64, high: f64, confidence: f64) -> Result<f64, StatsError> {
    let confidence = check_confidence(confidence)?;
    let span = high.ln() - low.ln();
    if !span.is_finite() || span < 0.0 {
        return Ok(0.0);
    }
    Ok(span / (2.0 * normal::two_sided_critical(confidence)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normal_interval_and_p_agree() {
        let r = RatioInterval::from_log_normal(0.03, 0.01, 0.99, 0.0);
        assert!((r.ratio - 0.03f64.exp()).abs() < 1e-15);
        assert!((r.low - (0.03 - 2.575_829_303_548_9 * 0.01f64).exp()).abs() < 1e-12);
        // z = 3: p = 2(1 − Φ(3)) = 0.0026997960632601866
        assert!((r.p_value - 0.002_699_796_063_260_186_6).abs() < 1e-15);
        assert!(r.excludes_one() && r.p_value < 0.01);

        // With a 1% allowance: excess = 0.03 − ln 1.01; the widened interval still excludes 1 iff p < α.
        let w = RatioInterval::from_log_normal(0.03, 0.01, 0.99, 0.01);
        assert!((w.high / r.high - 1.01).abs() < 1e-12 && (r.low / w.low - 1.01).abs() < 1e-12);
        assert!(w.p_value > r.p_value);
        assert_eq!(w.excludes_one(), w.p_value < 0.01);
        // Inside the allowance: p = 1.
        assert_eq!(RatioInterval::from_log_normal(0.005, 0.001, 0.99, 0.01).p_value, 1.0);
        // Zero se: a point, decided by the estimate alone.
        let point = RatioInterval::from_log_normal(0.02, 0.0, 0.99, 0.0);
        assert_eq!((point.low, point.high, point.p_value), (point.ratio, point.ratio, 0.0));
    }

    #[test]
    fn stored_interval_round_trips() {
        let z = normal::two_sided_critical(0.99);
        let se = log_se_from_interval((-z * 0.004f64).exp() * 100.0, (z * 0.004f64).exp() * 100.0, 0.99);
        assert!((se.unwrap() - 0.004).abs() < 1e-15);
        assert_eq!(log_se_from_interval(5.0, 5.0, 0.99), Ok(0.0));
        assert_eq!(log_se_from_interval(5.0, 6.0, 1.5), Err(StatsError::BadConfidence(1.5)));
    }

    proptest! {
        #[test]
        fn identical_inputs_contain_one(values in prop::collection::vec(0.5f64..2.0, 2..200)) {
            let s = Sample::new(&values).unwrap();
            let r = price_bonett(&s, &s, 0.99, 0.0).unwrap();
            prop_assert_eq!(r.ratio, 1.0);
            prop_assert!(r.low <= 1.0 && 1.0 <= r.high);
            prop_assert_eq!(r.p_value, 1.0);
        }

        #[test]
        fn scaling_new_scales_the_ratio(values in prop::collection::vec(0.5f64..2.0, 2..200), k in 0.1f64..10.0) {
            let s = Sample::new(&values).unwrap();
            let r = price_bonett(&s, &s.scaled(k).unwrap(), 0.95, 0.0).unwrap();
            prop_assert!((r.ratio / k - 1.0).abs() < 1e-12);
            prop_assert!(r.low <= r.ratio && r.ratio <= r.high);
        }
    }
}
