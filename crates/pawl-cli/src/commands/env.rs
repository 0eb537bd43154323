//! `pawl env`: the GPU, driver and clocks, and what would hurt measurement.

use std::io::Write;

use anyhow::{Context, Result};

use super::Outcome;
use crate::cli::EnvArgs;

pub fn run(args: &EnvArgs) -> Result<Outcome> {
    let state = crate::measure::gpu_state()?;
    let env = &state.environment;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, env).context("cannot write the environment")?;
        writeln!(out)?;
        return Ok(Outcome::Pass);
    }
    writeln!(out, "pawl {} on {}", env.pawl_version, env.hostname)?;
    if let Some(gpu) = &env.gpu {
        writeln!(out, "GPU          {} ({})", gpu.name, gpu.uuid)?;
        writeln!(
            out,
            "compute      {} with {} SMs, L2 {} MiB, memory {} GiB",
            gpu.compute_capability,
            gpu.sm_count,
            gpu.l2_bytes >> 20,
            gpu.memory_bytes >> 30
        )?;
        writeln!(out, "driver       {} (CUDA {})", gpu.driver_version, gpu.cuda_version)?;
        if let Some(nvrtc) = &gpu.nvrtc_version {
            writeln!(out, "NVRTC        {nvrtc}")?;
        }
        if let Some(max) = gpu.max_sm_clock_mhz {
            writeln!(out, "max SM clock {max} MHz")?;
        }
    }
    if let Some(clocks) = &env.clocks_start {
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
    let warnings = pawl_cuda::measurement_warnings(&state);
    for warning in &warnings {
        writeln!(out, "warning: {warning}")?;
    }
    if warnings.is_empty() {
        writeln!(out, "nothing seen that would disturb measurement")?;
    }
    Ok(Outcome::Pass)
}
