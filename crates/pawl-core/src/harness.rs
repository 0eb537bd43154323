//! The harness protocol spoken by `kind = "command"` benches.
//!
//! pawl starts the process and writes one [`HarnessRequest`] per case to its standard input, one JSON
//! object per line, then closes it. The process answers on standard output with one [`HarnessAnswer`]
//! per case, one JSON object per line, in any order. Standard error is passed through to pawl's log.
//! A line that is not an answer, an answer for a case never asked for, or a second answer for a case is
//! a protocol error; cases without an answer when the process ends fail with the reason.

use serde::{Deserialize, Serialize};

use crate::case::CaseId;
use crate::run::{CaseStatus, Correctness};
use crate::suite::MeasureSettings;
use crate::value::Params;

/// One case asked of the harness.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HarnessRequest {
    pub case: CaseId,
    pub bench: String,
    pub params: Params,
    pub flops: Option<f64>,
    pub bytes: Option<f64>,
    /// How pawl would measure: the harness should honour what it can (target, sample limits, L2).
    pub settings: MeasureSettings,
}

/// The harness's answer for one case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HarnessAnswer {
    pub case: CaseId,
    /// Every timed sample in nanoseconds; empty when `error` says why.
    #[serde(default)]
    pub samples_ns: Vec<f64>,
    pub flops: Option<f64>,
    pub bytes: Option<f64>,
    /// Why the case could not be measured, if it could not.
    pub error: Option<String>,
    /// `wrong` when the harness's own correctness check failed; default `ok` (or `failed` with an error).
    pub status: Option<CaseStatus>,
    pub correctness: Option<Correctness>,
}

/// Parses one line of harness output. `Ok(None)` for a blank line. Error messages quote at most
/// [`QUOTE_CHARS`] characters of anything from the line, however long it is.
pub fn parse_answer(line: &str) -> Result<Option<HarnessAnswer>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    let answer: HarnessAnswer = serde_json::from_str(line)
        .map_err(|e| format!("not a harness answer ({}): `{}`", quote(&e.to_string()), quote(line)))?;
    if answer.error.is_none() {
        let case = quote(answer.case.as_str());
        if answer.samples_ns.is_empty() {
            return Err(format!("answer for `{case}` has neither samples nor an error"));
        }
        if let Some(bad) = answer.samples_ns.iter().find(|s| !s.is_finite() || **s <= 0.0) {
            return Err(format!(
                "answer for `{case}` has the sample {bad}; samples must be finite and positive"
            ));
        }
    }
    Ok(Some(answer))
}

/// The longest piece of a harness line a message quotes.
pub const QUOTE_CHARS: usize = 120;

/// `text`, cut to [`QUOTE_CHARS`] characters with `…` where it was cut.
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_answers_and_rejects_garbage() {
        let a = parse_answer(r#"{"case":"b/S=1","samples_ns":[10.5,11.0],"error":null}"#).unwrap().unwrap();
        assert_eq!(a.case.as_str(), "b/S=1");
        assert_eq!(a.samples_ns, vec![10.5, 11.0]);
        assert!(parse_answer("  ").unwrap().is_none());
        assert!(parse_answer("hello").unwrap_err().contains("not a harness answer"));
        assert!(parse_answer(r#"{"case":"x","samples_ns":[]}"#).unwrap_err().contains("neither"));
        assert!(parse_answer(r#"{"case":"x","samples_ns":[1,-2]}"#).unwrap_err().contains("-2"));
        let failed = parse_answer(r#"{"case":"x","error":"OOM"}"#).unwrap().unwrap();
        assert_eq!(failed.error.as_deref(), Some("OOM"));
        let long = format!("{{\"case\":\"{}\",\"samples_ns\":[]}}", "é".repeat(500));
        let err = parse_answer(&long).unwrap_err();
        assert!(err.starts_with(&format!("answer for `{}…`", "é".repeat(QUOTE_CHARS))), "{err}");
    }
}
