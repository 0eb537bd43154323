//! nvbench JSON (`--json FILE`, file version 1), with the per-sample files of `--jsonbin`.
//!
//! Each state of each benchmark is a case: bench the benchmark's name, params its axis values (typed as
//! the file types them; numbers are written as strings), plus `Device` when the states ran on several
//! devices. Times come from the first measurement present, in this order: `nv/cold` (GPU time, L2
//! flushed), `nv/cpu_only`, `nv/batch`; all in seconds. The samples are the float32 little-endian times
//! of the file that the `nv/json/bin:<measurement>/sample_times` summary names; without that file the
//! case keeps nvbench's summary (mean, median, min, max, stdev, sample size) and no samples.
//!
//! Sample files are read only from the JSON file's folder and below (nvbench writes them into
//! `<file>-bin/` beside it): a file that names any other path cannot make pawl copy bytes from
//! elsewhere into a run file. The device of a single-device file becomes the run's GPU.

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use super::json::{Field, Node, quote_str};
use super::{Format, ImportError, ImportedFile, NoteKind, measured, summarized, unmeasured};
use crate::run::{CaseStatus, GpuInfo, ToolSummary};
use crate::value::{Params, Value};

/// The largest sample file read: 64 Mi samples.
const MAX_SAMPLE_FILE_BYTES: u64 = 256 << 20;

/// The measurements a time can come from, in order of preference: tag prefix, clock, `timing`.
const MEASUREMENTS: [(&str, &str, &str); 3] =
    [("nv/cold", "gpu", "cold"), ("nv/cpu_only", "cpu", "cpu"), ("nv/batch", "gpu", "batch")];

/// Reads an nvbench JSON file and the per-sample files it names.
pub fn read(file: &Path, value: &serde_json::Value) -> Result<ImportedFile, ImportError> {
    read_root(file, &Node::root(value)).map_err(|e| ImportError::field(file, e))
}

fn read_root(file: &Path, root: &Node<'_>) -> Field<ImportedFile> {
    let mut out = ImportedFile::new(file, Format::Nvbench);
    let version = root.field("meta")?.field("version")?;
    let major = version.field("json")?.field("major")?;
    if major.u64()? != 1 {
        return Err(major.error(format!(
            "nvbench JSON file version {} is not one pawl reads: it reads version 1",
            json_text(&major)
        )));
    }
    out.tool_version = version
        .get("nvbench")
        .and_then(|v| v.get("string"))
        .map(|s| s.str().map(str::to_owned))
        .transpose()?;

    let mut devices: HashMap<i64, GpuInfo> = HashMap::new();
    if let Some(list) = root.get("devices") {
        for device in list.array()? {
            devices.insert(integer(&device.field("id")?)?, gpu(&device)?);
        }
    }
    let benchmarks = root.field("benchmarks")?.array()?;
    let mut used = BTreeSet::new();
    for bench in &benchmarks {
        for state in optional_array(bench, "states")? {
            used.insert(integer(&state.field("device")?)?);
        }
    }
    let several = used.len() > 1;
    if several {
        out.note(root, NoteKind::Devices { count: used.len() });
    }
    out.gpu = testbed(&used, &devices);

    let mut seen = HashMap::new();
    for bench in &benchmarks {
        let name = bench.field("name")?.str()?;
        for state in optional_array(bench, "states")? {
            let mut params = Params::new();
            if several {
                params.insert("Device", Value::Int(integer(&state.field("device")?)?));
            }
            for axis in optional_array(&state, "axis_values")? {
                params.insert(axis.field("name")?.str()?, typed(&axis)?);
            }
            let skipped = state.get("is_skipped").map(|s| s.bool()).transpose()?.unwrap_or(false);
            if skipped {
                let reason = state.get("skip_reason").map(|r| r.str().map(str::to_owned)).transpose()?;
                let case =
                    unmeasured(name, params, CaseStatus::Skipped, reason.or(Some("skipped".to_owned())));
                out.push(case, &state, &mut seen)?;
                continue;
            }
            let summaries: HashMap<&str, Node<'_>> = optional_array(&state, "summaries")?
                .into_iter()
                .map(|s| Ok((s.field("tag")?.str()?, s)))
                .collect::<Field<_>>()?;
            let Some((prefix, clock, timing)) = MEASUREMENTS
                .into_iter()
                .find(|(p, c, _)| summaries.contains_key(format!("{p}/time/{c}/mean").as_str()))
            else {
                out.note(&state, NoteKind::NoTimes);
                continue;
            };
            let summary = summary(&summaries, prefix, clock)?;
            if summary.center_ns().is_none() {
                let mean = &summaries[format!("{prefix}/time/{clock}/mean").as_str()];
                return Err(mean.error("has no `value` in its `data`"));
            }
            let mut case = match summaries.get(format!("nv/json/bin:{prefix}/sample_times").as_str()) {
                Some(pointer) => match sample_file(file, pointer)? {
                    Ok(samples) => measured(name, params, samples),
                    Err((sample_file, problem)) => {
                        out.note(pointer, NoteKind::SampleFile { file: sample_file, problem });
                        summarized(name, params, summary)
                    }
                },
                None => summarized(name, params, summary),
            };
            case.timing = Some(timing.to_owned());
            out.push(case, &state, &mut seen)?;
        }
    }
    Ok(out)
}

/// The members of an array that nvbench may also write as null (an empty list).
fn optional_array<'a>(node: &Node<'a>, key: &str) -> Field<Vec<Node<'a>>> {
    node.get(key).map_or(Ok(Vec::new()), |n| n.array())
}

/// A whole number written as a number or, as nvbench writes 64-bit values, as a string.
fn integer(node: &Node<'_>) -> Field<i64> {
    match node.value() {
        serde_json::Value::String(s) => {
            s.trim().parse().map_err(|_| node.error(format!("{} is not a whole number", quote_str(s))))
        }
        v => v
            .as_i64()
            .ok_or_else(|| node.error(format!("expected a whole number, found {}", json_text(node)))),
    }
}

/// A float written as a number or a string (nvbench writes `"0.0010094458717434867"`).
fn float(node: &Node<'_>) -> Field<f64> {
    match node.value() {
        serde_json::Value::String(s) => {
            s.trim().parse().map_err(|_| node.error(format!("{} is not a number", quote_str(s))))
        }
        _ => node.f64(),
    }
}

fn json_text(node: &Node<'_>) -> String {
    super::json::quote(node.value())
}

/// A `{name, type, value}` entry as a parameter value of its type.
fn typed(entry: &Node<'_>) -> Field<Value> {
    let value = entry.field("value")?;
    Ok(match entry.field("type")?.str()? {
        "int64" => Value::Int(integer(&value)?),
        "float64" => Value::Float(float(&value)?),
        _ => match value.value() {
            serde_json::Value::String(s) => Value::Str(s.clone()),
            _ => value.param(),
        },
    })
}

/// The `value` (or another named datum) of a summary.
fn datum<'a>(summary: &Node<'a>, name: &str) -> Field<Option<Node<'a>>> {
    for entry in optional_array(summary, "data")? {
        if entry.field("name")?.str()? == name {
            return Ok(Some(entry));
        }
    }
    Ok(None)
}

/// nvbench's summary of one measurement, in nanoseconds.
fn summary(summaries: &HashMap<&str, Node<'_>>, prefix: &str, clock: &str) -> Field<ToolSummary> {
    let value = |tag: String| -> Field<Option<Node<'_>>> {
        match summaries.get(tag.as_str()) {
            Some(summary) => Ok(datum(summary, "value")?.map(|d| d.field("value")).transpose()?),
            None => Ok(None),
        }
    };
    let time = |stat: &str| -> Field<Option<f64>> {
        match value(format!("{prefix}/time/{clock}/{stat}"))? {
            Some(node) => Ok(Some(node.nanoseconds(float(&node)?, 1e9, false)?)),
            None => Ok(None),
        }
    };
    let mean_ns = time("mean")?;
    let stddev_ns = match value(format!("{prefix}/time/{clock}/stdev/absolute"))? {
        Some(node) => Some(node.nanoseconds(float(&node)?, 1e9, true)?),
        // Older files give the relative deviation only.
        None => match (value(format!("{prefix}/time/{clock}/stdev/relative"))?, mean_ns) {
            (Some(node), Some(mean)) => Some(node.nanoseconds(float(&node)?, mean, true)?),
            _ => None,
        },
    };
    let samples = match value(format!("{prefix}/sample_size"))? {
        Some(node) => {
            Some(u64::try_from(integer(&node)?).map_err(|_| node.error("a sample size must be ≥ 0"))?)
        }
        None => None,
    };
    Ok(ToolSummary {
        samples,
        mean_ns,
        median_ns: time("median")?,
        stddev_ns,
        min_ns: time("min")?,
        max_ns: time("max")?,
    })
}

/// The samples of the file a `nv/json/bin:…` summary names: `Ok(Err((file, problem)))` when that file
/// cannot be used (the case then keeps its summary), an error when the summary itself is malformed.
fn sample_file(json_file: &Path, pointer: &Node<'_>) -> Field<Result<Vec<f64>, (String, String)>> {
    let Some(name) = datum(pointer, "filename")? else {
        // nvbench leaves the name out when it could not write the file.
        return Ok(Err((String::new(), "nvbench did not write it (no `filename`)".to_owned())));
    };
    let name = name.field("value")?.str()?.to_owned();
    let size = match datum(pointer, "size")? {
        Some(size) => {
            let node = size.field("value")?;
            Some(u64::try_from(integer(&node)?).map_err(|_| node.error("a sample count must be ≥ 0"))?)
        }
        None => None,
    };
    Ok(read_samples(json_file, &name, size).map_err(|problem| (name, problem)))
}

/// Reads float32 little-endian seconds from `name`, beside `json_file`, as nanoseconds.
fn read_samples(json_file: &Path, name: &str, size: Option<u64>) -> Result<Vec<f64>, String> {
    let relative = Path::new(name);
    if name.is_empty()
        || !relative.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(
            "the path is absolute or leaves the JSON file's folder; only files beside it are read".to_owned()
        );
    }
    let dir = match json_file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let path = locate(&dir, relative).ok_or_else(|| "not found beside the JSON file".to_owned())?;
    let inside = match (dir.canonicalize(), path.canonicalize()) {
        (Ok(dir), Ok(path)) => path.starts_with(dir),
        _ => false,
    };
    if !inside {
        return Err(
            "it resolves outside the JSON file's folder (a link?); only files beside it are read".to_owned()
        );
    }
    let len = std::fs::metadata(&path).map_err(|e| format!("cannot read it: {e}"))?.len();
    if len > MAX_SAMPLE_FILE_BYTES {
        return Err(format!("{len} bytes is more than the {MAX_SAMPLE_FILE_BYTES} pawl reads"));
    }
    if let Some(size) = size.filter(|size| size.checked_mul(4) != Some(len)) {
        return Err(format!(
            "it holds {len} bytes, but {size} float32 samples take {}",
            size.saturating_mul(4)
        ));
    }
    if len % 4 != 0 || len == 0 {
        return Err(format!("{len} bytes is not a whole, non-zero number of float32 samples"));
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut samples = Vec::with_capacity(bytes.len() / 4);
    for (i, chunk) in bytes.chunks_exact(4).enumerate() {
        let seconds = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(format!("sample #{i} is {seconds}; times must be positive"));
        }
        samples.push(f64::from(seconds) * 1e9);
    }
    Ok(samples)
}

/// The sample file: `name` relative to the JSON file's folder (what nvbench writes), or, for files from
/// nvbench versions that wrote the path relative to their working folder, its last two components
/// (`<file>-bin/N.bin`).
fn locate(dir: &Path, name: &Path) -> Option<PathBuf> {
    let direct = dir.join(name);
    if direct.is_file() {
        return Some(direct);
    }
    let parts: Vec<_> = name.components().collect();
    let tail: PathBuf = parts[parts.len().saturating_sub(2)..].iter().collect();
    let beside = dir.join(tail);
    beside.is_file().then_some(beside)
}

/// One `devices[]` entry as GPU facts: name, compute capability, SMs, L2, memory and default clock;
/// nvbench does not record the driver or CUDA version.
fn gpu(device: &Node<'_>) -> Field<GpuInfo> {
    let number = |key: &str| -> Field<u64> {
        match device.get(key) {
            Some(node) => u64::try_from(integer(&node)?).map_err(|_| node.error("must be ≥ 0")),
            None => Ok(0),
        }
    };
    let sm = number("sm_version")?;
    let clock_mhz = number("sm_default_clock_rate")? / 1_000_000;
    let name = device.field("name")?.str()?;
    Ok(GpuInfo {
        compute_capability: if sm > 0 { format!("{}.{}", sm / 100, sm % 100 / 10) } else { String::new() },
        sm_count: u32::try_from(number("number_of_sms")?).unwrap_or(u32::MAX),
        l2_bytes: number("l2_cache_size")?,
        memory_bytes: number("global_memory_size")?,
        max_sm_clock_mhz: u32::try_from(clock_mhz).ok().filter(|&mhz| mhz > 0),
        ..GpuInfo::named(name)
    })
}

/// The run's GPU: the one device the states used, or for several, their names joined (`A + B`) and
/// nothing else, since no single set of figures describes them.
fn testbed(used: &BTreeSet<i64>, devices: &HashMap<i64, GpuInfo>) -> Option<GpuInfo> {
    let known: Vec<&GpuInfo> = used.iter().filter_map(|id| devices.get(id)).collect();
    match known.as_slice() {
        [] => None,
        [one] => Some((*one).clone()),
        several => {
            let mut names: Vec<&str> = several.iter().map(|g| g.name.as_str()).collect();
            names.dedup();
            Some(GpuInfo::named(names.join(" + ")))
        }
    }
}
