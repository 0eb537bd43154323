//! The search of one case's tune space under a time budget.
//!
//! **Method.** Kernel performance over tile sizes, warp counts and pipeline depths is smooth along each
//! axis with a few basins, a measurement is noisy (0.5–2% per sample) and, on a GPU, building a new
//! configuration (an NVRTC compile) costs far more than timing it. The search therefore spends its
//! budget in three stages:
//!
//! 1. **Explore** (until what the later stages are predicted to need is left; at least 40% of the
//!    budget): screen configurations with a short measurement
//!    ([`SearchSettings::screen_samples`] samples each). When the budget can screen every configuration
//!    it does; otherwise it chooses which to build: the default first, a space-filling sample (greedy
//!    max–min distance, at least a quarter of what it screens), and, a small step at a time, the
//!    unmeasured neighbours of the three fastest configurations so far that lie apart from each other
//!    (so a second basin keeps a leader of its own) — a multi-start local search, the idea of Kernel
//!    Tuner's greedy iterated local search (van Werkhoven 2019). Which strategy is best depends on the
//!    budget and the space (Schoonhoven, van Werkhoven & Batenburg 2022, *Benchmarking optimization
//!    algorithms for auto-tuning GPU kernels*), so this one is tested on recorded spaces at a quarter of
//!    the exhaustive time (`tests/tune_replay.rs`).
//! 2. **Halve** (until what the decision is predicted to need is left): successive halving (Karnin,
//!    Koren & Somekh 2013; Jamieson & Talwalkar 2016) over the fastest screened configurations: each
//!    rung measures the survivors with [`SearchSettings::eta`] times more samples and keeps the fastest
//!    1/η, until the finalists remain.
//!    Re-measuring a built configuration is cheap, so this is where noise is beaten down.
//! 3. **Decide** (the rest): each finalist against the default, interleaved A B B A in one process,
//!    decide-then-stop ([`crate::engine::paired`]); [`decide`](super::decide) turns the intervals into a
//!    suggestion or a tie.
//!
//! **Budget.** Time comes from the [`Measurer`]: the wall clock live, the recording's times in replay.
//! Before each visit the search predicts its cost from what it has seen — the median setup of a first
//! visit (compile, allocate, check, warm up), of a revisit (the compile is cached), the time per sample
//! of each configuration, and the overhead of one visit (starting a worker) — and schedules only what
//! fits before the stage ends. Each visit also carries a deadline the measurer enforces, so a wrong
//! prediction costs at most the configuration in progress. Configurations that fail, answer wrong or
//! time out are recorded with their reason and never measured again; they cannot win.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::decide::{self, Decision};
use super::space::Space;
use crate::paired::{PairedCase, StopRule};
use crate::run::CaseStatus;

/// Exploring gets at least this share of the budget, whatever the later stages are predicted to need.
const EXPLORE_FLOOR: f64 = 0.40;
/// Share of the budget kept back from every prediction, for what predictions miss.
const MARGIN: f64 = 0.03;
/// In exhaustive mode, share of the budget for measuring every configuration.
const EXHAUSTIVE_SHARE: f64 = 0.90;
/// Configurations the first visit screens: the default and a space-filling sample.
const FIRST_VISIT: usize = 4;
/// Leaders whose neighbourhoods a local step explores, each in a basin of its own.
const LEADERS: usize = 3;
/// Leaders are at least this far apart (see [`Space::distance`]), so that a second basin gets its own.
const LEADER_SPACING: f64 = 0.5;
/// Share of screened configurations that comes from the space-filling sample.
const SPREAD_SHARE: f64 = 0.25;
/// Configurations measured in one exhaustive visit.
pub(crate) const EXHAUSTIVE_VISIT: usize = 16;
/// Guesses before anything was measured, replaced by medians of what was seen.
const GUESS_SETUP: Duration = Duration::from_secs(1);
const GUESS_SAMPLE: Duration = Duration::from_millis(1);
const GUESS_OVERHEAD: Duration = Duration::from_millis(500);

/// How long a measurement is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effort {
    /// This many more samples (added to those the configuration has).
    Samples(usize),
    /// The suite's own settings: adaptive stopping, as `pawl run` measures.
    Full,
}

/// What measuring one configuration gave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Checked against the reference, then timed.
    Timed { samples_ns: Vec<f64> },
    /// Failed to compile or launch, answered wrong, faulted or timed out: why. Never measured again.
    Rejected { status: CaseStatus, reason: String },
    /// The visit's deadline came first.
    NotMeasured,
}

/// One configuration's measurement and its cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub config: usize,
    pub outcome: Outcome,
    /// Preparing (compiling), checking and warming up.
    pub setup: Duration,
    /// Taking the samples.
    pub timing: Duration,
    /// Served from the measurement cache: no time spent.
    pub cached: bool,
}

/// One visit of the measurer: configurations measured one after another.
#[derive(Clone, Debug, PartialEq)]
pub struct Visit {
    pub effort: Effort,
    pub observations: Vec<Observation>,
    /// Time outside the configurations (starting a worker process).
    pub overhead: Duration,
}

/// One finalist's paired comparison with the default (base = default, head = the finalist).
#[derive(Clone, Debug, PartialEq)]
pub struct PairObservation {
    pub config: usize,
    pub outcome: PairedCase,
    pub elapsed: Duration,
    pub cached: bool,
}

/// The paired visit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PairVisit {
    pub pairs: Vec<PairObservation>,
    pub overhead: Duration,
}

/// What the search asks of a backend: the CLI measures through the engine (CUDA workers or harness
/// processes); replay serves a recording.
pub trait Measurer {
    /// The measurer's clock.
    fn now(&self) -> Duration;

    /// Measures `configs` in order with `effort`; configurations not begun by `deadline` come back
    /// [`Outcome::NotMeasured`].
    fn measure(&mut self, configs: &[usize], effort: Effort, deadline: Duration) -> Visit;

    /// Each of `configs` against `default`, interleaved, under `rule`, within `budget` of measuring
    /// and by `deadline`.
    fn pair(
        &mut self,
        default: usize,
        configs: &[usize],
        rule: &StopRule,
        budget: Duration,
        deadline: Duration,
    ) -> PairVisit;
}

/// How the search runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchSettings {
    /// Wall time for this case, in seconds.
    pub budget_s: f64,
    /// Samples of a screening measurement.
    pub screen_samples: usize,
    /// Halving factor: each rung measures η times longer and keeps 1/η.
    pub eta: usize,
    /// Configurations compared with the default at the end.
    pub finalists: usize,
    /// Most interleaved pairs per finalist.
    pub max_pairs: usize,
    /// A difference smaller than this is no reason to change (the suite's tolerance).
    pub tolerance: f64,
    pub confidence: f64,
    /// Seed of the space-filling sample's ties and of every bootstrap.
    pub seed: u64,
    /// Measure every configuration with the suite's full settings (a recording for replay).
    pub exhaustive: bool,
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            budget_s: 600.0,
            screen_samples: 10,
            eta: 3,
            finalists: 3,
            max_pairs: 400,
            tolerance: 0.02,
            confidence: 0.99,
            seed: 0,
            exhaustive: false,
        }
    }
}

/// Everything the search did and what it decided.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResult {
    pub visits: Vec<Visit>,
    pub pairs: PairVisit,
    pub decision: Decision,
    /// Time from the start of the search to its end, on the measurer's clock.
    pub spent: Duration,
}

impl SearchResult {
    /// Every sample of configuration `config`, in the order taken.
    pub fn samples(&self, config: usize) -> Vec<f64> {
        let mut all = Vec::new();
        for o in self.visits.iter().flat_map(|v| &v.observations).filter(|o| o.config == config) {
            if let Outcome::Timed { samples_ns } = &o.outcome {
                all.extend_from_slice(samples_ns);
            }
        }
        all
    }

    /// Why configuration `config` was rejected, if it was.
    pub fn rejection(&self, config: usize) -> Option<(CaseStatus, &str)> {
        self.visits.iter().flat_map(|v| &v.observations).filter(|o| o.config == config).find_map(|o| match &o
            .outcome
        {
            Outcome::Rejected { status, reason } => Some((*status, reason.as_str())),
            _ => None,
        })
    }

    /// Configurations measured at least once (timed or rejected).
    pub fn measured(&self) -> Vec<usize> {
        let mut seen: Vec<usize> = self
            .visits
            .iter()
            .flat_map(|v| &v.observations)
            .filter(|o| o.outcome != Outcome::NotMeasured)
            .map(|o| o.config)
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen
    }
}

/// Searches `space` through `measurer` (see the module docs).
pub fn run(space: &Space, measurer: &mut dyn Measurer, settings: &SearchSettings) -> SearchResult {
    let mut search = Search::new(space, measurer, settings);
    if settings.exhaustive {
        search.exhaustive();
    } else {
        search.explore();
        search.halve();
    }
    search.finish()
}

/// What the search knows of one configuration.
#[derive(Clone, Debug, Default)]
struct Known {
    samples: Vec<f64>,
    rejected: bool,
    visited: bool,
    /// Picked by the space-filling sample (rather than as a neighbour).
    spread: bool,
}

/// Costs seen so far, in seconds, for predicting the next visit.
#[derive(Clone, Debug, Default)]
struct Costs {
    first_setup: Vec<f64>,
    again_setup: Vec<f64>,
    per_sample: HashMap<usize, f64>,
    overhead: Vec<f64>,
}

impl Costs {
    fn first(&self) -> f64 {
        median(&self.first_setup).or_else(|| median(&self.again_setup)).unwrap_or(GUESS_SETUP.as_secs_f64())
    }

    fn again(&self) -> f64 {
        median(&self.again_setup)
            .or_else(|| self.first_setup.iter().copied().reduce(f64::min))
            .unwrap_or(GUESS_SETUP.as_secs_f64())
    }

    fn per_sample(&self, config: usize) -> f64 {
        self.per_sample.get(&config).copied().unwrap_or_else(|| {
            let all: Vec<f64> = self.per_sample.values().copied().collect();
            median(&all).unwrap_or(GUESS_SAMPLE.as_secs_f64())
        })
    }

    fn overhead(&self) -> f64 {
        median(&self.overhead).unwrap_or(GUESS_OVERHEAD.as_secs_f64())
    }
}

struct Search<'a> {
    space: &'a Space,
    measurer: &'a mut dyn Measurer,
    settings: &'a SearchSettings,
    start: Duration,
    budget: Duration,
    known: Vec<Known>,
    costs: Costs,
    visits: Vec<Visit>,
    /// Survivors of halving, fastest first.
    survivors: Vec<usize>,
}

impl<'a> Search<'a> {
    fn new(space: &'a Space, measurer: &'a mut dyn Measurer, settings: &'a SearchSettings) -> Search<'a> {
        let start = measurer.now();
        let budget = Duration::try_from_secs_f64(settings.budget_s.max(0.0)).unwrap_or(Duration::MAX);
        Search {
            space,
            measurer,
            settings,
            start,
            budget,
            known: vec![Known::default(); space.len()],
            costs: Costs::default(),
            visits: Vec::new(),
            survivors: Vec::new(),
        }
    }

    /// The point `share` of the way through the budget, on the measurer's clock.
    fn at(&self, share: f64) -> Duration {
        self.start.saturating_add(self.budget.mul_f64(share))
    }

    fn left_until(&self, end: Duration) -> f64 {
        end.saturating_sub(self.measurer.now()).as_secs_f64()
    }

    /// Measures `configs` and learns from what came back.
    fn visit(&mut self, configs: &[usize], effort: Effort, deadline: Duration) {
        if configs.is_empty() {
            return;
        }
        let visit = self.measurer.measure(configs, effort, deadline);
        for o in &visit.observations {
            let Some(known) = self.known.get_mut(o.config) else { continue };
            let first = !known.visited;
            match &o.outcome {
                Outcome::Timed { samples_ns } => {
                    known.samples.extend_from_slice(samples_ns);
                    known.visited = true;
                    if !o.cached && !samples_ns.is_empty() {
                        self.costs
                            .per_sample
                            .insert(o.config, o.timing.as_secs_f64() / samples_ns.len() as f64);
                    }
                }
                Outcome::Rejected { .. } => {
                    known.rejected = true;
                    known.visited = true;
                }
                Outcome::NotMeasured => continue,
            }
            if !o.cached {
                let setup = o.setup.as_secs_f64();
                if first { self.costs.first_setup.push(setup) } else { self.costs.again_setup.push(setup) }
            }
        }
        if visit.observations.iter().any(|o| !o.cached && o.outcome != Outcome::NotMeasured) {
            self.costs.overhead.push(visit.overhead.as_secs_f64());
        }
        self.visits.push(visit);
    }

    fn median_of(&self, config: usize) -> Option<f64> {
        let known = &self.known[config];
        if known.rejected { None } else { median(&known.samples) }
    }

    /// Configurations timed and not rejected, fastest first.
    fn ranked(&self) -> Vec<usize> {
        let mut timed: Vec<(usize, f64)> =
            (0..self.space.len()).filter_map(|i| self.median_of(i).map(|m| (i, m))).collect();
        timed.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        timed.into_iter().map(|(i, _)| i).collect()
    }

    fn unvisited(&self) -> Vec<usize> {
        (0..self.space.len()).filter(|&i| !self.known[i].visited).collect()
    }

    /// Predicted seconds of the paired decision: a visit, each finalist's two revisit setups and at
    /// most `max_pairs` pairs.
    fn pairs_need(&self) -> f64 {
        let finalists = self.settings.finalists.max(1) as f64;
        let per_pair = 2.0 * median_per_sample(&self.costs);
        self.costs.overhead()
            + finalists * (2.0 * self.costs.again() + self.settings.max_pairs.max(2) as f64 * per_pair)
    }

    /// Predicted seconds of halving from `start` survivors down to the finalists.
    fn halving_need(&self, mut survivors: usize) -> f64 {
        let keep = self.settings.finalists.max(1);
        let eta = self.settings.eta.max(2);
        let mut samples = self.settings.screen_samples.max(2);
        let mut need = 0.0;
        while survivors > keep {
            samples *= eta;
            need += self.costs.overhead()
                + survivors as f64 * (self.costs.again() + samples as f64 * median_per_sample(&self.costs));
            survivors = survivors.div_ceil(eta).max(keep);
        }
        need
    }

    /// Survivors halving starts from.
    fn first_rung(&self) -> usize {
        let keep = self.settings.finalists.max(1);
        let eta = self.settings.eta.max(2);
        (keep * eta * eta).min(self.ranked().len().max(keep * eta))
    }

    fn margin(&self) -> f64 {
        self.budget.as_secs_f64() * MARGIN
    }

    /// When exploring must stop to leave the later stages what they are predicted to need.
    fn explore_end(&self) -> Duration {
        let reserve = self.pairs_need() + self.halving_need(self.first_rung()) + self.margin();
        let end = self.at(1.0).saturating_sub(seconds(reserve));
        end.max(self.at(EXPLORE_FLOOR))
    }

    /// When halving must stop to leave the paired decision what it is predicted to need.
    fn halve_end(&self) -> Duration {
        self.at(1.0).saturating_sub(seconds(self.pairs_need() + self.margin()))
    }

    fn explore(&mut self) {
        let n = self.settings.screen_samples.max(2);
        let step = (4 * self.space.axes.iter().filter(|a| a.values.len() > 1).count()).max(8);
        let mut first = true;
        loop {
            let end = self.explore_end();
            let unvisited = self.unvisited();
            if unvisited.is_empty() || self.measurer.now() >= end {
                return;
            }
            let per_config = self.costs.first() + n as f64 * median_per_sample(&self.costs);
            let room = self.left_until(end) - self.costs.overhead();
            let slots = if first { FIRST_VISIT } else { (room / per_config).floor().max(0.0) as usize };
            if slots == 0 {
                return;
            }
            let batch = if slots >= unvisited.len() {
                unvisited
            } else if first {
                let mut batch = vec![self.space.default];
                self.known[self.space.default].spread = true;
                batch.extend(self.spread(FIRST_VISIT - 1, &batch));
                batch
            } else {
                self.local_step(slots.min(step))
            };
            first = false;
            if batch.is_empty() {
                return;
            }
            let before = self.unvisited().len();
            // A visit may run past the soft end of exploring, never into the paired decision's time.
            let hard = self.halve_end();
            self.visit(&batch, Effort::Samples(n), hard);
            if self.unvisited().len() == before {
                return; // the deadline came before anything was measured
            }
        }
    }

    /// The next exploration batch of at most `slots` configurations: space-filling picks while they
    /// are under their share, then the unmeasured neighbours of the leaders (the fastest
    /// configurations, each at least [`LEADER_SPACING`] from the ones before), then more spread.
    fn local_step(&mut self, slots: usize) -> Vec<usize> {
        let mut batch: Vec<usize> = Vec::new();
        let visited = self.known.iter().filter(|k| k.visited).count();
        let spread = self.known.iter().filter(|k| k.spread).count();
        let owed = ((visited as f64 + slots as f64) * SPREAD_SHARE).ceil() as usize;
        let owed = owed.saturating_sub(spread).min(slots.div_ceil(4));
        if owed > 0 {
            batch = self.spread(owed, &[]);
        }
        let mut leaders: Vec<usize> = Vec::new();
        for candidate in self.ranked() {
            if leaders.len() == LEADERS || batch.len() >= slots {
                break;
            }
            if leaders.iter().any(|&l| self.space.distance(l, candidate) < LEADER_SPACING) {
                continue;
            }
            let fresh: Vec<usize> = self
                .space
                .neighbours(candidate)
                .into_iter()
                .filter(|&j| !self.known[j].visited && !batch.contains(&j))
                .collect();
            if !fresh.is_empty() {
                leaders.push(candidate);
                batch.extend(fresh);
            }
        }
        if batch.is_empty() {
            // Every leader's neighbourhood is measured: look elsewhere.
            batch = self.spread(slots.min(3), &[]);
        }
        batch.truncate(slots);
        batch
    }

    /// `count` unvisited configurations, each the farthest from everything visited or picked
    /// (greedy max–min distance), ties broken by a seeded hash. Marked as spread picks.
    fn spread(&mut self, count: usize, also: &[usize]) -> Vec<usize> {
        let mut anchors: Vec<usize> =
            (0..self.space.len()).filter(|&i| self.known[i].visited).chain(also.iter().copied()).collect();
        let mut nearest: Vec<f64> = (0..self.space.len())
            .map(|i| anchors.iter().map(|&a| self.space.distance(i, a)).fold(f64::INFINITY, f64::min))
            .collect();
        let mut picked = Vec::new();
        for _ in 0..count {
            let best = (0..self.space.len())
                .filter(|&i| !self.known[i].visited && !also.contains(&i) && !picked.contains(&i))
                .max_by(|&a, &b| {
                    nearest[a]
                        .total_cmp(&nearest[b])
                        .then(tie_break(self.settings.seed, b).cmp(&tie_break(self.settings.seed, a)))
                });
            let Some(best) = best else { break };
            picked.push(best);
            anchors.push(best);
            self.known[best].spread = true;
            for (i, d) in nearest.iter_mut().enumerate() {
                *d = d.min(self.space.distance(i, best));
            }
        }
        picked
    }

    fn halve(&mut self) {
        let keep = self.settings.finalists.max(1);
        let eta = self.settings.eta.max(2);
        let mut survivors = self.ranked();
        survivors.truncate(self.first_rung());
        let mut samples = self.settings.screen_samples.max(2);
        while survivors.len() > keep {
            samples *= eta;
            let end = self.halve_end();
            let room = self.left_until(end) - self.costs.overhead();
            let mut fits = 0;
            let mut cost = 0.0;
            for &c in &survivors {
                cost += self.costs.again() + samples as f64 * self.costs.per_sample(c);
                if cost > room {
                    break;
                }
                fits += 1;
            }
            if fits <= keep {
                break;
            }
            survivors.truncate(fits);
            let rung = survivors.clone();
            let hard = self.at(1.0).saturating_sub(seconds(self.pairs_need() / 2.0));
            self.visit(&rung, Effort::Samples(samples), hard);
            let ranked = self.ranked();
            survivors = ranked.into_iter().filter(|c| rung.contains(c)).collect();
            survivors.truncate(survivors.len().div_ceil(eta).max(keep));
        }
        self.survivors = survivors;
    }

    fn exhaustive(&mut self) {
        let end = self.at(EXHAUSTIVE_SHARE);
        let all: Vec<usize> = std::iter::once(self.space.default)
            .chain((0..self.space.len()).filter(|&i| i != self.space.default))
            .collect();
        for chunk in all.chunks(EXHAUSTIVE_VISIT) {
            if self.measurer.now() >= end {
                break;
            }
            self.visit(chunk, Effort::Full, end);
        }
        self.survivors = self.ranked();
    }

    fn finish(self) -> SearchResult {
        let default = self.space.default;
        let deadline = self.at(1.0);
        let mut finalists: Vec<usize> =
            if self.survivors.is_empty() { self.ranked() } else { self.survivors.clone() };
        finalists.retain(|&c| c != default && self.median_of(c).is_some());
        finalists.truncate(self.settings.finalists.max(1));
        let default_ok = self.median_of(default).is_some();
        let budget = self.left_until(deadline) - self.costs.overhead();
        let pairs = if default_ok && !finalists.is_empty() && budget > 0.0 {
            let rule = StopRule {
                tolerance: self.settings.tolerance,
                confidence: self.settings.confidence,
                max_pairs: self.settings.max_pairs.max(2),
                seed: self.settings.seed,
            };
            self.measurer.pair(default, &finalists, &rule, seconds(budget), deadline)
        } else {
            PairVisit::default()
        };
        let screened: Vec<(usize, f64)> =
            self.ranked().into_iter().filter_map(|c| self.median_of(c).map(|m| (c, m))).collect();
        let decision = decide::decide(
            self.space,
            &decide::Evidence {
                default_ok,
                default_reason: self.rejection_reason(default),
                screened: &screened,
                finalists: &finalists,
                pairs: &pairs.pairs,
            },
            &decide::Rule {
                tolerance: self.settings.tolerance,
                confidence: self.settings.confidence,
                seed: self.settings.seed,
            },
        );
        let spent = self.measurer.now().saturating_sub(self.start);
        SearchResult { visits: self.visits, pairs, decision, spent }
    }

    fn rejection_reason(&self, config: usize) -> Option<String> {
        self.visits.iter().flat_map(|v| &v.observations).filter(|o| o.config == config).find_map(|o| match &o
            .outcome
        {
            Outcome::Rejected { reason, .. } => Some(reason.clone()),
            _ => None,
        })
    }
}

fn median_per_sample(costs: &Costs) -> f64 {
    let all: Vec<f64> = costs.per_sample.values().copied().collect();
    median(&all).unwrap_or(GUESS_SAMPLE.as_secs_f64())
}

/// `s` seconds as a duration: negative or NaN is zero, too large is the longest duration.
pub(crate) fn seconds(s: f64) -> Duration {
    if s.is_nan() || s <= 0.0 {
        Duration::ZERO
    } else {
        Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
    }
}

/// The median of `values`, or `None` when there are none.
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    Some(if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 })
}

fn tie_break(seed: u64, i: usize) -> u64 {
    crate::stats::bootstrap::mix_seed(seed, i as u64)
}
