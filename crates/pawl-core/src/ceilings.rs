//! Measured ceilings of a GPU (`pawl ceilings`): what its memory and arithmetic units deliver, measured
//! on the device, each beside the datasheet's figure. A roofline drawn from these shows what a kernel
//! could reach on this GPU, not what a datasheet promises.
//!
//! Ceilings are kept per GPU and driver ([`Ceilings::cache_key`]) in a small JSON file, and copied into
//! the environment of every run measured on that GPU afterwards.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::files::{self, FileError};

/// Schema tag of a ceilings file.
pub const CEILINGS_SCHEMA: &str = "pawl-ceilings/1";

/// What one GPU delivers, measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Ceilings {
    pub schema: String,
    pub gpu_name: String,
    pub gpu_uuid: String,
    pub driver_version: String,
    /// When they were measured (RFC 3339, UTC).
    pub measured_at: String,
    pub pawl_version: String,
    /// Where the datasheet figures come from (`None`: pawl knows no datasheet for this GPU).
    pub datasheet: Option<String>,
    pub ceilings: Vec<Ceiling>,
}

/// What a ceiling measures.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CeilingKind {
    /// DRAM bandwidth of a copy: bytes read plus bytes written.
    DramCopy,
    /// DRAM bandwidth of reading only.
    DramRead,
    /// L2 bandwidth of reading a buffer that fits in it.
    L2Read,
    /// FP32 fused multiply-add throughput of the SMs (2 FLOP per FMA).
    Fp32Fma,
    /// Dense f16 matrix products on the tensor cores, fp32 accumulation.
    TensorF16,
    /// Dense bf16 matrix products on the tensor cores, fp32 accumulation.
    TensorBf16,
}

impl CeilingKind {
    pub const ALL: [CeilingKind; 6] = [
        CeilingKind::DramCopy,
        CeilingKind::DramRead,
        CeilingKind::L2Read,
        CeilingKind::Fp32Fma,
        CeilingKind::TensorF16,
        CeilingKind::TensorBf16,
    ];

    /// Bandwidths are in GB/s (10⁹ bytes a second), throughputs in TFLOP/s.
    pub fn is_bandwidth(self) -> bool {
        matches!(self, CeilingKind::DramCopy | CeilingKind::DramRead | CeilingKind::L2Read)
    }

    pub fn unit(self) -> &'static str {
        if self.is_bandwidth() { "GB/s" } else { "TFLOP/s" }
    }

    /// In words, for tables and legends.
    pub fn label(self) -> &'static str {
        match self {
            CeilingKind::DramCopy => "DRAM copy (read + write)",
            CeilingKind::DramRead => "DRAM read",
            CeilingKind::L2Read => "L2 read",
            CeilingKind::Fp32Fma => "FP32 FMA",
            CeilingKind::TensorF16 => "tensor cores, f16 dense",
            CeilingKind::TensorBf16 => "tensor cores, bf16 dense",
        }
    }

    /// The tensor-core ceiling of a dtype as suites name it (`f16`, `bf16`).
    pub fn tensor_for(dtype: &str) -> Option<CeilingKind> {
        match dtype {
            "f16" | "fp16" | "float16" | "half" => Some(CeilingKind::TensorF16),
            "bf16" | "bfloat16" => Some(CeilingKind::TensorBf16),
            _ => None,
        }
    }
}

/// One measured ceiling: the median rate over its samples, with the interval of that median.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Ceiling {
    pub kind: CeilingKind,
    /// GB/s or TFLOP/s (see [`CeilingKind::unit`]): work over the median time.
    pub value: f64,
    /// The rate at the ends of the median time's interval.
    pub low: f64,
    pub high: f64,
    /// The level of that interval.
    pub confidence: f64,
    pub samples: usize,
    /// Bytes or FLOPs of one timed launch.
    pub work: f64,
    pub median_ns: f64,
    /// How it was measured: the kernel or library call, its size, cold or warm L2.
    pub method: String,
    /// The datasheet's figure in the same unit, where pawl knows one.
    pub datasheet: Option<f64>,
}

impl Ceiling {
    /// A ceiling from the samples (ns) of a probe that does `work` bytes or FLOPs a launch: the rate at
    /// the median time, and at the ends of the median's percentile bootstrap interval.
    pub fn from_samples(
        kind: CeilingKind,
        work: f64,
        samples_ns: &[f64],
        method: String,
        datasheet: Option<f64>,
        confidence: f64,
    ) -> Result<Ceiling, crate::stats::StatsError> {
        let sample = crate::stats::Sample::new(samples_ns)?;
        let settings = crate::stats::BootstrapSettings { resamples: 10_000, seed: 0 };
        let interval = crate::stats::median_interval(&sample, confidence, settings)?;
        let scale = if kind.is_bandwidth() { 1e9 } else { 1e12 };
        let rate = |ns: f64| work / ns * 1e9 / scale;
        Ok(Ceiling {
            kind,
            value: rate(interval.median),
            low: rate(interval.high),
            high: rate(interval.low),
            confidence,
            samples: sample.n(),
            work,
            median_ns: interval.median,
            method,
            datasheet,
        })
    }

    /// The measured value over the datasheet's.
    pub fn ratio(&self) -> Option<f64> {
        self.datasheet.filter(|d| *d > 0.0).map(|d| self.value / d)
    }
}

impl Ceilings {
    pub fn get(&self, kind: CeilingKind) -> Option<&Ceiling> {
        self.ceilings.iter().find(|c| c.kind == kind)
    }

    /// The memory roof of a roofline: the faster of the two DRAM figures, measured.
    pub fn memory_roof(&self) -> Option<&Ceiling> {
        [CeilingKind::DramRead, CeilingKind::DramCopy]
            .into_iter()
            .filter_map(|k| self.get(k))
            .max_by(|a, b| a.value.total_cmp(&b.value))
    }

    /// The file name these ceilings are cached under: one per GPU (UUID) and driver, since a driver
    /// update can change what the hardware delivers.
    pub fn cache_key(gpu_uuid: &str, driver_version: &str) -> String {
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
                .collect()
        };
        format!("{}_{}.json", clean(gpu_uuid), clean(driver_version))
    }

    /// Reads and checks a ceilings file.
    pub fn load(path: &Path) -> Result<Ceilings, FileError> {
        let ceilings: Ceilings = files::read_versioned(path, CEILINGS_SCHEMA)?;
        for c in &ceilings.ceilings {
            let finite =
                [c.value, c.low, c.high, c.median_ns, c.work].iter().all(|v| v.is_finite() && *v > 0.0);
            if !finite {
                return Err(FileError::Invalid {
                    path: path.to_owned(),
                    message: format!(
                        "ceiling `{}` has a value that is not a finite positive number",
                        c.kind.label()
                    ),
                });
            }
        }
        Ok(ceilings)
    }

    /// Writes the file atomically.
    pub fn save(&self, path: &Path) -> Result<(), FileError> {
        files::write_json_atomic(path, self)
    }

    /// The cached ceilings of this GPU and driver under `dir`, if any were measured and still read.
    pub fn cached(dir: &Path, gpu_uuid: &str, driver_version: &str) -> Option<Ceilings> {
        let path = dir.join(Ceilings::cache_key(gpu_uuid, driver_version));
        Ceilings::load(&path).ok().filter(|c| c.gpu_uuid == gpu_uuid && c.driver_version == driver_version)
    }

    /// Where [`Ceilings::cached`] looks under `dir`.
    pub fn cache_path(dir: &Path, gpu_uuid: &str, driver_version: &str) -> PathBuf {
        dir.join(Ceilings::cache_key(gpu_uuid, driver_version))
    }
}

/// A datasheet: the GPU it is for, where its figures come from, and the figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Datasheet {
    pub source: &'static str,
    pub dram_gbps: f64,
    pub fp32_tflops: f64,
    /// Dense (no structured sparsity) f16 and bf16 tensor-core throughput with fp32 accumulation.
    pub tensor_f16_tflops: f64,
    pub tensor_bf16_tflops: f64,
}

impl Datasheet {
    /// The datasheet figure of a ceiling; NVIDIA publishes no L2 bandwidth.
    pub fn figure(&self, kind: CeilingKind) -> Option<f64> {
        match kind {
            CeilingKind::DramCopy | CeilingKind::DramRead => Some(self.dram_gbps),
            CeilingKind::L2Read => None,
            CeilingKind::Fp32Fma => Some(self.fp32_tflops),
            CeilingKind::TensorF16 => Some(self.tensor_f16_tflops),
            CeilingKind::TensorBf16 => Some(self.tensor_bf16_tflops),
        }
    }
}

/// The datasheet of a GPU by the name the driver reports, for the GPUs pawl knows. Tensor figures
/// are the datasheets' dense ones (half of the "with sparsity" figures they print).
pub fn datasheet(gpu_name: &str) -> Option<Datasheet> {
    let name = gpu_name.to_ascii_uppercase();
    let sheet = |source, dram_gbps, fp32_tflops, tensor| Datasheet {
        source,
        dram_gbps,
        fp32_tflops,
        tensor_f16_tflops: tensor,
        tensor_bf16_tflops: tensor,
    };
    // Longer, more specific names first: "H100 NVL" and "H100 PCIe" before plain "H100".
    if name.contains("H200") {
        Some(sheet("NVIDIA H200 Tensor Core GPU datasheet (H200 SXM)", 4800.0, 67.0, 989.5))
    } else if name.contains("H100") && name.contains("NVL") {
        Some(sheet("NVIDIA H100 Tensor Core GPU datasheet (H100 NVL)", 3900.0, 60.0, 835.5))
    } else if name.contains("H100") && name.contains("PCIE") {
        Some(sheet("NVIDIA H100 Tensor Core GPU datasheet (H100 PCIe)", 2000.0, 51.0, 756.0))
    } else if name.contains("H100") {
        Some(sheet("NVIDIA H100 Tensor Core GPU datasheet (H100 SXM)", 3350.0, 67.0, 989.5))
    } else if name.contains("A100") && name.contains("80GB") {
        Some(sheet("NVIDIA A100 Tensor Core GPU datasheet (A100 80GB SXM)", 2039.0, 19.5, 312.0))
    } else if name.contains("A100") {
        Some(sheet("NVIDIA A100 Tensor Core GPU datasheet (A100 40GB SXM)", 1555.0, 19.5, 312.0))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ceiling(kind: CeilingKind, value: f64, datasheet: Option<f64>) -> Ceiling {
        Ceiling {
            kind,
            value,
            low: value * 0.99,
            high: value * 1.01,
            confidence: 0.95,
            samples: 100,
            work: 1e9,
            median_ns: 1e6,
            method: "test".into(),
            datasheet,
        }
    }

    #[test]
    fn datasheets_by_name() {
        let h200 = datasheet("NVIDIA H200").unwrap();
        assert_eq!((h200.dram_gbps, h200.tensor_bf16_tflops), (4800.0, 989.5));
        assert_eq!(datasheet("NVIDIA H100 80GB HBM3").unwrap().dram_gbps, 3350.0);
        assert_eq!(datasheet("NVIDIA H100 PCIe").unwrap().dram_gbps, 2000.0);
        assert_eq!(datasheet("NVIDIA H100 NVL").unwrap().dram_gbps, 3900.0);
        assert!(datasheet("NVIDIA GeForce GTX 1080").is_none());
        assert_eq!(h200.figure(CeilingKind::L2Read), None);
        assert_eq!(h200.figure(CeilingKind::DramCopy), Some(4800.0));
    }

    #[test]
    fn cache_round_trip_by_gpu_and_driver() {
        let dir = tempfile::tempdir().unwrap();
        let ceilings = Ceilings {
            schema: CEILINGS_SCHEMA.into(),
            gpu_name: "NVIDIA H200".into(),
            gpu_uuid: "GPU-1234".into(),
            driver_version: "580.1".into(),
            measured_at: "2026-01-01T00:00:00Z".into(),
            pawl_version: "0.1.0".into(),
            datasheet: None,
            ceilings: vec![
                ceiling(CeilingKind::DramCopy, 4200.0, Some(4800.0)),
                ceiling(CeilingKind::DramRead, 4400.0, Some(4800.0)),
                ceiling(CeilingKind::L2Read, 9000.0, None),
            ],
        };
        assert_eq!(Ceilings::cache_key("GPU-1234", "580.1"), "GPU-1234_580.1.json");
        assert_eq!(Ceilings::cache_key("GPU/../x", "5 8"), "GPU_.._x_5_8.json");
        ceilings.save(&Ceilings::cache_path(dir.path(), "GPU-1234", "580.1")).unwrap();
        assert_eq!(Ceilings::cached(dir.path(), "GPU-1234", "580.1"), Some(ceilings.clone()));
        assert_eq!(Ceilings::cached(dir.path(), "GPU-1234", "590.0"), None, "another driver");
        assert_eq!(ceilings.memory_roof().unwrap().kind, CeilingKind::DramRead);
        assert!((ceilings.get(CeilingKind::DramCopy).unwrap().ratio().unwrap() - 0.875).abs() < 1e-12);
        assert_eq!(ceilings.get(CeilingKind::L2Read).unwrap().ratio(), None);
        assert_eq!(CeilingKind::tensor_for("bf16"), Some(CeilingKind::TensorBf16));
        assert_eq!(CeilingKind::tensor_for("f32"), None);

        let from = Ceiling::from_samples(
            CeilingKind::DramCopy,
            4.2e9,
            &[1.0e6, 1.1e6, 0.9e6, 1.0e6, 1.05e6],
            "probe".into(),
            Some(4800.0),
            0.95,
        )
        .unwrap();
        assert_eq!(from.value, 4200.0, "4.2 GB in a median of 1 ms");
        assert!(from.low <= from.value && from.value <= from.high);
        assert_eq!((from.samples, from.median_ns), (5, 1.0e6));

        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, serde_json::to_string(&ceilings).unwrap().replace("4200.0", "-1.0")).unwrap();
        let err = Ceilings::load(&bad).unwrap_err().to_string();
        assert!(err.contains("DRAM copy") && err.contains("bad.json"), "{err}");
    }
}
