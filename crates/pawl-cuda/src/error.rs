//! Errors of the CUDA backend. Messages say what failed, quote the input and say what to do.

use std::path::PathBuf;

use cudarc::driver::DriverError;

/// Something the CUDA backend could not do.
#[derive(Debug, thiserror::Error)]
pub enum CudaError {
    #[error(
        "no NVIDIA driver/GPU found: libcuda could not be loaded; pawl needs an NVIDIA GPU and its driver \
         to measure `kind = \"cuda\"` benches (use `kind = \"command\"` benches on machines without one)"
    )]
    NoDriver,
    #[error("no NVIDIA driver/GPU found: the driver is installed but sees no GPU ({0})")]
    NoGpu(String),
    /// NVRTC was not found: where pawl looked and what to install.
    #[error("{0}")]
    NoNvrtc(String),
    /// A CUDA driver call failed; `what` says which step.
    #[error("{what}: {}", describe(.source))]
    Driver { what: String, source: DriverError },
    #[error("NVML: {what}: {message}")]
    Nvml { what: String, message: String },
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("NVRTC: {0}")]
    Nvrtc(String),
    /// NVRTC rejected the source; `log` holds its messages with the source lines they point at.
    #[error("{} did not compile:\n{log}", source_path.display())]
    Compile { source_path: PathBuf, log: String },
    /// A case's launch, buffers or tolerances could not be worked out from the suite.
    #[error("{0}")]
    Setup(String),
}

impl CudaError {
    pub(crate) fn driver(what: impl Into<String>) -> impl FnOnce(DriverError) -> CudaError {
        let what = what.into();
        move |source| CudaError::Driver { what, source }
    }

    /// True when the error leaves the CUDA context unusable (a fault inside a kernel): the worker must
    /// not run another case in this process.
    pub fn is_sticky(&self) -> bool {
        use cudarc::driver::sys::CUresult::*;
        match self {
            CudaError::Driver { source, .. } => matches!(
                source.0,
                CUDA_ERROR_ILLEGAL_ADDRESS
                    | CUDA_ERROR_LAUNCH_FAILED
                    | CUDA_ERROR_ILLEGAL_INSTRUCTION
                    | CUDA_ERROR_MISALIGNED_ADDRESS
                    | CUDA_ERROR_INVALID_ADDRESS_SPACE
                    | CUDA_ERROR_INVALID_PC
                    | CUDA_ERROR_HARDWARE_STACK_ERROR
                    | CUDA_ERROR_ASSERT
                    | CUDA_ERROR_LAUNCH_TIMEOUT
                    | CUDA_ERROR_ECC_UNCORRECTABLE
                    | CUDA_ERROR_CONTEXT_IS_DESTROYED
                    | CUDA_ERROR_UNKNOWN
            ),
            _ => false,
        }
    }
}

/// `CUDA_ERROR_ILLEGAL_ADDRESS (an illegal memory access was encountered)`.
pub(crate) fn describe(error: &DriverError) -> String {
    let name = error.error_name().map(|s| s.to_string_lossy().into_owned());
    let text = error.error_string().map(|s| s.to_string_lossy().into_owned());
    match (name, text) {
        (Ok(name), Ok(text)) => format!("{name} ({text})"),
        _ => format!("{:?}", error.0),
    }
}
