//! The parent side of the worker protocol, against fake workers (shell scripts) that misbehave in the
//! ways a real one can: a fault that ends the process, a hang, a crash, garbage, no GPU. No GPU needed.

use std::ffi::OsString;
use std::time::Duration;

use pawl_core::case::Case;
use pawl_core::expr::Expr;
use pawl_core::plan::PlannedCase;
use pawl_core::run::{CaseResult, CaseStatus};
use pawl_core::suite::{Bench, BenchKind, CudaBench, Launch, MeasureSettings};
use pawl_core::value::{Params, Value};
use pawl_cuda::protocol::Request;
use pawl_cuda::workers::{self, Answer};

fn bench() -> Bench {
    Bench {
        name: "copy".into(),
        params: vec![("N".into(), vec![Value::Int(1), Value::Int(2), Value::Int(3)])],
        filter: None,
        flops: None,
        bytes: None,
        tune: vec![],
        constraints: vec![],
        kind: BenchKind::Cuda(CudaBench {
            source: "copy.cu".into(),
            kernel: "copy".into(),
            include_dirs: vec![],
            extra_flags: vec![],
            defines: vec![],
            launch: Launch {
                grid: vec![Expr::parse("N").unwrap()],
                block: vec![Expr::parse("1").unwrap()],
                shared_mem: None,
            },
            args: vec![],
            reference: None,
        }),
    }
}

fn cases() -> Vec<PlannedCase> {
    (1..=3)
        .map(|n| {
            let mut params = Params::new();
            params.insert("N", Value::Int(n));
            PlannedCase { case: Case::new("copy", params), tune: Params::new(), flops: None, bytes: None }
        })
        .collect()
}

/// A fake worker: a shell script that gets the request on stdin. Helper functions answer cases.
fn sh(script: &str) -> Vec<OsString> {
    let prelude = r#"
read -r request
ok() { printf '{"kind":"started","case":"copy/N=%s"}\n' "$1"
       printf '{"kind":"result","result":{"id":"copy/N=%s","bench":"copy","params":{"N":%s},"status":"ok","error":null,"samples_ns":[1000.0],"flops":null,"bytes":null,"correctness":null,"stats":null,"timing":"cold","kernel":null}}\n' "$1" "$1"; }
started() { printf '{"kind":"started","case":"copy/N=%s"}\n' "$1"; }
# Cases this worker was asked for, so a restarted worker answers only those.
asked() { echo "$request" | grep -o '"id":"copy/N=[0-9]*"' | grep -o '[0-9]*' ; }
"#;
    vec!["sh".into(), "-c".into(), format!("{prelude}\n{script}").into()]
}

fn run(argv: Vec<OsString>, timeout_s: f64) -> (Result<(), String>, Vec<CaseResult>) {
    let settings = MeasureSettings { timeout_s, ..MeasureSettings::default() };
    let request = Request::Measure { bench: bench(), cases: cases(), settings };
    let mut results = Vec::new();
    let outcome =
        workers::run(&argv, request, pawl_core::suite::limits::duration(timeout_s), &mut |answer| {
            if let Answer::Result(result) = answer {
                results.push(*result);
            }
        })
        .map_err(|e| e.to_string());
    (outcome, results)
}

fn statuses(results: &[CaseResult]) -> Vec<(String, CaseStatus)> {
    results.iter().map(|r| (r.id.to_string(), r.status)).collect()
}

#[test]
fn a_well_behaved_worker_answers_every_case_in_order() {
    let (outcome, results) = run(sh(r#"for n in $(asked); do ok $n; done; echo '{"kind":"done"}'"#), 10.0);
    outcome.unwrap();
    assert_eq!(
        statuses(&results),
        [
            ("copy/N=1".into(), CaseStatus::Ok),
            ("copy/N=2".into(), CaseStatus::Ok),
            ("copy/N=3".into(), CaseStatus::Ok)
        ]
    );
    assert_eq!(results[0].samples_ns, [1000.0]);
}

#[test]
fn the_request_carries_the_bench_cases_and_settings() {
    // The worker fails case 1 with the request echoed as its error, so the test can read it.
    let script = r#"
started 1
esc=$(echo "$request" | sed 's/"/\\"/g')
printf '{"kind":"result","result":{"id":"copy/N=1","bench":"copy","params":{"N":1},"status":"failed","error":"%s","samples_ns":[],"flops":null,"bytes":null,"correctness":null,"stats":null,"timing":null,"kernel":null}}\n' "$esc"
ok 2; ok 3; echo '{"kind":"done"}'"#;
    let (outcome, results) = run(sh(script), 10.0);
    outcome.unwrap();
    let request: Request = serde_json::from_str(results[0].error.as_deref().unwrap()).unwrap();
    let Request::Measure { bench, cases, settings } = request else { panic!("a measure request") };
    assert_eq!(bench.name, "copy");
    let BenchKind::Cuda(cuda) = bench.kind else { panic!("a cuda bench") };
    assert_eq!(cuda.kernel, "copy");
    assert_eq!(cases.len(), 3);
    assert_eq!(settings.timeout_s, 10.0);
    assert!(!settings.graph);
}

#[test]
fn a_fault_that_ends_the_worker_fails_only_that_case_and_the_rest_go_on() {
    // The first worker answers N=1 and crashes in N=2 (a fault killing the process); the second
    // worker gets only N=3.
    let script = r#"
first=$(asked | head -n1)
if [ "$first" = 1 ]; then ok 1; started 2; echo "illegal memory access" >&2; kill -SEGV $$; fi
for n in $(asked); do ok $n; done; echo '{"kind":"done"}'"#;
    let (outcome, results) = run(sh(script), 10.0);
    outcome.unwrap();
    assert_eq!(
        statuses(&results),
        [
            ("copy/N=1".into(), CaseStatus::Ok),
            ("copy/N=2".into(), CaseStatus::Failed),
            ("copy/N=3".into(), CaseStatus::Ok)
        ]
    );
    let error = results[1].error.as_deref().unwrap();
    assert!(error.contains("exited") && error.contains("illegal memory access"), "{error}");
}

#[test]
fn a_worker_that_reports_a_lost_context_is_replaced() {
    // The worker reports N=1 failed with a CUDA error and exits with status 3, as after a fault.
    let script = r#"
first=$(asked | head -n1)
if [ "$first" = 1 ]; then
  started 1
  printf '{"kind":"result","result":{"id":"copy/N=1","bench":"copy","params":{"N":1},"status":"failed","error":"CUDA_ERROR_ILLEGAL_ADDRESS","samples_ns":[],"flops":null,"bytes":null,"correctness":null,"stats":null,"timing":null,"kernel":null}}\n'
  exit 3
fi
for n in $(asked); do ok $n; done; echo '{"kind":"done"}'"#;
    let (outcome, results) = run(sh(script), 10.0);
    outcome.unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].status, CaseStatus::Failed);
    assert_eq!(results[0].error.as_deref(), Some("CUDA_ERROR_ILLEGAL_ADDRESS"));
    assert!(results[1..].iter().all(|r| r.status == CaseStatus::Ok));
}

#[test]
fn the_watchdog_stops_a_hung_case_and_the_run_goes_on() {
    let script = r#"
first=$(asked | head -n1)
if [ "$first" = 1 ]; then ok 1; started 2; exec sleep 30; fi
for n in $(asked); do ok $n; done; echo '{"kind":"done"}'"#;
    let start = std::time::Instant::now();
    let (outcome, results) = run(sh(script), 0.5);
    outcome.unwrap();
    assert!(start.elapsed().as_secs_f64() < 10.0, "the hung worker was killed, not waited for");
    assert_eq!(statuses(&results)[1], ("copy/N=2".into(), CaseStatus::Timeout));
    assert!(results[1].error.as_deref().unwrap().contains("no result after"));
    assert_eq!(results[2].status, CaseStatus::Ok);
}

#[test]
fn garbage_fails_the_case_in_progress_only() {
    let script = r#"
first=$(asked | head -n1)
if [ "$first" = 1 ]; then started 1; echo 'segfault at 0x0: core dumped'; exit 0; fi
for n in $(asked); do ok $n; done; echo '{"kind":"done"}'"#;
    let (outcome, results) = run(sh(script), 10.0);
    outcome.unwrap();
    assert_eq!(results[0].status, CaseStatus::Failed);
    assert!(results[0].error.as_deref().unwrap().contains("not a message"), "{:?}", results[0].error);
    assert!(results[1..].iter().all(|r| r.status == CaseStatus::Ok));
}

#[test]
fn no_gpu_is_an_error_of_the_whole_bench() {
    let (outcome, results) = run(
        sh(r#"echo '{"kind":"fatal","message":"no NVIDIA driver/GPU found: libcuda could not be loaded"}'"#),
        10.0,
    );
    assert!(outcome.unwrap_err().contains("no NVIDIA driver/GPU found"));
    assert!(results.is_empty());
}

#[test]
fn a_worker_that_cannot_start_or_says_nothing_is_an_error() {
    let (outcome, _) = run(vec!["/nonexistent/pawl-worker".into()], 10.0);
    assert!(outcome.unwrap_err().contains("cannot start the CUDA worker"));
    // Exiting before starting any case fails the first case it was given (so the run cannot loop).
    let (outcome, results) = run(sh("echo 'cannot open libfoo' >&2; exit 0"), 10.0);
    outcome.unwrap();
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|r| r.status == CaseStatus::Failed));
    assert!(results[0].error.as_deref().unwrap().contains("cannot open libfoo"), "{:?}", results[0].error);
    // A worker that claims to be done without answering is an error, not an endless restart.
    let (outcome, _) = run(sh(r#"echo '{"kind":"done"}'"#), 10.0);
    assert!(outcome.unwrap_err().contains("without answering"));
}

#[test]
fn the_real_worker_without_a_gpu_says_so() {
    if pawl_cuda::driver_present() {
        eprintln!("skipping: a driver is present; this test checks the no-GPU message");
        return;
    }
    let worker = env!("CARGO_BIN_EXE_pawl-cuda-worker");
    let (outcome, results) = run(vec![worker.into()], 10.0);
    let error = outcome.unwrap_err();
    assert!(error.contains("no NVIDIA driver/GPU found"), "{error}");
    assert!(results.is_empty());
}

#[test]
fn a_stop_deadline_ends_the_worker_and_leaves_the_rest_unanswered() {
    // The worker answers N=1, then hangs in N=2: at the caller's stop (well before the watchdog) it is
    // stopped, N=2 and N=3 get no answer, and nothing is called a timeout.
    let argv = sh("ok 1; started 2; sleep 30");
    let request = Request::Measure { bench: bench(), cases: cases(), settings: MeasureSettings::default() };
    let mut results = Vec::new();
    let begun = std::time::Instant::now();
    let stop = begun + Duration::from_millis(800);
    workers::run_until(&argv, request, Duration::from_secs(60), Some(stop), &mut |answer| {
        if let Answer::Result(result) = answer {
            results.push(*result);
        }
    })
    .unwrap();
    assert!(begun.elapsed() < Duration::from_secs(10), "stopped at the deadline: {:?}", begun.elapsed());
    assert_eq!(statuses(&results), [("copy/N=1".into(), CaseStatus::Ok)]);
}

/// One case, by its N, as a request of its own.
fn one_case(n: i64, timeout_s: f64) -> Request {
    let settings = MeasureSettings { timeout_s, ..MeasureSettings::default() };
    let case = cases().into_iter().find(|c| c.case.params.get("N") == Some(&Value::Int(n))).unwrap();
    Request::Measure { bench: bench(), cases: vec![case], settings }
}

/// A fake worker serving requests until its input closes: each case's error says which process
/// measured it and what CUDA_VISIBLE_DEVICES it saw.
fn serving_worker(requests_per_process: usize) -> Vec<OsString> {
    let script = format!(
        r#"
served=0
while [ "$served" -lt {requests_per_process} ] && read -r request; do
  for n in $(echo "$request" | grep -o '"id":"copy/N=[0-9]*"' | grep -o '[0-9]*'); do
    printf '{{"kind":"started","case":"copy/N=%s"}}\n' "$n"
    printf '{{"kind":"result","result":{{"id":"copy/N=%s","bench":"copy","params":{{"N":%s}},"status":"ok","error":"pid %s on %s","samples_ns":[1000.0],"flops":null,"bytes":null,"correctness":null,"stats":null,"timing":"cold","kernel":null}}}}\n' "$n" "$n" "$$" "${{CUDA_VISIBLE_DEVICES:-unset}}"
  done
  echo '{{"kind":"done"}}'
  served=$((served + 1))
done"#
    );
    vec!["sh".into(), "-c".into(), script.into()]
}

fn measure_each(worker: &mut workers::Worker, ns: &[i64]) -> Vec<CaseResult> {
    let mut results = Vec::new();
    for &n in ns {
        worker
            .run(one_case(n, 10.0), std::time::Duration::from_secs(10), &mut |answer| {
                if let Answer::Result(result) = answer {
                    results.push(*result);
                }
            })
            .unwrap();
    }
    results
}

#[test]
fn a_worker_is_kept_between_requests_and_pinned_by_its_environment() {
    let mut worker = workers::Worker::new(&serving_worker(100)).env("CUDA_VISIBLE_DEVICES", "GPU-test-1");
    let results = measure_each(&mut worker, &[3, 1, 2]);
    let errors: Vec<&str> = results.iter().map(|r| r.error.as_deref().unwrap()).collect();
    assert_eq!(errors.len(), 3);
    assert!(errors.iter().all(|e| *e == errors[0]), "one process served every request: {errors:?}");
    assert!(errors[0].ends_with("on GPU-test-1"), "{}", errors[0]);
    worker.finish();
}

#[test]
fn a_kept_worker_that_ended_meanwhile_is_started_again_without_failing_a_case() {
    // Each process serves one request and exits, as the scripts above do: the next request finds it gone.
    let mut worker = workers::Worker::new(&serving_worker(1));
    let results = measure_each(&mut worker, &[1, 2, 3]);
    assert!(results.iter().all(|r| r.status == CaseStatus::Ok), "{results:?}");
    let pids: std::collections::BTreeSet<&str> =
        results.iter().map(|r| r.error.as_deref().unwrap().split(' ').nth(1).unwrap()).collect();
    assert_eq!(pids.len(), 3, "a fresh process per request");
}
