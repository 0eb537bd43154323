//! Measures a suite's `kind = "cuda"` benches with the CUDA backend and writes a run file, the way
//! `pawl run` does; scripts/gpu-check.sh uses it to launch cases under Nsight Compute.
//!
//! ```text
//! measure SUITE --out RUN.json [--worker PATH] [--bench NAME,NAME] [--graph]
//! measure SUITE --launch-only N [--bench NAME]     # launch each case N times, untimed (for ncu)
//! ```
//! Next to RUN.json it writes RUN.wall.json: the wall time each case took, in seconds.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use pawl_core::plan::{BenchPlan, Selection, plan};
use pawl_core::run::Run;
use pawl_core::suite::{BenchKind, Suite};
use pawl_cuda::protocol::Request;
use pawl_cuda::workers::{self, Answer};
use pawl_cuda::{Cache, CudaBackend, Session};

struct Args {
    suite: PathBuf,
    out: Option<PathBuf>,
    worker: Option<PathBuf>,
    bench: Option<String>,
    graph: bool,
    launch_only: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed =
        Args { suite: PathBuf::new(), out: None, worker: None, bench: None, graph: false, launch_only: None };
    let mut suite = None;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--out" => parsed.out = Some(value("--out")?.into()),
            "--worker" => parsed.worker = Some(value("--worker")?.into()),
            "--bench" => parsed.bench = Some(value("--bench")?),
            "--graph" => parsed.graph = true,
            "--launch-only" => {
                let n = value("--launch-only")?;
                parsed.launch_only =
                    Some(n.parse().map_err(|_| format!("--launch-only takes a count, not `{n}`"))?);
            }
            other if suite.is_none() && !other.starts_with("--") => suite = Some(PathBuf::from(other)),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    parsed.suite =
        suite.ok_or("usage: measure SUITE --out RUN.json [--worker PATH] [--bench NAME] [--graph]")?;
    if parsed.out.is_none() && parsed.launch_only.is_none() {
        return Err("give --out RUN.json (or --launch-only N)".into());
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let suite = Suite::load(&args.suite).map_err(|e| e.to_string())?;
    // Planned as the CLI plans them (tune defaults, evaluated work), then cut to the benches asked for.
    let plans: Vec<BenchPlan> = plan(&suite, &Selection::default())
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|p| matches!(p.bench.kind, BenchKind::Cuda(_)))
        .filter(|p| args.bench.as_ref().is_none_or(|names| names.split(',').any(|n| n == p.bench.name)))
        .collect();

    if let Some(launches) = args.launch_only {
        let session = Session::open(Cache::from_env()).map_err(|e| e.to_string())?;
        let mut backend = CudaBackend::new(session);
        for BenchPlan { bench, cases } in &plans {
            for case in cases {
                match backend.launch_only(bench, case, &suite.measure, launches) {
                    Ok(()) => eprintln!("launched {} × {launches}", case.case.id),
                    Err(e) => eprintln!("{}: {e}", case.case.id),
                }
            }
        }
        return Ok(());
    }

    let worker: OsString = match &args.worker {
        Some(path) => path.clone().into(),
        None => std::env::current_exe().map_err(|e| e.to_string())?.with_file_name("pawl-cuda-worker").into(),
    };
    let env = pawl_cuda::environment().map_err(|e| e.to_string())?;
    let timestamp = jiff::Timestamp::now().to_string();
    let settings = pawl_core::suite::MeasureSettings { graph: args.graph, ..suite.measure.clone() };
    let mut run = Run::new(suite.name.clone(), timestamp, env, settings.clone());
    let mut wall = BTreeMap::new();
    let watchdog = pawl_core::suite::limits::duration(settings.timeout_s);
    for BenchPlan { bench, cases } in &plans {
        let mut last = Instant::now();
        let request =
            Request::Measure { bench: (*bench).clone(), cases: cases.clone(), settings: settings.clone() };
        workers::run(std::slice::from_ref(&worker), request, watchdog, &mut |answer| {
            let Answer::Result(result) = answer else { return };
            let seconds = last.elapsed().as_secs_f64();
            last = Instant::now();
            let mut samples = result.samples_ns.clone();
            samples.sort_by(f64::total_cmp);
            let median = samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN);
            eprintln!(
                "{:<40} {:<7} n={:<5} median {:>12.1} ns  wall {seconds:.2} s  {}",
                result.id.to_string(),
                result.status.as_str(),
                result.samples_ns.len(),
                median,
                result.error.as_deref().unwrap_or("").lines().next().unwrap_or("")
            );
            wall.insert(result.id.to_string(), seconds);
            run.cases.push(*result);
        })
        .map_err(|e| e.to_string())?;
    }
    if let Ok(state) = pawl_cuda::gpu_state() {
        run.env.clocks_end = state.environment.clocks_start;
    }
    let out = args.out.unwrap_or_default();
    run.save(&out).map_err(|e| e.to_string())?;
    let wall_path = out.with_extension("wall.json");
    std::fs::write(&wall_path, serde_json::to_string_pretty(&wall).map_err(|e| e.to_string())?)
        .map_err(|e| format!("cannot write {}: {e}", wall_path.display()))?;
    Ok(())
}
