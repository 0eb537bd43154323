//! Importers: other tools' result files turned into pawl's ordinary run (`pawl-run/1`), so that
//! comparison, the ratchet, reports and history work on them unchanged.
//!
//! One module per format, each reading one file into an [`ImportedFile`]: cases with every sample the
//! tool recorded (in nanoseconds), or, where the tool kept only an aggregate, the case with a
//! [`ToolSummary`] in place of samples, which comparisons decline to judge. [`assemble`] joins the files
//! into one [`Run`] and an [`ImportSummary`] of what was imported and what was skipped, and why.
//!
//! | format | module | samples | summary only |
//! |---|---|---|---|
//! | nvbench `--json` (file version 1) | [`nvbench`] | the `--jsonbin` per-sample files | without them |
//! | Google Benchmark JSON | [`gbench`] | repetitions | `--benchmark_report_aggregates_only` |
//! | Kernel Tuner cache and results files | [`kernel_tuner`] | `times` / `runtimes` | `time` alone |
//! | pytest-benchmark `--benchmark-json` | [`pytest_benchmark`] | `stats.data` | no `data` |
//!
//! Files are untrusted: every error names the file and the JSON path of the bad field and quotes what
//! it found; nothing panics, whatever the bytes.

pub mod gbench;
mod json;
pub mod kernel_tuner;
pub mod nvbench;
pub mod pytest_benchmark;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::case::CaseId;
use crate::run::{CaseResult, CaseStatus, Environment, GitInfo, GpuInfo, ImportedFrom, Run, ToolSummary};
use crate::stats;
use crate::suite::MeasureSettings;
use crate::value::Params;
use json::{FieldError, Node};

/// The confidence level of the per-case summaries written into imported run files (as `pawl run`).
const SUMMARY_CONFIDENCE: f64 = 0.99;

/// A result format pawl imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Nvbench,
    Gbench,
    KernelTuner,
    PytestBenchmark,
}

impl Format {
    pub const ALL: [Format; 4] =
        [Format::Nvbench, Format::Gbench, Format::KernelTuner, Format::PytestBenchmark];

    /// The name `--format` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Nvbench => "nvbench",
            Format::Gbench => "gbench",
            Format::KernelTuner => "kernel-tuner",
            Format::PytestBenchmark => "pytest-benchmark",
        }
    }

    /// The tool that writes this format, as run files record it.
    pub fn tool(self) -> &'static str {
        match self {
            Format::Nvbench => "nvbench",
            Format::Gbench => "google-benchmark",
            Format::KernelTuner => "kernel-tuner",
            Format::PytestBenchmark => "pytest-benchmark",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A format name that is not one of [`Format::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown import format `{given}`: use one of nvbench, gbench, kernel-tuner, pytest-benchmark")]
pub struct UnknownFormat {
    pub given: String,
}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| UnknownFormat { given: s.to_owned() })
    }
}

/// Why a file could not be imported. Every message names the file; field errors give the JSON path.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {}: {source}", file.display())]
    Read { file: PathBuf, source: io::Error },
    #[error("{}:{line}:{column}: not valid JSON: {message}", file.display())]
    Json { file: PathBuf, line: usize, column: usize, message: String },
    #[error("{}: `{field}`: {problem}", file.display())]
    Field { file: PathBuf, field: String, problem: String },
    #[error(
        "{}: cannot tell which tool wrote this file: it has none of the fields of nvbench JSON \
         (`meta.version.json`), Google Benchmark JSON (`context`, `benchmarks`), a Kernel Tuner cache \
         (`tune_params_keys`, `cache`) or results file (`results`, `schema_version`), or pytest-benchmark \
         JSON (`machine_info`, `benchmarks`); name its format explicitly",
        file.display()
    )]
    Unrecognised { file: PathBuf },
    #[error(
        "case {} comes from both {} and {}: import files of different benchmarks together, or the same \
         benchmark's files one at a time",
        json::quote_str(id.as_str()),
        first.display(),
        second.display()
    )]
    Duplicate { id: CaseId, first: PathBuf, second: PathBuf },
    #[error(
        "{} was measured on {} but {} on {}: a run holds one testbed; import them separately",
        first.display(),
        json::quote_str(first_gpu),
        second.display(),
        json::quote_str(second_gpu)
    )]
    Testbeds { first: PathBuf, first_gpu: String, second: PathBuf, second_gpu: String },
    #[error("nothing to import: {} hold no benchmark results", list_files(files))]
    Empty { files: Vec<PathBuf> },
}

fn list_files(files: &[PathBuf]) -> String {
    files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
}

impl ImportError {
    fn field(file: &Path, error: FieldError) -> ImportError {
        ImportError::Field { file: file.to_owned(), field: error.path, problem: error.problem }
    }
}

/// One file, read: its cases, what it says about where it ran, and what was left out.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedFile {
    pub file: PathBuf,
    pub format: Format,
    /// The tool's version as the file records it.
    pub tool_version: Option<String>,
    pub cases: Vec<CaseResult>,
    pub notes: Vec<ImportNote>,
    /// The GPU the file says it measured on.
    pub gpu: Option<GpuInfo>,
    pub hostname: Option<String>,
    /// When the tool ran (RFC 3339, UTC), where the file says.
    pub timestamp: Option<String>,
    pub git: Option<GitInfo>,
}

impl ImportedFile {
    fn new(file: &Path, format: Format) -> ImportedFile {
        ImportedFile {
            file: file.to_owned(),
            format,
            tool_version: None,
            cases: Vec::new(),
            notes: Vec::new(),
            gpu: None,
            hostname: None,
            timestamp: None,
            git: None,
        }
    }

    fn note(&mut self, entry: &Node<'_>, kind: NoteKind) {
        self.notes.push(ImportNote { entry: entry.path().to_owned(), kind });
    }

    /// Adds a case; an id that an earlier entry of the file already gave is an error at `entry`.
    fn push(
        &mut self,
        case: CaseResult,
        entry: &Node<'_>,
        seen: &mut HashMap<CaseId, String>,
    ) -> Result<(), FieldError> {
        if let Some(first) = seen.get(&case.id) {
            return Err(entry.error(format!(
                "gives the case id {}, as `{first}` does: case ids must be unique",
                json::quote_str(case.id.as_str())
            )));
        }
        seen.insert(case.id.clone(), entry.path().to_owned());
        self.cases.push(case);
        Ok(())
    }
}

/// Something about a file's entries that did not become a case as it stood, with the entry's JSON path.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportNote {
    /// JSON path of the entry (`benchmarks[4]`), or `(the top level)` for the whole file.
    pub entry: String,
    pub kind: NoteKind,
}

/// Why an entry was left out or read differently.
#[derive(Clone, Debug, PartialEq)]
pub enum NoteKind {
    /// A Google Benchmark aggregate (`mean`, `median`, `stddev`, `cv`, `BigO`…): never a sample; read
    /// only as the summary of a case whose repetitions the file does not hold.
    Aggregate { name: String },
    /// An entry with no timing at all: not imported.
    NoTimes,
    /// An nvbench per-sample file that could not be used; the case keeps its summary only.
    SampleFile { file: String, problem: String },
    /// A Kernel Tuner cache left unclosed by an interrupted run, read as Kernel Tuner reads it.
    Unclosed,
    /// nvbench states on several devices: a `Device` parameter tells them apart.
    Devices { count: usize },
}

/// What one file gave.
#[derive(Clone, Debug, PartialEq)]
pub struct FileSummary {
    pub file: PathBuf,
    pub format: Format,
    pub tool_version: Option<String>,
    /// Cases with samples.
    pub with_samples: usize,
    /// Cases with a tool's summary only.
    pub summary_only: usize,
    /// Cases that failed (or were wrong, or timed out) in the tool.
    pub failed: usize,
    /// Cases the tool did not measure on purpose (skipped states, invalid configurations).
    pub skipped: usize,
    pub notes: Vec<ImportNote>,
}

/// What an import brought in, file by file.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportSummary {
    pub files: Vec<FileSummary>,
}

/// Reads one file as `format`, or as the format its fields show when `None`.
pub fn read(file: &Path, format: Option<Format>) -> Result<ImportedFile, ImportError> {
    let bytes = std::fs::read(file).map_err(|source| ImportError::Read { file: file.to_owned(), source })?;
    let text = String::from_utf8_lossy(&bytes);
    let format = match format {
        Some(format) => format,
        None => detect(file, &text)?,
    };
    match format {
        Format::Nvbench => nvbench::read(file, &parse(file, &text)?),
        Format::Gbench => gbench::read(file, &parse(file, &text)?),
        Format::KernelTuner => kernel_tuner::read(file, &text),
        Format::PytestBenchmark => pytest_benchmark::read(file, &parse(file, &text)?),
    }
}

/// The format of a file, from the fields at its top level.
pub fn detect(file: &Path, text: &str) -> Result<Format, ImportError> {
    // An unclosed Kernel Tuner cache is not JSON until repaired, so it is recognised by its header.
    if kernel_tuner::looks_like_cache(text) {
        return Ok(Format::KernelTuner);
    }
    let value = parse(file, text)?;
    let has = |key: &str| value.get(key).is_some_and(|v| !v.is_null());
    if value.pointer("/meta/version/json").is_some() {
        Ok(Format::Nvbench)
    } else if has("context") && has("benchmarks") {
        Ok(Format::Gbench)
    } else if has("machine_info") && has("benchmarks") {
        Ok(Format::PytestBenchmark)
    } else if (has("tune_params_keys") && has("cache")) || (has("results") && has("schema_version")) {
        Ok(Format::KernelTuner)
    } else {
        Err(ImportError::Unrecognised { file: file.to_owned() })
    }
}

/// Parses JSON, Python's `NaN` and `Infinity` read as null.
fn parse(file: &Path, text: &str) -> Result<serde_json::Value, ImportError> {
    serde_json::from_str(&json::python_literals_to_null(text)).map_err(|e| {
        let message = e.to_string();
        let message = message.rfind(" at line ").map_or(message.clone(), |at| message[..at].to_owned());
        ImportError::Json { file: file.to_owned(), line: e.line(), column: e.column(), message }
    })
}

/// Joins imported files into one run named `suite`, with `env`'s pawl version; the tools' own facts
/// (GPU, host, time, git) where the files record them, `now` as the time otherwise.
///
/// Refuses files from different GPUs, case ids given twice, and an import with no case at all.
pub fn assemble(
    files: Vec<ImportedFile>,
    suite: &str,
    pawl_version: &str,
    now: &str,
) -> Result<(Run, ImportSummary), ImportError> {
    let mut env = Environment { pawl_version: pawl_version.to_owned(), ..Environment::default() };
    let mut gpu_from: Option<&Path> = None;
    for file in &files {
        if let Some(gpu) = &file.gpu {
            match (&env.gpu, gpu_from) {
                (Some(first), Some(first_file)) if first.name != gpu.name => {
                    return Err(ImportError::Testbeds {
                        first: first_file.to_owned(),
                        first_gpu: first.name.clone(),
                        second: file.file.clone(),
                        second_gpu: gpu.name.clone(),
                    });
                }
                (Some(_), _) => {}
                (None, _) => {
                    env.gpu = Some(gpu.clone());
                    gpu_from = Some(&file.file);
                }
            }
        }
    }
    env.hostname = files.iter().find_map(|f| f.hostname.clone()).unwrap_or_default();
    let timestamp = files.iter().filter_map(|f| f.timestamp.clone()).min().unwrap_or_else(|| now.to_owned());

    let mut run = Run::new(suite, timestamp, env, MeasureSettings::default());
    run.git = files.iter().find_map(|f| f.git.clone());
    let mut origin: HashMap<CaseId, PathBuf> = HashMap::new();
    let mut summaries = Vec::new();
    for file in files {
        let mut summary = FileSummary {
            file: file.file.clone(),
            format: file.format,
            tool_version: file.tool_version.clone(),
            with_samples: 0,
            summary_only: 0,
            failed: 0,
            skipped: 0,
            notes: file.notes,
        };
        for mut case in file.cases {
            if let Some(first) = origin.get(&case.id) {
                return Err(ImportError::Duplicate { id: case.id, first: first.clone(), second: file.file });
            }
            origin.insert(case.id.clone(), file.file.clone());
            match case.status {
                CaseStatus::Ok if case.is_summary_only() => summary.summary_only += 1,
                CaseStatus::Ok => {
                    summary.with_samples += 1;
                    case.stats = stats::summarize(&case.samples_ns, SUMMARY_CONFIDENCE).ok();
                }
                CaseStatus::Failed | CaseStatus::Wrong | CaseStatus::Timeout => summary.failed += 1,
                CaseStatus::Skipped => summary.skipped += 1,
            }
            run.cases.push(case);
        }
        run.imported.push(ImportedFrom {
            file: file.file.display().to_string(),
            tool: file.format.tool().to_owned(),
            version: file.tool_version,
        });
        summaries.push(summary);
    }
    if run.cases.is_empty() {
        return Err(ImportError::Empty { files: summaries.into_iter().map(|s| s.file).collect() });
    }
    debug_assert!(run.validate().is_ok(), "importers build valid runs: {:?}", run.validate());
    Ok((run, ImportSummary { files: summaries }))
}

/// A measured case with its samples in nanoseconds.
fn measured(bench: &str, params: Params, samples_ns: Vec<f64>) -> CaseResult {
    let mut case = unmeasured(bench, params, CaseStatus::Ok, None);
    case.samples_ns = samples_ns;
    case
}

/// A measured case of which the tool kept only a summary.
fn summarized(bench: &str, params: Params, summary: ToolSummary) -> CaseResult {
    let mut case = unmeasured(bench, params, CaseStatus::Ok, None);
    case.summary = Some(summary);
    case
}

/// A case without samples: failed, skipped, or (filled in by the callers above) measured.
fn unmeasured(bench: &str, params: Params, status: CaseStatus, error: Option<String>) -> CaseResult {
    let id = CaseId::new(bench, &params);
    let mut case = CaseResult::not_measured(id, bench, params, status, String::new());
    case.error = error;
    case
}

/// A tool's timestamp as RFC 3339 in UTC to the second (`2026-12-01T14:07:27Z`), when it parses.
fn timestamp(text: &str) -> Option<String> {
    let parsed: jiff::Timestamp = text.trim().parse().ok()?;
    Some(parsed.round(jiff::Unit::Second).unwrap_or(parsed).to_string())
}

/// Nanoseconds per unit of a time unit name, in the spellings the tools use.
fn ns_per(unit: &str) -> Option<f64> {
    match unit {
        "ns" | "nanoseconds" => Some(1.0),
        "us" | "µs" | "microseconds" => Some(1e3),
        "ms" | "milliseconds" => Some(1e6),
        "s" | "seconds" => Some(1e9),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_normalised_to_utc_seconds() {
        assert_eq!(timestamp("2026-12-01T14:07:27+00:00").as_deref(), Some("2026-12-01T14:07:27Z"));
        assert_eq!(timestamp("2026-12-01T14:07:39.967408+00:00").as_deref(), Some("2026-12-01T14:07:40Z"));
        assert_eq!(timestamp("2022-12-23 12:11:26.411558+00:00").as_deref(), Some("2022-12-23T12:11:26Z"));
        assert_eq!(timestamp("2026-12-01T16:00:00+02:00").as_deref(), Some("2026-12-01T14:00:00Z"));
        assert_eq!(timestamp("yesterday"), None);
    }

    #[test]
    fn format_names_round_trip() {
        for format in Format::ALL {
            assert_eq!(format.as_str().parse::<Format>().unwrap(), format);
        }
        assert!("auto".parse::<Format>().unwrap_err().to_string().contains("kernel-tuner"));
    }
}
