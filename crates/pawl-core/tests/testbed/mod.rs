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
        clock: Default::default(),
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

/// The real H100 timings committed beside the tests (`tests/fixtures/h100`, whose README says what
/// they are), as JSON.
pub fn h100_samples() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/h100/h100_samples.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Cases of a property test: `default`, chosen so that the test takes at most ~20 s on two cores in a
/// debug build (CI), or `$PROPTEST_CASES` to run more locally.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

pub mod tuning;
