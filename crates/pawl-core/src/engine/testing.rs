//! A scripted backend and a clock for testing the engine's policy without a GPU or a process.
//!
//! Not a fake GPU: it tests what the engine decides (when warm-up ends, when sampling stops, what a
//! check concludes, how the paired schedule visits cases), never what a GPU does.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Duration;

use super::{Backend, Batch, Check, Clock, DeviceState, Failure, Handle};
use crate::case::CaseId;
use crate::plan::PlannedCase;
use crate::suite::{Bench, MeasureSettings};

/// Host time a sample costs besides the kernel itself (enqueueing, waiting, reading events).
const OVERHEAD: Duration = Duration::from_micros(10);

/// A clock that moves only when the backend takes samples.
#[derive(Debug, Default)]
pub(crate) struct FakeClock(Cell<Duration>);

impl FakeClock {
    fn advance(&self, by: Duration) {
        self.0.set(self.0.get() + by);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        self.0.get()
    }
}

/// A prepared case of the fake backend.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    pub id: CaseId,
    /// Prepared as the head side of a pair.
    pub head: bool,
}

type TimeOf = Box<dyn Fn(&Prepared, usize) -> f64>;

/// Answers with samples from `time_of(case, i)` (i counts every sample the backend took).
pub(crate) struct FakeBackend<'c> {
    clock: &'c FakeClock,
    time_of: TimeOf,
    pub check: Check,
    pub fail_check: Option<Failure>,
    /// SM clock after batch `b`.
    pub clock_mhz: Box<dyn Fn(usize) -> Option<u32>>,
    /// Fingerprint cases by id, so both sides of a pair of one case look identical.
    pub fingerprints: bool,
    /// A sample that is not positive loses the backend (a fault) instead of being returned.
    pub lose_on_bad_sample: bool,
    live: BTreeMap<u32, Prepared>,
    next: u32,
    samples: usize,
    batches: usize,
}

impl<'c> FakeBackend<'c> {
    pub fn new(clock: &'c FakeClock, time_of: impl Fn(&Prepared, usize) -> f64 + 'static) -> Self {
        FakeBackend {
            clock,
            time_of: Box::new(time_of),
            check: Check::Unchecked,
            fail_check: None,
            clock_mhz: Box::new(|_| None),
            fingerprints: false,
            lose_on_bad_sample: false,
            live: BTreeMap::new(),
            next: 0,
            samples: 0,
            batches: 0,
        }
    }

    pub fn total_samples(&self) -> usize {
        self.samples
    }

    pub fn released_all(&self) -> bool {
        self.live.is_empty()
    }

    fn add(&mut self, case: &PlannedCase, head: bool) -> Handle {
        let handle = self.next;
        self.next += 1;
        self.live.insert(handle, Prepared { id: case.case.id.clone(), head });
        Handle(handle)
    }
}

impl Backend for FakeBackend<'_> {
    fn prepare(&mut self, _: &Bench, case: &PlannedCase, _: &MeasureSettings) -> Result<Handle, Failure> {
        Ok(self.add(case, false))
    }

    fn prepare_pair(
        &mut self,
        base: (&Bench, &PlannedCase),
        head: (&Bench, &PlannedCase),
        _: &MeasureSettings,
    ) -> Result<(Handle, Handle), Failure> {
        Ok((self.add(base.1, false), self.add(head.1, true)))
    }

    fn check(&mut self, _: Handle) -> Result<Check, Failure> {
        match self.fail_check.take() {
            Some(failure) => Err(failure),
            None => Ok(self.check.clone()),
        }
    }

    fn time(&mut self, order: &[Handle], _flush: bool) -> Result<Batch, Failure> {
        let mut samples_ns = Vec::with_capacity(order.len());
        for handle in order {
            let prepared = self.live.get(&handle.0).ok_or_else(|| Failure::new("timed a released case"))?;
            let ns = (self.time_of)(prepared, self.samples);
            self.samples += 1;
            if self.lose_on_bad_sample && (ns.is_nan() || ns <= 0.0) {
                return Err(Failure::lost(format!("the backend was lost at sample {}", self.samples - 1)));
            }
            self.clock.advance(OVERHEAD + Duration::from_nanos(ns.max(0.0) as u64));
            samples_ns.push(ns);
        }
        let state = DeviceState { sm_clock_mhz: (self.clock_mhz)(self.batches), throttle_reasons: vec![] };
        self.batches += 1;
        Ok(Batch { samples_ns, state })
    }

    fn release(&mut self, case: Handle) {
        self.live.remove(&case.0);
    }

    fn fingerprint(&mut self, case: Handle) -> Result<Option<Vec<u8>>, Failure> {
        Ok(self.fingerprints.then(|| self.live[&case.0].id.as_str().as_bytes().to_vec()))
    }
}
