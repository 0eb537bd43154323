//! Suites: what `pawl.toml` describes, validated and ready to expand into cases.
//!
//! [`Suite::load`] reads and validates a suite file; [`Suite::cases`] expands every bench's sweep
//! (the cartesian product of its `params`, filtered by its `where` expression) into [`Case`]s.

pub mod edit;
mod expand;
pub mod limits;
mod parse;

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::case::Case;
use crate::expr::{Expr, ExprError};
use crate::value::{Params, Value};

pub use limits::OutOfRange;
pub use parse::SuiteError;

/// A validated suite file.
#[derive(Clone, Debug)]
pub struct Suite {
    /// The file it was read from.
    pub path: PathBuf,
    pub name: String,
    /// Baseline file, resolved against the suite file's folder.
    pub baseline: Option<PathBuf>,
    /// Where every run is recorded, when the suite names a history.
    pub history: Option<HistoryLocation>,
    pub thresholds: Thresholds,
    pub measure: MeasureSettings,
    /// The GPU machine's price per hour in US dollars, for the cost of a check (`[suite]
    /// gpu_price_per_hour`).
    pub gpu_price_per_hour: Option<f64>,
    pub benches: Vec<Bench>,
}

impl Suite {
    /// Reads and validates a suite file. Errors name the file, the line and what to do.
    pub fn load(path: &Path) -> Result<Suite, SuiteError> {
        parse::load(path)
    }

    /// Parses suite text; `path` is used for messages and to resolve relative paths.
    pub fn from_str(text: &str, path: &Path) -> Result<Suite, SuiteError> {
        parse::parse(text, path)
    }

    /// The folder relative paths in the suite are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    pub fn bench(&self, name: &str) -> Option<&Bench> {
        self.benches.iter().find(|b| b.name == name)
    }

    /// Every case of every bench, in declaration order.
    pub fn cases(&self) -> Result<Vec<Case>, SuiteError> {
        let mut all = Vec::new();
        for bench in &self.benches {
            all.extend(bench.cases()?);
        }
        Ok(all)
    }
}

/// Where a suite's history of runs is kept (`history = ...` in `[suite]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryLocation {
    /// A SQLite file, resolved against the suite file's folder.
    File(PathBuf),
    /// A database server's URL (`postgres://host/db`), as written: anything with `://`.
    Url(String),
}

impl HistoryLocation {
    /// Reads a `history` value: a URL when it has a scheme (`postgres://`), else a path relative to `dir`.
    pub fn parse(text: &str, dir: &Path) -> HistoryLocation {
        if text.contains("://") {
            HistoryLocation::Url(text.to_owned())
        } else {
            HistoryLocation::File(dir.join(text))
        }
    }
}

/// When a difference counts: from `[suite]` or command-line flags.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// Relative change below which a difference is not reported as a regression (default 0.02).
    pub tolerance: f64,
    /// Confidence level of intervals and decisions (default 0.99).
    pub confidence: f64,
    /// Allowance for drift between processes, added when comparing with a stored baseline (default 0.01).
    pub drift: f64,
    /// The same allowance in nanoseconds, used where it is the larger (default 250). A kernel of a few
    /// microseconds shifts by 0.1–0.2 µs between processes on an H100 (docs/measurement.md), which is
    /// several percent of it; 250 ns is 1% of a 25 µs kernel, so longer kernels keep the relative one.
    pub drift_ns: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { tolerance: 0.02, confidence: 0.99, drift: 0.01, drift_ns: 250.0 }
    }
}

impl Thresholds {
    /// Thresholds whose every field lies in its range (see [`limits`]).
    pub fn new(tolerance: f64, confidence: f64, drift: f64, drift_ns: f64) -> Result<Thresholds, OutOfRange> {
        let thresholds = Thresholds { tolerance, confidence, drift, drift_ns };
        thresholds.validate()?;
        Ok(thresholds)
    }

    /// Checks every field against its range; the error names the first field outside it by its suite
    /// key. The suite file, the command-line flags and the comparison all check through here.
    pub fn validate(&self) -> Result<(), OutOfRange> {
        limits::TOLERANCE.check(self.tolerance)?;
        limits::CONFIDENCE.check(self.confidence)?;
        limits::DRIFT.check(self.drift)?;
        limits::DRIFT_NS.check(self.drift_ns)?;
        Ok(())
    }
}

/// How each case is measured: from `[suite.measure]` or command-line flags.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct MeasureSettings {
    /// Stop when the median's confidence interval is within ± this fraction (default 0.005).
    pub target_rel_ci: f64,
    /// Never stop with fewer samples than this (default 20).
    pub min_samples: usize,
    /// Never take more samples than this (default 10,000).
    pub max_samples: usize,
    /// Time cap per case in seconds of sampling, once `min_samples` are taken (default 5).
    pub max_time_s: f64,
    /// Minimum warm-up per case in milliseconds, before the clocks are checked (default 100).
    pub warmup_ms: f64,
    /// Leave L2 warm between samples instead of flushing it (default false).
    pub warm_cache: bool,
    /// A case (or a command bench process) running longer than this is stopped and failed (default 60).
    pub timeout_s: f64,
    /// Seed of every random input; recorded in the run file (default 0).
    pub seed: u64,
    /// Time CUDA kernels as back-to-back launches replayed from a CUDA graph (warm-cache throughput per
    /// launch) instead of single cold launches (`--graph`; default false).
    #[serde(default)]
    pub graph: bool,
}

impl MeasureSettings {
    /// Checks every field against its range, and `max_samples` against `min_samples`; the error names
    /// the first field outside its range by its suite key.
    pub fn validate(&self) -> Result<(), OutOfRange> {
        limits::TARGET_REL_CI.check(self.target_rel_ci)?;
        limits::MIN_SAMPLES.check_count(self.min_samples)?;
        limits::MAX_SAMPLES.check_count(self.max_samples)?;
        if self.max_samples < self.min_samples {
            return Err(OutOfRange {
                name: limits::MAX_SAMPLES.key.to_owned(),
                value: self.max_samples.to_string(),
                allowed: format!(
                    "at least min_samples ({}); raise max_samples or lower min_samples",
                    self.min_samples
                ),
            });
        }
        limits::MAX_TIME_S.check(self.max_time_s)?;
        limits::WARMUP_MS.check(self.warmup_ms)?;
        limits::TIMEOUT_S.check(self.timeout_s)?;
        Ok(())
    }
}

impl Default for MeasureSettings {
    fn default() -> Self {
        MeasureSettings {
            target_rel_ci: 0.005,
            min_samples: 20,
            max_samples: 10_000,
            max_time_s: 5.0,
            warmup_ms: 100.0,
            warm_cache: false,
            timeout_s: 60.0,
            seed: 0,
            graph: false,
        }
    }
}

/// One `[[bench]]` table: a family of cases.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Bench {
    pub name: String,
    /// Sweep axes in declaration order, each with its values.
    pub params: Vec<(String, Vec<Value>)>,
    /// Keeps only the points of the sweep for which this is true.
    pub filter: Option<Expr>,
    /// FLOPs of one launch, for TFLOP/s.
    pub flops: Option<Expr>,
    /// Minimum bytes moved by one launch, for GB/s.
    pub bytes: Option<Expr>,
    /// Parameters autotuning may change (a cuda bench's `-D` defines, a command bench's argv
    /// placeholders and `prepare` values), each with its default and candidates.
    #[serde(default)]
    pub tune: Vec<TuneParam>,
    /// Conditions over params and tune values that a tune configuration must meet.
    #[serde(default)]
    pub constraints: Vec<Expr>,
    pub kind: BenchKind,
}

impl Bench {
    /// The cases of this bench: the cartesian product of its params, in declaration order, filtered.
    pub fn cases(&self) -> Result<Vec<Case>, SuiteError> {
        expand::cases(self)
    }
}

// A suite holds a handful of benches, built once: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum BenchKind {
    Cuda(CudaBench),
    Command(CommandBench),
}

/// A kernel compiled by pawl with NVRTC and launched on the GPU.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CudaBench {
    /// The `.cu` file, resolved against the suite's folder.
    pub source: PathBuf,
    /// The entry point (an `extern "C" __global__` function).
    pub kernel: String,
    /// Include folders, resolved against the suite's folder.
    pub include_dirs: Vec<PathBuf>,
    /// Extra NVRTC options, passed as they are.
    pub extra_flags: Vec<String>,
    /// `-D NAME=value` defines computed from the params (`HEAD_DIM = "D"`); the bench's tune values are
    /// passed as `-D` defines too.
    pub defines: Vec<(String, Expr)>,
    pub launch: Launch,
    pub args: Vec<Arg>,
    pub reference: Option<Reference>,
}

/// Launch geometry: expressions over params and tune values.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Launch {
    /// Grid size, x then y then z (missing dimensions are 1).
    pub grid: Vec<Expr>,
    /// Block size, x then y then z (missing dimensions are 1).
    pub block: Vec<Expr>,
    /// Dynamic shared memory in bytes (default 0).
    pub shared_mem: Option<Expr>,
}

/// A tune parameter: the value `pawl run` uses, and the values autotuning may try.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TuneParam {
    pub name: String,
    pub default: TuneDefault,
    /// Values autotuning may try; every case's default is among them.
    pub candidates: Vec<Value>,
}

impl TuneParam {
    /// The default of one case: the value, or the expression evaluated over the case's params.
    pub fn default_for(&self, params: &Params) -> Result<Value, ExprError> {
        match &self.default {
            TuneDefault::Value(value) => Ok(value.clone()),
            TuneDefault::Expr(expr) => expr.eval(params),
        }
    }

    /// Whether autotuning has anything to try.
    pub fn is_tunable(&self) -> bool {
        self.candidates.len() > 1
    }
}

/// A tune parameter's default: one value for every case, or an expression over the params, so that
/// different sizes may use different values (`"if D == 128 { 64 } else { 128 }"`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TuneDefault {
    Value(Value),
    Expr(Expr),
}

/// One kernel argument, in the order the kernel takes them.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Arg {
    Buffer(BufferArg),
    Scalar(ScalarArg),
}

impl Arg {
    pub fn name(&self) -> &str {
        match self {
            Arg::Buffer(buffer) => &buffer.name,
            Arg::Scalar(scalar) => &scalar.name,
        }
    }
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct BufferArg {
    pub name: String,
    /// Element type; may name a param in braces (`"{dtype}"`), resolved per case.
    pub dtype: DtypeSpec,
    /// Number of elements.
    pub count: Expr,
    pub init: Init,
    /// Written by the kernel and compared with the reference's.
    pub output: bool,
    /// Filled again from `init` before every launch, outside the timed events and before the L2 flush:
    /// for kernels that accumulate into their output (atomics, split-K) or update a buffer in place.
    #[serde(default)]
    pub reset: bool,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ScalarArg {
    pub name: String,
    pub dtype: DtypeSpec,
    pub value: Expr,
}

/// A dtype written literally (`"f16"`) or taken from a param (`"{dtype}"`); serialized as written.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum DtypeSpec {
    Fixed(Dtype),
    FromParam(String),
}

impl From<DtypeSpec> for String {
    fn from(spec: DtypeSpec) -> String {
        match spec {
            DtypeSpec::Fixed(dtype) => dtype.name().to_owned(),
            DtypeSpec::FromParam(name) => format!("{{{name}}}"),
        }
    }
}

impl TryFrom<String> for DtypeSpec {
    type Error = String;
    fn try_from(text: String) -> Result<DtypeSpec, String> {
        match text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            Some(param) => Ok(DtypeSpec::FromParam(param.to_owned())),
            None => text.parse().map(DtypeSpec::Fixed),
        }
    }
}

impl DtypeSpec {
    /// The dtype of one case; `None` when the param is missing or does not name a dtype.
    pub fn resolve(&self, params: &Params) -> Option<Dtype> {
        match self {
            DtypeSpec::Fixed(dtype) => Some(*dtype),
            DtypeSpec::FromParam(name) => params.get(name)?.as_str()?.parse().ok(),
        }
    }
}

/// Element types of buffers and scalars.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    F32,
    F16,
    Bf16,
    F64,
    I32,
    I64,
    U32,
    U8,
}

impl Dtype {
    pub const ALL: [Dtype; 8] =
        [Dtype::F32, Dtype::F16, Dtype::Bf16, Dtype::F64, Dtype::I32, Dtype::I64, Dtype::U32, Dtype::U8];

    pub fn size_bytes(self) -> usize {
        match self {
            Dtype::U8 => 1,
            Dtype::F16 | Dtype::Bf16 => 2,
            Dtype::F32 | Dtype::I32 | Dtype::U32 => 4,
            Dtype::F64 | Dtype::I64 => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::Bf16 => "bf16",
            Dtype::F64 => "f64",
            Dtype::I32 => "i32",
            Dtype::I64 => "i64",
            Dtype::U32 => "u32",
            Dtype::U8 => "u8",
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, Dtype::F32 | Dtype::F16 | Dtype::Bf16 | Dtype::F64)
    }
}

impl std::fmt::Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Dtype {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dtype::ALL.into_iter().find(|d| d.name() == s).ok_or_else(|| {
            let names: Vec<_> = Dtype::ALL.iter().map(|d| d.name()).collect();
            format!("unknown dtype `{s}`; expected one of {}", names.join(", "))
        })
    }
}

/// How a buffer is filled before the first launch, on the device, from the run's seed.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "init", rename_all = "lowercase")]
pub enum Init {
    /// Normal distribution.
    Randn { mean: f64, std: f64 },
    /// Uniform on `[low, high)`.
    Uniform { low: f64, high: f64 },
    /// Element `i` holds `i` (modulo what the dtype can hold).
    Index,
    /// All zero; only for outputs (inputs of zeros hide bugs and time unrealistically).
    Zeros,
}

/// The kernel whose output the benchmarked kernel must match.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Reference {
    /// Defaults to the bench's source.
    pub source: PathBuf,
    pub kernel: String,
    pub defines: Vec<(String, Expr)>,
    pub launch: Launch,
    /// Relative tolerance per element; an expression so it may depend on the dtype.
    pub rtol: Expr,
    /// Absolute tolerance per element.
    pub atol: Expr,
}

/// An external process speaking the harness protocol (see `harness`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CommandBench {
    /// Argv template: `{NAME}` is replaced by the case's param or tune value `NAME`.
    pub run: Vec<String>,
    /// Working folder of the process: the suite's folder.
    pub cwd: PathBuf,
    /// Seconds the process may run in all before it is stopped (default: the suite's `timeout_s`
    /// times the number of cases it was given).
    pub timeout_s: Option<f64>,
}

impl CommandBench {
    /// The argv of one case: every `{NAME}` replaced by `vars`' `NAME` (the case's params and tune
    /// values, [`PlannedCase::vars`](crate::plan::PlannedCase::vars)).
    ///
    /// Braces that do not hold a variable's name (`{"a": 1}`) are left as they are; loading the suite
    /// has checked that every placeholder names a param or a tune parameter.
    pub fn argv(&self, vars: &Params) -> Vec<String> {
        self.run
            .iter()
            .map(|word| {
                let mut out = String::with_capacity(word.len());
                let mut rest = 0;
                for (range, name) in placeholders(word) {
                    if let Some(value) = vars.get(name) {
                        out.push_str(&word[rest..range.start]);
                        out.push_str(&value.to_string());
                        rest = range.end;
                    }
                }
                out.push_str(&word[rest..]);
                out
            })
            .collect()
    }
}

/// The `{NAME}` placeholders of an argv word (`NAME` an identifier): each one's byte range and name.
fn placeholders(word: &str) -> impl Iterator<Item = (Range<usize>, &str)> {
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(open) = word[from..].find('{').map(|i| from + i) {
            let name_len = word[open + 1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(word.len() - open - 1);
            let name = &word[open + 1..open + 1 + name_len];
            let close = open + 1 + name_len;
            from = open + 1;
            let starts_well = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
            if starts_well && word[close..].starts_with('}') {
                from = close + 1;
                return Some((open..close + 1, name));
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_braced_identifiers() {
        let found: Vec<_> = placeholders("{S}x{dtype}{9}{}{a b}{\"k\": 1}{_y}").collect();
        assert_eq!(found, vec![(0..3, "S"), (4..11, "dtype"), (29..33, "_y")]);
        assert_eq!(placeholders("plain").count(), 0);
        assert_eq!(placeholders("{unclosed").count(), 0);
    }

    #[test]
    fn argv_substitutes_params() {
        let bench = CommandBench {
            run: vec!["python3".into(), "--size={S}".into(), "{backend}".into(), "{missing}".into()],
            cwd: PathBuf::from("."),
            timeout_s: None,
        };
        let mut params = Params::new();
        params.insert("S", Value::Int(512));
        params.insert("backend", Value::from("flash"));
        assert_eq!(bench.argv(&params), ["python3", "--size=512", "flash", "{missing}"]);
    }
}
