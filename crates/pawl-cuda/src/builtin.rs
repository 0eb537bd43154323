//! pawl's own kernels (`builtin.cu`): device-side input initialisation, the L2 flush and the
//! blocking kernel, compiled once per process through the same NVRTC path and cache as user kernels.

use cudarc::driver::CudaFunction;
use cudarc::nvrtc::Ptx;

use crate::cache::Cache;
use crate::compile::{self, Options, Source};
use crate::driver::Gpu;
use crate::error::CudaError;

const SOURCE: &str = include_str!("builtin.cu");

/// The names of pawl's own kernels, which the kernel clock tells apart from the timed ones.
pub(crate) const OWN_KERNELS: [&str; 3] = ["pawl_init", "pawl_flush", "pawl_block"];

/// The loaded built-in kernels.
#[derive(Debug)]
pub struct Builtins {
    pub init: CudaFunction,
    pub flush: CudaFunction,
    pub block: CudaFunction,
}

impl Builtins {
    pub fn load(gpu: &Gpu, cache: &Cache) -> Result<Builtins, CudaError> {
        let source = Source { name: "pawl_builtin.cu".into(), text: SOURCE.into(), dir: None };
        let options = Options { arch: gpu.arch(), ..Options::default() };
        let compiled = compile::compile(&source, &options, cache)?;
        let module = gpu
            .ctx
            .load_module(Ptx::from_binary(compiled.cubin))
            .map_err(CudaError::driver("loading pawl's built-in kernels"))?;
        let load = |name: &str| {
            module.load_function(name).map_err(CudaError::driver(format!("finding built-in kernel {name}")))
        };
        Ok(Builtins { init: load("pawl_init")?, flush: load("pawl_flush")?, block: load("pawl_block")? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_source_compiles_for_hopper_and_ampere() {
        if !crate::driver::nvrtc_present() {
            eprintln!("skipping: libnvrtc.so.13 not found (pip install nvidia-cuda-nvrtc)");
            return;
        }
        let source = Source { name: "pawl_builtin.cu".into(), text: SOURCE.into(), dir: None };
        for arch in ["sm_90a", "sm_80"] {
            let options = Options { arch: arch.into(), ..Options::default() };
            let compiled = compile::compile(&source, &options, &Cache::disabled()).unwrap();
            assert!(compiled.cubin.starts_with(b"\x7fELF"), "{arch}");
        }
    }
}
