//! pytest-benchmark JSON (`pytest --benchmark-json=FILE`, or the files `--benchmark-autosave` keeps).
//!
//! Each benchmark is a case: its samples are `stats.data` (one per round, in seconds, each the mean of
//! the round's iterations). A file saved without its data holds only the statistics, which become the
//! case's [`ToolSummary`]. The bench is the test's `fullname` without its parameter id
//! (`test_bench.py::test_sort`); its params are `params` (`size=100,dtype=int`, in name order, so the id
//! does not depend on the order of the decorators), or, where a test has an id but no params, `id=…`.
//! `commit_info` becomes the run's git facts and `machine_info.node` its host.

use std::collections::HashMap;
use std::path::Path;

use super::json::{Field, Node};
use super::{Format, ImportError, ImportedFile, NoteKind, measured, summarized, timestamp};
use crate::run::{GitInfo, ToolSummary};
use crate::value::{Params, Value};

/// Reads a pytest-benchmark JSON file.
pub fn read(file: &Path, value: &serde_json::Value) -> Result<ImportedFile, ImportError> {
    read_root(file, &Node::root(value)).map_err(|e| ImportError::field(file, e))
}

fn read_root(file: &Path, root: &Node<'_>) -> Field<ImportedFile> {
    let mut out = ImportedFile::new(file, Format::PytestBenchmark);
    out.tool_version = root.get("version").map(|v| v.str().map(str::to_owned)).transpose()?;
    out.timestamp = root.get("datetime").and_then(|d| d.str().ok().and_then(timestamp));
    out.hostname =
        root.get("machine_info").and_then(|m| m.get("node")).and_then(|n| n.str().ok().map(str::to_owned));
    out.git = root.get("commit_info").map(|c| git(&c)).transpose()?.flatten();
    let mut seen = HashMap::new();
    for entry in root.field("benchmarks")?.array()? {
        let name = entry.field("name")?.str()?;
        let full = match entry.get("fullname") {
            Some(full) => full.str()?,
            None => name,
        };
        let (bench, id) = split_param_id(full);
        let mut params = Params::new();
        if let Some(given) = entry.get("params") {
            let mut members = given.members()?;
            members.sort_by(|a, b| a.0.cmp(b.0));
            for (key, value) in members {
                params.insert(key, value.param());
            }
        }
        if let (true, Some(id)) = (params.is_empty(), id) {
            params.insert("id", Value::Str(id.to_owned()));
        }
        let Some(stats) = entry.get("stats") else {
            out.note(&entry, NoteKind::NoTimes);
            continue;
        };
        let case = match stats.get("data").map(|d| d.array()).transpose()?.filter(|d| !d.is_empty()) {
            Some(data) => {
                let samples = data.iter().map(|s| s.time_ns(1e9)).collect::<Field<Vec<f64>>>()?;
                measured(bench, params, samples)
            }
            None => summarized(bench, params, summary(&stats)?),
        };
        out.push(case, &entry, &mut seen)?;
    }
    Ok(out)
}

/// `test_bench.py::test_sort[100-int]` → (`test_bench.py::test_sort`, `100-int`).
fn split_param_id(full: &str) -> (&str, Option<&str>) {
    match full.strip_suffix(']').and_then(|s| s.split_once('[')) {
        Some((bench, id)) => (bench, Some(id)),
        None => (full, None),
    }
}

/// The statistics of a file saved without its data, seconds turned into nanoseconds.
fn summary(stats: &Node<'_>) -> Field<ToolSummary> {
    let time = |key: &str| stats.get(key).map(|v| v.time_ns(1e9)).transpose();
    let summary = ToolSummary {
        samples: stats.get("rounds").map(|r| r.u64()).transpose()?,
        mean_ns: time("mean")?,
        median_ns: time("median")?,
        stddev_ns: stats.get("stddev").map(|v| v.spread_ns(1e9)).transpose()?,
        min_ns: time("min")?,
        max_ns: time("max")?,
    };
    if summary.center_ns().is_none() {
        return Err(stats.error("has neither `data` nor a `mean` or `median`"));
    }
    Ok(summary)
}

/// `commit_info` as git facts; `None` outside version control (pytest-benchmark writes `unversioned`).
fn git(info: &Node<'_>) -> Field<Option<GitInfo>> {
    let Some(commit) = info.get("id").map(|c| c.str()).transpose()? else { return Ok(None) };
    if commit.is_empty() || commit == "unversioned" {
        return Ok(None);
    }
    let branch = info.get("branch").map(|b| b.str().map(str::to_owned)).transpose()?;
    let dirty = info.get("dirty").map(|d| d.bool()).transpose()?.unwrap_or(false);
    Ok(Some(GitInfo { commit: commit.to_owned(), branch: branch.filter(|b| b != "(unknown)"), dirty }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_ids_are_split_off() {
        assert_eq!(split_param_id("t.py::test_sort[100-int]"), ("t.py::test_sort", Some("100-int")));
        assert_eq!(split_param_id("t.py::test_join"), ("t.py::test_join", None));
        assert_eq!(split_param_id("t.py::test_x[a[b]]"), ("t.py::test_x", Some("a[b]")));
    }
}
