//! Measuring a suite: plan the cases, keep this runner's shard of them (`--shard`), hand them out to one
//! lane per GPU (`--gpus`; one lane without it), longest first, and collect a run file in suite order
//! as results come.
//!
//! A lane is a GPU with its CUDA worker and its harness processes, all pinned to it with
//! `CUDA_VISIBLE_DEVICES`; it takes the next case whenever it has finished one, so a GPU that is
//! throttled or slow simply measures fewer cases, and a fault or a hang fails only its case (the
//! lane's worker is started again on the same GPU). A lane whose GPU cannot be opened at all gives its
//! case back to the others and stops.

use std::collections::{BTreeSet, VecDeque};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::{Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pawl_core::baseline::{Baseline, Testbed};
use pawl_core::case::CaseId;
use pawl_core::engine::{self, SystemClock};
use pawl_core::estimate::{self, Estimates};
use pawl_core::expr::Expr;
use pawl_core::plan::{self, PlannedCase, Selection};
use pawl_core::report::escape;
use pawl_core::run::{CaseResult, CaseStatus, Environment, Run, RunWarning};
use pawl_core::shard::{self, Shard};
use pawl_core::stats;
use pawl_core::suite::limits::{self, Limit};
use pawl_core::suite::{Bench, BenchKind, MeasureSettings, Suite};
use pawl_cuda::devices::Device;
use pawl_cuda::protocol::Request;
use pawl_cuda::workers::{Answer, Worker};

use crate::cli::MeasureArgs;
use crate::commands::FileKind;
use crate::git;
use crate::gpus;
use crate::harness::HarnessBackend;

/// The confidence level of the per-case summaries written into run files.
const SUMMARY_CONFIDENCE: f64 = 0.99;

/// How often the run file is rewritten while measuring, so a crash loses little.
const SAVE_EVERY: Duration = Duration::from_secs(2);

/// The GPU and its state, or an error saying that a GPU and its driver are needed.
pub fn gpu_state() -> Result<pawl_cuda::GpuState> {
    Ok(pawl_cuda::gpu_state()?)
}

/// The environment of this machine: GPU facts from the driver and NVML when a GPU is visible, of the
/// GPU with this UUID (the first of `--gpus`) where given. With `require_gpu`, no GPU is an error.
pub fn environment(require_gpu: bool, gpu: Option<&str>) -> Result<Environment> {
    let state = match gpu {
        Some(uuid) => pawl_cuda::gpu_state_of(uuid).map_err(anyhow::Error::new),
        None => gpu_state(),
    };
    let mut env = match state {
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

/// Measures the selected cases of `suite` (this runner's share of them with `shard`), writing the run
/// file to `output` as results arrive.
pub fn measure(suite: &Suite, args: &MeasureArgs, shard: Option<Shard>, output: &Path) -> Result<Run> {
    let settings = settings(suite, args)?;
    let filter =
        args.filter.as_deref().map(Expr::parse).transpose().context("--where is not a valid expression")?;
    let plans = plan::plan(suite, &Selection { bench: args.bench.as_deref(), filter: filter.as_ref() })?;
    let jobs: Vec<Job> = plans
        .iter()
        .flat_map(|p| p.cases.iter().map(move |case| Job { bench: p.bench, case: case.clone() }))
        .collect();
    if jobs.is_empty() {
        bail!("no case of {} matches the selection; `pawl validate --list` shows them", suite.path.display());
    }
    let devices = gpus::selected(&args.gpus)?;
    let needs_gpu = jobs.iter().any(|j| matches!(j.bench.kind, BenchKind::Cuda(_)));
    let first_gpu = devices.as_ref().map(|d| d[0].uuid.clone());
    let env = environment(needs_gpu, first_gpu.as_deref())?;

    let ids: Vec<&CaseId> = jobs.iter().map(|j| &j.case.case.id).collect();
    let spread = devices.as_ref().is_some_and(|d| d.len() > 1);
    let estimates =
        if shard.is_some() || spread { estimates(suite, args.estimates.as_deref(), &env)? } else { None };
    let costs = estimates.as_ref().and_then(|e| e.costs(&ids));

    let timestamp =
        jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| jiff::Timestamp::now());
    let mut run = Run::new(&suite.name, timestamp.to_string(), env, settings.clone());
    run.git = git::info(suite.dir());
    let selected: Vec<usize> = match shard {
        Some(shard) => {
            let part = shard::split(&ids, shard, costs.as_deref());
            eprintln!(
                "pawl: shard {shard} of split {}: {} of the {} cases ({})",
                part.info.plan,
                part.cases.len(),
                ids.len(),
                if part.info.balanced { "balanced on the estimates" } else { "by the hash of their ids" }
            );
            run.shard = Some(part.info);
            part.cases
        }
        None => (0..jobs.len()).collect(),
    };
    let places: Vec<Option<Device>> = match devices {
        Some(devices) => devices.into_iter().map(Some).collect(),
        None => vec![None],
    };
    // Several GPUs take the longest cases first, so that none is left with a long case at the end.
    let order = if places.len() > 1 {
        let selected_costs = costs.as_ref().map(|c| selected.iter().map(|&i| c[i]).collect::<Vec<_>>());
        let order = estimate::longest_first(selected.len(), selected_costs.as_deref());
        eprintln!(
            "pawl: {} cases on {} GPUs, {}",
            selected.len(),
            places.len(),
            if selected_costs.is_some() { "longest first" } else { "in suite order (no estimates)" }
        );
        order
    } else {
        (0..selected.len()).collect()
    };

    let started = Instant::now();
    let mut last_save = Instant::now();
    let queue = Queue::new(order, places.len());
    let worker = worker_argv()?;
    let mut results = Results {
        gpu: run.env.gpu.as_ref().map(|g| g.uuid.clone()),
        run,
        filled: Vec::new(),
        selected: &selected,
        progress: progress_bar(selected.len() as u64),
    };
    std::thread::scope(|scope| {
        let (events, received) = mpsc::channel::<LaneEvent>();
        for place in &places {
            let lane = Lane {
                place: place.as_ref(),
                jobs: &jobs,
                selected: &selected,
                queue: &queue,
                settings: &settings,
                worker: &worker,
                events: events.clone(),
            };
            scope.spawn(move || lane.run());
        }
        drop(events);
        for event in received {
            match event {
                LaneEvent::Result(slot, result) => results.add(slot, *result),
                LaneEvent::Warning(warning) => results.run.warnings.push(warning),
            }
            if last_save.elapsed() >= SAVE_EVERY {
                // A failed intermediate save is retried at the next case and at the end.
                if results.run.save(output).is_ok() {
                    last_save = Instant::now();
                }
            }
        }
    });
    // Every lane answers every case it takes; this only guards against a case no lane took.
    for slot in 0..selected.len() {
        if !results.filled.contains(&slot) {
            let mut failed = CaseResult::planned(&jobs[selected[slot]].case, CaseStatus::Failed);
            failed.error = Some("not measured: no GPU's worker could take it".to_owned());
            results.add(slot, failed);
        }
    }
    let Results { mut run, progress, .. } = results;
    progress.finish_and_clear();
    run.measure_seconds = Some(started.elapsed().as_secs_f64());
    if run.env.gpu.is_some() {
        let state = match &first_gpu {
            Some(uuid) => pawl_cuda::gpu_state_of(uuid),
            None => pawl_cuda::gpu_state(),
        };
        run.env.clocks_end = state.ok().and_then(|state| state.environment.clocks_start);
    }
    run.save(output).with_context(|| "cannot save the run file".to_owned())?;
    Ok(run)
}

/// Cost estimates for handing cases out and balancing shards: `--estimates` (a run file or a
/// baseline), else the suite's baseline where it exists; a baseline's figures for this run's testbed.
pub fn estimates(suite: &Suite, flag: Option<&Path>, env: &Environment) -> Result<Option<Estimates>> {
    let path = match (flag, &suite.baseline) {
        (Some(path), _) => path.to_owned(),
        (None, Some(path)) if path.exists() => path.clone(),
        _ => return Ok(None),
    };
    let label = path.display().to_string();
    let context = || format!("cannot read the estimates in {label}");
    let estimates = match crate::commands::file_kind(&path).with_context(context)? {
        FileKind::Run => Estimates::from_run(&Run::load(&path).with_context(context)?, label),
        FileKind::Baseline => {
            let baseline = Baseline::load(&path).with_context(context)?;
            let testbed = Testbed::from_env(env);
            match baseline.testbed(&testbed) {
                Some(tb) => Estimates::from_baseline(tb, label),
                None => {
                    eprintln!("pawl: {label} has no figures for `{testbed}`: no estimates");
                    return Ok(None);
                }
            }
        }
    };
    eprintln!("pawl: estimates of each case's time from {}", estimates.source);
    Ok(Some(estimates))
}

/// The run as its cases come in, kept in suite order.
struct Results<'a> {
    run: Run,
    /// The slot (place among the selected cases) of each of `run.cases`, ascending.
    filled: Vec<usize>,
    selected: &'a [usize],
    /// The run's GPU, for cases measured without `--gpus`.
    gpu: Option<String>,
    progress: ProgressBar,
}

impl Results<'_> {
    fn add(&mut self, slot: usize, mut result: CaseResult) {
        if result.stats.is_none() && result.status == CaseStatus::Ok {
            result.stats = stats::summarize(&result.samples_ns, SUMMARY_CONFIDENCE).ok();
        }
        if result.gpu_uuid.is_none() {
            result.gpu_uuid = self.gpu.clone();
        }
        if self.run.shard.is_some() {
            result.plan_index = Some(self.selected[slot]);
        }
        if result.status != CaseStatus::Ok {
            let error = result.error.as_deref().map(pawl_core::harness::shown).unwrap_or_default();
            self.progress.suspend(|| {
                eprintln!(
                    "{} {}: {}",
                    result.status.as_str(),
                    escape::terminal(result.id.as_str()),
                    escape::terminal(&error)
                )
            });
        }
        self.progress.set_message(escape::terminal(&result.bench).into_owned());
        let at = self.filled.partition_point(|&s| s < slot);
        self.filled.insert(at, slot);
        self.run.cases.insert(at, result);
        self.progress.inc(1);
    }
}

/// A planned case with its bench.
#[derive(Debug)]
struct Job<'s> {
    bench: &'s Bench,
    case: PlannedCase,
}

/// What a lane reports to the thread writing the run file.
enum LaneEvent {
    /// The result of the case in this slot (its place among the selected cases).
    Result(usize, Box<CaseResult>),
    Warning(RunWarning),
}

/// The cases not yet taken, shared by the lanes, longest first.
///
/// A lane whose GPU cannot measure anything (its worker cannot open it) gives its case back and stops,
/// once: the other lanes measure it. A lane waits for work while others are busy, since one of them
/// may give a case back.
#[derive(Debug)]
struct Queue {
    state: Mutex<QueueState>,
    changed: Condvar,
}

#[derive(Debug)]
struct QueueState {
    waiting: VecDeque<usize>,
    /// Lanes measuring a case now.
    busy: usize,
    /// Lanes still taking cases.
    lanes: usize,
    /// Cases given back once already.
    given_back: BTreeSet<usize>,
}

impl Queue {
    fn new(order: Vec<usize>, lanes: usize) -> Queue {
        let state = QueueState { waiting: order.into(), busy: 0, lanes, given_back: BTreeSet::new() };
        Queue { state: Mutex::new(state), changed: Condvar::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        // A lane that panicked cannot leave the queue half-changed: every change is one statement.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next case to measure, or `None` when every case is taken and no lane can give one back.
    fn take(&self) -> Option<usize> {
        let mut state = self.lock();
        loop {
            if let Some(slot) = state.waiting.pop_front() {
                state.busy += 1;
                return Some(slot);
            }
            if state.busy == 0 {
                return None;
            }
            state = self.changed.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// The case taken is answered.
    fn done(&self) {
        self.lock().busy -= 1;
        self.changed.notify_all();
    }

    /// Gives the case back for another lane and stops this one, if another lane is still taking cases
    /// and the case was not given back before; else `false`, and the lane answers the case itself.
    fn give_back(&self, slot: usize) -> bool {
        let mut state = self.lock();
        if state.lanes < 2 || !state.given_back.insert(slot) {
            return false;
        }
        state.waiting.push_front(slot);
        state.busy -= 1;
        state.lanes -= 1;
        drop(state);
        self.changed.notify_all();
        true
    }

    /// This lane takes no more cases.
    fn leave(&self) {
        self.lock().lanes -= 1;
    }
}

/// One GPU (or, without `--gpus`, whatever GPU the driver shows first) and its worker and harnesses.
struct Lane<'a> {
    place: Option<&'a Device>,
    jobs: &'a [Job<'a>],
    selected: &'a [usize],
    queue: &'a Queue,
    settings: &'a MeasureSettings,
    worker: &'a [OsString],
    events: mpsc::Sender<LaneEvent>,
}

impl Lane<'_> {
    fn run(self) {
        let pin = self.place.map(|device| device.uuid.as_str());
        let mut worker = Worker::new(self.worker);
        let mut harness = HarnessBackend::default();
        if let Some(uuid) = pin {
            worker = worker.env(gpus::PIN, uuid);
            harness = HarnessBackend::with_env(gpus::PIN, uuid);
        }
        let clock = SystemClock::new();
        let mut retired = false;
        while let Some(slot) = self.queue.take() {
            let job = &self.jobs[self.selected[slot]];
            let mut result = match &job.bench.kind {
                BenchKind::Cuda(_) => match measure_cuda(&mut worker, job, self.settings) {
                    Ok(result) => result,
                    Err(message) if self.queue.give_back(slot) => {
                        let gpu = pin.unwrap_or("the GPU");
                        let warning = RunWarning {
                            case: Some(job.case.case.id.clone()),
                            message: format!(
                                "{gpu}: its worker could not measure ({message}); its cases went to the other GPUs"
                            ),
                        };
                        let _ = self.events.send(LaneEvent::Warning(warning));
                        retired = true;
                        break;
                    }
                    Err(message) => {
                        let mut failed = CaseResult::planned(&job.case, CaseStatus::Failed);
                        failed.error = Some(message);
                        failed
                    }
                },
                BenchKind::Command(_) => {
                    engine::measure_case(
                        &mut harness,
                        job.bench,
                        &job.case,
                        self.settings,
                        &clock,
                        &mut |_| {},
                    )
                    .result
                }
            };
            if let Some(uuid) = pin {
                result.gpu_uuid = Some(uuid.to_owned());
            }
            let _ = self.events.send(LaneEvent::Result(slot, Box::new(result)));
            self.queue.done();
        }
        if !retired {
            self.queue.leave();
        }
        harness.finish();
        for warning in std::mem::take(&mut harness.warnings) {
            let _ = self.events.send(LaneEvent::Warning(warning));
        }
        worker.finish();
    }
}

/// One case of a `cuda` bench, in the lane's worker (a fault or a hang fails only its case, and the
/// worker is started again); `Err` when the worker could not measure at all.
fn measure_cuda(worker: &mut Worker, job: &Job, settings: &MeasureSettings) -> Result<CaseResult, String> {
    let request = Request::Measure {
        bench: job.bench.clone(),
        cases: vec![job.case.clone()],
        settings: settings.clone(),
    };
    let watchdog = limits::duration(settings.timeout_s);
    let mut answered = None;
    worker
        .run(request, watchdog, &mut |answer| {
            if let Answer::Result(result) = answer {
                answered = Some(*result);
            }
        })
        .map_err(|e| e.0)?;
    answered.ok_or_else(|| "the CUDA worker never answered this case".to_owned())
}

/// How to start the CUDA worker: this very executable, with the hidden `__worker` subcommand.
fn worker_argv() -> Result<Vec<OsString>> {
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
