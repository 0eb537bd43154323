//! Comparing a kernel's outputs with its reference's, element by element.
//!
//! An element passes when `|x − r| ≤ atol + rtol·|r|`. An element still holding the poison pattern
//! was never written; a NaN or infinity where the reference is finite is non-finite; both also count
//! as mismatches. The first bad element is named in the message of a `wrong` case.

use pawl_core::run::Correctness;
use pawl_core::suite::Dtype;

use crate::buffers::POISON;
use crate::dtype::element;

/// Accumulates the comparison over every output buffer of a case.
#[derive(Clone, Debug)]
pub struct Comparison {
    rtol: f64,
    atol: f64,
    max_abs: f64,
    max_rel: f64,
    diff_sq: f64,
    ref_sq: f64,
    mismatches: u64,
    non_finite: u64,
    unwritten: u64,
    elements: u64,
    first_bad: Option<String>,
}

impl Comparison {
    pub fn new(rtol: f64, atol: f64) -> Comparison {
        Comparison {
            rtol,
            atol,
            max_abs: 0.0,
            max_rel: 0.0,
            diff_sq: 0.0,
            ref_sq: 0.0,
            mismatches: 0,
            non_finite: 0,
            unwritten: 0,
            elements: 0,
            first_bad: None,
        }
    }

    /// Compares one output buffer (`out`, its bytes) with the reference's (`reference`).
    /// `poisoned` says whether `out` started as poison, so that untouched elements can be told apart.
    pub fn add(&mut self, name: &str, dtype: Dtype, out: &[u8], reference: &[u8], poisoned: bool) {
        let size = dtype.size_bytes();
        let n = out.len().min(reference.len()) / size;
        for i in 0..n {
            let (x, r) = (element(dtype, out, i), element(dtype, reference, i));
            self.elements += 1;
            let unwritten = poisoned && out[i * size..(i + 1) * size].iter().all(|b| *b == POISON);
            let bad = if unwritten {
                self.unwritten += 1;
                true
            } else if !x.is_finite() || !r.is_finite() {
                // Both NaN, or the same infinity, agree; anything else where the reference is finite is
                // a non-finite output.
                let same = (x.is_nan() && r.is_nan()) || x == r;
                if !same && r.is_finite() {
                    self.non_finite += 1;
                }
                !same
            } else {
                let diff = (x - r).abs();
                self.max_abs = self.max_abs.max(diff);
                if r != 0.0 {
                    self.max_rel = self.max_rel.max(diff / r.abs());
                }
                self.diff_sq += diff * diff;
                self.ref_sq += r * r;
                diff > self.atol + self.rtol * r.abs()
            };
            if bad {
                self.mismatches += 1;
                if self.first_bad.is_none() {
                    let what = if unwritten { " (never written)" } else { "" };
                    self.first_bad = Some(format!("`{name}`[{i}] is {x}{what}, the reference has {r}"));
                }
            }
        }
    }

    pub fn passed(&self) -> bool {
        self.mismatches == 0
    }

    /// `first of N mismatches: `y`[12] is 3, the reference has 4 (rtol 1e-5, atol 1e-6)`.
    pub fn message(&self) -> Option<String> {
        let first = self.first_bad.as_ref()?;
        let mut text = format!(
            "{} of {} elements outside atol {} + rtol {}·|ref|; first: {first}",
            self.mismatches, self.elements, self.atol, self.rtol
        );
        if self.unwritten > 0 {
            text.push_str(&format!("; {} never written", self.unwritten));
        }
        if self.non_finite > 0 {
            text.push_str(&format!("; {} NaN or infinite", self.non_finite));
        }
        Some(text)
    }

    pub fn correctness(&self) -> Correctness {
        let norm_rel_error =
            if self.ref_sq > 0.0 { (self.diff_sq / self.ref_sq).sqrt() } else { self.diff_sq.sqrt() };
        Correctness {
            max_abs_error: self.max_abs,
            max_rel_error: self.max_rel,
            norm_rel_error,
            mismatches: self.mismatches,
            non_finite: self.non_finite,
            unwritten: self.unwritten,
            elements: self.elements,
            rtol: self.rtol,
            atol: self.atol,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32_bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn equal_outputs_pass_with_zero_error() {
        let mut c = Comparison::new(1e-5, 1e-6);
        let data = f32_bytes(&[1.0, -2.0, 3.5]);
        c.add("y", Dtype::F32, &data, &data, true);
        assert!(c.passed());
        let k = c.correctness();
        assert_eq!((k.elements, k.mismatches, k.max_abs_error, k.norm_rel_error), (3, 0, 0.0, 0.0));
        assert_eq!(c.message(), None);
    }

    #[test]
    fn tolerance_is_atol_plus_rtol_times_reference() {
        let mut c = Comparison::new(0.01, 0.1);
        // |x - r| = 0.19 ≤ 0.1 + 0.01·10 = 0.2 passes; 0.25 fails.
        c.add("y", Dtype::F32, &f32_bytes(&[10.19, 10.25]), &f32_bytes(&[10.0, 10.0]), true);
        let k = c.correctness();
        assert_eq!(k.mismatches, 1);
        assert!((k.max_abs_error - 0.25).abs() < 1e-5);
        assert!((k.max_rel_error - 0.025).abs() < 1e-6);
        assert!(c.message().unwrap().contains("`y`[1] is 10.25"), "{:?}", c.message());
    }

    #[test]
    fn unwritten_and_non_finite_elements_are_counted_and_named() {
        let mut c = Comparison::new(1e-5, 1e-6);
        let mut out = f32_bytes(&[1.0, f32::INFINITY, 3.0]);
        out[8..12].copy_from_slice(&[POISON; 4]);
        c.add("y", Dtype::F32, &out, &f32_bytes(&[1.0, 2.0, 3.0]), true);
        let k = c.correctness();
        assert_eq!((k.mismatches, k.non_finite, k.unwritten), (2, 1, 1));
        let message = c.message().unwrap();
        assert!(message.contains("`y`[1] is inf"), "{message}");
        assert!(message.contains("1 never written"), "{message}");
    }

    #[test]
    fn matching_nans_agree_and_buffers_accumulate() {
        let mut c = Comparison::new(0.0, 0.0);
        let nan = f32_bytes(&[f32::NAN]);
        c.add("a", Dtype::F32, &nan, &nan, false);
        c.add("b", Dtype::I32, &7i32.to_le_bytes(), &8i32.to_le_bytes(), false);
        let k = c.correctness();
        assert_eq!((k.elements, k.mismatches), (2, 1));
        assert!(c.message().unwrap().contains("`b`[0] is 7, the reference has 8"));
        assert!((k.norm_rel_error - 1.0 / 8.0).abs() < 1e-12);
    }
}
