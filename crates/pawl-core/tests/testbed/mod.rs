//! What several test binaries build alike: an environment on a given GPU, and synthetic timings.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use pawl_core::run::{Environment, GpuInfo};
use pawl_core::stats::normal;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const H100: &str = "NVIDIA H100 80GB HBM3";
pub const H100_DRIVER: &str = "580.159.04";

/// An environment on the GPU named `gpu` (Hopper's figures otherwise) with driver `driver`.
pub fn env(gpu: &str, driver: &str) -> Environment {
    Environment {
        gpu: Some(GpuInfo {
            name: gpu.into(),
            uuid: "GPU-0".into(),
            compute_capability: "9.0".into(),
            sm_count: 132,
            l2_bytes: 50 << 20,
            memory_bytes: 80 << 30,
            driver_version: driver.into(),
            cuda_version: "13.0".into(),
            nvrtc_version: None,
            max_sm_clock_mhz: None,
        }),
        ..Environment::default()
    }
}

/// `n` samples around `median` with log-normal relative noise `noise`, from `seed`.
pub fn samples(n: usize, median: f64, noise: f64, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let u: f64 = rng.random();
            median * (noise * normal::quantile(u.clamp(1e-12, 1.0 - 1e-12))).exp()
        })
        .collect()
}

pub mod tuning;
