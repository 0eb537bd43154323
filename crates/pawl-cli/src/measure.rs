//! Measuring a suite: plan the cases, hand each bench to its backend, collect a run file as results come.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pawl_core::engine::{self, SystemClock};
use pawl_core::expr::Expr;
use pawl_core::plan::{self, PlannedCase, Selection};
use pawl_core::report::escape;
use pawl_core::run::{CaseResult, CaseStatus, Environment, Run, RunWarning};
use pawl_core::stats;
use pawl_core::suite::limits::{self, Limit};
use pawl_core::suite::{Bench, BenchKind, MeasureSettings, Suite};
use pawl_cuda::protocol::Request;
use pawl_cuda::workers::{self, Answer};

use crate::cli::MeasureArgs;
use crate::git;
use crate::harness::HarnessBackend;

/// The confidence level of the per-case summaries written into run files.
const SUMMARY_CONFIDENCE: f64 = 0.99;

/// How often the run file is rewritten while measuring, so a crash loses little.
const SAVE_EVERY: Duration = Duration::from_secs(2);

/// The GPU and its state, or an error saying that a GPU and its driver are needed.
pub fn gpu_state() -> Result<pawl_cuda::GpuState> {
    Ok(pawl_cuda::gpu_state()?)
}

/// The environment of this machine: GPU facts from the driver and NVML when a GPU is visible.
/// With `require_gpu`, no GPU is an error.
pub fn environment(require_gpu: bool) -> Result<Environment> {
    let mut env = match gpu_state() {
        Ok(state) => state.environment,
        Err(err) if require_gpu => return Err(err),
        Err(_) => Environment::default(),
    };
    env.pawl_version = env!("CARGO_PKG_VERSION").to_owned();
    env.hostname = gethostname::gethostname().to_string_lossy().into_owned();
    Ok(env)
}

/// The suite's measuring settings, overridden by flags, each checked by the rule its suite key is.
pub fn settings(suite: &Suite, args: &MeasureArgs) -> Result<MeasureSettings> {
    let flag = |limit: &Limit, name: &str, value: f64| limit.check(value).map_err(|e| e.named(name));
    let mut s = suite.measure.clone();
    if args.warm_cache {
        s.warm_cache = true;
    }
    if let Some(v) = args.target_rel_ci {
        s.target_rel_ci = flag(&limits::TARGET_REL_CI, "--target-rel-ci", v)?;
    }
    if let Some(v) = args.min_samples {
        limits::MIN_SAMPLES.check_count(v).map_err(|e| e.named("--min-samples"))?;
        s.min_samples = v;
        s.max_samples = s.max_samples.max(v);
    }
    if let Some(v) = args.max_samples {
        limits::MAX_SAMPLES.check_count(v).map_err(|e| e.named("--max-samples"))?;
        if v < s.min_samples {
            bail!("--max-samples {v} is below the fewest samples per case ({}); raise it", s.min_samples);
        }
        s.max_samples = v;
    }
    if let Some(v) = args.max_time {
        s.max_time_s = flag(&limits::MAX_TIME_S, "--max-time", v)?;
    }
    if let Some(v) = args.timeout {
        s.timeout_s = flag(&limits::TIMEOUT_S, "--timeout", v)?;
    }
    if let Some(seed) = args.seed {
        s.seed = seed;
    }
    s.graph |= args.graph;
    s.validate()?;
    Ok(s)
}

/// Measures the selected cases of `suite`, writing the run file to `output` as results arrive.
pub fn measure(suite: &Suite, args: &MeasureArgs, output: &Path) -> Result<Run> {
    let settings = settings(suite, args)?;
    let filter =
        args.filter.as_deref().map(Expr::parse).transpose().context("--where is not a valid expression")?;
    let plans = plan::plan(suite, &Selection { bench: args.bench.as_deref(), filter: filter.as_ref() })?;
    let total: usize = plans.iter().map(|p| p.cases.len()).sum();
    if total == 0 {
        bail!("no case of {} matches the selection; `pawl validate --list` shows them", suite.path.display());
    }
    let needs_gpu = plans.iter().any(|p| matches!(p.bench.kind, BenchKind::Cuda(_)));
    let env = environment(needs_gpu)?;

    let timestamp =
        jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| jiff::Timestamp::now());
    let mut run = Run::new(&suite.name, timestamp.to_string(), env, settings.clone());
    run.git = git::info(suite.dir());

    let progress = progress_bar(total as u64);
    let started = Instant::now();
    let mut last_save = Instant::now();
    for bench_plan in &plans {
        let bench = bench_plan.bench;
        progress.set_message(escape::terminal(&bench.name).into_owned());
        let first_of_bench = run.cases.len();
        let mut sink = |mut result: CaseResult| {
            if result.stats.is_none() && result.status == CaseStatus::Ok {
                result.stats = stats::summarize(&result.samples_ns, SUMMARY_CONFIDENCE).ok();
            }
            if result.status != CaseStatus::Ok {
                let error = result.error.as_deref().map(pawl_core::harness::shown).unwrap_or_default();
                progress.suspend(|| {
                    eprintln!(
                        "{} {}: {}",
                        result.status.as_str(),
                        escape::terminal(result.id.as_str()),
                        escape::terminal(&error)
                    )
                });
            }
            run.cases.push(result);
            progress.inc(1);
            if last_save.elapsed() >= SAVE_EVERY {
                // A failed intermediate save is retried at the next case and at the end.
                if run.save(output).is_ok() {
                    last_save = Instant::now();
                }
            }
        };
        let outcome = match &bench.kind {
            BenchKind::Cuda(_) => measure_cuda(bench, &bench_plan.cases, &settings, &mut sink),
            BenchKind::Command(_) => {
                let warnings = measure_command(bench, &bench_plan.cases, &settings, &mut sink);
                run.warnings.extend(warnings);
                Ok(())
            }
        };
        if let Err(message) = outcome {
            // The bench as a whole failed: every case it did not report fails with the reason.
            let reported: Vec<_> = run.cases[first_of_bench..].iter().map(|c| c.id.clone()).collect();
            for planned in bench_plan.cases.iter().filter(|p| !reported.contains(&p.case.id)) {
                let mut failed = CaseResult::planned(planned, CaseStatus::Failed);
                failed.error = Some(message.clone());
                run.cases.push(failed);
                progress.inc(1);
            }
            progress.suspend(|| {
                eprintln!("bench `{}` failed: {}", escape::terminal(&bench.name), escape::terminal(&message))
            });
        }
    }
    progress.finish_and_clear();
    run.measure_seconds = Some(started.elapsed().as_secs_f64());
    if run.env.gpu.is_some() {
        run.env.clocks_end = pawl_cuda::gpu_state().ok().and_then(|state| state.environment.clocks_start);
    }
    run.save(output).with_context(|| "cannot save the run file".to_owned())?;
    Ok(run)
}

/// A `cuda` bench's cases, in CUDA worker processes (a fault or a hang fails only its case).
fn measure_cuda(
    bench: &Bench,
    cases: &[PlannedCase],
    settings: &MeasureSettings,
    sink: &mut dyn FnMut(CaseResult),
) -> Result<(), String> {
    let request =
        Request::Measure { bench: bench.clone(), cases: cases.to_vec(), settings: settings.clone() };
    let watchdog = limits::duration(settings.timeout_s);
    let worker = worker_argv().map_err(|e| format!("{e:#}"))?;
    workers::run(&worker, request, watchdog, &mut |answer| {
        if let Answer::Result(result) = answer {
            sink(*result);
        }
    })
    .map_err(|e| e.0)
}

/// A `command` bench's cases, through its harness processes; returns what the harnesses did wrong
/// without failing a case.
fn measure_command(
    bench: &Bench,
    cases: &[PlannedCase],
    settings: &MeasureSettings,
    sink: &mut dyn FnMut(CaseResult),
) -> Vec<RunWarning> {
    let mut backend = HarnessBackend::default();
    let clock = SystemClock::new();
    for case in cases {
        let measured = engine::measure_case(&mut backend, bench, case, settings, &clock, &mut |_| {});
        sink(measured.result);
    }
    backend.finish();
    backend.warnings
}

/// How to start the CUDA worker: this very executable, with the hidden `__worker` subcommand.
pub fn worker_argv() -> Result<Vec<OsString>> {
    let exe = std::env::current_exe().context("cannot find the pawl executable to start its CUDA worker")?;
    Ok(vec![exe.into_os_string(), OsString::from("__worker")])
}

fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
