//! The binomial distribution: the law behind order-statistic intervals and the exact bootstrap of a
//! median.
//!
//! Tails go through the regularized incomplete beta function, P(Bin(n, p) ≥ k) = I_p(k, n − k + 1),
//! evaluated by its continued fraction with the modified Lentz method: Press, Teukolsky, Vetterling &
//! Flannery, *Numerical Recipes* (3rd ed., 2007), §6.4. Each tail is computed directly where it is
//! small, so both stay accurate far out (no 1 − (1 − ε) cancellation).

/// ln(k!), exactly multiplied out below 20 and by Stirling's series above (absolute error < 1e-14):
/// Abramowitz & Stegun (1964), 6.1.41.
pub fn ln_factorial(k: u64) -> f64 {
    if k < 20 {
        return (2..=k).map(|i| i as f64).product::<f64>().ln();
    }
    let x = k as f64;
    let x2 = x * x;
    let series = 1.0 / (12.0 * x) - 1.0 / (360.0 * x * x2) + 1.0 / (1260.0 * x * x2 * x2)
        - 1.0 / (1680.0 * x * x2 * x2 * x2);
    x * x.ln() - x + 0.5 * (std::f64::consts::TAU * x).ln() + series
}

/// ln C(n, k); −∞ when k > n.
pub fn ln_choose(n: u64, k: u64) -> f64 {
    if k > n {
        return f64::NEG_INFINITY;
    }
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

/// ln P(Bin(n, p) = k), for p in [0, 1].
pub fn ln_pmf(k: u64, n: u64, p: f64) -> f64 {
    if k > n || !(0.0..=1.0).contains(&p) {
        return f64::NEG_INFINITY;
    }
    // 0·ln 0 is 0 here: p = 0 puts all mass on k = 0, p = 1 on k = n.
    let term = |count: u64, q: f64| if count == 0 { 0.0 } else { count as f64 * q.ln() };
    ln_choose(n, k) + term(k, p) + term(n - k, 1.0 - p)
}

/// P(Bin(n, p) ≤ k).
pub fn cdf(k: u64, n: u64, p: f64) -> f64 {
    below(k.saturating_add(1), n, p)
}

/// P(Bin(n, p) ≥ k), accurate when small.
pub fn at_least(k: u64, n: u64, p: f64) -> f64 {
    tails(k, n, p).0
}

/// P(Bin(n, p) < k), accurate when small.
pub fn below(k: u64, n: u64, p: f64) -> f64 {
    tails(k, n, p).1
}

/// (P(X ≥ k), P(X < k)) for X ~ Bin(n, p).
fn tails(k: u64, n: u64, p: f64) -> (f64, f64) {
    if k == 0 {
        return (1.0, 0.0);
    }
    if k > n {
        return (0.0, 1.0);
    }
    beta_tails(k, n - k + 1, p.clamp(0.0, 1.0))
}

/// (I_x(a, b), 1 − I_x(a, b)) for positive integers a, b.
fn beta_tails(a: u64, b: u64, x: f64) -> (f64, f64) {
    if x <= 0.0 {
        return (0.0, 1.0);
    }
    if x >= 1.0 {
        return (1.0, 0.0);
    }
    let (af, bf) = (a as f64, b as f64);
    // x^a (1-x)^b / B(a, b), with B(a, b) = (a-1)! (b-1)! / (a+b-1)!.
    let ln_front =
        ln_factorial(a + b - 1) - ln_factorial(a - 1) - ln_factorial(b - 1) + af * x.ln() + bf * (-x).ln_1p();
    let front = ln_front.exp();
    // The continued fraction converges fast for x below the mean (a+1)/(a+b+2); use the symmetry
    // I_x(a, b) = 1 − I_{1−x}(b, a) above it.
    if x < (af + 1.0) / (af + bf + 2.0) {
        let lower = (front * continued_fraction(af, bf, x) / af).clamp(0.0, 1.0);
        (lower, 1.0 - lower)
    } else {
        let upper = (front * continued_fraction(bf, af, 1.0 - x) / bf).clamp(0.0, 1.0);
        (1.0 - upper, upper)
    }
}

/// The continued fraction of I_x(a, b) by the modified Lentz method (Numerical Recipes `betacf`), for any
/// positive a and b; the Student t distribution ([`super::student_t`]) uses it too.
pub(crate) fn continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const MAX_TERMS: u32 = 100_000;
    const EPS: f64 = 1e-16;
    const TINY: f64 = 1e-300;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=MAX_TERMS {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let even = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    #[test]
    fn ln_factorial_known_values() {
        // Python: math.lgamma(k + 1).
        assert_eq!(ln_factorial(0), 0.0);
        assert_eq!(ln_factorial(1), 0.0);
        assert!(close(ln_factorial(19), 39.339_884_187_199_495, 1e-15));
        assert!(close(ln_factorial(20), 42.335_616_460_753_485, 1e-15));
        assert!(close(ln_factorial(100), 363.739_375_555_563_47, 1e-15));
        assert!(close(ln_factorial(10_000), 82_108.927_836_814_34, 1e-15));
    }

    #[test]
    fn tails_match_exact_sums() {
        // Exact rational sums in Python (fractions.Fraction), rounded to f64.
        assert!(close(cdf(4, 19, 0.5), 0.009_605_407_714_843_75, 1e-13));
        assert!(close(cdf(459, 1000, 0.5), 0.005_194_065_783_077_906, 1e-11));
        assert!(close(at_least(170, 500, 0.3), 0.029_557_225_751_890_903, 1e-11));
        assert!(close(below(170, 500, 0.3), 0.970_442_774_248_109_1, 1e-12));
        assert!(close(ln_pmf(20, 50, 0.4).exp(), 0.114_558_552_829_523_99, 1e-12));
        assert_eq!(cdf(2, 3000, 0.5), 0.0);
    }

    #[test]
    fn edges() {
        assert_eq!(at_least(0, 10, 0.3), 1.0);
        assert_eq!(at_least(11, 10, 0.3), 0.0);
        assert_eq!(cdf(10, 10, 0.3), 1.0);
        assert_eq!(at_least(3, 10, 0.0), 0.0);
        assert_eq!(at_least(3, 10, 1.0), 1.0);
        assert_eq!(ln_pmf(0, 5, 0.0), 0.0);
        assert_eq!(ln_pmf(5, 5, 1.0), 0.0);
        assert_eq!(ln_pmf(6, 5, 0.5), f64::NEG_INFINITY);
        for k in 0..=12 {
            let total = at_least(k, 12, 0.37) + below(k, 12, 0.37);
            assert!((total - 1.0).abs() < 1e-14);
        }
    }
}
