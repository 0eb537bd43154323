//! What the parent and the worker process say to each other: JSON, one message per line.
//!
//! The parent writes one [`Request`] line to the worker's standard input: the bench (in [`BenchSpec`],
//! its wire form, so the worker measures exactly what the parent planned even if `pawl.toml` changes
//! on disk meanwhile), the cases, the settings and the timing mode. The worker answers on standard
//! output with [`Message`] lines: `started` before each case, `result` after it, `progress` while it
//! runs, and `done` at the end, or one `fatal` when nothing can be measured (no GPU). After a fault that
//! leaves the CUDA context unusable the worker sends that case's result and exits; the parent starts a
//! fresh worker for the cases not yet started.

use std::path::PathBuf;

use pawl_core::backend::PlannedCase;
use pawl_core::case::{Case, CaseId};
use pawl_core::expr::{Expr, ExprError};
use pawl_core::run::CaseResult;
use pawl_core::suite::{
    Arg, BufferArg, CudaBench, DtypeSpec, Init, Launch, MeasureSettings, Reference, ScalarArg,
};
use pawl_core::value::Params;
use serde::{Deserialize, Serialize};

use crate::timing::TimingMode;

/// Parent → worker: everything needed to measure some cases of one bench.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub suite_path: PathBuf,
    pub bench_name: String,
    pub bench: BenchSpec,
    pub cases: Vec<WireCase>,
    pub settings: MeasureSettings,
    pub timing: TimingMode,
}

/// Worker → parent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// The worker begins this case; the watchdog's clock for it starts now.
    Started {
        case: CaseId,
    },
    /// What the case is doing (`compiling`, `checking`, `warming up`, `timing`): for progress display.
    Progress {
        case: CaseId,
        phase: String,
    },
    Result {
        result: Box<CaseResult>,
    },
    /// Every case of the request has a result.
    Done,
    /// Nothing can be measured in this process (no driver, no GPU).
    Fatal {
        message: String,
    },
}

impl Message {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"kind\":\"fatal\",\"message\":\"{e}\"}}"))
    }
}

/// A planned case on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireCase {
    pub id: CaseId,
    pub bench: String,
    pub params: Params,
    pub tune: Params,
    pub flops: Option<f64>,
    pub bytes: Option<f64>,
}

impl From<&PlannedCase> for WireCase {
    fn from(c: &PlannedCase) -> Self {
        WireCase {
            id: c.case.id.clone(),
            bench: c.case.bench.clone(),
            params: c.case.params.clone(),
            tune: c.tune.clone(),
            flops: c.flops,
            bytes: c.bytes,
        }
    }
}

impl From<WireCase> for PlannedCase {
    fn from(c: WireCase) -> Self {
        PlannedCase {
            case: Case { id: c.id, bench: c.bench, params: c.params },
            tune: c.tune,
            flops: c.flops,
            bytes: c.bytes,
        }
    }
}

/// A [`CudaBench`] with expressions as their source text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchSpec {
    pub source: PathBuf,
    pub kernel: String,
    pub include_dirs: Vec<PathBuf>,
    pub extra_flags: Vec<String>,
    pub defines: Vec<(String, String)>,
    pub launch: LaunchSpec,
    pub args: Vec<ArgSpec>,
    pub reference: Option<ReferenceSpec>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaunchSpec {
    pub grid: Vec<String>,
    pub block: Vec<String>,
    pub shared_mem: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arg", rename_all = "snake_case")]
pub enum ArgSpec {
    Buffer { name: String, dtype: String, count: String, init: InitSpec, output: bool },
    Scalar { name: String, dtype: String, value: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "init", rename_all = "snake_case")]
pub enum InitSpec {
    Randn { mean: f64, std: f64 },
    Uniform { low: f64, high: f64 },
    Index,
    Zeros,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReferenceSpec {
    pub source: PathBuf,
    pub kernel: String,
    pub defines: Vec<(String, String)>,
    pub launch: LaunchSpec,
    pub rtol: String,
    pub atol: String,
}

fn exprs(list: &[Expr]) -> Vec<String> {
    list.iter().map(|e| e.source().to_owned()).collect()
}

fn defines(list: &[(String, Expr)]) -> Vec<(String, String)> {
    list.iter().map(|(n, e)| (n.clone(), e.source().to_owned())).collect()
}

fn dtype_spec(spec: &DtypeSpec) -> String {
    match spec {
        DtypeSpec::Fixed(d) => d.name().to_owned(),
        DtypeSpec::FromParam(p) => format!("{{{p}}}"),
    }
}

fn parse_dtype_spec(text: &str) -> Result<DtypeSpec, String> {
    match text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        Some(param) => Ok(DtypeSpec::FromParam(param.to_owned())),
        None => text.parse().map(DtypeSpec::Fixed),
    }
}

impl From<&Launch> for LaunchSpec {
    fn from(l: &Launch) -> Self {
        LaunchSpec {
            grid: exprs(&l.grid),
            block: exprs(&l.block),
            shared_mem: l.shared_mem.as_ref().map(|e| e.source().to_owned()),
        }
    }
}

impl From<&CudaBench> for BenchSpec {
    fn from(b: &CudaBench) -> Self {
        BenchSpec {
            source: b.source.clone(),
            kernel: b.kernel.clone(),
            include_dirs: b.include_dirs.clone(),
            extra_flags: b.extra_flags.clone(),
            defines: defines(&b.defines),
            launch: (&b.launch).into(),
            args: b
                .args
                .iter()
                .map(|a| match a {
                    Arg::Buffer(x) => ArgSpec::Buffer {
                        name: x.name.clone(),
                        dtype: dtype_spec(&x.dtype),
                        count: x.count.source().to_owned(),
                        init: match x.init {
                            Init::Randn { mean, std } => InitSpec::Randn { mean, std },
                            Init::Uniform { low, high } => InitSpec::Uniform { low, high },
                            Init::Index => InitSpec::Index,
                            Init::Zeros => InitSpec::Zeros,
                        },
                        output: x.output,
                    },
                    Arg::Scalar(x) => ArgSpec::Scalar {
                        name: x.name.clone(),
                        dtype: dtype_spec(&x.dtype),
                        value: x.value.source().to_owned(),
                    },
                })
                .collect(),
            reference: b.reference.as_ref().map(|r| ReferenceSpec {
                source: r.source.clone(),
                kernel: r.kernel.clone(),
                defines: defines(&r.defines),
                launch: (&r.launch).into(),
                rtol: r.rtol.source().to_owned(),
                atol: r.atol.source().to_owned(),
            }),
        }
    }
}

/// A spec that does not turn back into a bench (a message from a different pawl version, say).
#[derive(Debug, thiserror::Error)]
#[error("the bench sent to the worker is invalid: {0}")]
pub struct SpecError(String);

impl From<ExprError> for SpecError {
    fn from(e: ExprError) -> Self {
        SpecError(e.to_string())
    }
}

fn parse_all(list: &[String]) -> Result<Vec<Expr>, SpecError> {
    list.iter().map(|s| Expr::parse(s).map_err(SpecError::from)).collect()
}

fn parse_defines(list: &[(String, String)]) -> Result<Vec<(String, Expr)>, SpecError> {
    list.iter().map(|(n, s)| Ok((n.clone(), Expr::parse(s)?))).collect()
}

impl LaunchSpec {
    fn to_launch(&self) -> Result<Launch, SpecError> {
        Ok(Launch {
            grid: parse_all(&self.grid)?,
            block: parse_all(&self.block)?,
            shared_mem: self.shared_mem.as_deref().map(Expr::parse).transpose()?,
        })
    }
}

impl BenchSpec {
    /// The bench again, expressions parsed. Tune candidates and constraints are not needed to measure
    /// (the tune values come with each case), so they are left empty.
    pub fn to_bench(&self) -> Result<CudaBench, SpecError> {
        let args = self
            .args
            .iter()
            .map(|a| {
                Ok(match a {
                    ArgSpec::Buffer { name, dtype, count, init, output } => Arg::Buffer(BufferArg {
                        name: name.clone(),
                        dtype: parse_dtype_spec(dtype).map_err(SpecError)?,
                        count: Expr::parse(count)?,
                        init: match *init {
                            InitSpec::Randn { mean, std } => Init::Randn { mean, std },
                            InitSpec::Uniform { low, high } => Init::Uniform { low, high },
                            InitSpec::Index => Init::Index,
                            InitSpec::Zeros => Init::Zeros,
                        },
                        output: *output,
                    }),
                    ArgSpec::Scalar { name, dtype, value } => Arg::Scalar(ScalarArg {
                        name: name.clone(),
                        dtype: parse_dtype_spec(dtype).map_err(SpecError)?,
                        value: Expr::parse(value)?,
                    }),
                })
            })
            .collect::<Result<_, SpecError>>()?;
        let reference = match &self.reference {
            None => None,
            Some(r) => Some(Reference {
                source: r.source.clone(),
                kernel: r.kernel.clone(),
                defines: parse_defines(&r.defines)?,
                launch: r.launch.to_launch()?,
                rtol: Expr::parse(&r.rtol)?,
                atol: Expr::parse(&r.atol)?,
            }),
        };
        Ok(CudaBench {
            source: self.source.clone(),
            kernel: self.kernel.clone(),
            include_dirs: self.include_dirs.clone(),
            extra_flags: self.extra_flags.clone(),
            defines: parse_defines(&self.defines)?,
            tune: Vec::new(),
            constraints: Vec::new(),
            launch: self.launch.to_launch()?,
            args,
            reference,
        })
    }
}

/// Parent → paired worker (`pawl ab`): the benches of both revisions, the matched cases, and how to
/// decide and when to stop. All cases are measured in this one worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedRequest {
    /// Root folders of the two revisions' files: paths under them are compared relative to them.
    pub base_root: PathBuf,
    pub head_root: PathBuf,
    /// Bench pairs (base, head); cases refer to them by index.
    pub benches: Vec<(BenchSpec, BenchSpec)>,
    pub cases: Vec<PairedWireCase>,
    pub settings: MeasureSettings,
    pub rule: pawl_core::paired::StopRule,
    /// The global budget of measuring time, in seconds.
    pub budget_s: f64,
    /// Measure cases whose code is identical on both sides instead of skipping them (A/A tests).
    pub measure_identical: bool,
}

/// One case matched by id across revisions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedWireCase {
    pub bench: usize,
    pub base: WireCase,
    pub head: WireCase,
}

/// Paired worker → parent. A case can be answered more than once (a later pass adds samples to an
/// undecided case); the last answer counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PairedMessage {
    Started { case: CaseId },
    Result { result: Box<PairedResult> },
    Done,
    Fatal { message: String },
}

impl PairedMessage {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"kind\":\"fatal\",\"message\":\"{e}\"}}"))
    }
}

/// What the paired worker found for one case so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedResult {
    pub id: CaseId,
    pub outcome: PairedWireOutcome,
    /// Seconds spent on this case so far (preparing, warming up and timing).
    pub elapsed_s: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PairedWireOutcome {
    Measured { samples: pawl_core::paired::PairedSamples, looks: usize, settled: pawl_core::paired::Settled },
    Identical,
    Failed { message: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use pawl_core::suite::Dtype;
    use pawl_core::value::Value;

    pub(crate) fn sample_bench() -> CudaBench {
        let e = |s: &str| Expr::parse(s).unwrap();
        CudaBench {
            source: "copy.cu".into(),
            kernel: "copy".into(),
            include_dirs: vec!["inc".into()],
            extra_flags: vec!["--use_fast_math".into()],
            defines: vec![("VEC".into(), e("4"))],
            tune: vec![],
            constraints: vec![],
            launch: Launch {
                grid: vec![e("ceil_div(N, 1024)")],
                block: vec![e("256")],
                shared_mem: Some(e("0")),
            },
            args: vec![
                Arg::Buffer(BufferArg {
                    name: "x".into(),
                    dtype: DtypeSpec::FromParam("dtype".into()),
                    count: e("N"),
                    init: Init::Randn { mean: 0.0, std: 1.0 },
                    output: false,
                }),
                Arg::Scalar(ScalarArg {
                    name: "n".into(),
                    dtype: DtypeSpec::Fixed(Dtype::I64),
                    value: e("N"),
                }),
            ],
            reference: Some(Reference {
                source: "copy.cu".into(),
                kernel: "copy_ref".into(),
                defines: vec![],
                launch: Launch { grid: vec![e("N")], block: vec![e("1")], shared_mem: None },
                rtol: e("0.0"),
                atol: e("0.0"),
            }),
        }
    }

    #[test]
    fn bench_round_trips_through_json() {
        let spec = BenchSpec::from(&sample_bench());
        let json = serde_json::to_string(&spec).unwrap();
        let back: BenchSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
        let bench = back.to_bench().unwrap();
        assert_eq!(BenchSpec::from(&bench), spec);
        assert!(json.contains(r#""dtype":"{dtype}""#), "{json}");
        let Arg::Buffer(x) = &bench.args[0] else { panic!("buffer expected") };
        assert_eq!(x.dtype, DtypeSpec::FromParam("dtype".into()));
    }

    #[test]
    fn messages_are_tagged_json_lines() {
        let started = Message::Started { case: CaseId::from_raw("copy/N=1") };
        assert_eq!(started.to_line(), r#"{"kind":"started","case":"copy/N=1"}"#);
        let back: Message = serde_json::from_str(r#"{"kind":"done"}"#).unwrap();
        assert_eq!(back, Message::Done);
        let mut params = Params::new();
        params.insert("N", Value::Int(1));
        let planned = PlannedCase {
            case: Case::new("copy", params),
            tune: Params::new(),
            flops: None,
            bytes: Some(8.0),
        };
        let wire = WireCase::from(&planned);
        assert_eq!(PlannedCase::from(wire), planned);
    }

    #[test]
    fn bad_specs_are_refused_with_the_reason() {
        let mut spec = BenchSpec::from(&sample_bench());
        spec.launch.grid = vec!["N +* 2".into()];
        assert!(spec.to_bench().unwrap_err().to_string().contains("N +* 2"));
        let mut spec = BenchSpec::from(&sample_bench());
        spec.args[1] = ArgSpec::Scalar { name: "n".into(), dtype: "f128".into(), value: "1".into() };
        assert!(spec.to_bench().unwrap_err().to_string().contains("f128"));
    }

    #[test]
    fn paired_messages_round_trip() {
        let samples = pawl_core::paired::PairedSamples {
            base_ns: vec![1.0, 2.0],
            head_ns: vec![1.5, 2.5],
            base_clock_mhz: vec![1980, 1980],
            head_clock_mhz: vec![1980, 1965],
        };
        let result = PairedResult {
            id: CaseId::from_raw("copy/N=1"),
            outcome: PairedWireOutcome::Measured {
                samples,
                looks: 3,
                settled: pawl_core::paired::Settled::Equivalent,
            },
            elapsed_s: 0.25,
        };
        let line = PairedMessage::Result { result: Box::new(result.clone()) }.to_line();
        assert!(
            line.contains(r#""outcome":"measured""#) && line.contains(r#""settled":"equivalent""#),
            "{line}"
        );
        let back: PairedMessage = serde_json::from_str(&line).unwrap();
        assert_eq!(back, PairedMessage::Result { result: Box::new(result) });
        let identical: PairedWireOutcome = serde_json::from_str(r#"{"outcome":"identical"}"#).unwrap();
        assert_eq!(identical, PairedWireOutcome::Identical);
    }
}
