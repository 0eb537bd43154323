//! Synthetic tune spaces, shaped like an attention kernel's: four tile and pipeline parameters
//! (5 × 5 × 4 × 4 candidates, 360 configurations within a register-pressure constraint), a smooth
//! landscape with a second basin and some roughness, 0.5–2% noise per sample with occasional outliers,
//! and failures where they hurt: too much shared memory next to the fastest region, wrong results
//! for one warp layout, one configuration that hangs. Costs are a GPU's: a compile of 1–2.5 s per
//! configuration dwarfs its samples.
//!
//! [`Synthetic`] is a [`Measurer`] over such a model; [`recording`] measures every configuration
//! with the search's exhaustive mode and records it as a `tuning.json`, the same way `pawl tune
//! --exhaustive` records a real space.

use std::time::Duration;

use pawl_core::case::Case;
use pawl_core::paired::{PairedCase, PairedSamples, Settled, StopRule, look, look_schedule};
use pawl_core::plan::PlannedCase;
use pawl_core::run::{CaseStatus, Environment};
use pawl_core::stats::bootstrap::mix_seed;
use pawl_core::stats::normal;
use pawl_core::suite::MeasureSettings;
use pawl_core::tune::record::{TUNING_SCHEMA, TunedCase, Tuning};
use pawl_core::tune::search::{
    self, Effort, Measurer, Observation, Outcome, PairObservation, PairVisit, SearchSettings, Visit,
};
use pawl_core::tune::space::{Axis, Space};
use pawl_core::value::{Params, Value};

pub const NAMES: [&str; 4] = ["BLOCK_M", "BLOCK_N", "NUM_WARPS", "NUM_STAGES"];
pub const VALUES: [&[i64]; 4] =
    [&[16, 32, 64, 128, 256], &[16, 32, 64, 128, 256], &[1, 2, 4, 8], &[1, 2, 3, 4]];
/// The suite's default configuration.
pub const DEFAULT: [i64; 4] = [128, 64, 4, 2];
/// Shared memory a block may use (an H100's or H200's 227 KiB).
const SMEM_LIMIT: i64 = 232_448;
/// Curvature of the landscape along each axis, per squared step (log2 for tiles and warps).
const CURVATURE: [f64; 4] = [0.05, 0.04, 0.06, 0.03];

/// A synthetic case: its size and the shape of its landscape.
#[derive(Clone, Debug)]
pub struct Model {
    pub name: String,
    /// Head dimension: sets the shared memory each tile needs.
    pub d: i64,
    pub base_ns: f64,
    /// Basins: where each is (log2 of the tiles and warps, the stage count) and how much slower its
    /// bottom is than the base.
    pub basins: Vec<([f64; 4], f64)>,
    /// Configurations forced to the base time exactly (a planted tie).
    pub plateau: Vec<[i64; 4]>,
    /// Relative roughness added to the smooth landscape.
    pub roughness: f64,
    pub samples: usize,
    pub seed: u64,
}

impl Model {
    /// The two cases of the committed recording: head dimension 64 and 128, optima apart.
    pub fn attention_like() -> Vec<Model> {
        vec![
            Model {
                name: "D=64".into(),
                d: 64,
                base_ns: 180_000.0,
                basins: vec![([6.0, 6.2, 1.0, 3.0], 1.0), ([7.0, 5.0, 3.0, 2.0], 1.05)],
                plateau: vec![],
                roughness: 0.01,
                samples: 32,
                seed: 64,
            },
            Model {
                name: "D=128".into(),
                d: 128,
                base_ns: 420_000.0,
                basins: vec![([7.0, 7.0, 3.0, 3.3], 1.0), ([6.0, 6.0, 2.0, 2.0], 1.06)],
                plateau: vec![],
                roughness: 0.01,
                samples: 32,
                seed: 128,
            },
        ]
    }

    /// Every configuration within the register-pressure constraint, as tune values.
    pub fn space(&self) -> Space {
        let axes: Vec<Axis> = NAMES
            .iter()
            .zip(VALUES)
            .map(|(n, v)| Axis { name: (*n).into(), values: v.iter().map(|&x| Value::Int(x)).collect() })
            .collect();
        let mut configs = Vec::new();
        let mut excluded = 0;
        for &m in VALUES[0] {
            for &n in VALUES[1] {
                for &w in VALUES[2] {
                    for &s in VALUES[3] {
                        if m * n / w > 8192 {
                            excluded += 1;
                        } else {
                            configs.push(tune([m, n, w, s]));
                        }
                    }
                }
            }
        }
        let default = configs.iter().position(|c| *c == tune(DEFAULT)).expect("the default is in the space");
        Space::from_parts(axes, configs, default, excluded, vec![])
    }

    /// The true median time of a configuration, or why it cannot be timed.
    pub fn truth(&self, c: [i64; 4]) -> Result<f64, (CaseStatus, String)> {
        let [m, n, w, s] = c;
        let smem = (m + 2 * s * n) * self.d * 2;
        if smem > SMEM_LIMIT {
            return Err((
                CaseStatus::Failed,
                format!(
                    "launching flash_fwd: CUDA_ERROR_INVALID_VALUE: {smem} bytes of shared memory requested, \
                     the device allows {SMEM_LIMIT} per block"
                ),
            ));
        }
        if w == 8 && m == 16 {
            return Err((
                CaseStatus::Wrong,
                "`o`[17] is 0.4043, the reference 0.7125 (1 of 4194304 elements outside atol + rtol·|ref|)"
                    .into(),
            ));
        }
        if c == [256, 16, 1, 4] {
            return Err((CaseStatus::Timeout, "no result after 10.0 s (watchdog 10 s): a hang?".into()));
        }
        if self.plateau.contains(&c) {
            return Ok(self.base_ns);
        }
        let x = [(m as f64).log2(), (n as f64).log2(), (w as f64).log2(), s as f64];
        let bowl = |(at, floor): &([f64; 4], f64)| {
            let dist: f64 = (0..4).map(|i| CURVATURE[i] * (x[i] - at[i]).powi(2)).sum();
            floor * (1.0 + dist + 0.02 * (x[0] - at[0]) * (x[1] - at[1]))
        };
        let smooth = self.basins.iter().map(bowl).fold(f64::INFINITY, f64::min);
        let ripple = self.roughness * (2.0 * unit(mix_seed(self.seed, key(c))) - 1.0);
        let floor = if self.plateau.is_empty() { 1.0 } else { 1.05 };
        Ok(self.base_ns * (smooth * floor) * (1.0 + ripple))
    }

    /// Relative noise of one configuration's samples: 0.5–2%.
    fn noise(&self, c: [i64; 4]) -> f64 {
        0.005 + 0.015 * unit(mix_seed(self.seed ^ 0x6e6f_6973, key(c)))
    }

    /// Sample `k` of configuration `c`.
    fn sample(&self, c: [i64; 4], median: f64, k: u64) -> f64 {
        let draw = mix_seed(mix_seed(self.seed, key(c)), k);
        let z = normal::quantile(unit(draw).clamp(1e-9, 1.0 - 1e-9));
        let outlier = if unit(mix_seed(draw, 1)) < 0.02 { 1.10 } else { 1.0 };
        // Tenths of a nanosecond, as a recording rounds them.
        (median * (self.noise(c) * z).exp() * outlier * 10.0).round() / 10.0
    }

    /// Compile, check and warm-up time of a first visit, seconds: 1–2.5 s.
    fn setup(&self, c: [i64; 4]) -> f64 {
        match self.truth(c) {
            Err((CaseStatus::Failed, _)) => 1.0,
            Err((CaseStatus::Timeout, _)) => 10.0,
            _ => 1.0 + 1.5 * unit(mix_seed(self.seed ^ 0x636f_6d70, key(c))),
        }
    }
}

pub fn tune(c: [i64; 4]) -> Params {
    NAMES.iter().zip(c).map(|(n, v)| ((*n).to_owned(), Value::Int(v))).collect()
}

pub fn coords(tune: &Params) -> [i64; 4] {
    NAMES.map(|n| tune.get(n).and_then(Value::as_i64).unwrap_or(0))
}

fn key(c: [i64; 4]) -> u64 {
    c.iter().fold(0u64, |h, &v| h.wrapping_mul(1_000_003).wrapping_add(v as u64))
}

fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Time per sample beyond the kernel: the L2 flush and the hold.
const SAMPLE_OVERHEAD_NS: f64 = 35_000.0;
/// A revisit's setup, seconds: the compile is cached.
const REVISIT_SETUP: f64 = 0.08;
/// Starting a worker, seconds.
const VISIT_OVERHEAD: f64 = 0.6;

/// A measurer over a model, on a virtual clock.
#[derive(Debug)]
pub struct Synthetic {
    pub model: Model,
    space: Space,
    clock: Duration,
    drawn: Vec<u64>,
    visited: Vec<bool>,
}

impl Synthetic {
    pub fn new(model: Model) -> Synthetic {
        let space = model.space();
        let n = space.len();
        Synthetic { model, space, clock: Duration::ZERO, drawn: vec![0; n], visited: vec![false; n] }
    }

    fn c(&self, i: usize) -> [i64; 4] {
        coords(&self.space.configs[i])
    }

    fn draw(&mut self, i: usize, count: usize, median: f64) -> Vec<f64> {
        let c = self.c(i);
        let start = self.drawn[i];
        self.drawn[i] += count as u64;
        (0..count as u64).map(|k| self.model.sample(c, median, start + k)).collect()
    }
}

impl Measurer for Synthetic {
    fn now(&self) -> Duration {
        self.clock
    }

    fn measure(&mut self, configs: &[usize], effort: Effort, deadline: Duration) -> Visit {
        let overhead = Duration::from_secs_f64(VISIT_OVERHEAD).min(deadline.saturating_sub(self.clock));
        self.clock += overhead;
        let mut observations = Vec::new();
        for &i in configs {
            let mut o = Observation {
                config: i,
                outcome: Outcome::NotMeasured,
                setup: Duration::ZERO,
                timing: Duration::ZERO,
                cached: false,
            };
            if self.clock < deadline {
                let c = self.c(i);
                let first = !self.visited[i];
                let setup = if first { self.model.setup(c) } else { REVISIT_SETUP };
                o.setup = Duration::from_secs_f64(setup);
                match self.model.truth(c) {
                    Ok(median) => {
                        let count = match effort {
                            Effort::Samples(n) => n,
                            Effort::Full => self.model.samples,
                        };
                        let samples = self.draw(i, count, median);
                        o.timing = Duration::from_secs_f64(
                            samples.iter().map(|s| s + SAMPLE_OVERHEAD_NS).sum::<f64>() * 1e-9,
                        );
                        o.outcome = Outcome::Timed { samples_ns: samples };
                    }
                    Err((status, reason)) => o.outcome = Outcome::Rejected { status, reason },
                }
                if self.clock + o.setup + o.timing > deadline {
                    // Stopped at the deadline, as the CLI stops a worker: nothing of it counts.
                    self.clock = deadline;
                    o = Observation {
                        outcome: Outcome::NotMeasured,
                        setup: Duration::ZERO,
                        timing: Duration::ZERO,
                        ..o
                    };
                } else {
                    self.visited[i] = true;
                    self.clock += o.setup + o.timing;
                }
            }
            observations.push(o);
        }
        Visit { effort, observations, overhead }
    }

    fn pair(
        &mut self,
        default: usize,
        configs: &[usize],
        rule: &StopRule,
        budget: Duration,
        deadline: Duration,
    ) -> PairVisit {
        let overhead = Duration::from_secs_f64(VISIT_OVERHEAD).min(deadline.saturating_sub(self.clock));
        self.clock += overhead;
        let share = (budget.as_secs_f64() / configs.len().max(1) as f64)
            .min(deadline.saturating_sub(self.clock).as_secs_f64() / configs.len().max(1) as f64);
        let mut pairs = Vec::new();
        for &i in configs {
            if self.clock >= deadline {
                break;
            }
            let (Ok(tb), Ok(th)) = (self.model.truth(self.c(default)), self.model.truth(self.c(i))) else {
                continue;
            };
            if 2.0 * REVISIT_SETUP > share {
                continue;
            }
            let started = self.clock;
            let per_pair = (tb + th + 2.0 * SAMPLE_OVERHEAD_NS) * 1e-9;
            let cap = (((share - 2.0 * REVISIT_SETUP) / per_pair).max(0.0) as usize).min(rule.max_pairs);
            let (mut base, mut head) = (Vec::new(), Vec::new());
            let (mut looks, mut settled) = (0, Settled::Open);
            for at in look_schedule(rule.max_pairs) {
                let at = at.min(cap);
                if at < 2 || at <= base.len() {
                    break;
                }
                let more = at - base.len();
                base.extend(self.draw(default, more, tb));
                head.extend(self.draw(i, more, th));
                looks += 1;
                settled = look(&base, &head, rule, &pawl_core::case::CaseId::from_raw("synthetic")).unwrap();
                if settled != Settled::Open {
                    break;
                }
            }
            self.clock += Duration::from_secs_f64(2.0 * REVISIT_SETUP + base.len() as f64 * per_pair);
            let outcome = if base.len() < 2 {
                PairedCase::Failed { message: "no time left for the paired comparison".into() }
            } else {
                PairedCase::Measured {
                    samples: PairedSamples { base_ns: base, head_ns: head, ..Default::default() },
                    looks,
                    settled,
                }
            };
            pairs.push(PairObservation { config: i, outcome, elapsed: self.clock - started, cached: false });
        }
        PairVisit { pairs, overhead }
    }
}

/// An exhaustive recording of `model`, as `pawl tune --exhaustive` makes one.
pub fn record(model: Model) -> TunedCase {
    let space = model.space();
    let settings =
        SearchSettings { budget_s: 1e6, exhaustive: true, seed: model.seed, ..SearchSettings::default() };
    let mut params = Params::new();
    params.insert("D", Value::Int(model.d));
    let case = PlannedCase {
        case: Case::new("synthetic", params),
        tune: space.configs[space.default].clone(),
        flops: None,
        bytes: None,
    };
    let mut measurer = Synthetic::new(model);
    let result = search::run(&space, &mut measurer, &settings);
    TunedCase::new(&case, &space, Duration::from_secs_f64(settings.budget_s), &result)
}

/// A tuning file holding `cases`.
pub fn recording(cases: Vec<TunedCase>) -> Tuning {
    Tuning {
        schema: TUNING_SCHEMA.into(),
        suite: "synthetic".into(),
        timestamp: "2026-12-01T00:00:00Z".into(),
        source: "synthetic (crates/pawl-core/tests/testbed/tuning.rs)".into(),
        env: Environment::default(),
        settings: MeasureSettings::default(),
        search: SearchSettings { exhaustive: true, ..SearchSettings::default() },
        spent_s: cases.iter().map(|c| c.spent_s).sum(),
        cases,
    }
}
