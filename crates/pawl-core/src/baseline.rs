//! Baseline files (`pawl-baseline/1`): the per-case figures a ratchet compares against.
//!
//! Committed to the user's repository, so written byte-stable: entries sorted by testbed and case id,
//! no field that changes unless a figure does.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::case::CaseId;
use crate::files::{self, FileError};
use crate::run::{Clock, Environment};

pub const BASELINE_SCHEMA: &str = "pawl-baseline/1";

/// The hardware and software a baseline figure holds for. Figures from different testbeds are not
/// comparable: comparing across them is refused unless forced.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Testbed {
    /// GPU model (`"NVIDIA H100 80GB HBM3"`), or `"no GPU"`.
    pub gpu: String,
    pub driver_major: u32,
    pub cuda_major: u32,
    /// What timed the figures; left out for events, so testbeds from before it was recorded keep
    /// their keys.
    #[serde(default, skip_serializing_if = "Clock::is_events")]
    pub clock: Clock,
}

impl Testbed {
    /// The GPU model of a run that measured on none (`command` benches only).
    pub const NO_GPU: &str = "no GPU";

    pub fn from_env(env: &Environment) -> Testbed {
        match &env.gpu {
            Some(gpu) => Testbed {
                gpu: gpu.name.clone(),
                driver_major: leading_number(&gpu.driver_version),
                cuda_major: leading_number(&gpu.cuda_version),
                clock: env.clock,
            },
            None => Testbed {
                gpu: Testbed::NO_GPU.to_owned(),
                driver_major: 0,
                cuda_major: 0,
                clock: Clock::Events,
            },
        }
    }

    /// The key under which this testbed's cases are stored: `NVIDIA H100 80GB HBM3 / driver 580 / CUDA 13`
    /// (`no GPU / driver 0 / CUDA 0` without one), ending in ` / kernel clock` where CUPTI's kernel
    /// timestamps timed the figures. Stored in baselines and histories: never changes.
    pub fn key(&self) -> String {
        format!("{} / driver {} / CUDA {}{}", self.gpu, self.driver_major, self.cuda_major, self.clock_part())
    }

    /// How the key and the words end: nothing for events (keys from before the clock was recorded
    /// stay as they were), ` / kernel clock` for the kernel clock.
    fn clock_part(&self) -> &'static str {
        match self.clock {
            Clock::Events => "",
            Clock::Kernel => " / kernel clock",
        }
    }

    /// A stored [`key`](Testbed::key) as the [`Display`](fmt::Display) of its testbed says it, for
    /// tables: without the versions nobody recorded (`no GPU`, not `no GPU / driver 0 / CUDA 0`).
    pub fn label_of_key(key: &str) -> String {
        key.split(" / ")
            .filter(|part| !matches!(*part, "driver 0" | "CUDA 0"))
            .collect::<Vec<_>>()
            .join(" / ")
    }

    /// The fields in which `other` differs from `self`, in words, for the refusal message.
    pub fn differences(&self, other: &Testbed) -> Vec<String> {
        let mut out = Vec::new();
        if self.gpu != other.gpu {
            out.push(format!("GPU `{}` vs `{}`", self.gpu, other.gpu));
        }
        if self.driver_major != other.driver_major {
            out.push(format!("driver major {} vs {}", self.driver_major, other.driver_major));
        }
        if self.cuda_major != other.cuda_major {
            out.push(format!("CUDA major {} vs {}", self.cuda_major, other.cuda_major));
        }
        if self.clock != other.clock {
            let name = |clock: Clock| match clock {
                Clock::Events => "CUDA events around the launch",
                Clock::Kernel => "the kernel's own timestamps (CUPTI)",
            };
            out.push(format!("timed by {} vs {}", name(self.clock), name(other.clock)));
        }
        out
    }
}

/// The testbed in words: its key, less the driver and CUDA versions nobody recorded (`no GPU`, or a
/// GPU named by a tool whose results were imported).
impl fmt::Display for Testbed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.gpu)?;
        if self.driver_major > 0 {
            write!(f, " / driver {}", self.driver_major)?;
        }
        if self.cuda_major > 0 {
            write!(f, " / CUDA {}", self.cuda_major)?;
        }
        f.write_str(self.clock_part())
    }
}

fn leading_number(version: &str) -> u32 {
    version.split('.').next().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// A baseline file: per testbed, per case, the figure to beat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Baseline {
    /// `pawl-baseline/1`: the kind of file and its major version.
    #[schemars(pattern(r"^pawl-baseline/1(\.[0-9]+)*$"))]
    pub schema: String,
    pub suite: String,
    /// Keyed by [`Testbed::key`].
    pub testbeds: BTreeMap<String, TestbedBaseline>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TestbedBaseline {
    pub testbed: Testbed,
    pub cases: BTreeMap<CaseId, BaselineEntry>,
}

/// The stored figure of one case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BaselineEntry {
    pub median_ns: f64,
    pub ci_low_ns: f64,
    pub ci_high_ns: f64,
    pub confidence: f64,
    /// Relative median absolute deviation of the samples that set it.
    pub rel_noise: f64,
    pub samples: usize,
    /// The commit whose run set this figure, when known.
    pub commit: Option<String>,
    /// When the figure was set (RFC 3339); changes only when the figure does.
    pub set_at: String,
}

impl Baseline {
    pub fn new(suite: impl Into<String>) -> Baseline {
        Baseline { schema: BASELINE_SCHEMA.to_owned(), suite: suite.into(), testbeds: BTreeMap::new() }
    }

    /// Reads and validates a baseline file.
    pub fn load(path: &Path) -> Result<Baseline, FileError> {
        let text = files::read_text(path)?;
        Baseline::parse(&text, path)
    }

    /// As [`Baseline::load`], on text already read; `path` is used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Baseline, FileError> {
        let baseline: Baseline = files::parse_versioned(text, path, BASELINE_SCHEMA)?;
        baseline.validate().map_err(|message| FileError::Invalid { path: path.to_owned(), message })?;
        Ok(baseline)
    }

    /// Writes the baseline atomically, byte-stable.
    pub fn save(&self, path: &Path) -> Result<(), FileError> {
        files::write_json_atomic(path, self)
    }

    pub fn testbed(&self, testbed: &Testbed) -> Option<&TestbedBaseline> {
        self.testbeds.get(&testbed.key())
    }

    pub fn testbed_mut(&mut self, testbed: &Testbed) -> &mut TestbedBaseline {
        self.testbeds
            .entry(testbed.key())
            .or_insert_with(|| TestbedBaseline { testbed: testbed.clone(), cases: BTreeMap::new() })
    }

    /// Keeps only the cases `keep` accepts, in every testbed: the baseline of one shard's cases, so that
    /// the other shards' cases are not reported missing.
    pub fn retain_cases(&mut self, keep: impl Fn(&CaseId) -> bool) {
        for tb in self.testbeds.values_mut() {
            tb.cases.retain(|id, _| keep(id));
        }
    }

    fn validate(&self) -> Result<(), String> {
        for (key, tb) in &self.testbeds {
            if *key != tb.testbed.key() {
                return Err(format!("testbed key `{key}` does not match its testbed `{}`", tb.testbed));
            }
            for (id, entry) in &tb.cases {
                let figures = [entry.median_ns, entry.ci_low_ns, entry.ci_high_ns];
                if figures.iter().any(|v| !v.is_finite() || *v <= 0.0) {
                    return Err(format!("case `{id}`: medians and intervals must be finite and positive"));
                }
                if !(entry.ci_low_ns <= entry.median_ns && entry.median_ns <= entry.ci_high_ns) {
                    return Err(format!("case `{id}`: the interval does not contain the median"));
                }
                if !entry.rel_noise.is_finite() || entry.rel_noise < 0.0 {
                    return Err(format!("case `{id}`: rel_noise must be finite and not negative"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::GpuInfo;

    fn h100_env() -> Environment {
        Environment {
            gpu: Some(GpuInfo {
                name: "NVIDIA H100 80GB HBM3".into(),
                uuid: "GPU-1".into(),
                compute_capability: "9.0".into(),
                sm_count: 132,
                l2_bytes: 50 << 20,
                memory_bytes: 80 << 30,
                driver_version: "580.159.04".into(),
                cuda_version: "13.0".into(),
                nvrtc_version: None,
                max_sm_clock_mhz: Some(1980),
            }),
            ..Environment::default()
        }
    }

    #[test]
    fn testbed_from_env_takes_majors() {
        let tb = Testbed::from_env(&h100_env());
        assert_eq!(tb.key(), "NVIDIA H100 80GB HBM3 / driver 580 / CUDA 13");
        let none = Testbed::from_env(&Environment::default());
        assert_eq!(none.gpu, "no GPU");
        assert_eq!(none.key(), "no GPU / driver 0 / CUDA 0", "stored keys never change");
        assert_eq!(tb.to_string(), "NVIDIA H100 80GB HBM3 / driver 580 / CUDA 13");
        assert_eq!(none.to_string(), "no GPU", "versions nobody recorded are not shown as 0");
        assert_eq!(tb.differences(&none).len(), 3);
        for testbed in [&tb, &none] {
            assert_eq!(Testbed::label_of_key(&testbed.key()), testbed.to_string());
        }
        assert!(tb.differences(&tb).is_empty());
    }

    #[test]
    fn the_kernel_clock_is_a_testbed_of_its_own_and_events_keep_the_old_key() {
        let events = Testbed::from_env(&h100_env());
        let kernel = Testbed::from_env(&Environment { clock: Clock::Kernel, ..h100_env() });
        assert_eq!(kernel.key(), "NVIDIA H100 80GB HBM3 / driver 580 / CUDA 13 / kernel clock");
        assert_eq!(kernel.differences(&events).len(), 1);
        assert!(kernel.differences(&events)[0].contains("CUPTI"), "{:?}", kernel.differences(&events));
        // An events testbed serialises as before the clock was recorded, and reads back the same.
        let json = serde_json::to_string(&events).unwrap();
        assert!(!json.contains("clock"), "{json}");
        assert_eq!(serde_json::from_str::<Testbed>(&json).unwrap(), events);
        let json = serde_json::to_string(&kernel).unwrap();
        assert_eq!(serde_json::from_str::<Testbed>(&json).unwrap(), kernel);
        // No GPU, no clock: a command-only run is the same testbed whatever this process would time with.
        let cpu = Testbed::from_env(&Environment { clock: Clock::Kernel, ..Environment::default() });
        assert_eq!(cpu.clock, Clock::Events);
    }

    #[test]
    fn retaining_cases_keeps_every_testbed() {
        let entry = BaselineEntry {
            median_ns: 1.0,
            ci_low_ns: 1.0,
            ci_high_ns: 1.0,
            confidence: 0.99,
            rel_noise: 0.0,
            samples: 10,
            commit: None,
            set_at: String::new(),
        };
        let mut baseline = Baseline::new("s");
        for env in [h100_env(), Environment::default()] {
            let tb = baseline.testbed_mut(&Testbed::from_env(&env));
            for id in ["b/1", "b/2"] {
                tb.cases.insert(CaseId::from_raw(id), entry.clone());
            }
        }
        baseline.retain_cases(|id| id.as_str() == "b/2");
        assert_eq!(baseline.testbeds.len(), 2);
        for tb in baseline.testbeds.values() {
            assert_eq!(tb.cases.keys().map(CaseId::as_str).collect::<Vec<_>>(), ["b/2"]);
        }
    }
}
