//! The check: a kernel's outputs against its reference's, element by element.
//!
//! An element passes when `|x − r| ≤ atol + rtol·|r|`. An element still holding the poison pattern
//! ([`POISON`] in every byte) was never written; a NaN or infinity where the reference is finite is
//! non-finite; both count as mismatches too. Two NaNs, or the same infinity, agree. The first bad
//! element is named in the message of a `wrong` case.
//!
//! The error figures are always finite, so a run file holds them: the norms are summed with a running
//! scale (they cannot overflow on `f64` outputs), and an error too large for an `f64` (an output near
//! `f64::MAX` with a reference of the other sign) is recorded as `f64::MAX`.

use super::{Check, Output};
use crate::run::Correctness;
use crate::suite::Dtype;

/// The byte every poisoned output holds before the kernel runs: all-ones is a NaN in every float dtype
/// and an implausible value in every integer one.
pub const POISON: u8 = 0xFF;

/// How a check came out: the figures, and the reason when the case is wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub correctness: Correctness,
    /// `Some(why)` when the outputs do not match.
    pub wrong: Option<String>,
}

/// Decides a backend's [`Check`]; `None` for a case without a reference.
pub fn judge(check: Check) -> Option<Verdict> {
    match check {
        Check::Unchecked => None,
        Check::Judged(correctness) => {
            let wrong = (correctness.mismatches > 0).then(|| {
                format!(
                    "{} of {} elements outside atol {} + rtol {}·|ref| (the backend's own check)",
                    correctness.mismatches, correctness.elements, correctness.atol, correctness.rtol
                )
            });
            Some(Verdict { correctness, wrong })
        }
        Check::Outputs { rtol, atol, outputs } => {
            let mut comparison = Comparison::new(rtol, atol);
            for output in &outputs {
                comparison.add(output);
            }
            Some(Verdict { correctness: comparison.correctness(), wrong: comparison.message() })
        }
    }
}

/// Element `i` of a buffer of `dtype` held in `bytes` (little-endian, as on the GPU), as an `f64`
/// (exact for every dtype but 64-bit integers beyond 2⁵³).
pub fn element(dtype: Dtype, bytes: &[u8], i: usize) -> f64 {
    let size = dtype.size_bytes();
    let b = &bytes[i * size..(i + 1) * size];
    let two = || u16::from_le_bytes([b[0], b[1]]);
    let four = || [b[0], b[1], b[2], b[3]];
    let eight = || [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
    match dtype {
        Dtype::F32 => f64::from(f32::from_le_bytes(four())),
        Dtype::F16 => half::f16::from_bits(two()).to_f64(),
        Dtype::Bf16 => half::bf16::from_bits(two()).to_f64(),
        Dtype::F64 => f64::from_le_bytes(eight()),
        Dtype::I32 => f64::from(i32::from_le_bytes(four())),
        Dtype::I64 => i64::from_le_bytes(eight()) as f64,
        Dtype::U32 => f64::from(u32::from_le_bytes(four())),
        Dtype::U8 => f64::from(b[0]),
    }
}

/// The comparison over every output buffer of a case.
#[derive(Clone, Debug)]
struct Comparison {
    rtol: f64,
    atol: f64,
    max_abs: f64,
    max_rel: f64,
    diff_norm: Norm,
    ref_norm: Norm,
    mismatches: u64,
    non_finite: u64,
    unwritten: u64,
    elements: u64,
    first_bad: Option<String>,
}

impl Comparison {
    fn new(rtol: f64, atol: f64) -> Comparison {
        Comparison {
            rtol,
            atol,
            max_abs: 0.0,
            max_rel: 0.0,
            diff_norm: Norm::default(),
            ref_norm: Norm::default(),
            mismatches: 0,
            non_finite: 0,
            unwritten: 0,
            elements: 0,
            first_bad: None,
        }
    }

    fn add(&mut self, output: &Output) {
        let Output { name, dtype, out, reference, poisoned } = output;
        let size = dtype.size_bytes();
        let n = out.len().min(reference.len()) / size;
        for i in 0..n {
            let (x, r) = (element(*dtype, out, i), element(*dtype, reference, i));
            self.elements += 1;
            let unwritten = *poisoned && out[i * size..(i + 1) * size].iter().all(|b| *b == POISON);
            let bad = if unwritten {
                self.unwritten += 1;
                true
            } else if !x.is_finite() || !r.is_finite() {
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
                self.diff_norm.add(diff);
                self.ref_norm.add(r);
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

    /// `3 of 1024 elements outside atol 1e-6 + rtol 1e-5·|ref|; first: `y`[12] is 3, the reference
    /// has 4`, or `None` when every element passed.
    fn message(&self) -> Option<String> {
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

    fn correctness(&self) -> Correctness {
        let (diff, reference) = (self.diff_norm.value(), self.ref_norm.value());
        let norm_rel_error = if reference > 0.0 { diff / reference } else { diff };
        Correctness {
            max_abs_error: self.max_abs.min(f64::MAX),
            max_rel_error: self.max_rel.min(f64::MAX),
            norm_rel_error: norm_rel_error.min(f64::MAX),
            mismatches: self.mismatches,
            non_finite: self.non_finite,
            unwritten: self.unwritten,
            elements: self.elements,
            rtol: self.rtol,
            atol: self.atol,
        }
    }
}

/// The Euclidean norm of a stream of values, summed under a running scale so that it neither
/// overflows nor underflows where the values themselves do not (the update of LAPACK's `dnrm2`).
#[derive(Clone, Copy, Debug, Default)]
struct Norm {
    /// The largest magnitude so far.
    scale: f64,
    /// The sum of squares of the values divided by `scale`.
    sum: f64,
}

impl Norm {
    fn add(&mut self, x: f64) {
        let x = x.abs();
        if x > self.scale {
            self.sum = 1.0 + self.sum * (self.scale / x).powi(2);
            self.scale = x;
        } else if x > 0.0 {
            self.sum += (x / self.scale).powi(2);
        }
    }

    fn value(&self) -> f64 {
        self.scale * self.sum.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32_bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn output(name: &str, dtype: Dtype, out: Vec<u8>, reference: Vec<u8>, poisoned: bool) -> Output {
        Output { name: name.into(), dtype, out, reference, poisoned }
    }

    fn outputs(rtol: f64, atol: f64, outputs: Vec<Output>) -> Check {
        Check::Outputs { rtol, atol, outputs }
    }

    #[test]
    fn equal_outputs_pass_with_zero_error() {
        let data = f32_bytes(&[1.0, -2.0, 3.5]);
        let v = judge(outputs(1e-5, 1e-6, vec![output("y", Dtype::F32, data.clone(), data, true)])).unwrap();
        assert_eq!(v.wrong, None);
        let k = v.correctness;
        assert_eq!((k.elements, k.mismatches, k.max_abs_error, k.norm_rel_error), (3, 0, 0.0, 0.0));
    }

    #[test]
    fn tolerance_is_atol_plus_rtol_times_reference() {
        // |x - r| = 0.19 ≤ 0.1 + 0.01·10 = 0.2 passes; 0.25 fails.
        let check = outputs(
            0.01,
            0.1,
            vec![output("y", Dtype::F32, f32_bytes(&[10.19, 10.25]), f32_bytes(&[10.0, 10.0]), true)],
        );
        let v = judge(check).unwrap();
        assert_eq!(v.correctness.mismatches, 1);
        assert!((v.correctness.max_abs_error - 0.25).abs() < 1e-5);
        assert!((v.correctness.max_rel_error - 0.025).abs() < 1e-6);
        assert!(v.wrong.unwrap().contains("`y`[1] is 10.25"));
    }

    #[test]
    fn unwritten_and_non_finite_elements_are_counted_and_named() {
        let mut out = f32_bytes(&[1.0, f32::INFINITY, 3.0]);
        out[8..12].copy_from_slice(&[POISON; 4]);
        let v =
            judge(outputs(1e-5, 1e-6, vec![output("y", Dtype::F32, out, f32_bytes(&[1.0, 2.0, 3.0]), true)]))
                .unwrap();
        let k = &v.correctness;
        assert_eq!((k.mismatches, k.non_finite, k.unwritten), (2, 1, 1));
        let message = v.wrong.unwrap();
        assert!(message.contains("`y`[1] is inf"), "{message}");
        assert!(message.contains("1 never written"), "{message}");
    }

    #[test]
    fn poison_counts_only_in_buffers_that_started_as_poison() {
        // An accumulating output reset to zeros is not poisoned: 0xFFFFFFFF there is a value (NaN here).
        let nan_bytes = vec![POISON; 4];
        let v =
            judge(outputs(0.0, 0.0, vec![output("acc", Dtype::U32, nan_bytes.clone(), nan_bytes, false)]))
                .unwrap();
        assert_eq!((v.correctness.unwritten, v.correctness.mismatches), (0, 0));
    }

    #[test]
    fn matching_nans_agree_and_buffers_accumulate() {
        let nan = f32_bytes(&[f32::NAN]);
        let check = outputs(
            0.0,
            0.0,
            vec![
                output("a", Dtype::F32, nan.clone(), nan, false),
                output("b", Dtype::I32, 7i32.to_le_bytes().to_vec(), 8i32.to_le_bytes().to_vec(), false),
            ],
        );
        let v = judge(check).unwrap();
        assert_eq!((v.correctness.elements, v.correctness.mismatches), (2, 1));
        assert!(v.wrong.unwrap().contains("`b`[0] is 7, the reference has 8"));
        assert!((v.correctness.norm_rel_error - 1.0 / 8.0).abs() < 1e-12);
    }

    #[test]
    fn errors_beyond_f64_stay_finite() {
        let f64_bytes = |values: &[f64]| values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
        let check = outputs(
            0.0,
            0.0,
            vec![output(
                "y",
                Dtype::F64,
                f64_bytes(&[1e308, 3e200, 1.0]),
                f64_bytes(&[-1e308, 1e200, 5e-324]),
                false,
            )],
        );
        let k = judge(check).unwrap().correctness;
        assert_eq!((k.mismatches, k.max_abs_error, k.max_rel_error), (3, f64::MAX, f64::MAX));
        assert_eq!(k.norm_rel_error, f64::MAX, "the difference overflowed");
        // Squares beyond f64 in both norms: the ratio is still right.
        let check = outputs(
            0.0,
            0.0,
            vec![output("y", Dtype::F64, f64_bytes(&[3e200, 4e200]), f64_bytes(&[6e200, 8e200]), false)],
        );
        let k = judge(check).unwrap().correctness;
        assert!((k.norm_rel_error - 0.5).abs() < 1e-15, "{}", k.norm_rel_error);
    }

    #[test]
    fn a_backends_own_check_is_taken_as_it_says() {
        assert_eq!(judge(Check::Unchecked), None);
        let correctness = Correctness {
            max_abs_error: 0.5,
            max_rel_error: 0.1,
            norm_rel_error: 0.01,
            mismatches: 3,
            non_finite: 0,
            unwritten: 0,
            elements: 100,
            rtol: 0.01,
            atol: 0.0,
        };
        let v = judge(Check::Judged(correctness.clone())).unwrap();
        assert!(v.wrong.unwrap().contains("3 of 100"));
        let ok = Correctness { mismatches: 0, ..correctness };
        assert_eq!(judge(Check::Judged(ok)).unwrap().wrong, None);
    }

    #[test]
    fn elements_decode_by_dtype() {
        assert_eq!(element(Dtype::F32, &f32_bytes(&[1.5, -2.0]), 1), -2.0);
        assert_eq!(element(Dtype::I32, &(-7i32).to_le_bytes(), 0), -7.0);
        assert_eq!(element(Dtype::U8, &[3, 250], 1), 250.0);
        assert_eq!(element(Dtype::I64, &(-9i64).to_le_bytes(), 0), -9.0);
        assert_eq!(element(Dtype::F16, &0x3c00u16.to_le_bytes(), 0), 1.0);
        assert_eq!(element(Dtype::Bf16, &0x3f80u16.to_le_bytes(), 0), 1.0);
        assert!(element(Dtype::F16, &[POISON; 2], 0).is_nan(), "the poison pattern is NaN");
        assert!(element(Dtype::Bf16, &[POISON; 2], 0).is_nan());
    }
}
