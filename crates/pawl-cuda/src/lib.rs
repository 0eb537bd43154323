//! pawl's native CUDA backend.
mod cache;
mod compile;
mod driver;
mod error;
pub use error::CudaError;
