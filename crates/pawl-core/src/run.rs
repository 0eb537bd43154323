//! Run files (`pawl-run/1`): what `pawl run` measured, with raw samples and the environment.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::case::CaseId;
use crate::files::{self, FileError};
use crate::plan::PlannedCase;
use crate::shard::{Shard, ShardInfo};
use crate::suite::MeasureSettings;
use crate::value::Params;

/// Schema tag of run files.
pub const RUN_SCHEMA: &str = "pawl-run/1";

/// Everything one `pawl run` measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Run {
    /// `pawl-run/1`: the kind of file and its major version.
    #[schemars(pattern(r"^pawl-run/1(\.[0-9]+)*$"))]
    pub schema: String,
    pub suite: String,
    /// When the run started (RFC 3339, UTC).
    pub timestamp: String,
    pub git: Option<GitInfo>,
    pub env: Environment,
    /// How pawl measures; for an imported run (see `imported`), pawl's defaults, which describe nothing
    /// about how the other tool took its samples.
    pub settings: MeasureSettings,
    pub cases: Vec<CaseResult>,
    /// What went wrong without failing a case (a harness that broke its protocol, say).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<RunWarning>,
    /// The files `pawl import` read this run from, with the tool that wrote each; empty for a run pawl
    /// measured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub imported: Vec<ImportedFrom>,
    /// Wall-clock seconds the measuring took (the time it held the machine), for the cost of a check; for
    /// a merged run, the sum over its parts (each runner's machine time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure_seconds: Option<f64>,
    /// Which shard of the suite's selected cases this run measured (`--shard i/n`); `None` for a whole
    /// run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// The runs this one was joined from by `pawl merge`, in the order their cases were taken; empty for
    /// a run measured as a whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<RunPart>,
}

/// One of the runs a merged run was joined from: where and when it was measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunPart {
    /// The file as named on the command line.
    pub file: String,
    pub hostname: String,
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// How many cases it brought.
    pub cases: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure_seconds: Option<f64>,
}

/// Something a reader of a run should know that is no case's result: a harness printed something that
/// is not an answer, answered twice, or answered a request it was never sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunWarning {
    /// The case being measured when it happened, if any.
    pub case: Option<CaseId>,
    pub message: String,
}

impl Run {
    pub fn new(
        suite: impl Into<String>,
        timestamp: impl Into<String>,
        env: Environment,
        settings: MeasureSettings,
    ) -> Run {
        Run {
            schema: RUN_SCHEMA.to_owned(),
            suite: suite.into(),
            timestamp: timestamp.into(),
            git: None,
            env,
            settings,
            cases: Vec::new(),
            warnings: Vec::new(),
            imported: Vec::new(),
            measure_seconds: None,
            shard: None,
            parts: Vec::new(),
        }
    }

    /// Reads and validates a run file: schema, finite positive samples, unique case ids.
    pub fn load(path: &Path) -> Result<Run, FileError> {
        let text = files::read_text(path)?;
        Run::parse(&text, path)
    }

    /// As [`Run::load`], on text already read; `path` is used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Run, FileError> {
        let run: Run = files::parse_versioned(text, path, RUN_SCHEMA)?;
        run.validate().map_err(|message| FileError::Invalid { path: path.to_owned(), message })?;
        Ok(run)
    }

    /// Writes the run file atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<(), FileError> {
        files::write_json_atomic(path, self)
    }

    pub fn case(&self, id: &CaseId) -> Option<&CaseResult> {
        self.cases.iter().find(|c| &c.id == id)
    }

    /// Checks what serde cannot: every sample finite and positive, ids unique, a case measured (status
    /// `ok`) with samples or, for an imported aggregate, a summary in their place.
    pub fn validate(&self) -> Result<(), String> {
        let seconds = |what: &str, value: Option<f64>| match value {
            Some(v) if !v.is_finite() || v < 0.0 => {
                Err(format!("{what} is {v}; seconds must be finite and not negative"))
            }
            _ => Ok(()),
        };
        seconds("measure_seconds", self.measure_seconds)?;
        if let Some(shard) = &self.shard {
            crate::shard::Shard::new(shard.shard.index, shard.shard.count)
                .map_err(|e| format!("shard: {e}"))?;
        }
        let mut seen = std::collections::HashSet::new();
        for case in &self.cases {
            if !seen.insert(&case.id) {
                return Err(format!(
                    "case `{}` appears more than once; each case id must be unique",
                    case.id
                ));
            }
            seconds(&format!("case `{}`: elapsed_s", case.id), case.elapsed_s)?;
            if let Some(bad) = case.samples_ns.iter().find(|s| !s.is_finite() || **s <= 0.0) {
                return Err(format!(
                    "case `{}` has the sample {bad}; samples must be finite and positive nanoseconds",
                    case.id
                ));
            }
            match (&case.summary, case.status, case.samples_ns.is_empty()) {
                (None, CaseStatus::Ok, true) => {
                    return Err(format!("case `{}` has status ok but no samples", case.id));
                }
                (Some(_), CaseStatus::Ok, false) => {
                    return Err(format!(
                        "case `{}` has both samples and a summary; a summary stands in for samples only \
                         where the tool that measured the case kept none",
                        case.id
                    ));
                }
                (Some(_), status, _) if status != CaseStatus::Ok => {
                    return Err(format!(
                        "case `{}` has status {} and a summary; only a measured case (status ok) has one",
                        case.id,
                        status.as_str()
                    ));
                }
                (Some(summary), _, _) => {
                    summary.validate().map_err(|problem| format!("case `{}`: summary {problem}", case.id))?;
                }
                (None, _, _) => {}
            }
        }
        Ok(())
    }
}

/// The git state the run measured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GitInfo {
    pub commit: String,
    pub branch: Option<String>,
    /// The working tree had uncommitted changes.
    pub dirty: bool,
}

/// What timed a GPU run's samples. Figures taken by different clocks are not comparable (events read
/// the launch's overhead too), so the clock is part of the [`Testbed`](crate::baseline::Testbed).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Clock {
    /// A pair of CUDA events around the launch: the kernel plus the launch's own overhead (about 2.5 µs
    /// on the H200, and 0.1–0.2 µs more in some processes than in others). What runs without CUPTI
    /// used, and what every file written before the clock was recorded holds.
    #[default]
    Events,
    /// The GPU's own start and end timestamps of the kernel, as CUPTI's activity records report them
    /// (what Nsight Systems shows).
    Kernel,
}

impl Clock {
    pub fn is_events(&self) -> bool {
        *self == Clock::Events
    }
}

/// The machine and GPU a run measured on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Environment {
    pub pawl_version: String,
    pub hostname: String,
    /// `None` when no GPU was visible (a run of `command` benches replaying recorded samples, say).
    pub gpu: Option<GpuInfo>,
    /// What timed the GPU's samples (`events` where the file does not say: files from before it was
    /// recorded were timed with events).
    #[serde(default)]
    pub clock: Clock,
    /// Clocks when the run started and ended.
    pub clocks_start: Option<Clocks>,
    pub clocks_end: Option<Clocks>,
    /// Every throttle reason seen during the run (NVML names, such as `sw_thermal_slowdown`).
    #[serde(default)]
    pub throttle_reasons_seen: Vec<String>,
    /// The GPU's measured ceilings (`pawl ceilings`), where they were measured on this GPU and driver
    /// before the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceilings: Option<crate::ceilings::Ceilings>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GpuInfo {
    pub name: String,
    pub uuid: String,
    /// `"9.0"` for Hopper.
    pub compute_capability: String,
    pub sm_count: u32,
    pub l2_bytes: u64,
    pub memory_bytes: u64,
    /// Driver version as the driver reports it (`"580.159.04"`).
    pub driver_version: String,
    /// CUDA version the driver supports (`"13.0"`).
    pub cuda_version: String,
    /// NVRTC version used to compile kernels, when any was.
    pub nvrtc_version: Option<String>,
    pub max_sm_clock_mhz: Option<u32>,
}

impl GpuInfo {
    /// A GPU known by its name alone (what another tool's results say of it), every other fact unknown.
    pub fn named(name: impl Into<String>) -> GpuInfo {
        GpuInfo {
            name: name.into(),
            uuid: String::new(),
            compute_capability: String::new(),
            sm_count: 0,
            l2_bytes: 0,
            memory_bytes: 0,
            driver_version: String::new(),
            cuda_version: String::new(),
            nvrtc_version: None,
            max_sm_clock_mhz: None,
        }
    }
}

/// A reading of the GPU's clocks and state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Clocks {
    pub sm_mhz: u32,
    pub memory_mhz: u32,
    pub temperature_c: Option<u32>,
    pub power_w: Option<f64>,
    #[serde(default)]
    pub throttle_reasons: Vec<String>,
}

/// What became of one case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    /// Measured.
    Ok,
    /// Could not be measured: compile error, fault, crashed harness, bad answer.
    Failed,
    /// Its output did not match the reference; not timed.
    Wrong,
    /// Ran past its time limit.
    Timeout,
    /// Not measured on purpose (a filter, a constraint, or identical code in A/B mode).
    Skipped,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Ok => "ok",
            CaseStatus::Failed => "failed",
            CaseStatus::Wrong => "wrong",
            CaseStatus::Timeout => "timeout",
            CaseStatus::Skipped => "skipped",
        }
    }
}

/// One case of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaseResult {
    pub id: CaseId,
    pub bench: String,
    pub params: Params,
    /// Tune values the kernel was compiled with.
    #[serde(default)]
    pub tune: Params,
    pub status: CaseStatus,
    pub error: Option<String>,
    /// Every timed sample, in nanoseconds, in the order taken.
    pub samples_ns: Vec<f64>,
    pub flops: Option<f64>,
    pub bytes: Option<f64>,
    pub correctness: Option<Correctness>,
    /// Summary statistics of `samples_ns`, computed when the run was written.
    pub stats: Option<SampleStats>,
    /// SM clock (MHz) per sample or per batch, where recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sm_clock_mhz: Vec<u32>,
    /// Samples taken while the GPU reported a throttle reason.
    #[serde(default)]
    pub throttled_samples: usize,
    /// How the samples were taken (`cold` with L2 flushed, `warm`, `graph` batches).
    pub timing: Option<String>,
    /// Compiler facts of the kernel (registers, shared memory, spills).
    pub kernel: Option<KernelInfo>,
    /// What another tool reported in place of samples it did not keep (an imported aggregate). Such a
    /// case has status `ok` and no samples; comparisons say it cannot be judged rather than invent an
    /// interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<ToolSummary>,
    /// The UUID of the GPU the case ran on (`GPU-…`, as NVML and `nvidia-smi -L` show it), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_uuid: Option<String>,
    /// Wall-clock seconds measuring the case took (preparing, checking, warming up, timing): what a later
    /// run hands out longest-first and balances shards on (`--estimates`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_s: Option<f64>,
    /// The case's position among all the selected cases of the suite, in suite order, recorded by a
    /// shard (`--shard`) so that `pawl merge` puts the shards' cases back in suite order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_index: Option<usize>,
}

impl CaseResult {
    /// A planned case before measuring: its identity and work, no samples yet.
    pub fn planned(case: &PlannedCase, status: CaseStatus) -> CaseResult {
        let mut result = CaseResult::not_measured(
            case.case.id.clone(),
            &case.case.bench,
            case.case.params.clone(),
            status,
            "",
        );
        result.error = None;
        result.tune = case.tune.clone();
        result.flops = case.flops;
        result.bytes = case.bytes;
        result
    }

    /// A case that was not measured, with the reason.
    pub fn not_measured(
        id: CaseId,
        bench: impl Into<String>,
        params: Params,
        status: CaseStatus,
        error: impl Into<String>,
    ) -> CaseResult {
        CaseResult {
            id,
            bench: bench.into(),
            params,
            tune: Params::new(),
            status,
            error: Some(error.into()),
            samples_ns: Vec::new(),
            flops: None,
            bytes: None,
            correctness: None,
            stats: None,
            sm_clock_mhz: Vec::new(),
            throttled_samples: 0,
            timing: None,
            kernel: None,
            summary: None,
            gpu_uuid: None,
            elapsed_s: None,
            plan_index: None,
        }
    }

    /// Whether the case stands on a tool's summary alone, with no samples to compare.
    pub fn is_summary_only(&self) -> bool {
        self.samples_ns.is_empty() && self.summary.is_some()
    }
}

/// Summary figures another tool reported for a case whose individual samples it did not keep (Google
/// Benchmark's aggregates-only output, an nvbench file without its per-sample files). Kept as the tool
/// wrote them, in nanoseconds; never turned into samples.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolSummary {
    /// How many samples (repetitions) the tool summarised, where it says.
    pub samples: Option<u64>,
    pub mean_ns: Option<f64>,
    pub median_ns: Option<f64>,
    pub stddev_ns: Option<f64>,
    pub min_ns: Option<f64>,
    pub max_ns: Option<f64>,
}

impl ToolSummary {
    /// The figure that best stands for the case: the median where the tool gave one, else the mean.
    pub fn center_ns(&self) -> Option<f64> {
        self.median_ns.or(self.mean_ns)
    }

    /// A mean or a median, every time finite and positive (a spread of zero allowed).
    fn validate(&self) -> Result<(), String> {
        if self.center_ns().is_none() {
            return Err("has neither a mean nor a median".to_owned());
        }
        let times = [
            ("mean_ns", self.mean_ns),
            ("median_ns", self.median_ns),
            ("min_ns", self.min_ns),
            ("max_ns", self.max_ns),
        ];
        for (name, value) in times {
            if let Some(v) = value.filter(|v| !v.is_finite() || *v <= 0.0) {
                return Err(format!("{name} is {v}; times must be finite and positive nanoseconds"));
            }
        }
        if let Some(v) = self.stddev_ns.filter(|v| !v.is_finite() || *v < 0.0) {
            return Err(format!("stddev_ns is {v}; a spread must be finite and not negative"));
        }
        Ok(())
    }
}

/// A file a run was imported from: where it was and which tool wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImportedFrom {
    /// The file as named on the command line.
    pub file: String,
    /// `nvbench`, `google-benchmark`, `kernel-tuner` or `pytest-benchmark`.
    pub tool: String,
    /// The tool's version as the file records it (for Kernel Tuner results files, their schema's).
    pub version: Option<String>,
}

/// How a kernel's output compared with its reference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Correctness {
    pub max_abs_error: f64,
    pub max_rel_error: f64,
    /// ‖out − ref‖₂ / ‖ref‖₂ over all output elements.
    pub norm_rel_error: f64,
    /// Elements outside `atol + rtol·|ref|`.
    pub mismatches: u64,
    /// NaN or infinite elements where the reference is finite.
    #[serde(default)]
    pub non_finite: u64,
    /// Elements still holding the poison pattern: never written.
    #[serde(default)]
    pub unwritten: u64,
    pub elements: u64,
    pub rtol: f64,
    pub atol: f64,
}

/// Summary of a case's samples (see `stats`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SampleStats {
    pub n: usize,
    pub median_ns: f64,
    pub ci_low_ns: f64,
    pub ci_high_ns: f64,
    pub confidence: f64,
    pub mean_ns: f64,
    pub min_ns: f64,
    pub max_ns: f64,
    /// Median absolute deviation over the median.
    pub rel_mad: f64,
    /// Samples outside Tukey's fences (1.5 IQR), reported, never dropped.
    pub outliers_low: usize,
    pub outliers_high: usize,
}

/// Resource use of a compiled kernel, read from the loaded function.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KernelInfo {
    pub registers: u32,
    pub static_shared_bytes: u32,
    pub dynamic_shared_bytes: u32,
    /// Thread-local memory per thread: spills and local arrays.
    pub local_bytes: u32,
    pub max_threads_per_block: u32,
    pub grid: [u32; 3],
    pub block: [u32; 3],
    /// The `-D NAME=value` defines it was compiled with (tune values and the bench's `defines`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defines: Vec<String>,
}
