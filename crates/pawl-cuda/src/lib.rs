//! pawl's native CUDA backend: NVRTC compilation with a disk cache, buffers initialised on the device,
//! launching, the reference run for the check, careful GPU timing, NVML readings, and a worker process
//! that keeps faults and hangs from taking the run down.
//!
//! [`CudaBackend`] is the measuring engine's [`Backend`](pawl_core::engine::Backend) on a GPU; it runs
//! inside the worker process ([`serve_stdio`], the CLI's `__worker` subcommand), which [`workers::run`]
//! starts and watches. [`environment`], [`gpu_state`] and [`measurement_warnings`] serve `pawl env`.
//! Without an NVIDIA driver every entry point fails with "no NVIDIA driver/GPU found …"; nothing panics.

mod backend;
mod buffers;
mod builtin;
mod cache;
pub mod ceilings;
pub mod clock;
mod compile;
pub mod devices;
mod driver;
mod env;
mod error;
mod launch;
pub mod libraries;
pub mod protocol;
mod session;
mod timing;
mod worker;
pub mod workers;

pub use backend::CudaBackend;
pub use cache::Cache;
pub use compile::{code_digest, nvrtc_version, quoted_includes};
pub use driver::{driver_present, nvrtc_present};
pub use env::{GpuState, environment, gpu_state, gpu_state_of, measurement_warnings};
pub use error::CudaError;
pub use session::Session;
pub use worker::{EXIT_CONTEXT_LOST, serve_stdio};
