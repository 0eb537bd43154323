//! `pawl env`: this machine as pawl sees it — the host and its CPU, the NVIDIA driver, NVRTC, Nsight
//! Compute and, where there is one, the GPU and its clocks — with warnings about anything that would
//! hurt measurement. Works on any machine: whatever is missing is reported, not an error, and `--json`
//! always prints JSON.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use pawl_core::run::{Clocks, GpuInfo};
use serde::Serialize;

use super::Outcome;
use crate::cli::EnvArgs;

/// Everything `pawl env` reports, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Report {
    pawl_version: String,
    hostname: String,
    /// `linux x86_64`.
    os: String,
    cpu: Cpu,
    driver: Found,
    nvrtc: Found,
    /// What times the samples: the kernels' own timestamps (CUPTI found) or CUDA events.
    clock: Found,
    /// Nsight Compute's command line program, for `pawl profile`.
    ncu: Found,
    /// The GPU pawl would measure on (the first that `CUDA_VISIBLE_DEVICES` shows).
    gpu: Option<GpuInfo>,
    clocks: Option<Clocks>,
    warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Cpu {
    model: Option<String>,
    /// Threads this process may run on.
    threads: usize,
}

/// Whether a part was found, and what is known of it.
#[derive(Debug, Default, Serialize)]
struct Found {
    found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
    /// Where it was found, in words, or why it was not.
    detail: String,
}

pub fn run(args: &EnvArgs) -> Result<Outcome> {
    let report = gather();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report).context("cannot write the environment")?;
        writeln!(out)?;
        return Ok(Outcome::Pass);
    }
    write_human(&report, &mut out)?;
    Ok(Outcome::Pass)
}

fn gather() -> Report {
    let mut report = Report {
        pawl_version: env!("CARGO_PKG_VERSION").to_owned(),
        hostname: gethostname::gethostname().to_string_lossy().into_owned(),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        cpu: Cpu { model: cpu_model(), threads: std::thread::available_parallelism().map_or(1, |n| n.get()) },
        driver: Found::default(),
        nvrtc: nvrtc(),
        clock: clock(),
        ncu: ncu(),
        gpu: None,
        clocks: None,
        warnings: Vec::new(),
    };
    if !pawl_cuda::driver_present() {
        report.driver.detail =
            "libcuda could not be loaded: no NVIDIA driver here; `kind = \"cuda\"` benches need one, \
             `kind = \"command\"` benches do not"
                .to_owned();
        return report;
    }
    report.driver.found = true;
    match pawl_cuda::gpu_state() {
        Ok(state) => {
            report.warnings = pawl_cuda::measurement_warnings(&state);
            let env = state.environment;
            if let Some(gpu) = &env.gpu {
                report.driver.version = Some(format!("{} (CUDA {})", gpu.driver_version, gpu.cuda_version));
            }
            report.driver.detail = "libcuda".to_owned();
            report.gpu = env.gpu;
            report.clocks = env.clocks_start;
        }
        Err(err) => report.driver.detail = crate::errors::message(&err.into()),
    }
    report
}

fn nvrtc() -> Found {
    match pawl_cuda::libraries::NVRTC.locate() {
        Ok(found) => Found {
            found: true,
            version: pawl_cuda::nvrtc_version().ok().map(|(major, minor)| format!("{major}.{minor}")),
            path: found.path.clone(),
            detail: format!("from {}", found.place),
        },
        Err(missing) => Found { detail: missing.advice(), ..Found::default() },
    }
}

fn clock() -> Found {
    let choice = pawl_cuda::clock::choice();
    let kernel = choice.clock == pawl_core::run::Clock::Kernel;
    Found {
        found: kernel,
        version: Some(if kernel { "kernel timestamps (CUPTI)" } else { "CUDA events" }.to_owned()),
        path: pawl_cuda::libraries::CUPTI.locate().ok().and_then(|found| found.path.clone()),
        detail: choice.why.clone(),
    }
}

fn ncu() -> Found {
    let flag = std::env::var_os("PAWL_NCU").filter(|v| !v.is_empty()).map(PathBuf::from);
    match super::profile::find_ncu(flag.as_deref()) {
        Some(path) => Found {
            found: true,
            path: Some(path),
            detail: "for `pawl profile`".to_owned(),
            ..Found::default()
        },
        None => Found {
            detail: "`ncu` is not on PATH (nor named by PAWL_NCU); only `pawl profile` needs it".to_owned(),
            ..Found::default()
        },
    }
}

/// The CPU's model name, where the system says (`/proc/cpuinfo` on Linux).
fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
}

fn write_human(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "pawl {} on {} ({})", report.pawl_version, report.hostname, report.os)?;
    let cpu = report.cpu.model.as_deref().unwrap_or("unknown model");
    writeln!(out, "CPU          {cpu}, {} threads", report.cpu.threads)?;
    for (name, found) in [
        ("driver", &report.driver),
        ("NVRTC", &report.nvrtc),
        ("clock", &report.clock),
        ("Nsight", &report.ncu),
    ] {
        let mut line = if found.found { "found".to_owned() } else { "not found".to_owned() };
        if let Some(version) = &found.version {
            line = version.clone();
        }
        if let Some(path) = &found.path {
            line.push_str(&format!(" at {}", path.display()));
        }
        writeln!(out, "{name:<12} {line}: {}", found.detail)?;
    }
    let Some(gpu) = &report.gpu else {
        writeln!(out, "GPU          none: `kind = \"command\"` benches run without one")?;
        return Ok(());
    };
    writeln!(out, "GPU          {} ({})", gpu.name, gpu.uuid)?;
    writeln!(
        out,
        "compute      {} with {} SMs, L2 {} MiB, memory {} GiB",
        gpu.compute_capability,
        gpu.sm_count,
        gpu.l2_bytes >> 20,
        gpu.memory_bytes >> 30
    )?;
    if let Some(max) = gpu.max_sm_clock_mhz {
        writeln!(out, "max SM clock {max} MHz")?;
    }
    if let Some(clocks) = &report.clocks {
        write!(out, "now          SM {} MHz, memory {} MHz", clocks.sm_mhz, clocks.memory_mhz)?;
        if let Some(t) = clocks.temperature_c {
            write!(out, ", {t} °C")?;
        }
        if let Some(p) = clocks.power_w {
            write!(out, ", {p:.0} W")?;
        }
        writeln!(out)?;
        if !clocks.throttle_reasons.is_empty() {
            writeln!(out, "throttle     {}", clocks.throttle_reasons.join(", "))?;
        }
    }
    for warning in &report.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    if report.warnings.is_empty() {
        writeln!(out, "nothing seen that would disturb measurement")?;
    }
    Ok(())
}
