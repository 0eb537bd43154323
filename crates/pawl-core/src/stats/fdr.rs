//! Benjamini–Hochberg q-values: false-discovery-rate control across the cases of a run.

/// Adjusted p-values (q-values) of the Benjamini–Hochberg step-up procedure: calling every case with
/// q ≤ α a discovery keeps the expected share of false discoveries at or below α, for independent or
/// positively dependent tests.
///
/// Benjamini & Hochberg (1995), "Controlling the false discovery rate: a practical and powerful approach
/// to multiple testing", J. R. Statist. Soc. B 57(1), 289–300; q_(i) = min over j ≥ i of
/// min(1, m·p_(j)/j), as R's `p.adjust(method = "BH")`. Returned in the input order. A NaN p-value is
/// treated as 1 (no evidence). Cost: O(m log m).
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let clean = |p: f64| if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) };
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| clean(p_values[a]).total_cmp(&clean(p_values[b])).then(a.cmp(&b)));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (position, &index) in order.iter().enumerate().rev() {
        let rank = (position + 1) as f64;
        running = running.min(clean(p_values[index]) * m as f64 / rank).min(1.0);
        q[index] = running;
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benjamini_hochberg_1995_example() {
        // The 15 p-values of Benjamini & Hochberg's worked example (§4); at q* = 0.05 the first four
        // are discoveries. Expected q-values: m·p/i, made monotone from the top.
        let p = [
            0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719,
            0.6528, 0.7590, 1.0000,
        ];
        let want = [
            0.0015,
            0.003,
            0.0095,
            0.035_625,
            0.0603,
            0.063_857_142_857,
            0.063_857_142_857,
            0.0645,
            0.0765,
            0.486,
            0.581_181_818_182,
            0.714_875,
            0.753_230_769_231,
            0.813_214_285_714,
            1.0,
        ];
        let q = benjamini_hochberg(&p);
        for (i, (got, want)) in q.iter().zip(want).enumerate() {
            assert!((got - want).abs() < 1e-9, "#{i}: {got} vs {want}");
        }
        assert_eq!(q.iter().filter(|&&q| q <= 0.05).count(), 4);
    }

    #[test]
    fn keeps_input_order_and_edges() {
        let q = benjamini_hochberg(&[0.04, 0.01, f64::NAN]);
        // Sorted: 0.01 (→ 0.03), 0.04 (→ 0.06), NaN as 1 (→ 1).
        assert!((q[0] - 0.06).abs() < 1e-15 && (q[1] - 0.03).abs() < 1e-15);
        assert_eq!(q[2], 1.0);
        assert!(benjamini_hochberg(&[]).is_empty());
        assert_eq!(benjamini_hochberg(&[0.2]), vec![0.2]);
    }
}
