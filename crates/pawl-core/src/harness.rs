//! The harness protocol spoken by `kind = "command"` benches: pawl's measuring engine drives a harness
//! process the way it drives the GPU, one operation at a time.
//!
//! pawl writes one [`Request`] per line to the harness's standard input; the harness answers each with
//! exactly one [`Answer`] line on standard output, echoing the request's `seq`. Standard error is passed
//! through to pawl's log. Per case the operations come in this order: `prepare` (build inputs, compile,
//! allocate), `check` (run the kernel and its reference once), `time` (many times: one sample per
//! entry of `cases`, in that order, each with the L2 cache flushed first when `flush` is true),
//! `release`. docs/harness.md has the protocol with example harnesses.
//!
//! Answers are validated here, with the rules run files are validated with (samples finite and
//! positive), so whatever a harness sends, the run file pawl writes can be read back. A sample is
//! also at most [`MAX_SAMPLE_NS`]: nothing a harness times takes longer, and the statistics of larger
//! values would overflow.

use serde::{Deserialize, Serialize};

use crate::case::CaseId;
use crate::engine::{Batch, Check, DeviceState, Failure, Output};
use crate::run::Correctness;
use crate::suite::{Dtype, MeasureSettings};
use crate::value::Params;

/// The protocol's version, sent with every `prepare`.
pub const PROTOCOL: u32 = 2;

/// The longest sample a harness may answer: a day, in nanoseconds.
pub const MAX_SAMPLE_NS: f64 = 86_400e9;

/// One request to a harness.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Sequence number; the answer echoes it.
    pub seq: u64,
    #[serde(flatten)]
    pub op: Op,
}

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Get the case ready: inputs filled, kernel compiled, outputs allocated.
    Prepare {
        protocol: u32,
        case: CaseId,
        bench: String,
        params: Params,
        tune: Params,
        flops: Option<f64>,
        bytes: Option<f64>,
        /// How pawl measures: the harness may use `seed` for its inputs and `warm_cache`.
        settings: MeasureSettings,
    },
    /// Run the kernel and its reference once; answer with the outputs, or with the harness's own
    /// comparison, or say there is no reference.
    Check { case: CaseId },
    /// One sample per entry of `cases`, in that order.
    Time { cases: Vec<CaseId>, flush: bool },
    /// Free what `prepare` took.
    Release { case: CaseId },
}

/// One answer line. Which fields are set depends on the request answered.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub seq: u64,
    /// The operation failed: why. Any other field is then ignored.
    #[serde(default)]
    pub error: Option<String>,
    /// `prepare`: the harness cannot run this case at all (a library that is not installed, a size
    /// the implementation does not take): why. The case is `skipped` with this reason, not failed.
    #[serde(default)]
    pub unsupported: Option<String>,
    /// `prepare` and `release`: done.
    #[serde(default)]
    pub ok: Option<bool>,
    /// `check`: the bench has no reference.
    #[serde(default)]
    pub unchecked: Option<bool>,
    /// `check`: the harness compared its outputs itself.
    #[serde(default)]
    pub correctness: Option<Correctness>,
    /// `check`: outputs for pawl to compare, with the tolerances.
    #[serde(default)]
    pub outputs: Option<Vec<AnswerOutput>>,
    #[serde(default)]
    pub rtol: Option<f64>,
    #[serde(default)]
    pub atol: Option<f64>,
    /// `time`: one sample per requested entry, nanoseconds.
    #[serde(default)]
    pub samples_ns: Option<Vec<f64>>,
    #[serde(default)]
    pub sm_clock_mhz: Option<u32>,
    #[serde(default)]
    pub throttle_reasons: Option<Vec<String>>,
}

/// One output of a `check` answer: the kernel's values and the reference's, element by element.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerOutput {
    pub name: String,
    pub dtype: Dtype,
    /// The kernel's output; `null` for a NaN.
    pub out: Vec<Option<f64>>,
    pub reference: Vec<Option<f64>>,
}

/// Parses one line of harness output. `Ok(None)` for a blank line; `Err` says what is wrong with it.
pub fn parse_answer(line: &str) -> Result<Option<Answer>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    // serde's message can quote the offending value whole: it is untrusted text too.
    serde_json::from_str(line)
        .map(Some)
        .map_err(|e| format!("not a harness answer ({}): `{}`", shown(&e.to_string()), shown(line)))
}

/// The start of untrusted text for a message: at most 120 characters, control characters escaped.
pub fn shown(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(120)
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() { c.escape_debug().collect() } else { vec![c] };
            escaped
        })
        .collect();
    if text.chars().count() > 120 {
        out.push('…');
    }
    out
}

/// Untrusted text kept for a reason in a run file: at most 400 characters, control characters escaped.
fn shown_long(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(400)
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() { c.escape_debug().collect() } else { vec![c] };
            escaped
        })
        .collect();
    if text.chars().count() > 400 {
        out.push('…');
    }
    out
}

impl Answer {
    /// The answer's failure, if it reports one: the harness could not do what was asked.
    fn failure(&self) -> Result<(), Failure> {
        match (&self.error, &self.unsupported) {
            (Some(error), _) => Err(Failure::new(format!("the harness reports: {error}"))),
            (None, Some(why)) => Err(Failure::unsupported(format!("not supported: {}", shown_long(why)))),
            (None, None) => Ok(()),
        }
    }

    /// The answer to `prepare` or `release`.
    pub fn into_done(self) -> Result<(), Failure> {
        self.failure()?;
        match self.ok {
            Some(true) => Ok(()),
            _ => Err(Failure::new("the harness's answer has neither `\"ok\": true` nor an `error`")),
        }
    }

    /// The answer to `check`.
    pub fn into_check(self) -> Result<Check, Failure> {
        self.failure()?;
        match (self.unchecked, self.correctness, self.outputs) {
            (Some(true), None, None) => Ok(Check::Unchecked),
            (None, Some(correctness), None) => {
                let numbers = [correctness.rtol, correctness.atol, correctness.max_abs_error];
                if numbers.iter().any(|x| !x.is_finite() || *x < 0.0) {
                    return Err(Failure::new(
                        "the harness's `correctness` has a tolerance or error that is not a finite number ≥ 0",
                    ));
                }
                Ok(Check::Judged(correctness))
            }
            (None, None, Some(outputs)) => {
                let (rtol, atol) = (self.rtol.unwrap_or(0.0), self.atol.unwrap_or(0.0));
                if !(rtol.is_finite() && rtol >= 0.0 && atol.is_finite() && atol >= 0.0) {
                    return Err(Failure::new(format!(
                        "the harness's tolerances rtol {rtol} and atol {atol} must be finite numbers ≥ 0"
                    )));
                }
                let outputs = outputs.into_iter().map(AnswerOutput::into_output).collect::<Result<_, _>>()?;
                Ok(Check::Outputs { rtol, atol, outputs })
            }
            _ => Err(Failure::new(
                "the harness's answer to `check` must have exactly one of `\"unchecked\": true`, `correctness` \
                 or `outputs`",
            )),
        }
    }

    /// The answer to `time` for `expected` samples: checked like a run file's samples.
    pub fn into_batch(self, expected: usize) -> Result<Batch, Failure> {
        self.failure()?;
        let samples_ns = self
            .samples_ns
            .ok_or_else(|| Failure::new("the harness's answer to `time` has no `samples_ns`"))?;
        if samples_ns.len() != expected {
            return Err(Failure::new(format!(
                "the harness answered {} samples for {expected} requested",
                samples_ns.len()
            )));
        }
        if let Some(bad) = samples_ns.iter().find(|s| !(**s > 0.0 && **s <= MAX_SAMPLE_NS)) {
            return Err(Failure::new(format!(
                "the harness answered the sample {bad:?}; samples must be positive nanoseconds, at most a day \
                 ({MAX_SAMPLE_NS:e} ns)"
            )));
        }
        let state = DeviceState {
            sm_clock_mhz: self.sm_clock_mhz,
            throttle_reasons: self.throttle_reasons.unwrap_or_default(),
        };
        Ok(Batch { samples_ns, state })
    }
}

impl AnswerOutput {
    /// The output as the engine's check reads it: little-endian bytes of `dtype`.
    fn into_output(self) -> Result<Output, Failure> {
        if self.out.len() != self.reference.len() {
            return Err(Failure::new(format!(
                "output `{}` has {} elements and its reference {}",
                self.name,
                self.out.len(),
                self.reference.len()
            )));
        }
        let encode = |values: &[Option<f64>]| -> Vec<u8> {
            values.iter().flat_map(|v| encode(self.dtype, v.unwrap_or(f64::NAN))).collect()
        };
        Ok(Output {
            out: encode(&self.out),
            reference: encode(&self.reference),
            name: self.name,
            dtype: self.dtype,
            poisoned: false,
        })
    }
}

/// `x` as the little-endian bytes of `dtype` (rounded to nearest; integers saturate).
fn encode(dtype: Dtype, x: f64) -> Vec<u8> {
    match dtype {
        Dtype::F32 => (x as f32).to_le_bytes().to_vec(),
        Dtype::F16 => half::f16::from_f64(x).to_bits().to_le_bytes().to_vec(),
        Dtype::Bf16 => half::bf16::from_f64(x).to_bits().to_le_bytes().to_vec(),
        Dtype::F64 => x.to_le_bytes().to_vec(),
        Dtype::I32 => (x as i32).to_le_bytes().to_vec(),
        Dtype::I64 => (x as i64).to_le_bytes().to_vec(),
        Dtype::U32 => (x as u32).to_le_bytes().to_vec(),
        Dtype::U8 => vec![x as u8],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(line: &str) -> Answer {
        parse_answer(line).unwrap().unwrap()
    }

    #[test]
    fn requests_are_flat_json_objects() {
        let request =
            Request { seq: 7, op: Op::Time { cases: vec![CaseId::from_raw("b/S=1")], flush: true } };
        let line = serde_json::to_string(&request).unwrap();
        assert_eq!(line, r#"{"seq":7,"op":"time","cases":["b/S=1"],"flush":true}"#);
        assert_eq!(serde_json::from_str::<Request>(&line).unwrap(), request);
    }

    #[test]
    fn answers_parse_and_garbage_is_named() {
        assert!(parse_answer("  ").unwrap().is_none());
        let err = parse_answer("hello").unwrap_err();
        assert!(err.contains("not a harness answer") && err.contains("`hello`"), "{err}");
        let err = parse_answer(r#"{"seq":1,"sampels_ns":[1]}"#).unwrap_err();
        assert!(err.contains("sampels_ns"), "a misspelt field is named: {err}");
        let long = format!("{{\"seq\": {}", "9".repeat(500));
        assert!(parse_answer(&long).unwrap_err().ends_with("…`"));
        let err = parse_answer("\u{1b}[31m::set-env name=X::1").unwrap_err();
        assert!(
            err.contains("\\u{1b}[31m") && !err.contains('\u{1b}'),
            "control characters are escaped: {err}"
        );
    }

    #[test]
    fn done_answers_need_ok_or_an_error() {
        assert_eq!(answer(r#"{"seq":1,"ok":true}"#).into_done(), Ok(()));
        let err = answer(r#"{"seq":1,"error":"out of memory"}"#).into_done().unwrap_err();
        assert_eq!(err.message, "the harness reports: out of memory");
        assert!(answer(r#"{"seq":1}"#).into_done().is_err());
        let skip = answer(r#"{"seq":1,"unsupported":"flash_attn is not installed\u001b[0m"}"#).into_done();
        let skip = skip.unwrap_err();
        assert!(skip.unsupported && !skip.lost, "{skip:?}");
        assert_eq!(skip.message, "not supported: flash_attn is not installed\\u{1b}[0m");
        let both = answer(r#"{"seq":1,"error":"OOM","unsupported":"x"}"#).into_done().unwrap_err();
        assert!(!both.unsupported, "an error wins");
    }

    #[test]
    fn check_answers_take_exactly_one_form() {
        assert_eq!(answer(r#"{"seq":1,"unchecked":true}"#).into_check(), Ok(Check::Unchecked));
        let check = answer(
            r#"{"seq":1,"outputs":[{"name":"o","dtype":"f16","out":[1,null],"reference":[1,2]}],"rtol":0.01}"#,
        )
        .into_check()
        .unwrap();
        let Check::Outputs { rtol, outputs, .. } = check else { panic!("outputs") };
        assert_eq!((rtol, outputs[0].out.len()), (0.01, 4));
        assert!(answer(r#"{"seq":1,"unchecked":true,"outputs":[]}"#).into_check().is_err());
        assert!(answer(r#"{"seq":1,"outputs":[],"rtol":-1}"#).into_check().is_err());
        let uneven = r#"{"seq":1,"outputs":[{"name":"o","dtype":"f32","out":[1],"reference":[1,2]}]}"#;
        assert!(answer(uneven).into_check().unwrap_err().message.contains("1 elements and its reference 2"));
    }

    #[test]
    fn time_answers_are_checked_like_run_files() {
        let batch = answer(r#"{"seq":1,"samples_ns":[10.5,11],"sm_clock_mhz":1980}"#).into_batch(2).unwrap();
        assert_eq!((batch.samples_ns, batch.state.sm_clock_mhz), (vec![10.5, 11.0], Some(1980)));
        assert!(
            answer(r#"{"seq":1,"samples_ns":[1]}"#).into_batch(2).unwrap_err().message.contains("1 samples")
        );
        assert!(
            answer(r#"{"seq":1,"samples_ns":[1,-2]}"#).into_batch(2).unwrap_err().message.contains("-2.0")
        );
        assert!(answer(r#"{"seq":1,"samples_ns":[1,0]}"#).into_batch(2).is_err());
        let huge = answer(r#"{"seq":1,"samples_ns":[1e308]}"#).into_batch(1).unwrap_err();
        assert!(huge.message.contains("1e308") && huge.message.contains("at most a day"), "{}", huge.message);
        assert!(answer(r#"{"seq":1,"samples_ns":[86400e9]}"#).into_batch(1).is_ok());
        let both = answer(r#"{"seq":1,"error":"OOM","samples_ns":[-1]}"#).into_batch(1).unwrap_err();
        assert_eq!(both.message, "the harness reports: OOM", "an error wins over bad samples");
    }
}
