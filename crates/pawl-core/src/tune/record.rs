//! `tuning.json` (`pawl-tuning/1`): every measurement a tune made, case by case, with the space it
//! searched and what it decided — what `suggestions.md` is rendered from and what replay serves.
//!
//! Configurations are referred to by their index in the case's recorded space and carry their tune
//! values too, so the file reads on its own. [`Tuning::load`] checks every index and sample, so a
//! hand-edited or truncated file is refused with the field at fault, never half-read.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::decide::Decision;
use super::search::{
    Effort, Observation, Outcome, PairObservation, PairVisit, SearchResult, SearchSettings, Visit,
};
use super::space::Space;
use crate::case::CaseId;
use crate::files::{self, FileError};
use crate::paired::PairedCase;
use crate::run::Environment;
use crate::suite::MeasureSettings;
use crate::value::Params;

/// Schema tag of tuning files.
pub const TUNING_SCHEMA: &str = "pawl-tuning/1";

/// One `pawl tune`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tuning {
    pub schema: String,
    pub suite: String,
    /// When the tune started (RFC 3339, UTC).
    pub timestamp: String,
    /// Where the measurements came from: `live`, or `replay of FILE`.
    pub source: String,
    pub env: Environment,
    /// The suite's measuring settings (what a full measurement is).
    pub settings: MeasureSettings,
    /// The search's settings; `budget_s` there is the whole tune's.
    pub search: SearchSettings,
    /// Wall time of the whole tune, seconds.
    pub spent_s: f64,
    pub cases: Vec<TunedCase>,
}

/// One case's search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TunedCase {
    pub id: CaseId,
    pub bench: String,
    pub params: Params,
    pub flops: Option<f64>,
    pub bytes: Option<f64>,
    /// The budget this case was given and the time it took, seconds.
    pub budget_s: f64,
    pub spent_s: f64,
    pub space: Space,
    pub visits: Vec<VisitRecord>,
    pub pairs: Vec<PairRecord>,
    #[serde(default)]
    pub pair_overhead_s: f64,
    pub decision: Decision,
    /// In a replay of an exhaustive recording: how the search did against measuring everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub against_exhaustive: Option<AgainstExhaustive>,
    /// The GPU the case was tuned on, where `--gpus` chose it (`GPU-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_uuid: Option<String>,
}

/// A budgeted search against the exhaustive one, by the recording's medians.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgainstExhaustive {
    /// The recording's fastest configuration and its median.
    pub best: usize,
    pub best_ns: f64,
    /// The recorded median of the search's suggestion.
    pub found_ns: f64,
    /// What measuring every configuration took, seconds.
    pub exhaustive_s: f64,
}

/// One visit of the measurer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VisitRecord {
    pub effort: Effort,
    pub overhead_s: f64,
    pub measurements: Vec<MeasurementRecord>,
}

/// One configuration measured once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeasurementRecord {
    pub config: usize,
    pub tune: Params,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub setup_s: f64,
    pub timing_s: f64,
    #[serde(default)]
    pub cached: bool,
}

/// One finalist's paired comparison with the default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairRecord {
    pub config: usize,
    pub tune: Params,
    pub paired: PairedCase,
    pub elapsed_s: f64,
    #[serde(default)]
    pub cached: bool,
}

impl Tuning {
    /// Reads and checks a tuning file.
    pub fn load(path: &Path) -> Result<Tuning, FileError> {
        let tuning: Tuning = files::read_versioned(path, TUNING_SCHEMA)?;
        tuning.validate().map_err(|message| FileError::Invalid { path: path.to_owned(), message })?;
        Ok(tuning)
    }

    /// Writes the file atomically, as compact JSON (it holds every sample).
    pub fn save(&self, path: &Path) -> Result<(), FileError> {
        let mut bytes = serde_json::to_vec(self).expect("tuning files always serialize");
        bytes.push(b'\n');
        files::write_atomic(path, &bytes)
    }

    /// Checks what serde cannot: indices within the spaces, samples finite and positive, times not
    /// negative.
    pub fn validate(&self) -> Result<(), String> {
        for case in &self.cases {
            case.validate().map_err(|e| format!("case `{}`: {e}", case.id))?;
        }
        Ok(())
    }
}

impl TunedCase {
    /// The record of `result`, a search of `space`.
    pub fn new(
        case: &crate::plan::PlannedCase,
        space: &Space,
        budget: Duration,
        result: &SearchResult,
    ) -> TunedCase {
        let tune = |i: usize| space.configs.get(i).cloned().unwrap_or_default();
        TunedCase {
            id: case.case.id.clone(),
            bench: case.case.bench.clone(),
            params: case.case.params.clone(),
            flops: case.flops,
            bytes: case.bytes,
            budget_s: budget.as_secs_f64(),
            spent_s: result.spent.as_secs_f64(),
            space: space.clone(),
            visits: result
                .visits
                .iter()
                .map(|v| VisitRecord {
                    effort: v.effort,
                    overhead_s: v.overhead.as_secs_f64(),
                    measurements: v
                        .observations
                        .iter()
                        .map(|o| MeasurementRecord {
                            config: o.config,
                            tune: tune(o.config),
                            outcome: o.outcome.clone(),
                            setup_s: o.setup.as_secs_f64(),
                            timing_s: o.timing.as_secs_f64(),
                            cached: o.cached,
                        })
                        .collect(),
                })
                .collect(),
            pairs: result
                .pairs
                .pairs
                .iter()
                .map(|p| PairRecord {
                    config: p.config,
                    tune: tune(p.config),
                    paired: p.outcome.clone(),
                    elapsed_s: p.elapsed.as_secs_f64(),
                    cached: p.cached,
                })
                .collect(),
            pair_overhead_s: result.pairs.overhead.as_secs_f64(),
            decision: result.decision.clone(),
            against_exhaustive: None,
            gpu_uuid: None,
        }
    }

    /// The search as it was, for reports.
    pub fn result(&self) -> SearchResult {
        let secs = |s: f64| Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::ZERO);
        SearchResult {
            visits: self
                .visits
                .iter()
                .map(|v| Visit {
                    effort: v.effort,
                    overhead: secs(v.overhead_s),
                    observations: v
                        .measurements
                        .iter()
                        .map(|m| Observation {
                            config: m.config,
                            outcome: m.outcome.clone(),
                            setup: secs(m.setup_s),
                            timing: secs(m.timing_s),
                            cached: m.cached,
                        })
                        .collect(),
                })
                .collect(),
            pairs: PairVisit {
                pairs: self
                    .pairs
                    .iter()
                    .map(|p| PairObservation {
                        config: p.config,
                        outcome: p.paired.clone(),
                        elapsed: secs(p.elapsed_s),
                        cached: p.cached,
                    })
                    .collect(),
                overhead: secs(self.pair_overhead_s),
            },
            decision: self.decision.clone(),
            spent: secs(self.spent_s),
        }
    }

    /// Whether every configuration of the space was measured (timed or rejected): an exhaustive
    /// recording, against which a search can be judged.
    pub fn is_exhaustive(&self) -> bool {
        let mut seen = vec![false; self.space.len()];
        for m in self.visits.iter().flat_map(|v| &v.measurements) {
            if m.outcome != Outcome::NotMeasured {
                seen[m.config] = true;
            }
        }
        seen.iter().all(|&s| s)
    }

    fn validate(&self) -> Result<(), String> {
        let n = self.space.len();
        if n == 0 {
            return Err("the space has no configuration".into());
        }
        if n > super::space::MAX_CONFIGS {
            return Err(format!(
                "the space has {n} configurations; pawl searches at most {}",
                super::space::MAX_CONFIGS
            ));
        }
        if self.space.default >= n {
            return Err(format!("the default is configuration {}, of {n}", self.space.default));
        }
        let index = |what: &str, i: usize| {
            if i < n { Ok(()) } else { Err(format!("{what} names configuration {i}, of {n}")) }
        };
        let time = |what: &str, s: f64| {
            if s.is_finite() && s >= 0.0 {
                Ok(())
            } else {
                Err(format!("{what} is {s}; times are finite and ≥ 0"))
            }
        };
        let samples = |what: &str, xs: &[f64]| match xs.iter().find(|s| !s.is_finite() || **s <= 0.0) {
            Some(bad) => Err(format!("{what} has the sample {bad}; samples must be finite and positive")),
            None => Ok(()),
        };
        for (v, visit) in self.visits.iter().enumerate() {
            time(&format!("visit {v}'s overhead"), visit.overhead_s)?;
            for m in &visit.measurements {
                let what = format!("visit {v}'s measurement of configuration {}", m.config);
                index(&what, m.config)?;
                time(&what, m.setup_s)?;
                time(&what, m.timing_s)?;
                if let Outcome::Timed { samples_ns } = &m.outcome {
                    samples(&what, samples_ns)?;
                }
            }
        }
        for p in &self.pairs {
            let what = format!("the paired comparison of configuration {}", p.config);
            index(&what, p.config)?;
            time(&what, p.elapsed_s)?;
            if let PairedCase::Measured { samples: s, .. } = &p.paired {
                samples(&what, &s.base_ns)?;
                samples(&what, &s.head_ns)?;
            }
        }
        let d = &self.decision;
        index("the decision", d.suggested)?;
        for &t in &d.ties {
            index("the decision's tie set", t)?;
        }
        for c in &d.compared {
            index("the decision's comparisons", c.config)?;
        }
        if let Some(a) = &self.against_exhaustive {
            index("the exhaustive comparison", a.best)?;
        }
        Ok(())
    }
}
