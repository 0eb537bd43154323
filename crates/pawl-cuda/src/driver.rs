//! Opening the GPU: the driver presence check, the context and stream pawl measures on, and the device
//! facts the rest of the crate needs (architecture, L2 size, shared-memory limit).

use std::sync::Arc;

use cudarc::driver::sys::{CUdevice_attribute, CUresult};
use cudarc::driver::{CudaContext, CudaStream};

use crate::error::CudaError;

/// The GPU pawl measures on (device 0 of those `CUDA_VISIBLE_DEVICES` shows) with one stream.
#[derive(Debug)]
pub struct Gpu {
    pub ctx: Arc<CudaContext>,
    /// A stream of its own: graph capture needs a stream other than the legacy default one.
    pub stream: Arc<CudaStream>,
    pub name: String,
    /// `GPU-xxxxxxxx-…`, the form NVML and `nvidia-smi` use.
    pub uuid: String,
    pub compute_capability: (i32, i32),
    pub sm_count: u32,
    pub l2_bytes: u64,
    pub memory_bytes: u64,
    /// Largest dynamic shared memory a block may opt in to.
    pub max_shared_optin: u32,
}

/// True when libcuda can be loaded. With run-time loading, touching the driver without it panics.
pub fn driver_present() -> bool {
    // SAFETY: only tries to dlopen libcuda by its usual names; nothing is called in it.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// True when NVRTC can be loaded: by the system's search, or from one of the usual places
/// ([`libraries`](crate::libraries)).
pub fn nvrtc_present() -> bool {
    crate::libraries::NVRTC.locate().is_ok()
}

impl Gpu {
    /// Opens device 0, or says clearly that there is no driver or GPU.
    pub fn open() -> Result<Gpu, CudaError> {
        Gpu::open_ordinal(0)
    }

    /// Opens the visible device with this UUID (`GPU-…`).
    pub fn open_uuid(uuid: &str) -> Result<Gpu, CudaError> {
        if !driver_present() {
            return Err(CudaError::NoDriver);
        }
        cudarc::driver::result::init().map_err(no_gpu("initialising the CUDA driver"))?;
        let count = cudarc::driver::result::device::get_count().map_err(no_gpu("counting the GPUs"))?;
        for ordinal in 0..count {
            let device = cudarc::driver::result::device::get(ordinal).map_err(no_gpu("finding a GPU"))?;
            let id =
                cudarc::driver::result::device::get_uuid(device).map_err(no_gpu("reading a GPU's UUID"))?;
            if format_uuid(&id.bytes.map(|b| b as u8)) == uuid {
                return Gpu::open_ordinal(ordinal as usize);
            }
        }
        Err(CudaError::NoGpu(format!("no visible GPU has the UUID {uuid}")))
    }

    fn open_ordinal(ordinal: usize) -> Result<Gpu, CudaError> {
        if !driver_present() {
            return Err(CudaError::NoDriver);
        }
        let ctx = CudaContext::new(ordinal).map_err(|e| match e.0 {
            CUresult::CUDA_ERROR_NO_DEVICE | CUresult::CUDA_ERROR_INVALID_DEVICE => {
                CudaError::NoGpu(crate::error::describe(&e))
            }
            _ => {
                CudaError::Driver { what: format!("creating a CUDA context on device {ordinal}"), source: e }
            }
        })?;
        // SAFETY: pawl synchronizes its one stream itself before reading results or freeing buffers;
        // the per-buffer tracking events would otherwise be recorded inside the timing loops.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx.new_stream().map_err(CudaError::driver("creating a stream"))?;
        let attr = |a: CUdevice_attribute| {
            ctx.attribute(a).map_err(CudaError::driver(format!("reading device attribute {a:?}")))
        };
        let sm_count = attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?;
        let l2 = attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)?;
        let shared = attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)?;
        let uuid = ctx.uuid().map_err(CudaError::driver("reading the device UUID"))?;
        Ok(Gpu {
            name: ctx.name().map_err(CudaError::driver("reading the device name"))?,
            uuid: format_uuid(&uuid.bytes.map(|b| b as u8)),
            compute_capability: ctx
                .compute_capability()
                .map_err(CudaError::driver("reading the compute capability"))?,
            sm_count: sm_count.max(0) as u32,
            l2_bytes: l2.max(0) as u64,
            memory_bytes: ctx.total_mem().map_err(CudaError::driver("reading the memory size"))? as u64,
            max_shared_optin: shared.max(0) as u32,
            ctx,
            stream,
        })
    }

    /// The NVRTC target: the arch-specific variant (`sm_90a`) where the architecture has features
    /// only it exposes (wgmma, setmaxnreg on Hopper), so kernels that use them compile.
    pub fn arch(&self) -> String {
        arch_for(self.compute_capability)
    }
}

/// `sm_90a` for Hopper and later data-centre parts with arch-specific features, `sm_XY` otherwise.
pub fn arch_for((major, minor): (i32, i32)) -> String {
    let suffix =
        if matches!((major, minor), (9, 0) | (10, 0) | (10, 3) | (12, 0) | (12, 1)) { "a" } else { "" };
    format!("sm_{major}{minor}{suffix}")
}

/// A driver error while looking for a GPU: no device and an invalid one mean there is none.
fn no_gpu(what: &'static str) -> impl FnOnce(cudarc::driver::DriverError) -> CudaError {
    move |e| match e.0 {
        CUresult::CUDA_ERROR_NO_DEVICE | CUresult::CUDA_ERROR_INVALID_DEVICE => {
            CudaError::NoGpu(crate::error::describe(&e))
        }
        _ => CudaError::Driver { what: what.to_owned(), source: e },
    }
}

/// The 16 UUID bytes as `GPU-8-4-4-4-12` hex groups.
pub fn format_uuid(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("GPU-{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_uses_the_arch_specific_target_where_there_is_one() {
        assert_eq!(arch_for((9, 0)), "sm_90a");
        assert_eq!(arch_for((8, 9)), "sm_89");
        assert_eq!(arch_for((8, 0)), "sm_80");
        assert_eq!(arch_for((10, 0)), "sm_100a");
    }

    #[test]
    fn uuid_is_formatted_as_nvml_prints_it() {
        let bytes: [u8; 16] = std::array::from_fn(|i| i as u8 * 17);
        assert_eq!(format_uuid(&bytes), "GPU-00112233-4455-6677-8899-aabbccddeeff");
    }
}
