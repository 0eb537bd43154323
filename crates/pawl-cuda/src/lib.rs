//! pawl's native CUDA backend: NVRTC compilation with a disk cache, buffers initialised on the device,
//! launching, correctness checks against a reference, careful GPU timing, NVML readings, and a worker
//! process that keeps faults and hangs from taking the run down.
//!
//! The CLI uses [`CudaBackend`] (a [`pawl_core::backend::Backend`]), [`serve_stdio`] for its
//! `__worker` subcommand, and [`environment`], [`gpu_state`] and [`measurement_warnings`] for `pawl env`.
//! Without an NVIDIA driver every entry point fails with "no NVIDIA driver/GPU found …"; nothing panics.

mod backend;
mod buffers;
mod builtin;
mod cache;
mod check;
mod compile;
mod driver;
mod dtype;
mod env;
mod error;
mod launch;
mod measure;
mod paired;
pub mod protocol;
mod timing;
mod worker;

pub use backend::CudaBackend;
pub use cache::Cache;
pub use compile::quoted_includes;
pub use driver::{driver_present, nvrtc_present};
pub use env::{GpuState, environment, gpu_state, measurement_warnings};
pub use error::CudaError;
pub use measure::Session;
pub use paired::{run_paired, serve_paired_stdio};
pub use timing::TimingMode;
pub use worker::{EXIT_CONTEXT_LOST, serve_stdio};
