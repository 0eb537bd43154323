//! What pawl and its CUDA worker process say to each other: JSON, one message per line, pawl's own
//! types as they are (a suite's bench travels as written, expressions as their source text).
//!
//! pawl writes [`Request`] lines to the worker's standard input, one at a time: cases of one bench to
//! measure, or the matched cases of two revisions to measure interleaved (`pawl ab`). The worker answers
//! each on standard output with [`Message`] lines: `started` before each case (or each visit of an A/B
//! case), `progress` while it runs, a result after it, and `done` at the end of the request, or one
//! `fatal` when nothing can be measured (no GPU). It then waits for the next request, on the same GPU
//! session, until its input closes. After a fault that leaves the CUDA context unusable the worker sends
//! that case's result and exits with [`EXIT_CONTEXT_LOST`](crate::EXIT_CONTEXT_LOST); pawl starts a
//! fresh worker for the cases not yet answered.

use pawl_core::case::CaseId;
use pawl_core::engine::Phase;
use pawl_core::paired::{PairedCase, StopRule};
use pawl_core::plan::PlannedCase;
use pawl_core::run::CaseResult;
use pawl_core::suite::{Bench, MeasureSettings};
use serde::{Deserialize, Serialize};

/// pawl → worker. A few requests per worker process, each sent once: boxing the larger variant would
/// buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Request {
    /// Measure each case of one bench.
    Measure { bench: Bench, cases: Vec<PlannedCase>, settings: MeasureSettings },
    /// Measure each case's two sides interleaved, under one budget.
    Paired(PairedRequest),
}

impl Request {
    /// The ids of the cases asked for.
    pub fn case_ids(&self) -> Vec<CaseId> {
        match self {
            Request::Measure { cases, .. } => cases.iter().map(|c| c.case.id.clone()).collect(),
            Request::Paired(paired) => paired.cases.iter().map(|c| c.head.case.id.clone()).collect(),
        }
    }
}

/// The matched cases of two revisions (`pawl ab`), and how to decide and when to stop.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PairedRequest {
    /// Bench pairs (base, head); cases refer to them by index.
    pub benches: Vec<(Bench, Bench)>,
    pub cases: Vec<PairedCaseSpec>,
    pub settings: MeasureSettings,
    pub rule: StopRule,
    /// Measuring time for all cases together, in seconds.
    pub budget_s: f64,
    /// Measure cases whose code is identical on both sides instead of skipping them (A/A tests).
    pub measure_identical: bool,
}

/// One case matched by id across revisions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PairedCaseSpec {
    pub bench: usize,
    pub base: PlannedCase,
    pub head: PlannedCase,
}

/// worker → pawl.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// The worker begins this case (or a visit of it); the watchdog's clock for it starts now.
    Started { case: CaseId },
    /// What the case is doing, for progress display.
    Progress { case: CaseId, phase: Phase },
    /// A measured case.
    Result { result: Box<CaseResult> },
    /// An A/B case as its last visit left it; a case can be answered more than once (a later pass adds
    /// samples), and the last answer counts.
    Paired { result: Box<PairedResult> },
    /// Every case of the request has its answer.
    Done,
    /// Nothing can be measured in this process (no driver, no GPU).
    Fatal { message: String },
}

impl Message {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            let message = serde_json::to_string(&e.to_string()).unwrap_or_default();
            format!("{{\"kind\":\"fatal\",\"message\":{message}}}")
        })
    }
}

/// An A/B case so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedResult {
    pub id: CaseId,
    pub case: PairedCase,
    /// Seconds spent on it so far (preparing, warming up and timing).
    pub elapsed_s: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use pawl_core::case::Case;
    use pawl_core::expr::Expr;
    use pawl_core::paired::{PairedSamples, Settled};
    use pawl_core::suite::{
        Arg, BenchKind, BufferArg, CudaBench, Dtype, DtypeSpec, Init, Launch, Reference, TuneDefault,
        TuneParam,
    };
    use pawl_core::value::{Params, Value};

    fn bench() -> Bench {
        let e = |s: &str| Expr::parse(s).unwrap();
        Bench {
            name: "copy".into(),
            params: vec![("N".into(), vec![Value::Int(1024)]), ("dtype".into(), vec![Value::from("f16")])],
            filter: Some(e("N > 1")),
            flops: None,
            bytes: Some(e("2 * N")),
            tune: vec![TuneParam {
                name: "TILE".into(),
                default: TuneDefault::Expr(e("if N > 512 { 4 } else { 2 }")),
                candidates: vec![Value::Int(2), Value::Int(4)],
            }],
            constraints: vec![],
            kind: BenchKind::Cuda(CudaBench {
                source: "copy.cu".into(),
                kernel: "copy".into(),
                include_dirs: vec!["inc".into()],
                extra_flags: vec!["--use_fast_math".into()],
                defines: vec![("VEC".into(), e("4"))],
                launch: Launch {
                    grid: vec![e("ceil_div(N, 1024)")],
                    block: vec![e("256")],
                    shared_mem: Some(e("0")),
                },
                args: vec![Arg::Buffer(BufferArg {
                    name: "x".into(),
                    dtype: DtypeSpec::FromParam("dtype".into()),
                    count: e("N"),
                    init: Init::Randn { mean: 0.0, std: 1.0 },
                    output: true,
                    reset: true,
                })],
                reference: Some(Reference {
                    source: "copy.cu".into(),
                    kernel: "copy_ref".into(),
                    defines: vec![],
                    launch: Launch { grid: vec![e("N")], block: vec![e("1")], shared_mem: None },
                    rtol: e("0.0"),
                    atol: e("0.0"),
                }),
            }),
        }
    }

    #[test]
    fn requests_carry_the_bench_as_written() {
        let mut params = Params::new();
        params.insert("N", Value::Int(1024));
        let case = PlannedCase {
            case: Case::new("copy", params),
            tune: Params::new(),
            flops: None,
            bytes: Some(8.0),
        };
        let request = Request::Measure {
            bench: bench(),
            cases: vec![case.clone()],
            settings: MeasureSettings::default(),
        };
        let line = serde_json::to_string(&request).unwrap();
        assert!(line.contains(r#""kind":"measure""#) && line.contains(r#""dtype":"{dtype}""#), "{line}");
        assert!(line.contains(r#""grid":["ceil_div(N, 1024)"]"#), "{line}");
        assert!(line.contains(r#""default":{"expr":"if N > 512 { 4 } else { 2 }"}"#), "{line}");
        let back: Request = serde_json::from_str(&line).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), line, "a request round-trips byte for byte");
        let Request::Measure { bench, cases, .. } = back else { panic!("measure") };
        assert_eq!(cases, vec![case]);
        let BenchKind::Cuda(cuda) = bench.kind else { panic!("cuda") };
        let Arg::Buffer(x) = &cuda.args[0] else { panic!("buffer") };
        assert_eq!((x.dtype.clone(), x.reset), (DtypeSpec::FromParam("dtype".into()), true));
        assert_eq!(DtypeSpec::try_from("bf16".to_owned()), Ok(DtypeSpec::Fixed(Dtype::Bf16)));
    }

    #[test]
    fn a_bad_expression_in_a_request_is_refused_with_it() {
        let line = serde_json::to_string(&Request::Measure {
            bench: bench(),
            cases: vec![],
            settings: MeasureSettings::default(),
        })
        .unwrap()
        .replace("ceil_div(N, 1024)", "N +* 2");
        let err = serde_json::from_str::<Request>(&line).unwrap_err().to_string();
        assert!(err.contains("N +* 2"), "{err}");
    }

    #[test]
    fn messages_are_tagged_json_lines() {
        let started = Message::Started { case: CaseId::from_raw("copy/N=1") };
        assert_eq!(started.to_line(), r#"{"kind":"started","case":"copy/N=1"}"#);
        let progress = Message::Progress { case: CaseId::from_raw("c"), phase: Phase::WarmingUp };
        assert_eq!(progress.to_line(), r#"{"kind":"progress","case":"c","phase":"warming_up"}"#);
        let result = PairedResult {
            id: CaseId::from_raw("copy/N=1"),
            case: PairedCase::Measured {
                samples: PairedSamples {
                    base_ns: vec![1.0, 2.0],
                    head_ns: vec![1.5, 2.5],
                    base_clock_mhz: vec![1980, 1980],
                    head_clock_mhz: vec![1980, 1965],
                },
                looks: 3,
                settled: Settled::Equivalent,
            },
            elapsed_s: 0.25,
        };
        let line = Message::Paired { result: Box::new(result.clone()) }.to_line();
        assert!(
            line.contains(r#""outcome":"measured""#) && line.contains(r#""settled":"equivalent""#),
            "{line}"
        );
        let back: Message = serde_json::from_str(&line).unwrap();
        assert_eq!(back, Message::Paired { result: Box::new(result) });
        let identical: PairedCase = serde_json::from_str(r#"{"outcome":"identical"}"#).unwrap();
        assert_eq!(identical, PairedCase::Identical);
    }
}
