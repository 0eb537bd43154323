//! Kernel Tuner's cache files (`tune_kernel(..., cache=FILE)`) and results files
//! (`store_output_file`, the T4 schema with `invalidity`).
//!
//! Every configuration is a case: bench the kernel's name (for a results file, which does not name the
//! kernel, the file's stem), params the problem size and the tune values (which are also the case's
//! `tune`), samples the configuration's `times` (`runtimes`), milliseconds per kernel run.
//!
//! A cache is appended to while Kernel Tuner runs and closed at the end; a run that was interrupted
//! leaves it without its closing braces, and Kernel Tuner reads such a file by dropping a trailing comma
//! and closing it. pawl does the same, and says so. Failed configurations carry a failure string in
//! place of their time: `CompilationFailedConfig` and `RuntimeFailedConfig` become failed cases;
//! `InvalidConfig` (a configuration Kernel Tuner did not run because it breaks a restriction or a
//! device limit, `constraints` in a results file) becomes a skipped case, as pawl's own
//! constraint-filtered cases are. A cache entry with a `time` but no `times` keeps that mean as its
//! summary.

use std::collections::HashMap;
use std::path::Path;

use super::json::{Field, Node, quote_str};
use super::{
    Format, ImportError, ImportedFile, NoteKind, measured, ns_per, parse, summarized, timestamp, unmeasured,
};
use crate::run::{CaseStatus, GpuInfo, ToolSummary};
use crate::value::{Params, Value};

/// Whether `text` begins like a Kernel Tuner cache (closed or not).
pub(crate) fn looks_like_cache(text: &str) -> bool {
    let head: String = text.chars().take(4096).collect();
    head.trim_start().starts_with('{')
        && head.contains("\"tune_params_keys\"")
        && head.contains("\"kernel_name\"")
}

/// Reads a Kernel Tuner cache or results file.
pub fn read(file: &Path, text: &str) -> Result<ImportedFile, ImportError> {
    let (value, unclosed) = match parse(file, text) {
        Ok(value) => (value, false),
        Err(original) if looks_like_cache(text) => match parse(file, &closed(text)) {
            Ok(value) => (value, true),
            Err(_) => return Err(original),
        },
        Err(original) => return Err(original),
    };
    let root = Node::root(&value);
    let result = if root.get("results").is_some() && root.get("cache").is_none() {
        read_results(file, &root)
    } else {
        read_cache(file, &root, unclosed)
    };
    result.map_err(|e| ImportError::field(file, e))
}

/// An unclosed cache closed as Kernel Tuner's `correct_open_cache` closes it.
fn closed(text: &str) -> String {
    let text = text.trim_end();
    let text = text.strip_suffix(',').unwrap_or(text);
    format!("{text}}}\n}}")
}

fn read_cache(file: &Path, root: &Node<'_>, unclosed: bool) -> Field<ImportedFile> {
    let mut out = ImportedFile::new(file, Format::KernelTuner);
    if unclosed {
        out.note(root, NoteKind::Unclosed);
    }
    out.tool_version = root.get("schema_version").map(|v| v.str().map(str::to_owned)).transpose()?;
    let kernel = root.field("kernel_name")?.str()?;
    if let Some(device) =
        root.get("device_name").map(|d| d.str()).transpose()?.filter(|d| !d.trim().is_empty())
    {
        out.gpu = Some(GpuInfo::named(device));
    }
    let problem_size = root.get("problem_size").map(|p| problem_size(&p)).transpose()?.flatten();
    let keys = root.field("tune_params_keys")?;
    let keys: Vec<&str> = keys.array()?.iter().map(Node::str).collect::<Field<_>>()?;
    let mut seen = HashMap::new();
    let mut first_time: Option<String> = None;
    for (_, entry) in root.field("cache")?.members()? {
        let mut tune = Params::new();
        for key in &keys {
            tune.insert(*key, entry.field(key)?.param());
        }
        let mut params = Params::new();
        if let Some(size) = &problem_size {
            params.insert("problem_size", size.clone());
        }
        for (name, value) in tune.iter() {
            params.insert(name, value.clone());
        }
        let mut case = match failure(&entry)? {
            Some((status, message)) => unmeasured(kernel, params, status, Some(message)),
            None => match (entry.get("times"), entry.get("time")) {
                (Some(times), _) => measured(kernel, params, times_ns(&times, 1e6)?),
                (None, Some(time)) => summarized(
                    kernel,
                    params,
                    ToolSummary { mean_ns: Some(time.time_ns(1e6)?), ..ToolSummary::default() },
                ),
                (None, None) => {
                    out.note(&entry, NoteKind::NoTimes);
                    continue;
                }
            },
        };
        case.tune = tune;
        first_time = earliest(first_time, &entry);
        out.push(case, &entry, &mut seen)?;
    }
    out.timestamp = first_time;
    Ok(out)
}

/// The earlier of `first` and the entry's `timestamp`: the run began with its first configuration.
fn earliest(first: Option<String>, entry: &Node<'_>) -> Option<String> {
    let stamp = entry.get("timestamp").and_then(|t| t.str().ok().and_then(timestamp));
    match (first, stamp) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The problem size as one parameter: a number, or `48x64` for several dimensions; `None` where Kernel
/// Tuner wrote `callable` (a size computed per configuration).
fn problem_size(node: &Node<'_>) -> Field<Option<Value>> {
    Ok(match node.value() {
        serde_json::Value::String(s) if s == "callable" => None,
        serde_json::Value::Array(_) => {
            let dims: Vec<String> = node.array()?.iter().map(|d| d.param().to_string()).collect();
            Some(Value::Str(dims.join("x")))
        }
        _ => Some(node.param()),
    })
}

/// The failure a cache entry records in place of a time, as a case status and words.
fn failure(entry: &Node<'_>) -> Field<Option<(CaseStatus, String)>> {
    let strings: Vec<&str> = match entry.get("__error__") {
        Some(error) => vec![error.str()?],
        // Older caches put the failure string in the objective's place (`"time": "InvalidConfig"`).
        None => entry.members()?.into_iter().filter_map(|(_, v)| v.value().as_str()).collect(),
    };
    for text in strings {
        let found = match text {
            "InvalidConfig" => (
                CaseStatus::Skipped,
                "InvalidConfig: Kernel Tuner did not run this configuration (it breaks a restriction or a \
                 device limit)",
            ),
            "CompilationFailedConfig" => (
                CaseStatus::Failed,
                "CompilationFailedConfig: Kernel Tuner could not compile this configuration",
            ),
            "RuntimeFailedConfig" => (
                CaseStatus::Failed,
                "RuntimeFailedConfig: this configuration failed when Kernel Tuner ran it",
            ),
            "ErrorConfig" => {
                (CaseStatus::Failed, "ErrorConfig: Kernel Tuner recorded an error for this configuration")
            }
            _ => continue,
        };
        return Ok(Some((found.0, found.1.to_owned())));
    }
    Ok(None)
}

/// A list of times as nanoseconds, `ns_per_unit` nanoseconds each.
fn times_ns(times: &Node<'_>, ns_per_unit: f64) -> Field<Vec<f64>> {
    let list = times.array()?;
    if list.is_empty() {
        return Err(times.error("is empty: a configuration that ran has at least one time"));
    }
    list.iter().map(|t| t.time_ns(ns_per_unit)).collect()
}

fn read_results(file: &Path, root: &Node<'_>) -> Field<ImportedFile> {
    let mut out = ImportedFile::new(file, Format::KernelTuner);
    out.tool_version = root.get("schema_version").map(|v| v.str().map(str::to_owned)).transpose()?;
    let ns_per_unit = match root.get("metadata").and_then(|m| m.get("timeunit")) {
        Some(unit) => {
            let name = unit.str()?;
            ns_per(name).ok_or_else(|| {
                unit.error(format!(
                    "{} is not a time unit: expected nanoseconds, microseconds, milliseconds or seconds",
                    quote_str(name)
                ))
            })?
        }
        None => 1e6,
    };
    let bench = file.file_stem().map_or_else(|| "kernel".to_owned(), |s| s.to_string_lossy().into_owned());
    let mut seen = HashMap::new();
    let mut first_time: Option<String> = None;
    for entry in root.field("results")?.array()? {
        let mut tune = Params::new();
        for (name, value) in entry.field("configuration")?.members()? {
            tune.insert(name, value.param());
        }
        let invalidity = entry.field("invalidity")?;
        let failed = |status, words: &str| Some((status, words.to_owned()));
        let problem = match invalidity.str()? {
            "correct" => None,
            "constraints" => {
                failed(CaseStatus::Skipped, "constraints: Kernel Tuner did not run this configuration")
            }
            "compile" => {
                failed(CaseStatus::Failed, "compile: Kernel Tuner could not compile this configuration")
            }
            "runtime" => {
                failed(CaseStatus::Failed, "runtime: this configuration failed when Kernel Tuner ran it")
            }
            "correctness" => failed(CaseStatus::Wrong, "correctness: this configuration gave a wrong answer"),
            "timeout" => failed(CaseStatus::Timeout, "timeout: this configuration ran past its time limit"),
            other => {
                return Err(invalidity.error(format!(
                    "{} is not one of correct, constraints, compile, runtime, correctness, timeout",
                    quote_str(other)
                )));
            }
        };
        let runtimes =
            entry.field("times")?.get("runtimes").map(|r| r.array()).transpose()?.unwrap_or_default();
        let mut case = match problem {
            Some((status, words)) => unmeasured(&bench, tune.clone(), status, Some(words)),
            None if !runtimes.is_empty() => {
                let samples = runtimes.iter().map(|t| t.time_ns(ns_per_unit)).collect::<Field<_>>()?;
                measured(&bench, tune.clone(), samples)
            }
            None => match measurement(&entry, "time", ns_per_unit)? {
                Some(mean_ns) => summarized(
                    &bench,
                    tune.clone(),
                    ToolSummary { mean_ns: Some(mean_ns), ..ToolSummary::default() },
                ),
                None => {
                    out.note(&entry, NoteKind::NoTimes);
                    continue;
                }
            },
        };
        case.tune = tune;
        first_time = earliest(first_time, &entry);
        out.push(case, &entry, &mut seen)?;
    }
    out.timestamp = first_time;
    Ok(out)
}

/// The value of the time measurement named `name`, in nanoseconds.
fn measurement(entry: &Node<'_>, name: &str, ns_per_unit: f64) -> Field<Option<f64>> {
    let Some(list) = entry.get("measurements") else { return Ok(None) };
    for m in list.array()? {
        if m.field("name")?.str()? == name {
            return Ok(Some(m.field("value")?.time_ns(ns_per_unit)?));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unclosed_caches_are_closed_as_kernel_tuner_closes_them() {
        assert_eq!(closed("{\"cache\": {\n\"1\": {\"time\": 1},"), "{\"cache\": {\n\"1\": {\"time\": 1}}\n}");
        assert_eq!(closed("{\"cache\": {"), "{\"cache\": {}\n}");
    }
}
