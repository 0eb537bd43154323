//! Kernel arguments of one case: buffers sized by their expressions and initialised on the device from
//! the run's seed, and scalars converted to their dtype.
//!
//! Initialisation runs on the GPU (`pawl_init` in `builtin.cu`): a counter-based hash (splitmix64) of
//! the seed, the buffer's name and the element index, so the same seed gives the same inputs on any GPU
//! and launch geometry, and gigabytes initialise in milliseconds.

use cudarc::driver::{CudaSlice, CudaStream, DevicePtr, PushKernelArg};
use pawl_core::suite::{Arg, Dtype, Init};
use pawl_core::value::Params;

use crate::builtin::Builtins;
use crate::error::CudaError;
use crate::launch::{KernelArg, Scalar};

pub use pawl_core::engine::check::POISON;

/// A buffer argument resolved for one case.
#[derive(Clone, Debug, PartialEq)]
pub struct BufferPlan {
    pub name: String,
    pub dtype: Dtype,
    pub count: usize,
    pub init: Init,
    pub output: bool,
    /// Filled again before every launch.
    pub reset: bool,
    /// Seeds this buffer's random stream: a hash of the run seed and the buffer's name.
    pub key: u64,
}

impl BufferPlan {
    pub fn bytes(&self) -> usize {
        self.count * self.dtype.size_bytes()
    }

    /// Outputs start as poison, so that elements the kernel never writes show; except buffers reset
    /// before every launch (an accumulating output starts from zeros, an in-out buffer from its data),
    /// which kernel and reference start from identically.
    pub fn poisoned(&self) -> bool {
        self.output && self.init == Init::Zeros && !self.reset
    }
}

/// One argument resolved for one case.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgPlan {
    Buffer(BufferPlan),
    Scalar(Scalar),
}

impl ArgPlan {
    pub fn buffer(&self) -> Option<&BufferPlan> {
        match self {
            ArgPlan::Buffer(plan) => Some(plan),
            ArgPlan::Scalar(_) => None,
        }
    }
}

/// Resolves every argument of a case: dtypes from params, element counts and scalar values from
/// their expressions.
pub fn plan_args(args: &[Arg], vars: &Params, seed: u64) -> Result<Vec<ArgPlan>, CudaError> {
    args.iter()
        .map(|arg| match arg {
            Arg::Buffer(b) => {
                let dtype = b.dtype.resolve(vars).ok_or_else(|| dtype_error(&b.name, &b.dtype))?;
                let count = b
                    .count
                    .eval_i64(vars)
                    .map_err(|e| CudaError::Setup(format!("buffer `{}`: {e}", b.name)))?;
                let count = usize::try_from(count).ok().filter(|c| *c > 0).ok_or_else(|| {
                    CudaError::Setup(format!(
                        "buffer `{}` has {count} elements (`{}`); it needs at least 1",
                        b.name,
                        b.count.source()
                    ))
                })?;
                if !b.output && b.init == Init::Zeros {
                    return Err(CudaError::Setup(format!(
                        "input buffer `{}` is initialised with zeros; inputs of zeros hide bugs and time \
                         unrealistically: use randn, uniform or index",
                        b.name
                    )));
                }
                Ok(ArgPlan::Buffer(BufferPlan {
                    name: b.name.clone(),
                    dtype,
                    count,
                    init: b.init.clone(),
                    output: b.output,
                    reset: b.reset,
                    key: buffer_key(seed, &b.name),
                }))
            }
            Arg::Scalar(s) => {
                let dtype = s.dtype.resolve(vars).ok_or_else(|| dtype_error(&s.name, &s.dtype))?;
                let value =
                    s.value.eval(vars).map_err(|e| CudaError::Setup(format!("scalar `{}`: {e}", s.name)))?;
                let scalar = Scalar::new(dtype, &value)
                    .map_err(|e| CudaError::Setup(format!("scalar `{}`: {e}", s.name)))?;
                Ok(ArgPlan::Scalar(scalar))
            }
        })
        .collect()
}

fn dtype_error(name: &str, spec: &pawl_core::suite::DtypeSpec) -> CudaError {
    CudaError::Setup(format!("argument `{name}`: dtype {spec:?} does not name a dtype for this case"))
}

/// splitmix64 of the seed mixed with an FNV-1a hash of the buffer name.
pub fn buffer_key(seed: u64, name: &str) -> u64 {
    pawl_core::hash::splitmix64(seed ^ pawl_core::hash::fnv1a(name))
}

/// Dtype codes shared with `builtin.cu`.
pub fn dtype_code(dtype: Dtype) -> i32 {
    match dtype {
        Dtype::F32 => 0,
        Dtype::F16 => 1,
        Dtype::Bf16 => 2,
        Dtype::F64 => 3,
        Dtype::I32 => 4,
        Dtype::I64 => 5,
        Dtype::U32 => 6,
        Dtype::U8 => 7,
    }
}

/// Init codes and their two parameters, shared with `builtin.cu`.
pub fn init_code(init: &Init) -> (i32, f64, f64) {
    match *init {
        Init::Randn { mean, std } => (0, mean, std),
        Init::Uniform { low, high } => (1, low, high),
        Init::Index => (2, 0.0, 0.0),
        Init::Zeros => (3, 0.0, 0.0),
    }
}

/// A device buffer with its plan.
#[derive(Debug)]
pub struct DeviceBuffer {
    pub plan: BufferPlan,
    pub slice: CudaSlice<u8>,
}

impl DeviceBuffer {
    pub fn alloc(stream: &std::sync::Arc<CudaStream>, plan: &BufferPlan) -> Result<DeviceBuffer, CudaError> {
        let slice = stream.alloc_zeros::<u8>(plan.bytes()).map_err(CudaError::driver(format!(
            "allocating {} bytes for buffer `{}`",
            plan.bytes(),
            plan.name
        )))?;
        Ok(DeviceBuffer { plan: plan.clone(), slice })
    }

    pub fn ptr(&self, stream: &CudaStream) -> u64 {
        let (ptr, _sync) = self.slice.device_ptr(stream);
        ptr
    }

    /// Fills the buffer from its init (or with poison), on the device: before the first launch, and
    /// before every launch for a buffer marked `reset`.
    pub fn fill(&self, stream: &CudaStream, builtins: &Builtins, sm_count: u32) -> Result<(), CudaError> {
        if self.plan.poisoned() {
            return memset(stream, self, POISON);
        }
        if self.plan.init == Init::Zeros {
            return memset(stream, self, 0);
        }
        let (init, a, b) = init_code(&self.plan.init);
        let n = self.plan.count as u64;
        let blocks = n.div_ceil(256).clamp(1, u64::from(sm_count.max(1)) * 32) as u32;
        let ptr = self.ptr(stream);
        let (dtype, key) = (dtype_code(self.plan.dtype), self.plan.key);
        let mut builder = stream.launch_builder(&builtins.init);
        builder.arg(&ptr).arg(&n).arg(&dtype).arg(&init).arg(&key).arg(&a).arg(&b);
        let cfg = cudarc::driver::LaunchConfig {
            grid_dim: (blocks, 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: pawl_init(void*, u64, int, int, u64, double, double) writes n elements of `dtype`
        // into `ptr`, a live allocation of exactly n × size(dtype) bytes.
        unsafe { builder.launch(cfg) }
            .map_err(CudaError::driver(format!("initialising buffer `{}`", self.plan.name)))?;
        Ok(())
    }
}

/// Sets every byte of the buffer to `byte`.
fn memset(stream: &CudaStream, buffer: &DeviceBuffer, byte: u8) -> Result<(), CudaError> {
    let ptr = buffer.ptr(stream);
    // SAFETY: `ptr` is a live allocation of `bytes()` bytes on this stream's context.
    unsafe { cudarc::driver::result::memset_d8_async(ptr, byte, buffer.plan.bytes(), stream.cu_stream()) }
        .map_err(CudaError::driver(format!("filling buffer `{}`", buffer.plan.name)))
}

/// The kernel arguments for `plans`, with buffers taken in order from `buffers`.
pub fn kernel_args(plans: &[ArgPlan], buffers: &[DeviceBuffer], stream: &CudaStream) -> Vec<KernelArg> {
    let mut buffers = buffers.iter();
    plans
        .iter()
        .filter_map(|plan| match plan {
            ArgPlan::Buffer(_) => buffers.next().map(|b| KernelArg::Pointer(b.ptr(stream))),
            ArgPlan::Scalar(s) => Some(KernelArg::Scalar(*s)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pawl_core::expr::Expr;
    use pawl_core::suite::{BufferArg, DtypeSpec, ScalarArg};
    use pawl_core::value::Value;

    fn buffer(name: &str, dtype: DtypeSpec, count: &str, init: Init, output: bool) -> Arg {
        Arg::Buffer(BufferArg {
            name: name.into(),
            dtype,
            count: Expr::parse(count).unwrap(),
            init,
            output,
            reset: false,
        })
    }

    fn vars() -> Params {
        let mut p = Params::new();
        p.insert("N", Value::Int(1000));
        p.insert("dtype", Value::from("bf16"));
        p
    }

    #[test]
    fn plans_resolve_dtypes_counts_and_scalars() {
        let args = vec![
            buffer(
                "x",
                DtypeSpec::FromParam("dtype".into()),
                "N * 2",
                Init::Randn { mean: 0.0, std: 1.0 },
                false,
            ),
            buffer("y", DtypeSpec::Fixed(Dtype::F32), "N", Init::Zeros, true),
            Arg::Scalar(ScalarArg {
                name: "n".into(),
                dtype: DtypeSpec::Fixed(Dtype::I32),
                value: Expr::parse("N").unwrap(),
            }),
        ];
        let plans = plan_args(&args, &vars(), 7).unwrap();
        let ArgPlan::Buffer(x) = &plans[0] else { panic!("buffer expected") };
        assert_eq!((x.dtype, x.count, x.bytes()), (Dtype::Bf16, 2000, 4000));
        assert!(!x.poisoned());
        let ArgPlan::Buffer(y) = &plans[1] else { panic!("buffer expected") };
        assert!(y.poisoned());
        let accumulating = BufferPlan { reset: true, ..y.clone() };
        assert!(!accumulating.poisoned(), "an output reset to zeros before every launch starts from zeros");
        assert_ne!(x.key, y.key, "each buffer has its own random stream");
        assert_eq!(plans[2], ArgPlan::Scalar(Scalar::I32(1000)));
        // Same seed, same keys; another seed, other keys.
        assert_eq!(plan_args(&args, &vars(), 7).unwrap(), plans);
        assert_ne!(plan_args(&args, &vars(), 8).unwrap(), plans);
    }

    #[test]
    fn plans_reject_zero_inputs_empty_buffers_and_unknown_dtypes() {
        let zeros_in = vec![buffer("x", DtypeSpec::Fixed(Dtype::F32), "N", Init::Zeros, false)];
        assert!(plan_args(&zeros_in, &vars(), 0).unwrap_err().to_string().contains("zeros hide bugs"));
        let empty = vec![buffer("x", DtypeSpec::Fixed(Dtype::F32), "N - N", Init::Index, false)];
        assert!(plan_args(&empty, &vars(), 0).unwrap_err().to_string().contains("needs at least 1"));
        let unknown = vec![buffer("x", DtypeSpec::FromParam("missing".into()), "N", Init::Index, false)];
        assert!(plan_args(&unknown, &vars(), 0).unwrap_err().to_string().contains("argument `x`"));
    }

    #[test]
    fn codes_match_builtin_cu() {
        let source = include_str!("builtin.cu");
        assert!(
            source
                .contains("enum { F32 = 0, F16 = 1, BF16 = 2, F64 = 3, I32 = 4, I64 = 5, U32 = 6, U8 = 7 };")
        );
        assert!(source.contains("enum { RANDN = 0, UNIFORM = 1, INDEX = 2, ZEROS = 3 };"));
        assert_eq!(dtype_code(Dtype::U8), 7);
        assert_eq!(init_code(&Init::Uniform { low: -1.0, high: 2.0 }), (1, -1.0, 2.0));
    }
}
