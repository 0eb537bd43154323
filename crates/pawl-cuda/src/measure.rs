//! Measuring one case in this process: compile, allocate and initialise, check against the reference,
//! time. Runs inside the worker process, where a fault can only take the worker down.

use std::collections::HashMap;
use std::sync::Arc;

use cudarc::driver::{CudaFunction, CudaModule};
use cudarc::nvrtc::Ptx;
use pawl_core::backend::PlannedCase;
use pawl_core::run::{CaseResult, CaseStatus};
use pawl_core::suite::{CudaBench, Launch, MeasureSettings};
use pawl_core::value::{Params, Value};

use crate::buffers::{ArgPlan, DeviceBuffer, kernel_args, plan_args};
use crate::builtin::Builtins;
use crate::cache::Cache;
use crate::check::Comparison;
use crate::compile::{self, Options, Source};
use crate::driver::Gpu;
use crate::env::Monitor;
use crate::error::CudaError;
use crate::launch::{Geometry, Kernel, KernelArg};
use crate::timing::{Timer, TimingMode};

/// A GPU opened for measuring, with what is shared between cases: built-in kernels, the timer and the
/// modules compiled so far.
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

/// A case ready to launch: its kernel, and its buffers in one placement or several.
pub(crate) struct Prepared {
    pub kernel: Kernel,
    plans: Vec<ArgPlan>,
    /// Buffer sets of identical contents, each at its own addresses; the first is the one checked.
    pub sets: Vec<BufferSet>,
}

/// One placement of a case's buffers, and the arguments that point at it.
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

/// How one case ended, before it becomes a [`CaseResult`].
#[derive(Debug)]
pub enum Failure {
    /// The output did not match the reference.
    Wrong { message: String, correctness: pawl_core::run::Correctness },
    /// Anything else; `error.is_sticky()` says whether the context survived.
    Error(CudaError),
}

impl From<CudaError> for Failure {
    fn from(e: CudaError) -> Self {
        Failure::Error(e)
    }
}

impl Session {
    pub fn open(cache: Cache) -> Result<Session, CudaError> {
        let gpu = Gpu::open()?;
        let builtins = Builtins::load(&gpu, &cache)?;
        let timer = Timer::new(&gpu)?;
        let monitor = Monitor::open(&gpu.uuid).ok();
        Ok(Session { gpu, cache, builtins, timer, monitor, modules: HashMap::new() })
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// Measures one case. Never panics; every failure is in the result. The second value is true when
    /// the CUDA context is no longer usable and this process must not measure another case.
    pub fn measure(
        &mut self,
        bench: &CudaBench,
        case: &PlannedCase,
        settings: &MeasureSettings,
        mode: TimingMode,
        progress: &mut dyn FnMut(&str),
    ) -> (CaseResult, bool) {
        let mut result = CaseResult::not_measured(
            case.case.id.clone(),
            case.case.bench.clone(),
            case.case.params.clone(),
            CaseStatus::Failed,
            "",
        );
        result.tune = case.tune.clone();
        result.flops = case.flops;
        result.bytes = case.bytes;
        match self.run(bench, case, settings, mode, progress, &mut result) {
            Ok(()) => (result, false),
            Err(Failure::Wrong { message, correctness }) => {
                result.status = CaseStatus::Wrong;
                result.error = Some(message);
                result.correctness = Some(correctness);
                (result, false)
            }
            Err(Failure::Error(error)) => {
                let sticky = error.is_sticky();
                result.status = CaseStatus::Failed;
                result.error = Some(error.to_string());
                result.samples_ns.clear();
                (result, sticky)
            }
        }
    }

    fn run(
        &mut self,
        bench: &CudaBench,
        case: &PlannedCase,
        settings: &MeasureSettings,
        mode: TimingMode,
        progress: &mut dyn FnMut(&str),
        result: &mut CaseResult,
    ) -> Result<(), Failure> {
        let vars = case.vars();
        progress("compiling");
        let placements = if mode == TimingMode::Cold { Placements::Rotate } else { Placements::One };
        let prepared = self.prepare(bench, case, settings, placements)?;
        let (kernel, plans) = (&prepared.kernel, &prepared.plans);
        let BufferSet { buffers, args } = &prepared.sets[0];
        result.kernel = Some(kernel.info()?);
        let stream = self.gpu.stream.clone();

        progress("checking");
        kernel.launch(&stream, args)?;
        stream.synchronize().map_err(CudaError::driver("running the kernel (first launch)"))?;
        if let Some(reference) = &bench.reference {
            // The reference reads the same inputs and writes outputs of its own, filled the same way.
            let mut ref_buffers = Vec::new();
            for buffer in buffers {
                if buffer.plan.output {
                    let mut copy = DeviceBuffer::alloc(&stream, &buffer.plan)?;
                    copy.fill(&stream, &self.builtins, self.gpu.sm_count)?;
                    ref_buffers.push(Some(copy));
                } else {
                    ref_buffers.push(None);
                }
            }
            let ref_args = {
                let mut ptrs =
                    buffers.iter().zip(&ref_buffers).map(|(b, r)| r.as_ref().unwrap_or(b).ptr(&stream));
                plans
                    .iter()
                    .filter_map(|p| match p {
                        ArgPlan::Buffer(_) => ptrs.next().map(KernelArg::Pointer),
                        ArgPlan::Scalar(s) => Some(KernelArg::Scalar(*s)),
                    })
                    .collect::<Vec<_>>()
            };
            let source =
                if reference.source.as_os_str().is_empty() { &bench.source } else { &reference.source };
            let ref_kernel = self.kernel(
                bench,
                source,
                &reference.kernel,
                &reference.defines,
                &reference.launch,
                &case.tune,
                &vars,
            )?;
            ref_kernel.launch(&stream, &ref_args)?;
            stream.synchronize().map_err(CudaError::driver("running the reference kernel"))?;

            let rtol = reference.rtol.eval_f64(&vars).map_err(|e| CudaError::Setup(format!("rtol: {e}")))?;
            let atol = reference.atol.eval_f64(&vars).map_err(|e| CudaError::Setup(format!("atol: {e}")))?;
            let mut comparison = Comparison::new(rtol, atol);
            for (buffer, reference) in buffers.iter().zip(&ref_buffers) {
                let Some(reference) = reference else { continue };
                let out =
                    stream.clone_dtoh(&buffer.slice).map_err(CudaError::driver("copying an output back"))?;
                let expected = stream
                    .clone_dtoh(&reference.slice)
                    .map_err(CudaError::driver("copying a reference output back"))?;
                comparison.add(&buffer.plan.name, buffer.plan.dtype, &out, &expected, buffer.plan.poisoned());
            }
            result.correctness = Some(comparison.correctness());
            if !comparison.passed() {
                return Err(Failure::Wrong {
                    message: comparison.message().unwrap_or_default(),
                    correctness: comparison.correctness(),
                });
            }
        }

        progress("timing");
        let sets: Vec<&[KernelArg]> = prepared.sets.iter().map(|set| set.args.as_slice()).collect();
        let timing =
            self.timer.measure(&self.builtins, kernel, &sets, settings, mode, self.monitor.as_ref())?;
        stream.synchronize().map_err(CudaError::driver("finishing the timed launches"))?;
        let notes = timing.notes(settings);
        result.status = CaseStatus::Ok;
        result.error = (!notes.is_empty()).then(|| format!("note: {}", notes.join("; ")));
        result.samples_ns = timing.samples_ns;
        result.sm_clock_mhz = timing.sm_clock_mhz;
        result.throttled_samples = timing.throttled_samples;
        result.timing = Some(timing.mode.as_str().to_owned());
        Ok(())
    }

    /// Compiles the case's kernel and allocates and initialises its buffers, in one placement or
    /// several.
    pub(crate) fn prepare(
        &mut self,
        bench: &CudaBench,
        case: &PlannedCase,
        settings: &MeasureSettings,
        placements: Placements,
    ) -> Result<Prepared, CudaError> {
        let vars = case.vars();
        let kernel = self.kernel(
            bench,
            &bench.source,
            &bench.kernel,
            &bench.defines,
            &bench.launch,
            &case.tune,
            &vars,
        )?;
        let plans = plan_args(&bench.args, &vars, settings.seed)?;
        let stream = self.gpu.stream.clone();
        let buffer_plans: Vec<_> =
            plans.iter().filter_map(|p| if let ArgPlan::Buffer(b) = p { Some(b) } else { None }).collect();
        let set_bytes = buffer_plans.iter().map(|plan| plan.bytes()).sum();
        let mut sets = Vec::new();
        for _ in 0..placements.count(set_bytes) {
            let mut buffers = Vec::new();
            for plan in &buffer_plans {
                let mut buffer = DeviceBuffer::alloc(&stream, plan)?;
                buffer.fill(&stream, &self.builtins, self.gpu.sm_count)?;
                buffers.push(buffer);
            }
            let args = kernel_args(&plans, &buffers, &stream);
            sets.push(BufferSet { buffers, args });
        }
        Ok(Prepared { kernel, plans, sets })
    }

    /// Launches the case's kernel `launches` times, one after another, with nothing timed: for an
    /// external profiler (Nsight Compute) to time the same kernel pawl times.
    pub fn launch_only(
        &mut self,
        bench: &CudaBench,
        case: &PlannedCase,
        settings: &MeasureSettings,
        launches: usize,
    ) -> Result<(), CudaError> {
        let prepared = self.prepare(bench, case, settings, Placements::One)?;
        for _ in 0..launches {
            prepared.kernel.launch(&self.gpu.stream, &prepared.sets[0].args)?;
        }
        self.gpu.stream.synchronize().map_err(CudaError::driver("running the kernel"))
    }

    /// Compiles (or finds) `kernel` from `source` with the case's tune values and `defines`, and checks
    /// its launch geometry.
    #[allow(clippy::too_many_arguments)]
    fn kernel(
        &mut self,
        bench: &CudaBench,
        source: &std::path::Path,
        name: &str,
        defines: &[(String, pawl_core::expr::Expr)],
        launch: &Launch,
        tune: &Params,
        vars: &Params,
    ) -> Result<Kernel, CudaError> {
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
        defines: &[(String, pawl_core::expr::Expr)],
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
