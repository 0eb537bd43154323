//! The GPU's identity and state, read through NVML and the driver: what `pawl env` shows, what a run
//! file records, and warnings about conditions that make numbers untrustworthy. Never changes a setting.

use nvml_wrapper::Nvml;
use nvml_wrapper::bitmasks::device::ThrottleReasons;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use pawl_core::run::{Clocks, Environment, GpuInfo};

use crate::driver::Gpu;
use crate::error::CudaError;

/// Throttle reasons that do not slow a running kernel: idle, or clocks someone set on purpose (those
/// get their own warning).
const BENIGN: [&str; 4] =
    ["gpu_idle", "applications_clocks_setting", "user_defined_clocks", "display_clock_setting"];

/// An open NVML session on one GPU.
pub struct Monitor {
    nvml: Nvml,
    uuid: String,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").field("uuid", &self.uuid).finish()
    }
}

fn nvml_error(what: &str) -> impl FnOnce(nvml_wrapper::error::NvmlError) -> CudaError + '_ {
    move |e| CudaError::Nvml { what: what.to_owned(), message: e.to_string() }
}

impl Monitor {
    /// Opens NVML for the GPU with this UUID (`GPU-…`).
    pub fn open(uuid: &str) -> Result<Monitor, CudaError> {
        let nvml = Nvml::init().map_err(nvml_error("loading libnvidia-ml"))?;
        nvml.device_by_uuid(uuid).map_err(nvml_error("finding the GPU by UUID"))?;
        Ok(Monitor { nvml, uuid: uuid.to_owned() })
    }

    fn device(&self) -> Result<nvml_wrapper::Device<'_>, CudaError> {
        self.nvml.device_by_uuid(self.uuid.as_str()).map_err(nvml_error("finding the GPU by UUID"))
    }

    /// Current SM clock in MHz.
    pub fn sm_clock_mhz(&self) -> Result<u32, CudaError> {
        self.device()?.clock_info(Clock::SM).map_err(nvml_error("reading the SM clock"))
    }

    /// Current throttle reasons, as snake_case names.
    pub fn throttle_reasons(&self) -> Result<Vec<String>, CudaError> {
        let reasons =
            self.device()?.current_throttle_reasons().map_err(nvml_error("reading throttle reasons"))?;
        Ok(throttle_names(reasons))
    }

    /// Clocks, temperature, power and throttle reasons now.
    pub fn clocks(&self) -> Result<Clocks, CudaError> {
        let device = self.device()?;
        Ok(Clocks {
            sm_mhz: device.clock_info(Clock::SM).map_err(nvml_error("reading the SM clock"))?,
            memory_mhz: device.clock_info(Clock::Memory).map_err(nvml_error("reading the memory clock"))?,
            temperature_c: device.temperature(TemperatureSensor::Gpu).ok(),
            power_w: device.power_usage().ok().map(|mw| f64::from(mw) / 1000.0),
            throttle_reasons: self.throttle_reasons()?,
        })
    }

    pub fn max_sm_clock_mhz(&self) -> Option<u32> {
        self.device().ok()?.max_clock_info(Clock::SM).ok()
    }

    pub fn driver_version(&self) -> Option<String> {
        self.nvml.sys_driver_version().ok()
    }

    pub fn cuda_version(&self) -> Option<String> {
        let v = self.nvml.sys_cuda_driver_version().ok()?;
        Some(format!(
            "{}.{}",
            nvml_wrapper::cuda_driver_version_major(v),
            nvml_wrapper::cuda_driver_version_minor(v)
        ))
    }

    /// Processes other than this one with a compute context on the GPU.
    pub fn other_processes(&self) -> Result<Vec<u32>, CudaError> {
        let me = std::process::id();
        let procs =
            self.device()?.running_compute_processes().map_err(nvml_error("listing GPU processes"))?;
        Ok(procs.into_iter().map(|p| p.pid).filter(|pid| *pid != me).collect())
    }

    pub fn persistence_mode(&self) -> Option<bool> {
        self.device().ok()?.is_in_persistent_mode().ok()
    }
}

/// `sw_thermal_slowdown`, … for each reason set.
pub fn throttle_names(reasons: ThrottleReasons) -> Vec<String> {
    reasons
        .iter_names()
        .filter(|(name, _)| *name != "NONE")
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect()
}

/// True when any reason that slows a running kernel is set.
pub fn is_throttling(reasons: &[String]) -> bool {
    reasons.iter().any(|r| !BENIGN.contains(&r.as_str()))
}

/// The GPU now: its environment and what else bears on trusting measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuState {
    pub environment: Environment,
    /// Process ids of other programs with a compute context on the GPU.
    pub other_processes: Vec<u32>,
    pub persistence_mode: Option<bool>,
}

/// Reads the GPU's identity (driver) and state (NVML). NVML is optional: without it the identity is
/// still returned, with no clocks.
pub fn gpu_state() -> Result<GpuState, CudaError> {
    state_of(Gpu::open()?)
}

/// As [`gpu_state`], for the visible GPU with this UUID (`GPU-…`).
pub fn gpu_state_of(uuid: &str) -> Result<GpuState, CudaError> {
    state_of(Gpu::open_uuid(uuid)?)
}

fn state_of(gpu: Gpu) -> Result<GpuState, CudaError> {
    let monitor = Monitor::open(&gpu.uuid).ok();
    let (major, minor) = gpu.compute_capability;
    let driver_version = match monitor.as_ref().and_then(Monitor::driver_version) {
        Some(v) => v,
        None => driver_api_version()?,
    };
    let cuda_version = monitor
        .as_ref()
        .and_then(Monitor::cuda_version)
        .unwrap_or_else(|| driver_api_version().unwrap_or_default());
    let info = GpuInfo {
        name: gpu.name.clone(),
        uuid: gpu.uuid.clone(),
        compute_capability: format!("{major}.{minor}"),
        sm_count: gpu.sm_count,
        l2_bytes: gpu.l2_bytes,
        memory_bytes: gpu.memory_bytes,
        driver_version,
        cuda_version,
        nvrtc_version: crate::compile::nvrtc_version().ok().map(|(a, b)| format!("{a}.{b}")),
        max_sm_clock_mhz: monitor.as_ref().and_then(Monitor::max_sm_clock_mhz),
    };
    let clocks = monitor.as_ref().and_then(|m| m.clocks().ok());
    let environment = Environment {
        pawl_version: env!("CARGO_PKG_VERSION").to_owned(),
        hostname: gethostname::gethostname().to_string_lossy().into_owned(),
        gpu: Some(info),
        clock: crate::clock::choice().clock,
        throttle_reasons_seen: clocks.as_ref().map(|c| c.throttle_reasons.clone()).unwrap_or_default(),
        clocks_start: clocks,
        clocks_end: None,
        ceilings: None,
    };
    Ok(GpuState {
        environment,
        other_processes: monitor.as_ref().and_then(|m| m.other_processes().ok()).unwrap_or_default(),
        persistence_mode: monitor.as_ref().and_then(Monitor::persistence_mode),
    })
}

/// The machine and GPU, for a run file or `pawl env`.
pub fn environment() -> Result<Environment, CudaError> {
    Ok(gpu_state()?.environment)
}

/// The CUDA version the driver supports, from the driver API (`"13.0"`).
fn driver_api_version() -> Result<String, CudaError> {
    let mut version = 0;
    // SAFETY: the driver is loaded (Gpu::open succeeded before this is called); one c_int is written.
    unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut version) }
        .result()
        .map_err(CudaError::driver("reading the driver version"))?;
    Ok(format!("{}.{}", version / 1000, (version % 1000) / 10))
}

/// Conditions that make measurements on this GPU less trustworthy, each as one sentence.
pub fn measurement_warnings(state: &GpuState) -> Vec<String> {
    let mut warnings = Vec::new();
    if !state.other_processes.is_empty() {
        warnings.push(format!(
            "other processes use the GPU (pids {:?}): they compete for it and make timings noisy",
            state.other_processes
        ));
    }
    let clocks = state.environment.clocks_start.as_ref();
    match clocks {
        None => warnings.push("NVML is not available: clocks and throttling cannot be checked".into()),
        Some(clocks) => {
            let slowing: Vec<_> =
                clocks.throttle_reasons.iter().filter(|r| is_throttling(std::slice::from_ref(r))).collect();
            if !slowing.is_empty() {
                warnings
                    .push(format!("the GPU is throttling now ({slowing:?}): timings will be slow and drift"));
            }
            if clocks
                .throttle_reasons
                .iter()
                .any(|r| r == "user_defined_clocks" || r == "applications_clocks_setting")
            {
                warnings.push(
                    "clocks are set by hand (locked or application clocks): timings are not comparable with a \
                     GPU at default clocks"
                        .into(),
                );
            }
            if let Some(t) = clocks.temperature_c.filter(|t| *t >= 85) {
                warnings.push(format!("the GPU is at {t} °C: thermal throttling is likely under load"));
            }
        }
    }
    if state.persistence_mode == Some(false) {
        warnings.push(
            "persistence mode is off: the driver may unload between runs, so the first run starts slower \
             (pawl warms up, so this only costs time)"
                .into(),
        );
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(reasons: &[&str], others: Vec<u32>, persistence: Option<bool>) -> GpuState {
        GpuState {
            environment: Environment {
                clocks_start: Some(Clocks {
                    sm_mhz: 1980,
                    memory_mhz: 2619,
                    temperature_c: Some(40),
                    power_w: Some(100.0),
                    throttle_reasons: reasons.iter().map(|s| s.to_string()).collect(),
                }),
                ..Environment::default()
            },
            other_processes: others,
            persistence_mode: persistence,
        }
    }

    #[test]
    fn throttle_names_are_snake_case() {
        let names = throttle_names(ThrottleReasons::SW_THERMAL_SLOWDOWN | ThrottleReasons::GPU_IDLE);
        assert!(names.contains(&"sw_thermal_slowdown".to_owned()), "{names:?}");
        assert!(names.contains(&"gpu_idle".to_owned()), "{names:?}");
        assert!(is_throttling(&names));
        assert!(!is_throttling(&["gpu_idle".to_owned()]));
    }

    #[test]
    fn warnings_name_what_is_wrong() {
        assert!(measurement_warnings(&state(&["gpu_idle"], vec![], Some(true))).is_empty());
        let w = measurement_warnings(&state(&["sw_power_cap"], vec![42], Some(false)));
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].contains("42"));
        assert!(w[1].contains("sw_power_cap"));
        assert!(w[2].contains("persistence"));
        let w = measurement_warnings(&state(&["user_defined_clocks"], vec![], None));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("set by hand"));
        let mut no_nvml = state(&[], vec![], None);
        no_nvml.environment.clocks_start = None;
        assert!(measurement_warnings(&no_nvml)[0].contains("NVML"));
    }
}
