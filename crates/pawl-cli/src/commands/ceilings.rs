//! `pawl ceilings`: what this GPU's memory and arithmetic deliver, measured, beside the datasheet; kept
//! per GPU and driver, and recorded in the environment of every later run on that GPU.
//!
//! The probes run in a child process (`pawl __ceilings`) under the supervisor with a deadline, as every
//! kernel pawl launches does, so a fault or a hang fails the command, not pawl.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use pawl_core::ceilings::{self, CEILINGS_SCHEMA, Ceiling, CeilingKind, Ceilings};
use pawl_cuda::ceilings::ProbeReport;
use pawl_supervise::{Command, Event, Stderr, deadline_after};

use super::Outcome;
use crate::cli::CeilingsArgs;

/// Confidence of the ceilings' intervals.
const CONFIDENCE: f64 = 0.95;
/// How long the probes may take before they are stopped.
const PROBE_DEADLINE: Duration = Duration::from_secs(180);

/// Where ceilings are kept: `PAWL_CEILINGS_DIR`, else `pawl/ceilings` in the user's cache folder.
pub fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("PAWL_CEILINGS_DIR") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => dirs_cache().map(|d| d.join("pawl").join("ceilings")),
    }
}

fn dirs_cache() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
}

/// The cached ceilings of the GPU with this UUID and driver, for a run's environment.
pub fn cached(gpu_uuid: &str, driver_version: &str) -> Option<Ceilings> {
    Ceilings::cached(&cache_dir()?, gpu_uuid, driver_version)
}

pub fn run(args: &CeilingsArgs) -> Result<Outcome> {
    let env = crate::measure::environment(true, None)?;
    let gpu = env.gpu.as_ref().context("no GPU is visible")?;
    let cached = if args.refresh { None } else { cached(&gpu.uuid, &gpu.driver_version) };
    let ceilings = match cached {
        Some(ceilings) => {
            crate::log::info(format_args!(
                "pawl: ceilings of {} (driver {}) measured at {}; --refresh measures again",
                gpu.name, gpu.driver_version, ceilings.measured_at
            ));
            ceilings
        }
        None => {
            let ceilings = measure(args.samples, gpu)?;
            if let Some(dir) = cache_dir() {
                std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
                ceilings.save(&Ceilings::cache_path(&dir, &gpu.uuid, &gpu.driver_version))?;
            }
            ceilings
        }
    };
    if let Some(path) = &args.output {
        crate::output::write_json(path, &ceilings)?;
        if crate::output::is_stdout(path) {
            return Ok(Outcome::Pass);
        }
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &ceilings)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", table(&ceilings))?;
    }
    Ok(Outcome::Pass)
}

/// Runs the probes in a child process and turns their samples into ceilings.
fn measure(samples: usize, gpu: &pawl_core::run::GpuInfo) -> Result<Ceilings> {
    if samples == 0 {
        bail!("--samples must be at least 1");
    }
    let exe = std::env::current_exe().context("cannot find the pawl executable to start the probes")?;
    let argv =
        vec![exe.into_os_string(), "__ceilings".into(), "--samples".into(), samples.to_string().into()];
    crate::log::info(format_args!(
        "pawl: measuring the ceilings of {} ({samples} samples each, about 10 s)",
        gpu.name
    ));
    let mut child = Command::new(argv).stderr(Stderr::Tail(16 << 10)).max_line(64 << 20).spawn()?;
    let deadline = deadline_after(PROBE_DEADLINE);
    let mut answer = None;
    let exit = loop {
        match child.recv(deadline) {
            Event::Line { text, .. } => answer = Some(text),
            Event::Exited(exit) => break exit,
            Event::Deadline => {
                let exit = child.kill();
                bail!(
                    "the ceiling probes did not finish within {} s and were stopped; {}",
                    PROBE_DEADLINE.as_secs(),
                    exit.stderr_tail.trim()
                );
            }
            bad => bail!("the ceiling probes broke their protocol: {bad}"),
        }
    };
    if !exit.success() {
        bail!("the ceiling probes failed ({exit}): {}", exit.stderr_tail.trim());
    }
    let report: ProbeReport = serde_json::from_str(answer.as_deref().unwrap_or_default())
        .context("the ceiling probes answered something that is not their report")?;
    for failure in &report.failures {
        eprintln!("pawl: {} not measured: {}", failure.kind.label(), failure.error);
    }
    let sheet = ceilings::datasheet(&gpu.name);
    let mut list = Vec::new();
    for probe in report.probes {
        let datasheet = sheet.and_then(|s| s.figure(probe.kind));
        list.push(
            Ceiling::from_samples(
                probe.kind,
                probe.work,
                &probe.samples_ns,
                probe.method,
                datasheet,
                CONFIDENCE,
            )
            .with_context(|| format!("the samples of {}", probe.kind.label()))?,
        );
    }
    list.sort_by_key(|c| c.kind);
    Ok(Ceilings {
        schema: CEILINGS_SCHEMA.to_owned(),
        gpu_name: gpu.name.clone(),
        gpu_uuid: gpu.uuid.clone(),
        driver_version: gpu.driver_version.clone(),
        measured_at: jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        pawl_version: env!("CARGO_PKG_VERSION").to_owned(),
        datasheet: sheet.map(|s| s.source.to_owned()),
        ceilings: list,
    })
}

/// The hidden `__ceilings` subcommand: run the probes, print their report as one JSON line.
pub fn probe(samples: usize) -> Result<Outcome> {
    let report = pawl_cuda::ceilings::measure(samples)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string(&report)?)?;
    Ok(Outcome::Pass)
}

/// The ceilings as a table for the terminal.
fn table(ceilings: &Ceilings) -> String {
    let mut table = comfy_table::Table::new();
    table.force_no_tty().load_style(comfy_table::presets::NOTHING);
    table.set_header(["ceiling", "measured", "95% interval", "datasheet", "ratio", "how"]);
    for kind in CeilingKind::ALL {
        let Some(c) = ceilings.get(kind) else { continue };
        table.add_row([
            kind.label().to_owned(),
            format!("{:.0} {}", c.value, kind.unit()),
            format!("[{:.0}, {:.0}]", c.low, c.high),
            c.datasheet.map_or("—".to_owned(), |d| format!("{d:.0}")),
            c.ratio().map_or("—".to_owned(), |r| format!("{:.1}%", 100.0 * r)),
            c.method.clone(),
        ]);
    }
    format!(
        "{} (driver {}), measured {}\n{table}\n",
        ceilings.gpu_name, ceilings.driver_version, ceilings.measured_at
    )
}
