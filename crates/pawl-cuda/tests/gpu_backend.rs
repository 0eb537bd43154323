//! The backend on a real GPU, through the worker process as `pawl run` uses it: compile, check and time
//! a copy; kernels that accumulate into a reset output; planted faults caught (an off-by-one and a
//! wrong result as `wrong`, an out-of-bounds write as `failed`, a hang as `timeout`), each failing only
//! its own case; the paired schedule on two identical sides sharing their buffers. Prints "skipping: no
//! GPU" and passes where there is none.

use std::path::PathBuf;
use std::time::Duration;

use pawl_core::expr::Expr;
use pawl_core::paired::{PairedCase, StopRule};
use pawl_core::plan::PlannedCase;
use pawl_core::run::{CaseResult, CaseStatus, Clock};
use pawl_core::suite::{
    Arg, Bench, BenchKind, BufferArg, CudaBench, Dtype, DtypeSpec, Init, Launch, MeasureSettings, Reference,
    ScalarArg,
};
use pawl_core::value::{Params, Value};
use pawl_cuda::protocol::{PairedCaseSpec, PairedRequest, PairedResult, Request};
use pawl_cuda::workers::{self, Answer};

fn gpu_present() -> bool {
    if !pawl_cuda::driver_present() || pawl_cuda::environment().is_err() {
        eprintln!("skipping: no GPU");
        return false;
    }
    true
}

/// `kernels/testing`; `PAWL_TEST_KERNELS` overrides it where the test binary runs away from the source
/// tree (the GPU machine).
fn kernels() -> PathBuf {
    match std::env::var_os("PAWL_TEST_KERNELS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../kernels/testing"),
    }
}

/// The worker binary; `PAWL_CUDA_WORKER` overrides the path cargo built it at.
fn worker() -> std::ffi::OsString {
    std::env::var_os("PAWL_CUDA_WORKER").unwrap_or_else(|| env!("CARGO_BIN_EXE_pawl-cuda-worker").into())
}

fn e(s: &str) -> Expr {
    Expr::parse(s).unwrap()
}

fn buffer(name: &str, count: &str, init: Init, output: bool) -> Arg {
    typed_buffer(name, Dtype::F32, count, init, output, false)
}

fn typed_buffer(name: &str, dtype: Dtype, count: &str, init: Init, output: bool, reset: bool) -> Arg {
    Arg::Buffer(BufferArg {
        name: name.into(),
        dtype: DtypeSpec::Fixed(dtype),
        count: e(count),
        init,
        output,
        reset,
    })
}

fn scalar(name: &str, value: &str) -> Arg {
    typed_scalar(name, Dtype::I64, value)
}

fn typed_scalar(name: &str, dtype: Dtype, value: &str) -> Arg {
    Arg::Scalar(ScalarArg { name: name.into(), dtype: DtypeSpec::Fixed(dtype), value: e(value) })
}

fn bench(name: &str, cuda: CudaBench, axis: (&str, Vec<Value>)) -> Bench {
    Bench {
        name: name.into(),
        params: vec![(axis.0.into(), axis.1)],
        filter: None,
        flops: None,
        bytes: None,
        tune: vec![],
        constraints: vec![],
        kind: BenchKind::Cuda(cuda),
    }
}

fn copy_bench() -> Bench {
    let cuda = CudaBench {
        source: kernels().join("copy.cu"),
        kernel: "copy_vec4".into(),
        include_dirs: vec![],
        extra_flags: vec![],
        defines: vec![],
        launch: Launch { grid: vec![e("ceil_div(N / 4, 256)")], block: vec![e("256")], shared_mem: None },
        args: vec![
            buffer("x", "N", Init::Randn { mean: 0.0, std: 1.0 }, false),
            buffer("y", "N", Init::Zeros, true),
            scalar("n4", "N / 4"),
        ],
        reference: Some(Reference {
            source: kernels().join("copy.cu"),
            kernel: "copy_ref".into(),
            defines: vec![],
            launch: Launch { grid: vec![e("1024")], block: vec![e("256")], shared_mem: None },
            rtol: e("0.0"),
            atol: e("0.0"),
        }),
    };
    bench("copy", cuda, ("N", vec![Value::Int(1 << 20), Value::Int(1 << 24)]))
}

fn faults_bench() -> Bench {
    let fault = |name: &str| (format!("FAULT_{}", name.to_uppercase()), e(&format!("fault == \"{name}\"")));
    let cuda = CudaBench {
        source: kernels().join("faults.cu"),
        kernel: "faulty_copy".into(),
        include_dirs: vec![],
        extra_flags: vec![],
        defines: vec![fault("off_by_one"), fault("wrong"), fault("oob"), fault("hang")],
        launch: Launch { grid: vec![e("256")], block: vec![e("256")], shared_mem: None },
        args: vec![
            buffer("x", "65536", Init::Index, false),
            buffer("y", "65536", Init::Zeros, true),
            scalar("n", "65536"),
        ],
        reference: Some(Reference {
            source: kernels().join("faults.cu"),
            kernel: "copy_ref".into(),
            defines: vec![],
            launch: Launch { grid: vec![e("256")], block: vec![e("256")], shared_mem: None },
            rtol: e("0.0"),
            atol: e("0.0"),
        }),
    };
    let values = ["none", "off_by_one", "wrong", "oob", "hang", "after"].map(Value::from).to_vec();
    bench("faults", cuda, ("fault", values))
}

/// A histogram with integer atomics into `bins`, reset (or not) before every launch.
fn histogram_bench(reset: bool) -> Bench {
    let cuda = CudaBench {
        source: kernels().join("accumulate.cu"),
        kernel: "histogram".into(),
        include_dirs: vec![],
        extra_flags: vec![],
        defines: vec![],
        launch: Launch { grid: vec![e("264")], block: vec![e("256")], shared_mem: None },
        args: vec![
            typed_buffer("x", Dtype::U32, "N", Init::Index, false, false),
            typed_buffer("bins", Dtype::U32, "97", Init::Zeros, true, reset),
            scalar("n", "N"),
            typed_scalar("nbins", Dtype::I32, "97"),
        ],
        reference: Some(Reference {
            source: kernels().join("accumulate.cu"),
            kernel: "histogram_ref".into(),
            defines: vec![],
            launch: Launch { grid: vec![e("97")], block: vec![e("256")], shared_mem: None },
            rtol: e("0.0"),
            atol: e("0.0"),
        }),
    };
    bench("histogram", cuda, ("N", vec![Value::Int(1 << 20)]))
}

fn planned(bench: &Bench) -> Vec<PlannedCase> {
    bench
        .cases()
        .unwrap()
        .into_iter()
        .map(|case| PlannedCase { case, tune: Params::new(), flops: None, bytes: None })
        .collect()
}

fn measure(bench: &Bench, settings: &MeasureSettings) -> Vec<CaseResult> {
    measure_with(bench, settings, &[])
}

/// As [`measure`], in a worker with these environment variables set.
fn measure_with(bench: &Bench, settings: &MeasureSettings, env: &[(&str, &str)]) -> Vec<CaseResult> {
    let request =
        Request::Measure { bench: bench.clone(), cases: planned(bench), settings: settings.clone() };
    let mut results = Vec::new();
    let watchdog = pawl_core::suite::limits::duration(settings.timeout_s);
    let mut worker = env.iter().fold(workers::Worker::new(&[worker()]), |w, (k, v)| w.env(k, v));
    worker
        .run(request, watchdog, &mut |answer| {
            if let Answer::Result(result) = answer {
                results.push(*result);
            }
        })
        .unwrap();
    worker.finish();
    for r in &results {
        eprintln!("{}: {:?} n={} {:?}", r.id, r.status, r.samples_ns.len(), r.error);
    }
    results
}

fn median(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

#[test]
fn gpu_copy_compiles_checks_and_times() {
    if !gpu_present() {
        return;
    }
    let settings = MeasureSettings { max_time_s: 1.0, warmup_ms: 50.0, ..MeasureSettings::default() };
    let results = measure(&copy_bench(), &settings);
    assert_eq!(results.len(), 2);
    for r in &results {
        assert_eq!(r.status, CaseStatus::Ok, "{}: {:?}", r.id, r.error);
        assert!(r.samples_ns.len() >= settings.min_samples, "{}", r.samples_ns.len());
        let c = r.correctness.as_ref().expect("checked against the reference");
        assert_eq!((c.mismatches, c.unwritten, c.non_finite), (0, 0, 0));
        assert_eq!(c.elements, r.params.get("N").unwrap().as_i64().unwrap() as u64);
        assert_eq!(r.timing.as_deref(), Some("cold"));
        let k = r.kernel.as_ref().unwrap();
        assert!(k.registers > 0 && k.block == [256, 1, 1]);
    }
    // 16× the data takes longer, by well over 4× (64 MiB streams from HBM; 4 MiB is launch-bound).
    let (small, large) = (median(&results[0].samples_ns), median(&results[1].samples_ns));
    assert!(small > 1_000.0 && large > 4.0 * small, "medians {small} ns and {large} ns");
}

#[test]
fn gpu_the_kernel_clock_leaves_out_the_launch_overhead_that_events_read() {
    if !gpu_present() {
        return;
    }
    let choice = pawl_cuda::clock::choice();
    if choice.clock != Clock::Kernel {
        eprintln!("skipping: the kernel clock is not in use here ({})", choice.why);
        return;
    }
    let mut bench = copy_bench();
    bench.params[0].1.truncate(1);
    let settings = MeasureSettings { max_time_s: 0.5, warmup_ms: 20.0, ..MeasureSettings::default() };
    let time = |clock: &str| {
        let results = measure_with(&bench, &settings, &[("PAWL_CLOCK", clock)]);
        assert_eq!(results[0].status, CaseStatus::Ok, "{clock}: {:?}", results[0].error);
        median(&results[0].samples_ns)
    };
    let (kernel, events) = (time("kernel"), time("events"));
    eprintln!("4 MiB copy: kernel clock {kernel} ns, events {events} ns");
    // The events also read the launch and their own overhead: about 2.5 µs on the H200.
    assert!(kernel > 0.0 && kernel + 500.0 < events, "kernel clock {kernel} ns, events {events} ns");
}

#[test]
fn gpu_graph_timing_reports_per_launch() {
    if !gpu_present() {
        return;
    }
    let settings =
        MeasureSettings { max_time_s: 1.0, warmup_ms: 20.0, graph: true, ..MeasureSettings::default() };
    let mut bench = copy_bench();
    bench.params[0].1.truncate(1);
    let results = measure(&bench, &settings);
    assert_eq!(results[0].status, CaseStatus::Ok, "{:?}", results[0].error);
    assert_eq!(results[0].timing.as_deref(), Some("graph"));
    eprintln!("graph per-launch median {} ns", median(&results[0].samples_ns));
}

#[test]
fn gpu_accumulating_kernels_measure_when_their_output_is_reset() {
    if !gpu_present() {
        return;
    }
    let settings = MeasureSettings { max_time_s: 0.5, warmup_ms: 20.0, ..MeasureSettings::default() };
    let reset = measure(&histogram_bench(true), &settings);
    assert_eq!(reset[0].status, CaseStatus::Ok, "{:?}", reset[0].error);
    let c = reset[0].correctness.as_ref().unwrap();
    assert_eq!((c.elements, c.mismatches), (97, 0));
    // Without the reset the histogram adds onto the poison pattern and can never be right.
    let unreset = measure(&histogram_bench(false), &settings);
    assert_eq!(unreset[0].status, CaseStatus::Wrong, "{:?}", unreset[0].error);
}

#[test]
fn gpu_paired_identical_sides_share_buffers_and_agree() {
    if !gpu_present() {
        return;
    }
    let bench = copy_bench();
    let cases: Vec<PairedCaseSpec> = planned(&bench)
        .into_iter()
        .take(1)
        .map(|case| PairedCaseSpec { bench: 0, base: case.clone(), head: case })
        .collect();
    let request = PairedRequest {
        benches: vec![(bench.clone(), bench)],
        cases,
        settings: MeasureSettings { warmup_ms: 20.0, ..MeasureSettings::default() },
        rule: StopRule { tolerance: 0.01, confidence: 0.99, max_pairs: 400, seed: 3 },
        budget_s: 2.0,
        measure_identical: true,
    };
    let mut last: Option<PairedResult> = None;
    workers::run(&[worker()], Request::Paired(request), Duration::from_secs(30), &mut |answer| {
        if let Answer::Paired(result) = answer {
            last = Some(*result);
        }
    })
    .unwrap();
    let result = last.expect("an answer");
    let PairedCase::Measured { samples, .. } = &result.case else { panic!("{:?}", result.case) };
    assert!(samples.pairs() >= 32, "{} pairs", samples.pairs());
    let ratio = median(&samples.head_ns) / median(&samples.base_ns);
    eprintln!("identical sides: {} pairs, head/base medians {ratio:.4}", samples.pairs());
    assert!((ratio - 1.0).abs() < 0.02, "identical code on shared buffers: {ratio}");
}

#[test]
fn gpu_faults_fail_only_their_own_cases() {
    if !gpu_present() {
        return;
    }
    let settings =
        MeasureSettings { max_time_s: 0.3, warmup_ms: 10.0, timeout_s: 8.0, ..MeasureSettings::default() };
    let results = measure(&faults_bench(), &settings);
    let statuses: Vec<(String, CaseStatus)> = results.iter().map(|r| (r.id.to_string(), r.status)).collect();
    assert_eq!(
        statuses,
        [
            ("faults/fault=none".into(), CaseStatus::Ok),
            ("faults/fault=off_by_one".into(), CaseStatus::Wrong),
            ("faults/fault=wrong".into(), CaseStatus::Wrong),
            ("faults/fault=oob".into(), CaseStatus::Failed),
            ("faults/fault=hang".into(), CaseStatus::Timeout),
            ("faults/fault=after".into(), CaseStatus::Ok),
        ]
    );
    let off_by_one = results[1].error.as_deref().unwrap();
    assert!(off_by_one.contains("`y`[65535]") && off_by_one.contains("never written"), "{off_by_one}");
    assert_eq!(results[1].correctness.as_ref().unwrap().unwritten, 1);
    let wrong = results[2].error.as_deref().unwrap();
    assert!(wrong.contains("`y`[32768] is 32769"), "{wrong}");
    let oob = results[3].error.as_deref().unwrap();
    assert!(oob.contains("CUDA_ERROR_ILLEGAL_ADDRESS"), "{oob}");
    assert!(results[4].error.as_deref().unwrap().contains("no result after"));
}
