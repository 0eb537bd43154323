//! The live side of `pawl tune`: a [`Measurer`] that measures configurations with the measuring engine
//! — in CUDA worker processes for `cuda` benches, through harness processes for `command` benches — and
//! serves what the measurement cache already holds.
//!
//! Every configuration is planned like a case of `pawl run` (a configuration whose launch cannot be
//! planned is rejected with the reason) and gets an id of its own, `CASE#TUNE`, so a harness or a
//! worker can hold several configurations of one case at once. The engine checks each against the
//! reference before timing it; what fails, answers wrong, faults or hangs comes back rejected with the
//! engine's reason. Costs are read from the engine's progress: setup from the start of a configuration
//! to its first timed sample (compile, allocate, check, warm up), timing from there to its result.

use std::collections::HashMap;
use std::ffi::OsString;
use std::time::{Duration, Instant};

use pawl_core::case::{Case, CaseId};
use pawl_core::engine::paired::{self as schedule, Event, PairJob, PairedPlan};
use pawl_core::engine::{self, Phase, SystemClock};
use pawl_core::paired::{PairedCase, StopRule};
use pawl_core::plan::{self, PlannedCase};
use pawl_core::run::{CaseResult, CaseStatus, Environment, RunWarning};
use pawl_core::suite::{Bench, BenchKind, MeasureSettings};
use pawl_core::tune::cache::{Cached, MeasurementCache};
use pawl_core::tune::search::{Effort, Measurer, Observation, Outcome, PairObservation, PairVisit, Visit};
use pawl_core::tune::space::Space;
use pawl_cuda::devices::Device;
use pawl_cuda::protocol::{PairedCaseSpec, PairedRequest, Request};
use pawl_cuda::workers::{Answer, Worker};
use sha2::{Digest, Sha256};

use crate::gpus;
use crate::harness::HarnessBackend;

/// Warm-up of a screening measurement, milliseconds: configurations follow one another on a busy
/// device, so its clocks are up; the engine still waits until the SM clock stops rising.
const SCREEN_WARMUP_MS: f64 = 20.0;

/// Harness processes a tune keeps running at once: a configuration with a tune value in the argv has
/// one of its own, and a tune of 90 must not keep 90 (each perhaps holding a GPU context) alive.
const HARNESS_PROCESSES: usize = 4;

/// One case's configurations, measured live.
pub struct Live<'a> {
    bench: &'a Bench,
    case: &'a PlannedCase,
    space: &'a Space,
    settings: &'a MeasureSettings,
    origin: Instant,
    cache: &'a mut MeasurementCache,
    /// What every key of this tune shares: pawl, the device, the settings, the bench's code.
    key_base: String,
    keys: HashMap<usize, Option<String>>,
    /// Samples of each configuration taken from the cache so far.
    served: HashMap<usize, usize>,
    worker: Vec<OsString>,
    /// The GPU this case is tuned on (`--gpus`), its workers and harnesses pinned to it.
    gpu: Option<&'a Device>,
    harness: HarnessBackend,
}

impl<'a> Live<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        bench: &'a Bench,
        case: &'a PlannedCase,
        space: &'a Space,
        settings: &'a MeasureSettings,
        env: &Environment,
        origin: Instant,
        cache: &'a mut MeasurementCache,
        worker: Vec<OsString>,
        gpu: Option<&'a Device>,
    ) -> Live<'a> {
        // Measurements belong to the GPU that took them: the one pinned, else the one the run found.
        let device = match &env.gpu {
            Some(info) => format!(
                "{}|{}|{}|{}",
                info.name,
                gpu.map_or(info.uuid.as_str(), |d| d.uuid.as_str()),
                info.driver_version,
                info.nvrtc_version.as_deref().unwrap_or("")
            ),
            None => match gpu {
                Some(d) => format!("host {} {}", env.hostname, d.uuid),
                None => format!("host {}", env.hostname),
            },
        };
        let mut harness = HarnessBackend::with_max_processes(HARNESS_PROCESSES);
        if let Some(d) = gpu {
            harness = harness.and_env(gpus::PIN, &d.uuid);
        }
        let key_base = format!(
            "pawl {}|{device}|warm_cache={} graph={} seed={}|{}",
            env!("CARGO_PKG_VERSION"),
            settings.warm_cache,
            settings.graph,
            settings.seed,
            serde_json::to_string(&bench.kind).unwrap_or_default(),
        );
        Live {
            bench,
            case,
            space,
            settings,
            origin,
            cache,
            key_base,
            keys: HashMap::new(),
            served: HashMap::new(),
            worker,
            gpu,
            harness,
        }
    }

    /// A CUDA worker for one request, pinned to this case's GPU where there is one.
    fn cuda_worker(&self) -> Worker {
        let worker = Worker::new(&self.worker);
        match self.gpu {
            Some(d) => worker.env(gpus::PIN, &d.uuid),
            None => worker,
        }
    }

    /// Closes the harness processes; what they did wrong without failing a configuration.
    pub fn finish(mut self) -> Vec<RunWarning> {
        self.harness.finish();
        std::mem::take(&mut self.harness.warnings)
    }

    fn instant(&self, at: Duration) -> Instant {
        self.origin + at
    }

    /// The configuration planned as a case of its own, `CASE#TUNE`.
    fn planned(&self, config: usize) -> Result<PlannedCase, String> {
        let tune = self.space.configs[config].clone();
        let id = CaseId::from_raw(format!("{}#{}", self.case.case.id, tune.to_id_string()));
        let case = Case { id, bench: self.case.case.bench.clone(), params: self.case.case.params.clone() };
        plan::plan_config(self.bench, case, tune).map_err(|e| e.to_string())
    }

    /// The cache key of a configuration: `None` when its code cannot be read (it will fail anyway).
    fn key(&mut self, config: usize) -> Option<String> {
        if let Some(key) = self.keys.get(&config) {
            return key.clone();
        }
        let tune = &self.space.configs[config];
        let mut vars = self.case.case.params.clone();
        for (name, value) in tune.iter() {
            vars.insert(name, value.clone());
        }
        let code = match &self.bench.kind {
            BenchKind::Cuda(cuda) => pawl_cuda::code_digest(cuda, &vars, tune).ok(),
            BenchKind::Command(command) => {
                let argv = command.argv(&vars);
                let mut hash = Sha256::new();
                for word in &argv {
                    hash.update(word.as_bytes());
                    hash.update([0]);
                    // The files the command names (its harness script) are part of its code.
                    if let Ok(bytes) = std::fs::read(command.cwd.join(word)) {
                        hash.update(&bytes);
                    }
                }
                Some(hex(&hash.finalize()))
            }
        };
        let key = code.map(|code| {
            let mut hash = Sha256::new();
            for part in [&self.key_base, &code, self.case.case.id.as_str(), &tune.to_id_string()] {
                hash.update((part.len() as u64).to_le_bytes());
                hash.update(part.as_bytes());
            }
            hex(&hash.finalize())
        });
        self.keys.insert(config, key.clone());
        key
    }

    /// What the cache gives for `config` at `effort`, if it gives it all.
    fn cached(&mut self, config: usize, effort: Effort) -> Option<Outcome> {
        let key = self.key(config)?;
        let cached = self.cache.measurements.get(&key)?;
        let served = self.served.get(&config).copied().unwrap_or(0);
        match &cached.outcome {
            Outcome::Rejected { .. } => Some(cached.outcome.clone()),
            Outcome::Timed { samples_ns } => {
                let left = samples_ns.len().saturating_sub(served);
                let wanted = match effort {
                    Effort::Samples(n) => n,
                    Effort::Full if cached.full && left > 0 => left,
                    Effort::Full => return None,
                };
                if left < wanted {
                    return None;
                }
                let samples = samples_ns[served..served + wanted].to_vec();
                self.served.insert(config, served + wanted);
                Some(Outcome::Timed { samples_ns: samples })
            }
            Outcome::NotMeasured => None,
        }
    }

    /// Adds a fresh measurement to the cache.
    fn remember(&mut self, config: usize, observation: &Observation, effort: Effort) {
        let Some(key) = self.key(config) else { return };
        let entry = self.cache.measurements.entry(key).or_insert_with(|| Cached {
            outcome: Outcome::Timed { samples_ns: Vec::new() },
            full: false,
            setup_s: observation.setup.as_secs_f64(),
            timing_s: 0.0,
        });
        match (&observation.outcome, &mut entry.outcome) {
            (Outcome::Timed { samples_ns }, Outcome::Timed { samples_ns: all }) => {
                all.extend_from_slice(samples_ns);
                entry.timing_s += observation.timing.as_secs_f64();
                entry.full |= effort == Effort::Full;
                let served = self.served.entry(config).or_insert(0);
                *served = all.len();
            }
            (rejected @ Outcome::Rejected { .. }, _) => entry.outcome = rejected.clone(),
            _ => {}
        }
    }

    fn settings_for(&self, effort: Effort) -> MeasureSettings {
        match effort {
            Effort::Full => self.settings.clone(),
            Effort::Samples(n) => MeasureSettings {
                min_samples: n.max(2),
                max_samples: n.max(2),
                warmup_ms: self.settings.warmup_ms.min(SCREEN_WARMUP_MS),
                ..self.settings.clone()
            },
        }
    }

    /// Measures `planned` (positions in the visit, configurations) with the engine, until `stop`.
    fn run_engine(
        &mut self,
        planned: &[(usize, usize, PlannedCase)],
        settings: &MeasureSettings,
        stop: Instant,
    ) -> HashMap<usize, Observation> {
        let mut done: HashMap<usize, Observation> = HashMap::new();
        match &self.bench.kind {
            BenchKind::Cuda(_) => {
                let by_id: HashMap<CaseId, usize> =
                    planned.iter().map(|(_, c, p)| (p.case.id.clone(), *c)).collect();
                // When each configuration began, and when its timing began.
                let mut started: HashMap<usize, (Instant, Option<Instant>)> = HashMap::new();
                let request = Request::Measure {
                    bench: self.bench.clone(),
                    cases: planned.iter().map(|(_, _, p)| p.clone()).collect(),
                    settings: settings.clone(),
                };
                let watchdog = Duration::try_from_secs_f64(settings.timeout_s).unwrap_or(Duration::MAX);
                let mut worker = self.cuda_worker();
                let outcome = worker.run_until(request, watchdog, Some(stop), &mut |answer| {
                    let now = Instant::now();
                    match answer {
                        Answer::Progress { case, phase } => {
                            let Some(&config) = by_id.get(&case) else { return };
                            let entry = started.entry(config).or_insert((now, None));
                            if phase == Phase::Timing {
                                entry.1 = Some(now);
                            }
                        }
                        Answer::Result(result) => {
                            if let Some(&config) = by_id.get(&result.id) {
                                let (begun, timing) = started.get(&config).copied().unwrap_or((now, None));
                                done.insert(config, observation(config, &result, begun, timing, now));
                            }
                        }
                        Answer::Paired(_) => {}
                    }
                });
                worker.finish();
                if let Err(e) = outcome {
                    // No worker could measure what is left (no GPU): those configurations fail with why.
                    let now = Instant::now();
                    for (_, config, p) in planned {
                        if done.contains_key(config) {
                            continue;
                        }
                        let mut result = CaseResult::planned(p, CaseStatus::Failed);
                        result.error = Some(e.0.clone());
                        done.insert(*config, observation(*config, &result, now, None, now));
                    }
                }
            }
            BenchKind::Command(_) => {
                let clock = SystemClock::new();
                for (_, config, p) in planned {
                    if Instant::now() >= stop {
                        break;
                    }
                    let begun = Instant::now();
                    let mut timing = None;
                    let measured = engine::measure_case(
                        &mut self.harness,
                        self.bench,
                        p,
                        settings,
                        &clock,
                        &mut |phase| {
                            if phase == Phase::Timing {
                                timing = Some(Instant::now());
                            }
                        },
                    );
                    done.insert(
                        *config,
                        observation(*config, &measured.result, begun, timing, Instant::now()),
                    );
                }
            }
        }
        done
    }
}

/// A configuration's observation from the engine's result, begun at `begun`, timed from `timing`
/// (when it got that far) to `at`.
fn observation(
    config: usize,
    result: &CaseResult,
    begun: Instant,
    timing: Option<Instant>,
    at: Instant,
) -> Observation {
    let timing_from = timing.unwrap_or(at);
    Observation {
        config,
        outcome: outcome_of(result),
        setup: timing_from.saturating_duration_since(begun),
        timing: at.saturating_duration_since(timing_from),
        cached: false,
    }
}

/// The search's outcome of an engine result.
fn outcome_of(result: &CaseResult) -> Outcome {
    match result.status {
        CaseStatus::Ok => Outcome::Timed { samples_ns: result.samples_ns.clone() },
        status => Outcome::Rejected {
            status,
            reason: result
                .error
                .clone()
                .unwrap_or_else(|| format!("{} with no reason given", status.as_str())),
        },
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Measurer for Live<'_> {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn measure(&mut self, configs: &[usize], effort: Effort, deadline: Duration) -> Visit {
        let begun = Instant::now();
        let not_measured = |config| Observation {
            config,
            outcome: Outcome::NotMeasured,
            setup: Duration::ZERO,
            timing: Duration::ZERO,
            cached: false,
        };
        let mut observations: Vec<Observation> = configs.iter().map(|&c| not_measured(c)).collect();
        let mut to_measure = Vec::new();
        for (pos, &config) in configs.iter().enumerate() {
            match self.planned(config) {
                Err(reason) => {
                    observations[pos].outcome = Outcome::Rejected {
                        status: CaseStatus::Failed,
                        reason: format!("cannot be launched: {reason}"),
                    };
                }
                Ok(planned) => match self.cached(config, effort) {
                    Some(outcome) => {
                        observations[pos].outcome = outcome;
                        observations[pos].cached = true;
                    }
                    None => to_measure.push((pos, config, planned)),
                },
            }
        }
        let stop = self.instant(deadline);
        if !to_measure.is_empty() && Instant::now() < stop {
            let settings = self.settings_for(effort);
            let mut done = self.run_engine(&to_measure, &settings, stop);
            for (pos, config, _) in &to_measure {
                if let Some(observation) = done.remove(config) {
                    self.remember(*config, &observation, effort);
                    observations[*pos] = observation;
                }
            }
        }
        let in_configs: Duration = observations.iter().map(|o| o.setup + o.timing).sum();
        Visit { effort, observations, overhead: begun.elapsed().saturating_sub(in_configs) }
    }

    fn pair(
        &mut self,
        default: usize,
        configs: &[usize],
        rule: &StopRule,
        budget: Duration,
        deadline: Duration,
    ) -> PairVisit {
        let begun = Instant::now();
        let mut pairs: Vec<PairObservation> = Vec::new();
        let Ok(base) = self.planned(default) else { return PairVisit::default() };
        let base_key = self.key(default);
        let mut fresh: Vec<(usize, PlannedCase, Option<String>)> = Vec::new();
        for &config in configs {
            let Ok(head) = self.planned(config) else { continue };
            let key = base_key.as_ref().zip(self.key(config)).map(|(b, h)| MeasurementCache::pair_key(b, &h));
            match key.as_ref().and_then(|k| self.cache.pairs.get(k)) {
                Some(cached) => pairs.push(PairObservation {
                    config,
                    outcome: cached.clone(),
                    elapsed: Duration::ZERO,
                    cached: true,
                }),
                None => fresh.push((config, head, key)),
            }
        }
        let stop = self.instant(deadline);
        let mut answers: HashMap<CaseId, (PairedCase, Duration)> = HashMap::new();
        if !fresh.is_empty() && Instant::now() < stop {
            match &self.bench.kind {
                BenchKind::Cuda(_) => {
                    let request = PairedRequest {
                        benches: vec![(self.bench.clone(), self.bench.clone())],
                        cases: fresh
                            .iter()
                            .map(|(_, head, _)| PairedCaseSpec {
                                bench: 0,
                                base: base.clone(),
                                head: head.clone(),
                            })
                            .collect(),
                        settings: self.settings.clone(),
                        rule: *rule,
                        budget_s: budget.as_secs_f64(),
                        measure_identical: false,
                    };
                    let watchdog =
                        Duration::try_from_secs_f64(self.settings.timeout_s + budget.as_secs_f64())
                            .unwrap_or(Duration::MAX);
                    let mut worker = self.cuda_worker();
                    let outcome =
                        worker.run_until(Request::Paired(request), watchdog, Some(stop), &mut |answer| {
                            if let Answer::Paired(result) = answer {
                                let elapsed =
                                    Duration::try_from_secs_f64(result.elapsed_s).unwrap_or_default();
                                answers.insert(result.id.clone(), (result.case, elapsed));
                            }
                        });
                    worker.finish();
                    if let Err(e) = outcome {
                        for (_, head, _) in &fresh {
                            answers.insert(
                                head.case.id.clone(),
                                (PairedCase::Failed { message: e.0.clone() }, Duration::ZERO),
                            );
                        }
                    }
                }
                BenchKind::Command(_) => {
                    let jobs: Vec<PairJob<'_>> = fresh
                        .iter()
                        .map(|(_, head, _)| PairJob { base: (self.bench, &base), head: (self.bench, head) })
                        .collect();
                    let plan = PairedPlan {
                        settings: self.settings.clone(),
                        rule: *rule,
                        budget,
                        measure_identical: false,
                    };
                    let mut report = |event: Event<'_>| {
                        if let Event::Visited(i, state) = event {
                            answers.insert(jobs[i].head.1.case.id.clone(), (state.outcome(), state.elapsed));
                        }
                    };
                    // A lost harness fails its case in the report; the others keep their answers.
                    let _ = schedule::run(&mut self.harness, &jobs, &plan, &SystemClock::new(), &mut report);
                }
            }
        }
        for (config, head, key) in fresh {
            let Some((outcome, elapsed)) = answers.remove(&head.case.id) else { continue };
            if let (Some(key), PairedCase::Measured { .. }) = (key, &outcome) {
                self.cache.pairs.insert(key, outcome.clone());
            }
            pairs.push(PairObservation { config, outcome, elapsed, cached: false });
        }
        let in_pairs: Duration = pairs.iter().map(|p| p.elapsed).sum();
        PairVisit { pairs, overhead: begun.elapsed().saturating_sub(in_pairs) }
    }
}
