//! Measuring a suite: plan the cases, keep this runner's shard of them (`--shard`), hand them out to one
//! lane per GPU (`--gpus`; one lane without it, see [`lanes`](crate::lanes)), longest first, and collect
//! a run file in suite order as results come.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pawl_core::baseline::{Baseline, Testbed};
use pawl_core::case::CaseId;
use pawl_core::estimate::{self, Estimates};
use pawl_core::expr::Expr;
use pawl_core::plan::{self, Selection};
use pawl_core::report::escape;
use pawl_core::run::{CaseResult, CaseStatus, Environment, Run};
use pawl_core::shard::{self, Shard};
use pawl_core::stats;
use pawl_core::suite::limits::{self, Limit};
use pawl_core::suite::{BenchKind, MeasureSettings, Suite};

use crate::cli::{GpuArgs, MeasureArgs};
use crate::commands::FileKind;
use crate::lanes::{self, Job};
use crate::{git, gpus, log, output};

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
    // The ceilings `pawl ceilings` measured on this GPU and driver, where it has.
    env.ceilings =
        env.gpu.as_ref().and_then(|g| crate::commands::ceilings::cached(&g.uuid, &g.driver_version));
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
pub fn measure(
    suite: &Suite,
    args: &MeasureArgs,
    gpu_args: &GpuArgs,
    shard: Option<Shard>,
    output: &Path,
) -> Result<Run> {
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
    let devices = gpus::selected(gpu_args)?;
    let needs_gpu = jobs.iter().any(|j| matches!(j.bench.kind, BenchKind::Cuda(_)));
    let first_gpu = devices.as_ref().map(|d| d[0].uuid.clone());
    let env = environment(needs_gpu, first_gpu.as_deref())?;

    let ids: Vec<&CaseId> = jobs.iter().map(|j| &j.case.case.id).collect();
    let spread = devices.as_ref().is_some_and(|d| d.len() > 1);
    if gpu_args.estimates.is_some() && shard.is_none() && !spread {
        log::info("pawl: --estimates serves --gpus over several GPUs and --shard; it changes nothing here");
    }
    let estimates = match (shard, spread) {
        (Some(_), _) => estimates(suite, gpu_args.estimates.as_deref(), &env, Split::Shards)?,
        (None, true) => estimates(suite, gpu_args.estimates.as_deref(), &env, Split::OneHost)?,
        (None, false) => None,
    };
    let costs = estimates.as_ref().and_then(|e| e.costs(&ids));

    let timestamp =
        jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| jiff::Timestamp::now());
    let mut run = Run::new(&suite.name, timestamp.to_string(), env, settings.clone());
    run.git = git::info(suite.dir());
    let selected: Vec<usize> = match shard {
        Some(shard) => {
            let part = shard::split(&ids, shard, costs.as_deref());
            log::info(format_args!(
                "pawl: shard {shard} of split {}: {} of the {} cases ({})",
                part.info.plan,
                part.cases.len(),
                ids.len(),
                if part.info.balanced { "balanced on the estimates" } else { "by the hash of their ids" }
            ));
            run.shard = Some(part.info);
            part.cases
        }
        None => (0..jobs.len()).collect(),
    };
    let places = gpus::places(devices);
    // Several GPUs take the longest cases first, so that none is left with a long case at the end.
    let order = if places.len() > 1 {
        let selected_costs = costs.as_ref().map(|c| selected.iter().map(|&i| c[i]).collect::<Vec<_>>());
        let order = estimate::longest_first(selected.len(), selected_costs.as_deref());
        log::info(format_args!(
            "pawl: {} cases on {} GPUs, {}",
            selected.len(),
            places.len(),
            if selected_costs.is_some() { "longest first" } else { "in suite order (no estimates)" }
        ));
        order
    } else {
        (0..selected.len()).collect()
    };

    let jobs: Vec<Job> = selected.iter().map(|&i| jobs[i].clone()).collect();
    let started = Instant::now();
    let mut last_save = Instant::now();
    let mut results = Results {
        gpu: run.env.gpu.as_ref().map(|g| g.uuid.clone()),
        run,
        filled: Vec::new(),
        selected: &selected,
        progress: progress_bar(selected.len() as u64),
    };
    lanes::measure(&worker_argv()?, &jobs, order, &places, &settings, &mut |event| {
        match event {
            lanes::Event::Result(slot, result) => results.add(slot, *result),
            lanes::Event::Warning(warning) => results.run.warnings.push(warning),
        }
        if !output::is_stdout(output) && last_save.elapsed() >= SAVE_EVERY {
            // A failed intermediate save is retried at the next case and at the end.
            if results.run.save(output).is_ok() {
                last_save = Instant::now();
            }
        }
    })?;
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
    output::write_json(output, &run).with_context(|| "cannot save the run file".to_owned())?;
    Ok(run)
}

/// What the estimates split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The cases of one process over its GPUs (`--gpus`).
    OneHost,
    /// A suite over runners (`--shard`): every runner must compute the same split, so the estimates
    /// come only from files all of them hold alike, never from a history that shards append to.
    Shards,
}

/// Cost estimates for handing cases out and balancing shards: `--estimates` (a run file or a
/// baseline); else, over one host's GPUs, the latest run of the suite on this testbed in its history;
/// else the suite's baseline where it exists, its figures for this run's testbed.
pub fn estimates(
    suite: &Suite,
    flag: Option<&Path>,
    env: &Environment,
    split: Split,
) -> Result<Option<Estimates>> {
    if flag.is_none() && split == Split::OneHost {
        let testbed = Testbed::from_env(env);
        if let Some(run) = crate::commands::history::latest_run(suite, &testbed)? {
            let estimates =
                Estimates::from_run(&run, format!("the latest run of `{}` in the history", suite.name));
            log::info(format_args!("pawl: estimates of each case's time from {}", estimates.source));
            return Ok(Some(estimates));
        }
    }
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
                    log::info(format_args!("pawl: {label} has no figures for `{testbed}`: no estimates"));
                    return Ok(None);
                }
            }
        }
        other => bail!("{label} is {}; --estimates takes a run file or a baseline", other.described()),
    };
    log::info(format_args!("pawl: estimates of each case's time from {}", estimates.source));
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

/// How to start the CUDA worker: this very executable, with the hidden `__worker` subcommand.
pub fn worker_argv() -> Result<Vec<OsString>> {
    let exe = std::env::current_exe().context("cannot find the pawl executable to start its CUDA worker")?;
    Ok(vec![exe.into_os_string(), OsString::from("__worker")])
}

/// A progress bar on standard error with the time left, estimated from the cases done so far; hidden
/// where standard error is no terminal (a CI log) and with `--quiet`.
fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() || log::quiet() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} cases, ETA {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
