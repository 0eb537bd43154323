//! `--gpus`: the GPUs of this host a command measures on, one worker pinned to each.
//!
//! The GPUs come from NVML (see `pawl_cuda::devices` for how indices are read), or, for tests and CI
//! dry runs on machines without a GPU, from `PAWL_FAKE_GPUS`: a JSON list such as
//! `[{"uuid": "GPU-0", "name": "Test GPU"}, {"uuid": "GPU-1", "name": "Test GPU"}]`. Fake GPUs only
//! stand in for the listing: `command` benches' harnesses are pinned to them, but a `cuda` bench still
//! needs a real GPU to open.

use anyhow::{Context, Result};
use pawl_cuda::devices::{self, Device};

use crate::cli::GpuArgs;

/// The variable naming stand-in GPUs, for tests and dry runs.
pub const FAKE_GPUS: &str = "PAWL_FAKE_GPUS";

/// The environment variable that pins a process to its GPU.
pub const PIN: &str = "CUDA_VISIBLE_DEVICES";

/// Where to measure: each selected GPU, or, without `--gpus`, one unpinned place (`None`).
pub fn places(selected: Option<Vec<Device>>) -> Vec<Option<Device>> {
    match selected {
        Some(devices) => devices.into_iter().map(Some).collect(),
        None => vec![None],
    }
}

/// The GPUs `--gpus` selects, all of one model; `None` without `--gpus` (one worker, on whatever GPU
/// the driver shows first).
pub fn selected(args: &GpuArgs) -> Result<Option<Vec<Device>>> {
    let Some(selection) = &args.gpus else { return Ok(None) };
    let all = match std::env::var(FAKE_GPUS) {
        Ok(json) => serde_json::from_str::<Vec<Device>>(&json).with_context(|| {
            format!("{FAKE_GPUS} is not a JSON list of {{\"uuid\": …, \"name\": …}} objects: `{json}`")
        })?,
        Err(_) => devices::enumerate()?,
    };
    let shown = std::env::var(PIN).ok();
    let visible = devices::visible(&all, shown.as_deref())?;
    Ok(Some(devices::select(&visible, selection)?))
}
