//! Google Benchmark JSON (`--benchmark_out=FILE --benchmark_out_format=json`).
//!
//! Entries with the same `run_name` are one case. Its samples are the `real_time` of its repetitions
//! (`run_type` `iteration`: each the mean time per iteration of one repetition, in `time_unit`).
//! Aggregates (`run_type` `aggregate`: `_mean`, `_median`, `_stddev`, `_cv`, complexity fits) are never
//! samples: next to repetitions they are left out (and listed in the summary); alone, as
//! `--benchmark_report_aggregates_only` writes them, they become the case's [`ToolSummary`].
//!
//! The case id comes from the run name: `sum_squares/n:1024/threads:2` is bench `sum_squares` with
//! params `n=1024,threads=2`; a bare number is positional (`sort/8` → `arg0=8`), a bare word a flag
//! (`real_time` → `real_time=true`). `error_occurred` makes a failed case with `error_message`.

use std::collections::HashMap;
use std::path::Path;

use super::json::{Field, Node, quote_str};
use super::{
    Format, ImportError, ImportedFile, NoteKind, measured, ns_per, summarized, timestamp, unmeasured,
};
use crate::run::{CaseStatus, ToolSummary};
use crate::value::{Params, Value};

/// Reads a Google Benchmark JSON file.
pub fn read(file: &Path, value: &serde_json::Value) -> Result<ImportedFile, ImportError> {
    read_root(file, &Node::root(value)).map_err(|e| ImportError::field(file, e))
}

/// The entries of one run name, in file order.
#[derive(Default)]
struct Group<'a> {
    repetitions: Vec<Node<'a>>,
    aggregates: Vec<Node<'a>>,
}

fn read_root(file: &Path, root: &Node<'_>) -> Field<ImportedFile> {
    let mut out = ImportedFile::new(file, Format::Gbench);
    if let Some(context) = root.get("context") {
        out.tool_version = context.get("library_version").map(|v| v.str().map(str::to_owned)).transpose()?;
        out.hostname = context.get("host_name").map(|v| v.str().map(str::to_owned)).transpose()?;
        out.timestamp = context.get("date").and_then(|d| d.str().ok().and_then(timestamp));
    }
    let mut order: Vec<&str> = Vec::new();
    let mut groups: HashMap<&str, Group<'_>> = HashMap::new();
    for entry in root.field("benchmarks")?.array()? {
        let name = entry.field("name")?.str()?;
        let run_name = match entry.get("run_name") {
            Some(run_name) => run_name.str()?,
            None => name,
        };
        let aggregate = match entry.get("run_type") {
            Some(kind) => match kind.str()? {
                "iteration" => false,
                "aggregate" => true,
                other => {
                    return Err(
                        kind.error(format!("{} is neither `iteration` nor `aggregate`", quote_str(other)))
                    );
                }
            },
            None => false,
        };
        let group = groups.entry(run_name).or_insert_with(|| {
            order.push(run_name);
            Group::default()
        });
        if aggregate { group.aggregates.push(entry) } else { group.repetitions.push(entry) }
    }
    let mut seen = HashMap::new();
    for run_name in order {
        let group = &groups[run_name];
        let (bench, params) = split_run_name(run_name);
        let first = group.repetitions.first().or(group.aggregates.first()).expect("a group has an entry");
        if group.repetitions.is_empty() {
            match summary(&group.aggregates)? {
                Some((summary, used)) => {
                    for entry in
                        group.aggregates.iter().filter(|e| !used.iter().any(|u| u.path() == e.path()))
                    {
                        out.note(entry, NoteKind::Aggregate { name: aggregate_name(entry)? });
                    }
                    out.push(summarized(&bench, params, summary), first, &mut seen)?;
                }
                // Complexity fits (`BigO`, `RMS`) have a run name of their own and no central figure.
                None => {
                    for entry in &group.aggregates {
                        out.note(entry, NoteKind::Aggregate { name: aggregate_name(entry)? });
                    }
                }
            }
            continue;
        }
        for entry in &group.aggregates {
            out.note(entry, NoteKind::Aggregate { name: aggregate_name(entry)? });
        }
        let case = match problem(&group.repetitions)? {
            Some((status, message)) => unmeasured(&bench, params, status, Some(message)),
            None => {
                let samples = group.repetitions.iter().map(real_time_ns).collect::<Field<Vec<f64>>>()?;
                measured(&bench, params, samples)
            }
        };
        out.push(case, first, &mut seen)?;
    }
    Ok(out)
}

/// A failed (`error_occurred`) or skipped (a message without an error) repetition makes the case so.
fn problem(repetitions: &[Node<'_>]) -> Field<Option<(CaseStatus, String)>> {
    for entry in repetitions {
        let error = entry.get("error_occurred").map(|e| e.bool()).transpose()?.unwrap_or(false);
        let message = entry.get("error_message").map(|m| m.str().map(str::to_owned)).transpose()?;
        match (error, message) {
            (true, message) => {
                let message =
                    message.filter(|m| !m.is_empty()).unwrap_or_else(|| "error occurred".to_owned());
                return Ok(Some((CaseStatus::Failed, message)));
            }
            (false, Some(message)) => return Ok(Some((CaseStatus::Skipped, message))),
            (false, None) => {}
        }
    }
    Ok(None)
}

/// `real_time` of one entry in nanoseconds.
fn real_time_ns(entry: &Node<'_>) -> Field<f64> {
    entry.field("real_time")?.time_ns(unit_ns(entry)?)
}

/// Nanoseconds per `time_unit` of one entry.
fn unit_ns(entry: &Node<'_>) -> Field<f64> {
    let unit = entry.field("time_unit")?;
    let name = unit.str()?;
    ns_per(name).ok_or_else(|| {
        unit.error(format!("{} is not a time unit: expected ns, us, ms or s", quote_str(name)))
    })
}

fn aggregate_name(entry: &Node<'_>) -> Field<String> {
    Ok(match entry.get("aggregate_name") {
        Some(name) => name.str()?.to_owned(),
        None => entry.field("name")?.str()?.to_owned(),
    })
}

/// The summary of an aggregates-only case (mean, median, stddev in time units) and the entries it used;
/// `None` when there is neither a mean nor a median.
fn summary<'n, 'a>(aggregates: &'n [Node<'a>]) -> Field<Option<(ToolSummary, Vec<&'n Node<'a>>)>> {
    let mut summary = ToolSummary::default();
    let mut used = Vec::new();
    for entry in aggregates {
        let Some(name) = entry.get("aggregate_name") else { continue };
        // `cv` is a percentage; user-defined aggregates may be anything.
        if entry.get("aggregate_unit").is_some_and(|u| u.str().is_ok_and(|u| u != "time")) {
            continue;
        }
        let slot = match name.str()? {
            "mean" => &mut summary.mean_ns,
            "median" => &mut summary.median_ns,
            "stddev" => &mut summary.stddev_ns,
            _ => continue,
        };
        let time = entry.field("real_time")?;
        // A spread of zero is a real answer; only the central figures must be positive.
        let ns = if name.str()? == "stddev" {
            time.spread_ns(unit_ns(entry)?)?
        } else {
            time.time_ns(unit_ns(entry)?)?
        };
        *slot = Some(ns);
        if summary.samples.is_none() {
            summary.samples = entry.get("repetitions").map(|r| r.u64()).transpose()?;
        }
        used.push(entry);
    }
    Ok(summary.center_ns().is_some().then_some((summary, used)))
}

/// `sum_squares/n:1024/threads:2` → (`sum_squares`, `n=1024,threads=2`).
fn split_run_name(run_name: &str) -> (String, Params) {
    let mut parts = run_name.split('/');
    let bench = parts.next().unwrap_or_default().to_owned();
    let mut params = Params::new();
    let mut positional = 0;
    for part in parts {
        match part.split_once(':') {
            Some((name, value)) => params.insert(name, number_or_text(value)),
            None if part.parse::<i64>().is_ok() || part.parse::<f64>().is_ok() => {
                params.insert(format!("arg{positional}"), number_or_text(part));
                positional += 1;
            }
            None => params.insert(part, Value::Bool(true)),
        }
    }
    (bench, params)
}

fn number_or_text(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() { Value::Int(i) } else { Value::Str(text.to_owned()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_become_bench_and_params() {
        let (bench, params) = split_run_name("sum_squares/n:1024/threads:2");
        assert_eq!((bench.as_str(), params.to_id_string().as_str()), ("sum_squares", "n=1024,threads=2"));
        let (bench, params) = split_run_name("sort_reversed/8/64/real_time");
        assert_eq!(
            (bench.as_str(), params.to_id_string().as_str()),
            ("sort_reversed", "arg0=8,arg1=64,real_time=true")
        );
        let (bench, params) = split_run_name("BM_x<int, 8>/min_time:0.010s");
        assert_eq!((bench.as_str(), params.to_id_string().as_str()), ("BM_x<int, 8>", "min_time=0.010s"));
        assert!(split_run_name("dict_build").1.is_empty());
    }
}
