//! The paired schedule of `pawl ab`: the base and head sides of each case timed in rounds of
//! A B B A on one backend, until [`paired::look`](crate::paired::look) settles the case or its share
//! of the budget is spent.
//!
//! A first pass gives every case an equal share of the budget; the cases still open then split what
//! is left ([`Budget`]). Each visit reports the case's state so far, so a crash loses only the visit
//! in progress. Cases whose two sides fingerprint the same (identical code) are not measured unless
//! asked to be (A/A tests).

use std::time::Duration;

use super::{BATCH, Backend, Clock, Failure, Handle, timed};
use crate::paired::{Budget, PairedCase, PairedSamples, Settled, StopRule, look};
use crate::plan::PlannedCase;
use crate::suite::{Bench, MeasureSettings, limits};

/// Launch order within a round: a linear drift within it hits both sides alike.
const ROUND: [Side; 4] = [Side::Base, Side::Head, Side::Head, Side::Base];
/// Warm-up takes at most this share of a case's visit.
const WARMUP_SHARE: f64 = 0.2;
/// A second-pass share shorter than this is not worth preparing a case for.
const MIN_SHARE: Duration = Duration::from_millis(50);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Base,
    Head,
}

/// One A/B case: each side's bench and planned case.
#[derive(Clone, Copy, Debug)]
pub struct PairJob<'a> {
    pub base: (&'a Bench, &'a PlannedCase),
    pub head: (&'a Bench, &'a PlannedCase),
}

/// How an A/B run is scheduled.
#[derive(Clone, Debug)]
pub struct PairedPlan {
    pub settings: MeasureSettings,
    pub rule: StopRule,
    /// Measuring time for all cases together.
    pub budget: Duration,
    /// Measure cases whose sides fingerprint the same instead of calling them identical.
    pub measure_identical: bool,
}

/// A case's progress across visits.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PairState {
    pub samples: PairedSamples,
    pub looks: usize,
    pub settled: Option<Settled>,
    /// Time spent on the case so far (preparing, warming up, timing).
    pub elapsed: Duration,
    /// Set when the case needs no more visits for a reason other than its interval.
    pub end: Option<PairedCase>,
}

impl PairState {
    /// The case as the verdicts see it.
    pub fn outcome(&self) -> PairedCase {
        self.end.clone().unwrap_or_else(|| PairedCase::Measured {
            samples: self.samples.clone(),
            looks: self.looks,
            settled: self.settled.unwrap_or(Settled::Open),
        })
    }

    fn open(&self, max_pairs: usize) -> bool {
        self.end.is_none()
            && self.settled.is_none_or(|s| s == Settled::Open)
            && self.samples.pairs() < max_pairs
    }
}

/// What [`run`] tells its caller as it goes.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// A visit of case `i` begins.
    Visiting(usize),
    /// A visit of case `i` ended with this state.
    Visited(usize, &'a PairState),
}

/// Runs the schedule over `jobs`, reporting each visit as it begins and ends. Stops early with the
/// failure when the backend is lost (after reporting the case that lost it).
pub fn run(
    backend: &mut dyn Backend,
    jobs: &[PairJob<'_>],
    plan: &PairedPlan,
    clock: &dyn Clock,
    report: &mut dyn FnMut(Event<'_>),
) -> Result<Vec<PairState>, Failure> {
    let mut budget = Budget::new(plan.budget);
    let mut states = vec![PairState::default(); jobs.len()];
    let first = budget.first_share(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        report(Event::Visiting(i));
        let spent = visit(backend, job, &mut states[i], first, plan, clock);
        report(Event::Visited(i, &states[i]));
        budget.spend(spent?);
    }
    let undecided: Vec<usize> = (0..jobs.len()).filter(|&i| states[i].open(plan.rule.max_pairs)).collect();
    for (k, &i) in undecided.iter().enumerate() {
        let share = budget.leftover_share(undecided.len() - k);
        if share < MIN_SHARE {
            break;
        }
        report(Event::Visiting(i));
        let spent = visit(backend, &jobs[i], &mut states[i], share, plan, clock);
        report(Event::Visited(i, &states[i]));
        budget.spend(spent?);
    }
    Ok(states)
}

/// One visit of a case, for up to `share`. Returns the time spent, or the failure that lost the
/// backend (the case's state then says it failed).
fn visit(
    backend: &mut dyn Backend,
    job: &PairJob<'_>,
    state: &mut PairState,
    share: Duration,
    plan: &PairedPlan,
    clock: &dyn Clock,
) -> Result<Duration, Failure> {
    let start = clock.now();
    let outcome = measure(backend, job, state, share, plan, clock);
    let spent = clock.now().saturating_sub(start);
    state.elapsed += spent;
    match outcome {
        Ok(()) => Ok(spent),
        Err(failure) => {
            state.end = Some(PairedCase::Failed { message: failure.message.clone() });
            if failure.lost { Err(failure) } else { Ok(spent) }
        }
    }
}

fn measure(
    backend: &mut dyn Backend,
    job: &PairJob<'_>,
    state: &mut PairState,
    share: Duration,
    plan: &PairedPlan,
    clock: &dyn Clock,
) -> Result<(), Failure> {
    let start = clock.now();
    let (base, head) = backend.prepare_pair(job.base, job.head, &plan.settings)?;
    let outcome = (|| {
        let first_visit = state.looks == 0 && state.samples.pairs() == 0;
        if first_visit && !plan.measure_identical {
            let (a, b) = (backend.fingerprint(base)?, backend.fingerprint(head)?);
            if a.is_some() && a == b {
                state.end = Some(PairedCase::Identical);
                return Ok(());
            }
        }
        interleave(backend, (base, head), job.head.1, state, share, plan, clock, start)
    })();
    backend.release(base);
    backend.release(head);
    outcome
}

/// Warm-up, then batches of A B B A rounds with a look whenever the schedule says, until the case
/// settles, reaches its cap, or the share is spent.
#[allow(clippy::too_many_arguments)]
fn interleave(
    backend: &mut dyn Backend,
    (base, head): (Handle, Handle),
    case: &PlannedCase,
    state: &mut PairState,
    share: Duration,
    plan: &PairedPlan,
    clock: &dyn Clock,
    start: Duration,
) -> Result<(), Failure> {
    let order: Vec<Handle> = ROUND
        .iter()
        .cycle()
        .take(BATCH)
        .map(|side| match side {
            Side::Base => base,
            Side::Head => head,
        })
        .collect();
    let flush = true;
    let warmup = limits::duration(plan.settings.warmup_ms / 1000.0)
        .min(limits::duration(share.as_secs_f64() * WARMUP_SHARE));
    loop {
        timed(backend, &order, flush)?;
        if clock.now().saturating_sub(start) >= warmup {
            break;
        }
    }

    let rule = &plan.rule;
    let looks = rule.looks();
    while state.samples.pairs() < rule.max_pairs {
        let batch = timed(backend, &order, flush)?;
        let clock_mhz = batch.state.sm_clock_mhz;
        let s = &mut state.samples;
        for (time, side) in batch.samples_ns.into_iter().zip(ROUND.iter().cycle()) {
            let (ns, clocks) = match side {
                Side::Base => (&mut s.base_ns, &mut s.base_clock_mhz),
                Side::Head => (&mut s.head_ns, &mut s.head_clock_mhz),
            };
            ns.push(time);
            clocks.extend(clock_mhz);
        }
        let pairs = s.pairs();
        if looks.get(state.looks).is_some_and(|&at| pairs >= at) {
            state.looks += 1;
            let settled = look(&s.base_ns[..pairs], &s.head_ns[..pairs], rule, &case.case.id)
                .map_err(|e| Failure::new(format!("interim look: {e}")))?;
            state.settled = Some(settled);
            if settled != Settled::Open {
                break;
            }
        }
        if clock.now().saturating_sub(start) >= share {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{FakeBackend, FakeClock};
    use super::super::tests::{bench, case};
    use super::*;

    fn plan(budget_ms: u64) -> PairedPlan {
        PairedPlan {
            settings: MeasureSettings { warmup_ms: 5.0, ..MeasureSettings::default() },
            rule: StopRule { tolerance: 0.01, confidence: 0.99, max_pairs: 2000, seed: 1 },
            budget: Duration::from_millis(budget_ms),
            measure_identical: false,
        }
    }

    #[test]
    fn a_planted_slowdown_settles_as_a_regression() {
        let clock = FakeClock::default();
        // Job 0's head is 5% slower; job 1's sides run at the same speed.
        let slow = case(1).case.id;
        let mut backend = FakeBackend::new(&clock, move |p, i| {
            let noise = ((i * 7919) % 13) as f64;
            if p.head && p.id == slow { 1050.0 + noise } else { 1000.0 + noise }
        });
        let (b, c0, c1) = (bench(), case(1), case(2));
        let jobs =
            [PairJob { base: (&b, &c0), head: (&b, &c0) }, PairJob { base: (&b, &c1), head: (&b, &c1) }];
        let mut reports = Vec::new();
        let states = run(&mut backend, &jobs, &plan(2000), &clock, &mut |e| {
            if let Event::Visited(i, s) = e {
                reports.push((i, s.clone()));
            }
        })
        .unwrap();
        assert_eq!(states[0].settled, Some(Settled::Regression), "{:?}", states[0].settled);
        assert_eq!(states[1].settled, Some(Settled::Equivalent), "{:?}", states[1].settled);
        assert_eq!(reports.len(), 2, "settled cases get no second visit");
        let PairedCase::Measured { samples, .. } = states[0].outcome() else { panic!("measured") };
        assert_eq!(samples.base_ns.len(), samples.head_ns.len());
        assert!(backend.released_all());
    }

    #[test]
    fn identical_code_is_not_measured_unless_asked() {
        let clock = FakeClock::default();
        let mut backend = FakeBackend::new(&clock, |_, _| 1000.0);
        backend.fingerprints = true;
        let (b, c) = (bench(), case(1));
        let jobs = [PairJob { base: (&b, &c), head: (&b, &c) }];
        let states = run(&mut backend, &jobs, &plan(100), &clock, &mut |_| {}).unwrap();
        assert_eq!(states[0].outcome(), PairedCase::Identical);
        assert_eq!(backend.total_samples(), 0);
        let plan = PairedPlan { measure_identical: true, ..plan(100) };
        let states = run(&mut backend, &jobs, &plan, &clock, &mut |_| {}).unwrap();
        assert!(matches!(states[0].outcome(), PairedCase::Measured { .. }));
    }

    #[test]
    fn a_lost_backend_stops_the_schedule_after_reporting_the_case() {
        let clock = FakeClock::default();
        let mut backend = FakeBackend::new(&clock, |_, i| if i == 100 { 0.0 } else { 1000.0 });
        backend.lose_on_bad_sample = true;
        let (b, c0, c1) = (bench(), case(1), case(2));
        let jobs =
            [PairJob { base: (&b, &c0), head: (&b, &c0) }, PairJob { base: (&b, &c1), head: (&b, &c1) }];
        let mut reported = Vec::new();
        let failure = run(&mut backend, &jobs, &plan(2000), &clock, &mut |e| {
            if let Event::Visited(i, s) = e {
                reported.push((i, s.outcome()));
            }
        })
        .unwrap_err();
        assert!(failure.lost);
        assert_eq!(reported.len(), 1);
        assert!(
            matches!(&reported[0].1, PairedCase::Failed { message } if message.contains("lost")),
            "{reported:?}"
        );
    }
}
