//! Nsight Compute (`ncu`): the command line that profiles one kernel launch, and the reading of its CSV.
//!
//! pawl asks for a fixed list of metrics (`--metrics`, details page, base units) rather than whole
//! sections: one replay pass set per launch, and a CSV whose rows are `(kernel, metric, unit, value)`.
//! The parser finds its columns by name and skips anything else on standard output (ncu's `==PROF==`
//! lines, the profiled program's own output).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use pawl_supervise::Command;

/// Metrics of the profile, each with the label of its table row.
pub const METRICS: &[Metric] = &[
    Metric { name: "gpu__time_duration.sum", label: "duration", kind: Kind::Duration },
    Metric {
        name: "sm__throughput.avg.pct_of_peak_sustained_elapsed",
        label: "SM throughput",
        kind: Kind::Percent,
    },
    Metric {
        name: "dram__throughput.avg.pct_of_peak_sustained_elapsed",
        label: "DRAM throughput",
        kind: Kind::Percent,
    },
    Metric {
        name: "sm__warps_active.avg.pct_of_peak_sustained_active",
        label: "achieved occupancy",
        kind: Kind::Percent,
    },
    Metric { name: "launch__registers_per_thread", label: "registers per thread", kind: Kind::Count },
    Metric { name: "launch__shared_mem_per_block_static", label: "static shared memory", kind: Kind::Bytes },
    Metric {
        name: "launch__shared_mem_per_block_dynamic",
        label: "dynamic shared memory",
        kind: Kind::Bytes,
    },
    Metric {
        name: "l1tex__t_bytes_pipe_lsu_mem_local_op_st.sum",
        label: "local stores (spills)",
        kind: Kind::Bytes,
    },
    Metric {
        name: "l1tex__t_bytes_pipe_lsu_mem_local_op_ld.sum",
        label: "local loads (spills)",
        kind: Kind::Bytes,
    },
    Metric { name: "launch__block_size", label: "block size", kind: Kind::Count },
    Metric { name: "launch__grid_size", label: "grid size", kind: Kind::Count },
];

/// The warp stall breakdown: average cycles a warp spends stalled for each reason per issued
/// instruction (what the Warp State section of the Nsight Compute report charts).
pub const STALL_PREFIX: &str = "smsp__average_warps_issue_stalled_";
pub const STALL_SUFFIX: &str = "_per_issue_active.ratio";

/// One metric pawl reads, and how to show it.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Duration,
    Percent,
    Count,
    Bytes,
    /// Cycles per issued instruction (stall reasons).
    Ratio,
}

/// The `--metrics` argument. `full`: the fixed list and, by regular expression, every stall reason;
/// otherwise the launch, throughput and occupancy metrics every GPU since Volta has (a fallback for an
/// ncu or GPU that lacks one of the others).
pub fn metrics_argument(full: bool) -> String {
    let mut list: Vec<String> = METRICS
        .iter()
        .filter(|m| full || !m.name.starts_with("l1tex__"))
        .map(|m| m.name.to_owned())
        .collect();
    if full {
        list.push(format!("regex:^{STALL_PREFIX}.*{}$", STALL_SUFFIX.replace('.', "\\.")));
    }
    list.join(",")
}

/// The ncu command that profiles the first launch of `kernel` (by exact name) in `program`, with the
/// GPU's clocks left as they are (pawl measures at the clocks the GPU chooses, so the profile should too).
pub fn command(ncu: &Path, kernel: &str, program: &[OsString], full: bool) -> Command {
    let mut argv: Vec<OsString> = vec![ncu.into()];
    let arg = |s: &str| OsString::from(s);
    argv.extend(["--clock-control", "none", "--csv", "--page", "details"].map(arg));
    // Base units spare the parser scaled ones; the fallback leaves the option out for older ncu.
    if full {
        argv.extend(["--print-units", "base"].map(arg));
    }
    argv.extend(["--kernel-name".into(), format!("regex:^{}$", regex_escape(kernel)).into()]);
    argv.extend(["--launch-count".into(), "1".into(), "--metrics".into(), metrics_argument(full).into()]);
    argv.extend(program.iter().cloned());
    // The profiled program times nothing; leave CUPTI to Nsight Compute.
    Command::new(argv).env(pawl_cuda::clock::SETTING, "events")
}

fn regex_escape(s: &str) -> String {
    let mut escaped = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The metrics of one profiled kernel launch, values in base units (nanoseconds, bytes, percent).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KernelProfile {
    pub kernel: String,
    /// Metric name to value.
    pub values: BTreeMap<String, f64>,
}

impl KernelProfile {
    pub fn get(&self, metric: &str) -> Option<f64> {
        self.values.get(metric).copied()
    }

    /// Stall reasons with their cycles per issued instruction, largest first. `selected` (the warp was
    /// issuing) is not a stall and is left out.
    pub fn stalls(&self) -> Vec<(String, f64)> {
        let mut stalls: Vec<(String, f64)> = self
            .values
            .iter()
            .filter_map(|(name, &value)| {
                let reason = name.strip_prefix(STALL_PREFIX)?.strip_suffix(STALL_SUFFIX)?;
                (reason != "selected" && !reason.contains("not_issued")).then(|| (reason.to_owned(), value))
            })
            .collect();
        stalls.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        stalls
    }
}

/// What is wrong with ncu's output.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error(
        "no CSV header (a line starting with \"ID\") in ncu's output: was the kernel ever launched, and \
         was ncu run with --csv --page details?"
    )]
    NoHeader,
    #[error("ncu's CSV has no `{0}` column")]
    MissingColumn(&'static str),
    #[error("ncu's CSV is malformed: {0}")]
    Csv(#[from] csv::Error),
}

/// Reads ncu's details-page CSV: one [`KernelProfile`] per profiled launch, in the order of their ids.
/// Values with a unit scale (`usecond`, `Kbyte`) are brought to base units; values that are not numbers
/// (`n/a`) are left out.
pub fn parse_csv(text: &str) -> Result<Vec<KernelProfile>, ParseError> {
    let start = text.find("\"ID\",").ok_or(ParseError::NoHeader)?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(&text.as_bytes()[start..]);
    let headers = reader.headers()?.clone();
    let column =
        |name: &'static str| headers.iter().position(|h| h == name).ok_or(ParseError::MissingColumn(name));
    let (id, kernel, metric, unit, value) = (
        column("ID")?,
        column("Kernel Name")?,
        column("Metric Name")?,
        column("Metric Unit")?,
        column("Metric Value")?,
    );
    let mut profiles: BTreeMap<u64, KernelProfile> = BTreeMap::new();
    for record in reader.records() {
        let record = record?;
        // Anything after the table (the program's own output) has other shapes; skip it.
        let Some(launch) = record.get(id).and_then(|v| v.trim().parse::<u64>().ok()) else { continue };
        let (Some(name), Some(unit), Some(raw)) = (record.get(metric), record.get(unit), record.get(value))
        else {
            continue;
        };
        let profile = profiles.entry(launch).or_insert_with(|| KernelProfile {
            kernel: record.get(kernel).unwrap_or_default().to_owned(),
            values: BTreeMap::new(),
        });
        if let Some(number) = number(raw) {
            profile.values.insert(name.to_owned(), number * scale(unit));
        }
    }
    Ok(profiles.into_values().collect())
}

/// A CSV value as a number: ncu writes thousands separators (`1,048,576`) unless told otherwise.
fn number(raw: &str) -> Option<f64> {
    raw.trim().replace(',', "").parse::<f64>().ok().filter(|v| v.is_finite())
}

/// The factor from `unit` to its base unit (nanoseconds for times, bytes for sizes); 1 for the rest.
fn scale(unit: &str) -> f64 {
    let unit = unit.trim();
    let (size, rest) = match unit.split_once('/') {
        Some((size, rest)) => (size, Some(rest)),
        None => (unit, None),
    };
    let factor = match size {
        "usecond" => 1e3,
        "msecond" => 1e6,
        "second" => 1e9,
        "Kbyte" => 1e3,
        "Mbyte" => 1e6,
        "Gbyte" => 1e9,
        "KB" | "Kibyte" => 1024.0,
        "MB" | "Mibyte" => 1024.0 * 1024.0,
        _ => 1.0,
    };
    // Rates (`Gbyte/second`) are not read by pawl; keep their numbers as they are.
    if rest.is_some_and(|r| r.contains("second")) { 1.0 } else { factor }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_scale_to_base() {
        assert_eq!(scale("nsecond"), 1.0);
        assert_eq!(scale("usecond"), 1e3);
        assert_eq!(scale("Kbyte/block"), 1e3);
        assert_eq!(scale("Gbyte/second"), 1.0);
        assert_eq!(number("1,048,576"), Some(1_048_576.0));
        assert_eq!(number("n/a"), None);
    }

    /// Captured on an H100 (ncu 2025, driver 580) by `pawl profile`: the copy kernel at block size 32.
    const H100_CSV: &str = include_str!("../tests/fixtures/ncu/h100_copy_block32.csv");

    #[test]
    fn a_captured_csv_reads_in_base_units() {
        let profiles = parse_csv(H100_CSV).unwrap();
        assert_eq!(profiles.len(), 1);
        let p = &profiles[0];
        assert_eq!(p.kernel, "copy_vec4");
        assert_eq!(p.get("gpu__time_duration.sum"), Some(81_408.0));
        assert_eq!(p.get("launch__grid_size"), Some(131_072.0));
        assert_eq!(p.get("launch__block_size"), Some(32.0));
        assert_eq!(p.get("sm__warps_active.avg.pct_of_peak_sustained_active"), Some(11.88));
        assert_eq!(p.get("l1tex__t_bytes_pipe_lsu_mem_local_op_st.sum"), Some(0.0));
        let stalls = p.stalls();
        assert_eq!(stalls[0], ("long_scoreboard".to_owned(), 46.03));
        assert_eq!(stalls[1], ("wait".to_owned(), 2.41));
        assert!(stalls.iter().all(|(reason, _)| reason != "selected"));
        for metric in METRICS {
            assert!(p.get(metric.name).is_some(), "{} is not in the captured CSV", metric.name);
        }
    }

    #[test]
    fn scaled_units_and_several_launches() {
        let csv = "==PROF== Connected\n\
            \"ID\",\"Kernel Name\",\"Metric Name\",\"Metric Unit\",\"Metric Value\"\n\
            \"1\",\"b\",\"gpu__time_duration.sum\",\"usecond\",\"1.50\"\n\
            \"0\",\"a\",\"gpu__time_duration.sum\",\"msecond\",\"2\"\n\
            \"0\",\"a\",\"launch__shared_mem_per_block_static\",\"Kbyte/block\",\"4.10\"\n\
            \"0\",\"a\",\"dram__throughput.avg.pct_of_peak_sustained_elapsed\",\"%\",\"n/a\"\n\
            program output after the table\n";
        let profiles = parse_csv(csv).unwrap();
        assert_eq!(profiles.iter().map(|p| p.kernel.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(profiles[0].get("gpu__time_duration.sum"), Some(2e6));
        assert_eq!(profiles[0].get("launch__shared_mem_per_block_static"), Some(4100.0));
        assert_eq!(profiles[0].get("dram__throughput.avg.pct_of_peak_sustained_elapsed"), None);
        assert_eq!(profiles[1].get("gpu__time_duration.sum"), Some(1500.0));
    }

    #[test]
    fn garbage_has_no_header() {
        assert!(matches!(parse_csv("==PROF== nothing profiled\n"), Err(ParseError::NoHeader)));
    }

    #[test]
    fn kernel_names_are_escaped_for_the_filter() {
        assert_eq!(regex_escape("gemm<128>(float*)"), "gemm<128>\\(float\\*\\)");
    }
}
