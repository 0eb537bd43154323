//! A GPU opened for measuring, with what cases share: pawl's built-in kernels, the timer, NVML, and the
//! modules compiled so far. Lives inside the worker process, where a fault can only take the worker
//! down.

use std::collections::HashMap;
use std::sync::Arc;

use cudarc::driver::{CudaFunction, CudaModule};
use cudarc::nvrtc::Ptx;
use pawl_core::expr::Expr;
use pawl_core::run::Clock;
use pawl_core::suite::CudaBench;
use pawl_core::value::{Params, Value};

use crate::buffers::{ArgPlan, DeviceBuffer, kernel_args};
use crate::builtin::Builtins;
use crate::cache::Cache;
use crate::clock::KernelClock;
use crate::compile::{self, Options, Source};
use crate::driver::Gpu;
use crate::env::Monitor;
use crate::error::CudaError;
use crate::launch::{Geometry, Kernel, KernelArg};
use crate::timing::Timer;

pub struct Session {
    gpu: Gpu,
    pub(crate) cache: Cache,
    pub(crate) builtins: Builtins,
    pub(crate) timer: Timer,
    pub(crate) monitor: Option<Monitor>,
    modules: HashMap<String, Arc<CudaModule>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("gpu", &self.gpu.name).field("modules", &self.modules.len()).finish()
    }
}

/// Which kernel of a bench: the one measured, or its reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    Kernel,
    Reference,
}

/// One placement of a case's buffers, and the arguments that point at it.
#[derive(Debug)]
pub(crate) struct BufferSet {
    pub buffers: Vec<DeviceBuffer>,
    pub args: Vec<KernelArg>,
}

/// How many placements of its buffers a case is timed over.
///
/// Where a small kernel's buffers land matters: on the H100 the same 256 KiB copy timed 3.78 µs over
/// some placements and 3.94 µs over others, consistently, in one process. Timed over a single
/// placement, two processes (or the two sides of an A/B run) then differ by more than their own
/// intervals say. Cold timing therefore rotates over several placements, sample by sample, as far as
/// [`PLACEMENT_BYTES`] of memory allows (over six processes, the standard deviation of a 4 MiB copy's
/// medians was 2.2% with one placement, 0.9% with 8 and 0.8% with 32); warm and graph timing keep one
/// (they time one buffer's reuse).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placements {
    One,
    Rotate,
}

/// Most buffer placements a case rotates over.
const MAX_PLACEMENTS: usize = 32;
/// Memory the placements of one case may take together.
const PLACEMENT_BYTES: usize = 256 << 20;

impl Placements {
    /// The number of buffer sets for a case whose buffers take `set_bytes`.
    pub(crate) fn count(self, set_bytes: usize) -> usize {
        match self {
            Placements::One => 1,
            Placements::Rotate => (PLACEMENT_BYTES / set_bytes.max(1)).clamp(1, MAX_PLACEMENTS),
        }
    }
}

impl Session {
    pub fn open(cache: Cache) -> Result<Session, CudaError> {
        // Started before the context is made, so that CUPTI sees the context from its creation.
        let kernel_clock = match crate::clock::choice().clock {
            Clock::Kernel => Some(KernelClock::start()?),
            Clock::Events => None,
        };
        let gpu = Gpu::open()?;
        let builtins = Builtins::load(&gpu, &cache)?;
        let timer = Timer::new(&gpu, kernel_clock)?;
        let monitor = Monitor::open(&gpu.uuid).ok();
        Ok(Session { gpu, cache, builtins, timer, monitor, modules: HashMap::new() })
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// Allocates `count` placements of the buffers `plans` describe, each filled from its init (or with
    /// poison).
    pub(crate) fn buffer_sets(&self, plans: &[ArgPlan], count: usize) -> Result<Vec<BufferSet>, CudaError> {
        let stream = &self.gpu.stream;
        let mut sets = Vec::with_capacity(count);
        for _ in 0..count {
            let mut buffers = Vec::new();
            for plan in plans.iter().filter_map(ArgPlan::buffer) {
                let buffer = DeviceBuffer::alloc(stream, plan)?;
                buffer.fill(stream, &self.builtins, self.gpu.sm_count)?;
                buffers.push(buffer);
            }
            let args = kernel_args(plans, &buffers, stream);
            sets.push(BufferSet { buffers, args });
        }
        Ok(sets)
    }

    /// Compiles (or finds) the bench's kernel or its reference with the case's tune values and
    /// defines, and checks its launch geometry.
    pub(crate) fn kernel(
        &mut self,
        bench: &CudaBench,
        entry: Entry,
        vars: &Params,
        tune: &Params,
    ) -> Result<Kernel, CudaError> {
        let (source, name, defines, launch) = match (entry, &bench.reference) {
            (Entry::Kernel, _) => (&bench.source, &bench.kernel, &bench.defines, &bench.launch),
            (Entry::Reference, Some(r)) => {
                // A reference without a source of its own is in the bench's.
                let source = if r.source.as_os_str().is_empty() { &bench.source } else { &r.source };
                (source, &r.kernel, &r.defines, &r.launch)
            }
            (Entry::Reference, None) => return Err(CudaError::Setup("the bench names no reference".into())),
        };
        let options = self.options(bench, defines, tune, vars)?;
        let source = Source::read(source)?;
        let function = self.function(&source, &options, name)?;
        let geometry = Geometry::from_launch(launch, vars)?;
        let mut kernel = Kernel::new(function, geometry, self.gpu.max_shared_optin)?;
        kernel.defines = options.defines.iter().map(|(name, value)| format!("{name}={value}")).collect();
        Ok(kernel)
    }

    /// The NVRTC options of a kernel of `bench`: tune values and `defines` as `-D`, this GPU's arch.
    pub(crate) fn options(
        &self,
        bench: &CudaBench,
        defines: &[(String, Expr)],
        tune: &Params,
        vars: &Params,
    ) -> Result<Options, CudaError> {
        let mut all = Vec::new();
        for (name, value) in tune.iter() {
            all.push((name.to_owned(), define_value(value)));
        }
        for (name, expr) in defines {
            let value = expr.eval(vars).map_err(|e| CudaError::Setup(format!("define {name}: {e}")))?;
            all.push((name.clone(), define_value(&value)));
        }
        Ok(Options {
            defines: all,
            include_dirs: bench.include_dirs.clone(),
            extra_flags: bench.extra_flags.clone(),
            arch: self.gpu.arch(),
        })
    }

    fn function(
        &mut self,
        source: &Source,
        options: &Options,
        name: &str,
    ) -> Result<CudaFunction, CudaError> {
        let key = compile::cache_key(source, options, compile::nvrtc_version()?);
        let module = match self.modules.get(&key) {
            Some(module) => module.clone(),
            None => {
                let compiled = compile::compile(source, options, &self.cache)?;
                let module = self
                    .gpu
                    .ctx
                    .load_module(Ptx::from_binary(compiled.cubin))
                    .map_err(CudaError::driver(format!("loading the module of {}", source.name)))?;
                self.modules.insert(key, module.clone());
                module
            }
        };
        module.load_function(name).map_err(|e| match e.0 {
            cudarc::driver::sys::CUresult::CUDA_ERROR_NOT_FOUND => CudaError::Setup(format!(
                "{} has no kernel named `{name}`; declare it `extern \"C\" __global__` so its name is not mangled",
                source.name
            )),
            _ => CudaError::Driver { what: format!("finding kernel `{name}`"), source: e },
        })
    }
}

/// A value as a `-D` define: integers as they are, floats with a decimal point, booleans as 1 or 0.
pub fn define_value(value: &Value) -> String {
    match value {
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Str(s) => s.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cases_rotate_over_placements_as_memory_allows() {
        assert_eq!(Placements::One.count(1024), 1);
        assert_eq!(Placements::Rotate.count(0), MAX_PLACEMENTS);
        assert_eq!(Placements::Rotate.count(8 << 20), MAX_PLACEMENTS);
        assert_eq!(Placements::Rotate.count(32 << 20), 8);
        assert_eq!(Placements::Rotate.count(100 << 20), 2);
        assert_eq!(Placements::Rotate.count(2 << 30), 1, "a set larger than the budget still gets one");
    }

    #[test]
    fn define_values_are_valid_c() {
        assert_eq!(define_value(&Value::Int(128)), "128");
        assert_eq!(define_value(&Value::Float(2.0)), "2.0");
        assert_eq!(define_value(&Value::Bool(true)), "1");
        assert_eq!(define_value(&Value::from("half")), "half");
    }
}
