//! Run files (`pawl-run/1`): what `pawl run` measured, with raw samples and the environment.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::case::CaseId;
use crate::files::{self, FileError};
use crate::suite::MeasureSettings;
use crate::value::Params;

/// Schema tag of run files.
pub const RUN_SCHEMA: &str = "pawl-run/1";

/// Everything one `pawl run` measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub schema: String,
    pub suite: String,
    /// When the run started (RFC 3339, UTC).
    pub timestamp: String,
    pub git: Option<GitInfo>,
    pub env: Environment,
    pub settings: MeasureSettings,
    pub cases: Vec<CaseResult>,
    /// Wall-clock seconds the measuring took (the time it held the GPU), for the cost of a check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure_seconds: Option<f64>,
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
            measure_seconds: None,
        }
    }

    /// Reads and validates a run file: schema, finite positive samples, unique case ids.
    pub fn load(path: &Path) -> Result<Run, FileError> {
        let run: Run = files::read_versioned(path, RUN_SCHEMA)?;
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

    /// Checks what serde cannot: every sample finite and positive, ids unique.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for case in &self.cases {
            if !seen.insert(&case.id) {
                return Err(format!(
                    "case `{}` appears more than once; each case id must be unique",
                    case.id
                ));
            }
            if let Some(bad) = case.samples_ns.iter().find(|s| !s.is_finite() || **s <= 0.0) {
                return Err(format!(
                    "case `{}` has the sample {bad}; samples must be finite and positive nanoseconds",
                    case.id
                ));
            }
            if case.status == CaseStatus::Ok && case.samples_ns.is_empty() {
                return Err(format!("case `{}` has status ok but no samples", case.id));
            }
        }
        Ok(())
    }
}

/// The git state the run measured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitInfo {
    pub commit: String,
    pub branch: Option<String>,
    /// The working tree had uncommitted changes.
    pub dirty: bool,
}

/// The machine and GPU a run measured on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub pawl_version: String,
    pub hostname: String,
    /// `None` when no GPU was visible (a run of `command` benches replaying recorded samples, say).
    pub gpu: Option<GpuInfo>,
    /// Clocks when the run started and ended.
    pub clocks_start: Option<Clocks>,
    pub clocks_end: Option<Clocks>,
    /// Every throttle reason seen during the run (NVML names, such as `sw_thermal_slowdown`).
    #[serde(default)]
    pub throttle_reasons_seen: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// A reading of the GPU's clocks and state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clocks {
    pub sm_mhz: u32,
    pub memory_mhz: u32,
    pub temperature_c: Option<u32>,
    pub power_w: Option<f64>,
    #[serde(default)]
    pub throttle_reasons: Vec<String>,
}

/// What became of one case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
}

impl CaseResult {
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
        }
    }
}

/// How a kernel's output compared with its reference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Correctness {
    pub max_abs_error: f64,
    pub max_rel_error: f64,
    /// ‖out − ref‖₂ / ‖ref‖₂ over all output elements.
    pub norm_rel_error: f64,
    /// Elements outside `atol + rtol·|ref|`.
    pub mismatches: u64,
    /// NaN or infinite elements where the reference is finite.
    pub non_finite: u64,
    /// Elements still holding the poison pattern: never written.
    pub unwritten: u64,
    pub elements: u64,
    pub rtol: f64,
    pub atol: f64,
}

/// Summary of a case's samples (see `stats`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
