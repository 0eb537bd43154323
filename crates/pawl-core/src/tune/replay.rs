//! Replay: a [`Measurer`] that serves a recorded case (a `tuning.json`), so the search runs on a CPU
//! against real measurements, as Kernel Tuner's simulation mode replays its cache.
//!
//! Each configuration's recorded samples are served in the order they were taken; a configuration
//! asked for more samples than were recorded gets the recording again from its start (so a longer
//! replayed measurement costs more but tells no more than the recording did). Time runs on a virtual
//! clock charged with what the recording says each step cost: a first visit of a configuration its
//! recorded setup (the compile included), a revisit the case's median recorded revisit setup (or, when
//! the recording has none, its cheapest setup: by then the compile is cached), each sample the
//! configuration's recorded time per sample, each visit the recording's median visit overhead. A
//! configuration the recording never measured comes back rejected as "not in the recording".
//!
//! Paired comparisons are served from the recording's own pairs when it compared the same
//! configuration; otherwise the two configurations' recorded series are paired sample by sample, and
//! the decide-then-stop looks of `pawl ab` ([`look`]) stop them.

use std::collections::HashMap;
use std::time::Duration;

use super::record::TunedCase;
use super::search::{
    EXHAUSTIVE_VISIT, Effort, Measurer, Observation, Outcome, PairObservation, PairVisit, Visit, median,
    seconds as seconds_of,
};
use crate::case::CaseId;
use crate::paired::{PairedCase, PairedSamples, Settled, StopRule, look, look_schedule};
use crate::run::CaseStatus;

/// What the recording holds for one configuration.
#[derive(Clone, Debug)]
enum Recorded {
    Timed { samples: Vec<f64>, setup: f64, per_sample: f64 },
    Rejected { status: CaseStatus, reason: String, setup: f64 },
    Missing,
}

/// A recorded case, served to the search.
#[derive(Debug)]
pub struct Replay {
    id: CaseId,
    configs: Vec<Recorded>,
    pairs: HashMap<usize, PairedCase>,
    revisit_setup: f64,
    overhead: f64,
    clock: Duration,
    served: Vec<usize>,
    visited: Vec<bool>,
}

impl Replay {
    pub fn new(case: &TunedCase) -> Replay {
        let n = case.space.len();
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); n];
        let mut setup: Vec<Option<f64>> = vec![None; n];
        let mut timing = vec![(0.0, 0usize); n];
        let mut rejected: Vec<Option<(CaseStatus, String)>> = vec![None; n];
        let mut revisits = Vec::new();
        let mut overheads = Vec::new();
        for visit in &case.visits {
            if visit.measurements.iter().any(|m| !m.cached) {
                overheads.push(visit.overhead_s);
            }
            for m in visit.measurements.iter().filter(|m| m.config < n) {
                let c = m.config;
                let first = samples[c].is_empty() && rejected[c].is_none();
                match &m.outcome {
                    Outcome::Timed { samples_ns } => {
                        samples[c].extend_from_slice(samples_ns);
                        if !m.cached {
                            timing[c].0 += m.timing_s;
                            timing[c].1 += samples_ns.len();
                        }
                    }
                    Outcome::Rejected { status, reason } => {
                        rejected[c].get_or_insert((*status, reason.clone()));
                    }
                    Outcome::NotMeasured => continue,
                }
                if !m.cached {
                    if first {
                        setup[c].get_or_insert(m.setup_s);
                    } else {
                        revisits.push(m.setup_s);
                    }
                }
            }
        }
        let known_setups: Vec<f64> = setup.iter().flatten().copied().collect();
        let typical_setup = median(&known_setups).unwrap_or(0.0);
        let per_samples: Vec<f64> =
            timing.iter().filter(|(_, k)| *k > 0).map(|(t, k)| t / *k as f64).collect();
        let typical_sample = median(&per_samples).unwrap_or(0.0);
        let configs = (0..n)
            .map(|c| {
                let setup = setup[c].unwrap_or(typical_setup);
                if let Some((status, reason)) = rejected[c].clone() {
                    Recorded::Rejected { status, reason, setup }
                } else if samples[c].is_empty() {
                    Recorded::Missing
                } else {
                    let (t, k) = timing[c];
                    let per_sample = if k > 0 { t / k as f64 } else { typical_sample };
                    Recorded::Timed { samples: std::mem::take(&mut samples[c]), setup, per_sample }
                }
            })
            .collect();
        let pairs = case
            .pairs
            .iter()
            .filter(|p| matches!(p.paired, PairedCase::Measured { .. }))
            .map(|p| (p.config, p.paired.clone()))
            .collect();
        Replay {
            id: case.id.clone(),
            configs,
            pairs,
            revisit_setup: median(&revisits)
                .unwrap_or_else(|| known_setups.iter().copied().reduce(f64::min).unwrap_or(0.0)),
            overhead: median(&overheads).unwrap_or(0.0),
            clock: Duration::ZERO,
            served: vec![0; n],
            visited: vec![false; n],
        }
    }

    /// The fastest configuration of the recording by the median of its samples, with that median.
    pub fn best(&self) -> Option<(usize, f64)> {
        (0..self.configs.len())
            .filter_map(|c| self.median(c).map(|m| (c, m)))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
    }

    /// The recorded median of configuration `config`, when it was timed.
    pub fn median(&self, config: usize) -> Option<f64> {
        match self.configs.get(config)? {
            Recorded::Timed { samples, .. } => median(samples),
            _ => None,
        }
    }

    /// Whether the recording rejected `config`.
    pub fn is_rejected(&self, config: usize) -> bool {
        matches!(self.configs.get(config), Some(Recorded::Rejected { .. }))
    }

    /// What measuring every recorded configuration once, fully, costs by this recording: the
    /// exhaustive search a budgeted one is compared with.
    pub fn exhaustive_cost(&self) -> Duration {
        let configs: f64 = self
            .configs
            .iter()
            .map(|r| match r {
                Recorded::Timed { samples, setup, per_sample } => setup + samples.len() as f64 * per_sample,
                Recorded::Rejected { setup, .. } => *setup,
                Recorded::Missing => 0.0,
            })
            .sum();
        let visits = self.configs.len().div_ceil(EXHAUSTIVE_VISIT) as f64;
        seconds_of(configs + visits * self.overhead)
    }

    /// Whether `seconds` more end by `deadline`; when they do not, the measurer is stopped at the
    /// deadline (as the CLI stops a worker) and the clock stands there.
    fn fits(&mut self, seconds: f64, deadline: Duration) -> bool {
        let fits = self.clock.saturating_add(seconds_of(seconds)) <= deadline;
        if !fits {
            self.clock = self.clock.max(deadline);
        }
        fits
    }

    fn charge(&mut self, seconds: f64) {
        self.clock = self.clock.saturating_add(seconds_of(seconds));
    }

    fn setup_of(&mut self, config: usize, setup: f64) -> f64 {
        if std::mem::replace(&mut self.visited[config], true) { self.revisit_setup } else { setup }
    }

    /// `count` samples of `config` from where it was left, starting over at the end.
    fn take(&mut self, config: usize, count: usize) -> Vec<f64> {
        let Recorded::Timed { samples, .. } = &self.configs[config] else { return Vec::new() };
        let start = self.served[config];
        let taken: Vec<f64> = (0..count).map(|k| samples[(start + k) % samples.len()]).collect();
        self.served[config] = start + count;
        taken
    }

    fn series(&self, config: usize) -> (&[f64], f64) {
        match &self.configs[config] {
            Recorded::Timed { samples, per_sample, .. } => (samples, *per_sample),
            _ => (&[], 0.0),
        }
    }
}

impl Measurer for Replay {
    fn now(&self) -> Duration {
        self.clock
    }

    fn measure(&mut self, configs: &[usize], effort: Effort, deadline: Duration) -> Visit {
        let overhead = seconds_of(self.overhead).min(deadline.saturating_sub(self.clock));
        self.clock = self.clock.saturating_add(overhead);
        let mut observations = Vec::new();
        for &config in configs {
            let not_measured = Observation {
                config,
                outcome: Outcome::NotMeasured,
                setup: Duration::ZERO,
                timing: Duration::ZERO,
                cached: false,
            };
            if self.clock >= deadline || config >= self.configs.len() {
                observations.push(not_measured);
                continue;
            }
            let observation = match self.configs[config].clone() {
                Recorded::Missing => Observation {
                    outcome: Outcome::Rejected {
                        status: CaseStatus::Skipped,
                        reason: "not in the recording".into(),
                    },
                    ..not_measured
                },
                Recorded::Rejected { status, reason, setup } => {
                    let setup = self.setup_of(config, setup);
                    if !self.fits(setup, deadline) {
                        observations.push(not_measured);
                        continue;
                    }
                    self.charge(setup);
                    Observation {
                        outcome: Outcome::Rejected { status, reason },
                        setup: seconds_of(setup),
                        ..not_measured
                    }
                }
                Recorded::Timed { samples, setup, per_sample } => {
                    let count = match effort {
                        Effort::Samples(n) => n.max(1),
                        Effort::Full => samples.len(),
                    };
                    let setup = self.setup_of(config, setup);
                    let timing = count as f64 * per_sample;
                    if !self.fits(setup + timing, deadline) {
                        observations.push(not_measured);
                        continue;
                    }
                    self.charge(setup + timing);
                    Observation {
                        outcome: Outcome::Timed { samples_ns: self.take(config, count) },
                        setup: seconds_of(setup),
                        timing: seconds_of(timing),
                        ..not_measured
                    }
                }
            };
            observations.push(observation);
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
        let overhead = seconds_of(self.overhead).min(deadline.saturating_sub(self.clock));
        self.clock = self.clock.saturating_add(overhead);
        let share = (budget.as_secs_f64() / configs.len().max(1) as f64)
            .min(deadline.saturating_sub(self.clock).as_secs_f64() / configs.len().max(1) as f64);
        let mut pairs = Vec::new();
        for &config in configs {
            if self.clock >= deadline || config >= self.configs.len() || default >= self.configs.len() {
                continue;
            }
            let (base, base_per) = self.series(default);
            let (head, head_per) = self.series(config);
            let per_pair = base_per + head_per;
            let setup = 2.0 * self.revisit_setup;
            let (base, head) = match self.pairs.get(&config) {
                Some(PairedCase::Measured { samples, .. }) => {
                    (samples.base_ns.clone(), samples.head_ns.clone())
                }
                _ => (base.to_vec(), head.to_vec()),
            };
            if setup > share {
                continue;
            }
            let available = base.len().min(head.len()).min(rule.max_pairs);
            let affordable = if per_pair > 0.0 {
                ((share - setup) / per_pair).floor().max(0.0) as usize
            } else {
                available
            };
            let cap = available.min(affordable);
            let started = self.clock;
            let (mut used, mut looks, mut settled) = (0, 0, Settled::Open);
            for at in look_schedule(rule.max_pairs) {
                let at = at.min(cap);
                if at < 2 || at <= used {
                    break;
                }
                used = at;
                looks += 1;
                if let Ok(s) = look(&base[..at], &head[..at], rule, &self.id) {
                    settled = s;
                    if s != Settled::Open {
                        break;
                    }
                }
            }
            self.charge(setup + used as f64 * per_pair);
            let outcome = if used < 2 {
                PairedCase::Failed { message: "no time left for the paired comparison".into() }
            } else {
                PairedCase::Measured {
                    samples: PairedSamples {
                        base_ns: base[..used].to_vec(),
                        head_ns: head[..used].to_vec(),
                        ..PairedSamples::default()
                    },
                    looks,
                    settled,
                }
            };
            pairs.push(PairObservation {
                config,
                outcome,
                elapsed: self.clock.saturating_sub(started),
                cached: false,
            });
        }
        PairVisit { pairs, overhead }
    }
}

/// Searches every case of `recording` again, against the recording, within `budget` in all (shared
/// by the cases as a live tune shares it: each case gets an equal share of what is left), and records
/// the replay as a tuning of its own. The search is the budgeted one whatever `settings.exhaustive`
/// says: an exhaustive search of a recording is the recording. Cases recorded exhaustively also say how the search did against
/// measuring everything.
pub fn replay(
    recording: &super::record::Tuning,
    source: &str,
    budget: Duration,
    settings: &super::search::SearchSettings,
) -> super::record::Tuning {
    use super::record::{AgainstExhaustive, Tuning};
    let mut cases = Vec::new();
    let mut left = budget;
    for (k, recorded) in recording.cases.iter().enumerate() {
        let share = left / u32::try_from(recording.cases.len() - k).unwrap_or(u32::MAX);
        let mut measurer = Replay::new(recorded);
        let case_settings = super::search::SearchSettings {
            budget_s: share.as_secs_f64(),
            exhaustive: false,
            ..settings.clone()
        };
        let result = super::search::run(&recorded.space, &mut measurer, &case_settings);
        left = left.saturating_sub(result.spent);
        let planned = crate::plan::PlannedCase {
            case: crate::case::Case {
                id: recorded.id.clone(),
                bench: recorded.bench.clone(),
                params: recorded.params.clone(),
            },
            tune: recorded.space.configs[recorded.space.default].clone(),
            flops: recorded.flops,
            bytes: recorded.bytes,
        };
        let mut case = TunedCase::new(&planned, &recorded.space, share, &result);
        if recorded.is_exhaustive() {
            let truth = Replay::new(recorded);
            if let (Some((best, best_ns)), Some(found_ns)) =
                (truth.best(), truth.median(result.decision.suggested))
            {
                case.against_exhaustive = Some(AgainstExhaustive {
                    best,
                    best_ns,
                    found_ns,
                    exhaustive_s: truth.exhaustive_cost().as_secs_f64(),
                });
            }
        }
        cases.push(case);
    }
    Tuning {
        schema: super::record::TUNING_SCHEMA.to_owned(),
        suite: recording.suite.clone(),
        timestamp: recording.timestamp.clone(),
        source: source.to_owned(),
        env: recording.env.clone(),
        settings: recording.settings.clone(),
        search: super::search::SearchSettings {
            budget_s: budget.as_secs_f64(),
            exhaustive: false,
            ..settings.clone()
        },
        spent_s: budget.saturating_sub(left).as_secs_f64(),
        cases,
    }
}
