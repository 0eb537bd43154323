//! Launching a kernel: geometry from the suite's expressions, arguments marshalled by dtype, and the
//! shared-memory opt-in above 48 KiB.

use cudarc::driver::sys::CUfunction_attribute;
use cudarc::driver::{CudaFunction, CudaStream, LaunchConfig, PushKernelArg};
use pawl_core::run::KernelInfo;
use pawl_core::suite::{Dtype, Launch};
use pawl_core::value::{Params, Value};

use crate::error::CudaError;

/// Grid, block and dynamic shared memory of one launch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub shared_mem: u32,
}

/// Shared memory a block gets without opting in.
const DEFAULT_SHARED_LIMIT: u32 = 48 * 1024;

impl Geometry {
    /// Evaluates `launch` over the case's params and tune values.
    pub fn from_launch(launch: &Launch, vars: &Params) -> Result<Geometry, CudaError> {
        let grid = dims("grid", &launch.grid, vars, u32::MAX)?;
        let block = dims("block", &launch.block, vars, 1024)?;
        let threads = u64::from(block[0]) * u64::from(block[1]) * u64::from(block[2]);
        if threads > 1024 {
            return Err(CudaError::Setup(format!(
                "block {block:?} has {threads} threads; CUDA allows at most 1024 per block"
            )));
        }
        let shared_mem = match &launch.shared_mem {
            None => 0,
            Some(expr) => {
                let bytes = expr.eval_i64(vars).map_err(|e| CudaError::Setup(format!("shared_mem: {e}")))?;
                u32::try_from(bytes).map_err(|_| {
                    CudaError::Setup(format!(
                        "shared_mem `{}` is {bytes} bytes; it must be 0 or more",
                        expr.source()
                    ))
                })?
            }
        };
        Ok(Geometry { grid, block, shared_mem })
    }

    pub fn config(&self) -> LaunchConfig {
        LaunchConfig {
            grid_dim: (self.grid[0], self.grid[1], self.grid[2]),
            block_dim: (self.block[0], self.block[1], self.block[2]),
            shared_mem_bytes: self.shared_mem,
        }
    }
}

fn dims(what: &str, exprs: &[pawl_core::expr::Expr], vars: &Params, max: u32) -> Result<[u32; 3], CudaError> {
    if exprs.is_empty() || exprs.len() > 3 {
        return Err(CudaError::Setup(format!("{what} needs 1 to 3 dimensions, found {}", exprs.len())));
    }
    let mut out = [1u32; 3];
    for (slot, expr) in out.iter_mut().zip(exprs) {
        let v = expr.eval_i64(vars).map_err(|e| CudaError::Setup(format!("{what}: {e}")))?;
        *slot = u32::try_from(v).ok().filter(|v| (1..=max).contains(v)).ok_or_else(|| {
            CudaError::Setup(format!(
                "{what} dimension `{}` is {v}; it must be between 1 and {max}",
                expr.source()
            ))
        })?;
    }
    Ok(out)
}

/// A scalar kernel argument, held in the exact bytes the kernel expects.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    F32(f32),
    /// Raw binary16 bits.
    F16(u16),
    /// Raw bfloat16 bits.
    Bf16(u16),
    F64(f64),
    I32(i32),
    I64(i64),
    U32(u32),
    U8(u8),
}

impl Scalar {
    /// Converts a value to `dtype`, refusing what would not fit (an integer out of range, a fraction
    /// for an integer type, a string).
    pub fn new(dtype: Dtype, value: &Value) -> Result<Scalar, String> {
        let bad = || format!("{value} ({}) cannot be passed as {dtype}", value.type_name());
        if dtype.is_float() {
            let x = value.as_f64().ok_or_else(bad)?;
            return Ok(match dtype {
                Dtype::F64 => Scalar::F64(x),
                Dtype::F16 => Scalar::F16(half::f16::from_f64(x).to_bits()),
                Dtype::Bf16 => Scalar::Bf16(half::bf16::from_f64(x).to_bits()),
                _ => Scalar::F32(x as f32),
            });
        }
        let i = match value {
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => *f as i64,
            other => other.as_i64().ok_or_else(bad)?,
        };
        let range = || format!("{i} is out of range for {dtype}");
        Ok(match dtype {
            Dtype::I32 => Scalar::I32(i32::try_from(i).map_err(|_| range())?),
            Dtype::U32 => Scalar::U32(u32::try_from(i).map_err(|_| range())?),
            Dtype::U8 => Scalar::U8(u8::try_from(i).map_err(|_| range())?),
            _ => Scalar::I64(i),
        })
    }

    /// The bytes the kernel receives.
    #[cfg(test)]
    pub fn to_bytes(self) -> Vec<u8> {
        match self {
            Scalar::F32(x) => x.to_le_bytes().to_vec(),
            Scalar::F16(b) | Scalar::Bf16(b) => b.to_le_bytes().to_vec(),
            Scalar::F64(x) => x.to_le_bytes().to_vec(),
            Scalar::I32(x) => x.to_le_bytes().to_vec(),
            Scalar::I64(x) => x.to_le_bytes().to_vec(),
            Scalar::U32(x) => x.to_le_bytes().to_vec(),
            Scalar::U8(x) => vec![x],
        }
    }
}

/// One argument as passed to the kernel: a device pointer or a scalar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KernelArg {
    Pointer(u64),
    Scalar(Scalar),
}

/// A loaded kernel with its launch geometry, ready to launch many times.
#[derive(Debug)]
pub struct Kernel {
    pub function: CudaFunction,
    pub geometry: Geometry,
    /// The `NAME=value` defines it was compiled with, for the run file.
    pub defines: Vec<String>,
}

impl Kernel {
    /// Checks `geometry` against the function and raises its dynamic shared-memory limit when it asks
    /// for more than 48 KiB.
    pub fn new(
        function: CudaFunction,
        geometry: Geometry,
        max_shared_optin: u32,
    ) -> Result<Kernel, CudaError> {
        let max_threads =
            function_attribute(&function, CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK)?;
        let threads = geometry.block.iter().product::<u32>();
        if threads > max_threads {
            return Err(CudaError::Setup(format!(
                "block {:?} has {threads} threads but this kernel allows at most {max_threads} \
                 (its register use or __launch_bounds__ limit it)",
                geometry.block
            )));
        }
        if geometry.shared_mem > DEFAULT_SHARED_LIMIT {
            if geometry.shared_mem > max_shared_optin {
                return Err(CudaError::Setup(format!(
                    "shared_mem is {} bytes; this GPU allows at most {max_shared_optin} per block",
                    geometry.shared_mem
                )));
            }
            let static_shared =
                function_attribute(&function, CUfunction_attribute::CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES)?;
            let dynamic = geometry.shared_mem.min(max_shared_optin.saturating_sub(static_shared));
            // SAFETY: the function handle is live (owned by `function`); the attribute takes a byte count.
            unsafe {
                cudarc::driver::result::function::set_function_attribute(
                    function.cu_function(),
                    CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    dynamic as i32,
                )
            }
            .map_err(CudaError::driver("raising the kernel's dynamic shared-memory limit"))?;
        }
        Ok(Kernel { function, geometry, defines: Vec::new() })
    }

    /// Registers, shared and local memory of the compiled kernel, with its launch geometry.
    pub fn info(&self) -> Result<KernelInfo, CudaError> {
        use CUfunction_attribute::*;
        let f = &self.function;
        Ok(KernelInfo {
            registers: function_attribute(f, CU_FUNC_ATTRIBUTE_NUM_REGS)?,
            static_shared_bytes: function_attribute(f, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES)?,
            dynamic_shared_bytes: self.geometry.shared_mem,
            local_bytes: function_attribute(f, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES)?,
            max_threads_per_block: function_attribute(f, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK)?,
            grid: self.geometry.grid,
            block: self.geometry.block,
            defines: self.defines.clone(),
        })
    }

    /// Enqueues one launch on `stream`. Errors of the launch itself come back here; faults inside the
    /// kernel surface at the next synchronization.
    pub fn launch(&self, stream: &CudaStream, args: &[KernelArg]) -> Result<(), CudaError> {
        let mut builder = stream.launch_builder(&self.function);
        for arg in args {
            match arg {
                KernelArg::Pointer(ptr) => builder.arg(ptr),
                KernelArg::Scalar(Scalar::F32(x)) => builder.arg(x),
                KernelArg::Scalar(Scalar::F16(b) | Scalar::Bf16(b)) => builder.arg(b),
                KernelArg::Scalar(Scalar::F64(x)) => builder.arg(x),
                KernelArg::Scalar(Scalar::I32(x)) => builder.arg(x),
                KernelArg::Scalar(Scalar::I64(x)) => builder.arg(x),
                KernelArg::Scalar(Scalar::U32(x)) => builder.arg(x),
                KernelArg::Scalar(Scalar::U8(x)) => builder.arg(x),
            };
        }
        // SAFETY: the arguments follow the suite's declaration of the kernel's parameters (pointers to
        // live device buffers of the declared sizes, scalars of the declared dtypes). A kernel that
        // declares them differently, or writes out of bounds, faults on the GPU; that fault is caught
        // at synchronization and isolated by running in the worker process.
        unsafe { builder.launch(self.geometry.config()) }
            .map(|_| ())
            .map_err(CudaError::driver("launching the kernel"))
    }
}

fn function_attribute(function: &CudaFunction, attribute: CUfunction_attribute) -> Result<u32, CudaError> {
    // SAFETY: the function handle is live (owned by `function`).
    let value = unsafe {
        cudarc::driver::result::function::get_function_attribute(function.cu_function(), attribute)
    }
    .map_err(CudaError::driver(format!("reading {attribute:?}")))?;
    Ok(value.max(0) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pawl_core::expr::Expr;

    fn vars() -> Params {
        let mut p = Params::new();
        p.insert("N", Value::Int(1 << 20));
        p.insert("BLOCK", Value::Int(256));
        p.insert("D", Value::Int(128));
        p
    }

    fn launch(grid: &[&str], block: &[&str], shared: Option<&str>) -> Launch {
        Launch {
            grid: grid.iter().map(|s| Expr::parse(s).unwrap()).collect(),
            block: block.iter().map(|s| Expr::parse(s).unwrap()).collect(),
            shared_mem: shared.map(|s| Expr::parse(s).unwrap()),
        }
    }

    #[test]
    fn geometry_evaluates_expressions_and_fills_missing_dimensions() {
        let g = Geometry::from_launch(
            &launch(&["ceil_div(N, BLOCK * 4)", "2"], &["BLOCK"], Some("D * 4 * 2")),
            &vars(),
        )
        .unwrap();
        assert_eq!(g, Geometry { grid: [1024, 2, 1], block: [256, 1, 1], shared_mem: 1024 });
        let cfg = g.config();
        assert_eq!(cfg.grid_dim, (1024, 2, 1));
        assert_eq!(cfg.shared_mem_bytes, 1024);
    }

    #[test]
    fn geometry_rejects_bad_sizes_with_the_expression() {
        let err =
            Geometry::from_launch(&launch(&["N - N"], &["256"], None), &vars()).unwrap_err().to_string();
        assert!(err.contains("`N - N` is 0"), "{err}");
        let err =
            Geometry::from_launch(&launch(&["1"], &["BLOCK", "8"], None), &vars()).unwrap_err().to_string();
        assert!(err.contains("2048 threads"), "{err}");
        let err = Geometry::from_launch(&launch(&["1"], &["2048"], None), &vars()).unwrap_err().to_string();
        assert!(err.contains("between 1 and 1024"), "{err}");
        let err =
            Geometry::from_launch(&launch(&["1"], &["1"], Some("0 - 4")), &vars()).unwrap_err().to_string();
        assert!(err.contains("-4 bytes"), "{err}");
        let err = Geometry::from_launch(&launch(&[], &["1"], None), &vars()).unwrap_err().to_string();
        assert!(err.contains("1 to 3 dimensions"), "{err}");
        let err = Geometry::from_launch(&launch(&["M"], &["1"], None), &vars()).unwrap_err().to_string();
        assert!(err.contains("grid"), "{err}");
    }

    #[test]
    fn scalars_are_marshalled_by_dtype() {
        assert_eq!(Scalar::new(Dtype::F32, &Value::Int(3)).unwrap().to_bytes(), 3.0f32.to_le_bytes());
        assert_eq!(Scalar::new(Dtype::F64, &Value::Float(0.5)).unwrap().to_bytes(), 0.5f64.to_le_bytes());
        assert_eq!(Scalar::new(Dtype::F16, &Value::Float(1.0)).unwrap(), Scalar::F16(0x3c00));
        assert_eq!(Scalar::new(Dtype::Bf16, &Value::Float(1.0)).unwrap(), Scalar::Bf16(0x3f80));
        assert_eq!(Scalar::new(Dtype::I32, &Value::Int(-5)).unwrap().to_bytes(), (-5i32).to_le_bytes());
        assert_eq!(Scalar::new(Dtype::I64, &Value::Float(4.0)).unwrap(), Scalar::I64(4));
        assert_eq!(Scalar::new(Dtype::U8, &Value::Bool(true)).unwrap().to_bytes(), [1]);
        assert_eq!(Scalar::new(Dtype::U32, &Value::Int(7)).unwrap().to_bytes().len(), 4);
        assert!(Scalar::new(Dtype::U8, &Value::Int(256)).unwrap_err().contains("out of range"));
        assert!(Scalar::new(Dtype::U32, &Value::Int(-1)).unwrap_err().contains("out of range"));
        assert!(Scalar::new(Dtype::I32, &Value::Float(0.5)).unwrap_err().contains("cannot be passed as i32"));
        assert!(Scalar::new(Dtype::F32, &Value::from("x")).is_err());
    }
}
