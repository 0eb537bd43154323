//! Runs as rows and rows as runs: what a run file holds, split into the columns the views read and
//! JSON for the rest, so that a stored run reads back as the very run that was recorded.

use pawl_core::baseline::Testbed;
use pawl_core::files;
use pawl_core::run::{CaseResult, CaseStatus, Run};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::samples;
use crate::sql::Value;

/// How a run came into the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// `pawl run`.
    Run,
    /// `pawl check`.
    Check,
    /// The base side of `pawl ab` (or `pawl check --ab-base`).
    AbBase,
    /// The head side of `pawl ab`.
    AbHead,
    /// `pawl history add`.
    Import,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Run => "run",
            Origin::Check => "check",
            Origin::AbBase => "ab-base",
            Origin::AbHead => "ab-head",
            Origin::Import => "import",
        }
    }
}

/// The identity of a run: the first 32 hex digits of the SHA-256 of its JSON (as `pawl run` writes the
/// file). Recording a run twice, or importing the file `pawl run` already recorded, finds the same key.
pub fn run_key(run: &Run) -> String {
    let digest = Sha256::digest(files::to_json_bytes(run));
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Microseconds since 1970 (UTC) of an RFC 3339 timestamp, or why it is not one.
pub fn micros(timestamp: &str) -> Result<i64, String> {
    let instant: jiff::Timestamp = timestamp.parse().map_err(|e| {
        format!("the timestamp `{timestamp}` is not an RFC 3339 time such as 2026-05-20T10:00:00Z ({e})")
    })?;
    Ok(instant.as_microsecond())
}

pub(crate) const INSERT_RUN: &str = "INSERT INTO pawl_runs (run_key, suite, started_at, started_us, recorded_at, \
    recorded_us, origin, git_commit, git_branch, git_dirty, testbed, hostname, pawl_version, detail) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (run_key) DO NOTHING";

pub(crate) const INSERT_CASE: &str = "INSERT INTO pawl_cases (run_key, position, case_id, bench, params, status, \
    error, median_ns, ci_low_ns, ci_high_ns, confidence, rel_noise, sample_count, flops, bytes, sm_clock_mhz, \
    throttled_samples, detail) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";

pub(crate) const INSERT_SAMPLES: &str =
    "INSERT INTO pawl_samples (run_key, case_id, samples) VALUES ($1, $2, $3)";

/// The values of [`INSERT_RUN`].
pub(crate) fn run_values(
    run: &Run,
    key: &str,
    started_us: i64,
    recorded: jiff::Timestamp,
    origin: Origin,
) -> Vec<Value> {
    let without_cases = Run { cases: Vec::new(), ..run.clone() };
    let git = run.git.as_ref();
    vec![
        key.into(),
        run.suite.as_str().into(),
        run.timestamp.as_str().into(),
        started_us.into(),
        recorded.round(jiff::Unit::Second).unwrap_or(recorded).to_string().into(),
        recorded.as_microsecond().into(),
        origin.as_str().into(),
        git.map(|g| g.commit.clone()).into(),
        git.and_then(|g| g.branch.clone()).into(),
        git.map(|g| g.dirty).into(),
        Testbed::from_env(&run.env).key().into(),
        run.env.hostname.as_str().into(),
        run.env.pawl_version.as_str().into(),
        json(&without_cases).into(),
    ]
}

/// The values of [`INSERT_CASE`].
pub(crate) fn case_values(key: &str, position: usize, case: &CaseResult) -> Vec<Value> {
    let stats = case.stats.as_ref();
    let detail = CaseResult { samples_ns: Vec::new(), sm_clock_mhz: Vec::new(), ..case.clone() };
    vec![
        key.into(),
        (position as i64).into(),
        case.id.as_str().into(),
        case.bench.as_str().into(),
        json(&case.params).into(),
        case.status.as_str().into(),
        case.error.clone().into(),
        stats.map(|s| s.median_ns).into(),
        stats.map(|s| s.ci_low_ns).into(),
        stats.map(|s| s.ci_high_ns).into(),
        stats.map(|s| s.confidence).into(),
        stats.map(|s| s.rel_mad).into(),
        (case.samples_ns.len() as i64).into(),
        case.flops.into(),
        case.bytes.into(),
        median_clock(&case.sm_clock_mhz).into(),
        (case.throttled_samples as i64).into(),
        json(&detail).into(),
    ]
}

/// The values of [`INSERT_SAMPLES`].
pub(crate) fn samples_values(key: &str, case: &CaseResult) -> Vec<Value> {
    vec![key.into(), case.id.as_str().into(), samples::encode(&case.samples_ns, &case.sm_clock_mhz).into()]
}

/// A case read back: its JSON detail with its samples and clocks restored.
pub(crate) fn case_from(detail: &str, blob: &[u8]) -> Result<CaseResult, String> {
    let mut case: CaseResult =
        serde_json::from_str(detail).map_err(|e| format!("a stored case does not read back ({e})"))?;
    let (samples_ns, clocks) = samples::decode(blob).map_err(|e| format!("case `{}`: {e}", case.id))?;
    case.samples_ns = samples_ns;
    case.sm_clock_mhz = clocks;
    Ok(case)
}

/// A run read back from its JSON detail (its cases come separately).
pub(crate) fn run_from(detail: &str) -> Result<Run, String> {
    serde_json::from_str(detail).map_err(|e| format!("a stored run does not read back ({e})"))
}

pub(crate) fn status_from(text: &str) -> Result<CaseStatus, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("unknown case status `{text}` in the history"))
}

fn median_clock(clocks: &[u32]) -> Option<f64> {
    if clocks.is_empty() {
        return None;
    }
    let mut sorted = clocks.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    Some(if n % 2 == 1 {
        f64::from(sorted[n / 2])
    } else {
        (f64::from(sorted[n / 2 - 1]) + f64::from(sorted[n / 2])) / 2.0
    })
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("pawl's run types always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_order_by_instant() {
        assert_eq!(micros("1970-01-01T00:00:01Z").unwrap(), 1_000_000);
        assert_eq!(micros("2026-05-20T12:00:00+02:00").unwrap(), micros("2026-05-20T10:00:00Z").unwrap());
        assert!(micros("2026-05-20T10:00:00.5Z").unwrap() > micros("2026-05-20T10:00:00Z").unwrap());
        let err = micros("yesterday").unwrap_err();
        assert!(err.contains("`yesterday`"), "{err}");
    }

    #[test]
    fn clocks_take_their_median() {
        assert_eq!(median_clock(&[]), None);
        assert_eq!(median_clock(&[1980, 1755, 1980]), Some(1980.0));
        assert_eq!(median_clock(&[1000, 2000]), Some(1500.0));
    }
}
