//! The measuring engine: pawl's policy for measuring one case, written once for every backend.
//!
//! A [`Backend`] does only the mechanics — prepare a case (compile, allocate, fill), run it and its
//! reference and hand back the outputs, time samples in a given order, release — and the engine decides
//! everything else:
//!
//! - **the check** ([`check`]): every output element against the reference's, by dtype, with the
//!   case's tolerances, poisoned (never written) and non-finite elements counted; a case that fails it
//!   is `wrong` and never timed;
//! - **warm-up** ([`sampling::Warmup`]): at least `warmup_ms`, then until the SM clock stops rising;
//! - **sample acceptance**: every sample a finite, positive number of nanoseconds, exactly as many as
//!   were asked for, or the case fails with the reason;
//! - **adaptive stopping** ([`sampling::Stopping`]): until the median's 99% interval is within
//!   ±`target_rel_ci`, between `min_samples` and `max_samples`, within `max_time_s`;
//! - **the paired schedule** ([`paired`]): A B B A rounds of two cases, decide-then-stop looks, a
//!   budget shared by all cases.
//!
//! The `cuda` backend (pawl-cuda) and the `command` backend (a harness process, pawl-cli) both implement
//! [`Backend`]; a third needs nothing else. Time comes from a [`Clock`], so the policy is tested without
//! a GPU or a process.

pub mod check;
pub mod paired;
pub mod sampling;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::plan::PlannedCase;
use crate::run::{CaseResult, CaseStatus, Correctness, KernelInfo};
use crate::suite::{Bench, Dtype, MeasureSettings};

pub use sampling::{BATCH, Stopping, TimingMode, Warmup};

/// A case a backend has prepared, as the engine refers to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle(pub u32);

/// The mechanics of measuring, implemented once per kind of bench.
///
/// Every method returns a [`Failure`] for what goes wrong with the case at hand; a failure marked
/// [`Failure::lost`] means the backend cannot measure anything more (a CUDA context that faulted, a
/// harness that exited), and its caller starts a fresh one for the remaining cases.
pub trait Backend {
    /// Compiles, allocates and fills one case of `bench`, ready to check and time.
    fn prepare(
        &mut self,
        bench: &Bench,
        case: &PlannedCase,
        settings: &MeasureSettings,
    ) -> Result<Handle, Failure>;

    /// Prepares the two sides of an A/B case. A backend that can make the sides indistinguishable (the
    /// same buffers for both, so neither side sits in better memory) does so here.
    fn prepare_pair(
        &mut self,
        base: (&Bench, &PlannedCase),
        head: (&Bench, &PlannedCase),
        settings: &MeasureSettings,
    ) -> Result<(Handle, Handle), Failure> {
        let a = self.prepare(base.0, base.1, settings)?;
        match self.prepare(head.0, head.1, settings) {
            Ok(b) => Ok((a, b)),
            Err(failure) => {
                self.release(a);
                Err(failure)
            }
        }
    }

    /// Runs the case and its reference once on fresh inputs and returns what to compare.
    fn check(&mut self, case: Handle) -> Result<Check, Failure>;

    /// Times one sample of each case in `order`, in that order (`[a; 16]` for one case, `[a, b, b, a]`
    /// for a paired round), with the L2 cache flushed before each when `flush`.
    fn time(&mut self, order: &[Handle], flush: bool) -> Result<Batch, Failure>;

    /// Frees what [`Backend::prepare`] took.
    fn release(&mut self, case: Handle);

    /// Compiler facts of the case's kernel (registers, shared memory, spills), where there is one.
    fn kernel_info(&mut self, _case: Handle) -> Option<KernelInfo> {
        None
    }

    /// A digest of everything that decides what the case runs and how (code, defines, geometry,
    /// arguments). Equal digests of two sides of an A/B case mean identical code, not worth measuring.
    fn fingerprint(&mut self, _case: Handle) -> Result<Option<Vec<u8>>, Failure> {
        Ok(None)
    }
}

/// What [`Backend::time`] measured: one sample per entry of the order, and the device's state after.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub samples_ns: Vec<f64>,
    #[serde(default)]
    pub state: DeviceState,
}

/// The clocks and throttling a backend read after a batch; empty where it could not read them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceState {
    #[serde(default)]
    pub sm_clock_mhz: Option<u32>,
    /// Reasons the device is holding its clocks down (NVML names, such as `sw_power_cap`).
    #[serde(default)]
    pub throttle_reasons: Vec<String>,
}

/// What a case's check gave the engine to decide.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// The bench names no reference.
    Unchecked,
    /// Outputs and the reference's, for the engine to compare element by element.
    Outputs { rtol: f64, atol: f64, outputs: Vec<Output> },
    /// The backend compared the outputs itself (a harness's own check) and says how they compared.
    Judged(Correctness),
}

/// One output buffer of a check: the kernel's bytes and the reference's, little-endian `dtype`.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    pub name: String,
    pub dtype: Dtype,
    pub out: Vec<u8>,
    pub reference: Vec<u8>,
    /// The kernel's buffer started as poison, so elements still holding it were never written.
    pub poisoned: bool,
}

/// Why a case could not be measured.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub message: String,
    /// The backend can measure nothing more; its caller must start a fresh one.
    pub lost: bool,
    /// The case ran past its time limit (the case's status is then `timeout`).
    pub timed_out: bool,
    /// The backend cannot run this case at all (a library not installed, a size the implementation
    /// does not take): the case is `skipped` with the reason, not failed.
    pub unsupported: bool,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), lost: false, timed_out: false, unsupported: false }
    }

    /// A case the backend cannot run at all, which is no failure of the backend or the case.
    pub fn unsupported(message: impl Into<String>) -> Failure {
        Failure { unsupported: true, ..Failure::new(message) }
    }

    /// A failure after which the backend is unusable.
    pub fn lost(message: impl Into<String>) -> Failure {
        Failure { lost: true, ..Failure::new(message) }
    }

    /// A case that ran past its time limit and was stopped, with the backend.
    pub fn timed_out(message: impl Into<String>) -> Failure {
        Failure { lost: true, timed_out: true, ..Failure::new(message) }
    }
}

/// Where a case is, for progress displays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Preparing,
    Checking,
    WarmingUp,
    Timing,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Preparing => "preparing",
            Phase::Checking => "checking",
            Phase::WarmingUp => "warming up",
            Phase::Timing => "timing",
        }
    }
}

/// A monotonic clock: seconds of measuring are counted on it.
pub trait Clock {
    /// Time since some fixed origin.
    fn now(&self) -> Duration;
}

/// The host's monotonic clock.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock(Instant);

impl SystemClock {
    pub fn new() -> SystemClock {
        SystemClock(Instant::now())
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A measured case, and whether the backend survived it.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    pub result: CaseResult,
    /// The backend is unusable after this case (see [`Failure::lost`]).
    pub lost: bool,
}

/// Measures one case: prepare, check, warm up, sample until the stopping rule is met, release. Never
/// panics; every failure is in the result.
pub fn measure_case(
    backend: &mut dyn Backend,
    bench: &Bench,
    case: &PlannedCase,
    settings: &MeasureSettings,
    clock: &dyn Clock,
    progress: &mut dyn FnMut(Phase),
) -> Measured {
    let started = clock.now();
    let mut result = CaseResult::planned(case, CaseStatus::Failed);
    progress(Phase::Preparing);
    let outcome = match backend.prepare(bench, case, settings) {
        Ok(handle) => {
            result.kernel = backend.kernel_info(handle);
            let outcome = check_then_time(backend, handle, settings, clock, progress, &mut result);
            backend.release(handle);
            outcome
        }
        Err(failure) => Err(failure),
    };
    let mut measured = match outcome {
        Ok(()) => Measured { result, lost: false },
        Err(failure) => failed(result, failure),
    };
    measured.result.elapsed_s = Some(clock.now().saturating_sub(started).as_secs_f64());
    measured
}

fn failed(mut result: CaseResult, failure: Failure) -> Measured {
    result.status = match (failure.timed_out, failure.unsupported) {
        (true, _) => CaseStatus::Timeout,
        (false, true) => CaseStatus::Skipped,
        (false, false) => CaseStatus::Failed,
    };
    result.error = Some(failure.message);
    result.samples_ns.clear();
    Measured { result, lost: failure.lost }
}

fn check_then_time(
    backend: &mut dyn Backend,
    handle: Handle,
    settings: &MeasureSettings,
    clock: &dyn Clock,
    progress: &mut dyn FnMut(Phase),
    result: &mut CaseResult,
) -> Result<(), Failure> {
    progress(Phase::Checking);
    if let Some(verdict) = check::judge(backend.check(handle)?) {
        result.correctness = Some(verdict.correctness);
        if let Some(why) = verdict.wrong {
            result.status = CaseStatus::Wrong;
            result.error = Some(why);
            return Ok(());
        }
    }

    let mode = TimingMode::for_settings(settings);
    let flush = mode.flushes();
    progress(Phase::WarmingUp);
    let mut warmup = Warmup::new(settings, clock.now());
    loop {
        let batch = timed(backend, &[handle; BATCH], flush)?;
        if warmup.done(clock.now(), batch.state.sm_clock_mhz) {
            break;
        }
    }

    progress(Phase::Timing);
    let rule = Stopping::new(settings, clock.now());
    let mut sampling = sampling::Samples::default();
    loop {
        let count = BATCH.min(rule.max_samples - sampling.len());
        let batch = timed(backend, &vec![handle; count], flush)?;
        sampling.add(batch);
        if let Some(stop) = rule.stop(&sampling, clock.now()) {
            sampling.finish(stop, settings, mode, result);
            return Ok(());
        }
    }
}

/// One batch, its samples checked: as many as asked for, each finite and positive.
pub(crate) fn timed(backend: &mut dyn Backend, order: &[Handle], flush: bool) -> Result<Batch, Failure> {
    let batch = backend.time(order, flush)?;
    if batch.samples_ns.len() != order.len() {
        return Err(Failure::new(format!(
            "the backend returned {} samples for a batch of {}",
            batch.samples_ns.len(),
            order.len()
        )));
    }
    if let Some(bad) = batch.samples_ns.iter().find(|s| !s.is_finite() || **s <= 0.0) {
        return Err(Failure::new(format!(
            "the backend returned the sample {bad} ns; samples must be finite and positive"
        )));
    }
    Ok(batch)
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::testing::{FakeBackend, FakeClock};
    use super::*;
    use crate::case::Case;
    use crate::suite::{BenchKind, CommandBench};
    use crate::value::{Params, Value};

    pub(crate) fn bench() -> Bench {
        Bench {
            name: "b".into(),
            params: vec![],
            filter: None,
            flops: None,
            bytes: None,
            tune: vec![],
            constraints: vec![],
            kind: BenchKind::Command(CommandBench {
                run: vec!["x".into()],
                cwd: ".".into(),
                timeout_s: None,
            }),
        }
    }

    pub(crate) fn case(n: i64) -> PlannedCase {
        let mut params = Params::new();
        params.insert("N", Value::Int(n));
        PlannedCase { case: Case::new("b", params), tune: Params::new(), flops: Some(1e6), bytes: None }
    }

    fn settings() -> MeasureSettings {
        MeasureSettings { warmup_ms: 10.0, ..MeasureSettings::default() }
    }

    #[test]
    fn a_quiet_case_converges_after_warm_up() {
        let clock = FakeClock::default();
        let mut backend = FakeBackend::new(&clock, |_, i| 1000.0 + (i % 7) as f64);
        let mut phases = Vec::new();
        let m = measure_case(&mut backend, &bench(), &case(1), &settings(), &clock, &mut |p| phases.push(p));
        assert_eq!(m.result.status, CaseStatus::Ok, "{:?}", m.result.error);
        assert!(!m.lost);
        assert_eq!(phases, [Phase::Preparing, Phase::Checking, Phase::WarmingUp, Phase::Timing]);
        let n = m.result.samples_ns.len();
        assert!((20..=64).contains(&n), "stops soon after min_samples on quiet data: {n}");
        assert!(backend.total_samples() >= n + BATCH, "warm-up ran at least one batch");
        assert_eq!(m.result.timing.as_deref(), Some("cold"));
        assert!(backend.released_all());
        let elapsed = m.result.elapsed_s.expect("the case's time is recorded");
        assert!(elapsed >= 0.010, "at least the warm-up: {elapsed} s");
    }

    #[test]
    fn a_noisy_case_stops_at_the_sample_cap_with_a_note() {
        let clock = FakeClock::default();
        let mut backend = FakeBackend::new(&clock, |_, i| if i % 2 == 0 { 1000.0 } else { 3000.0 });
        let settings = MeasureSettings { max_samples: 100, ..settings() };
        let m = measure_case(&mut backend, &bench(), &case(1), &settings, &clock, &mut |_| {});
        assert_eq!(m.result.status, CaseStatus::Ok);
        assert_eq!(m.result.samples_ns.len(), 100);
        let note = m.result.error.unwrap_or_default();
        assert!(note.contains("stopped at 100 samples"), "{note}");
    }

    #[test]
    fn a_wrong_output_is_never_timed() {
        let clock = FakeClock::default();
        let mut backend = FakeBackend::new(&clock, |_, _| 1000.0);
        backend.check = Check::Outputs {
            rtol: 0.0,
            atol: 0.0,
            outputs: vec![Output {
                name: "y".into(),
                dtype: Dtype::F32,
                out: [1.0f32, 2.5].iter().flat_map(|v| v.to_le_bytes()).collect(),
                reference: [1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect(),
                poisoned: true,
            }],
        };
        let m = measure_case(&mut backend, &bench(), &case(1), &settings(), &clock, &mut |_| {});
        assert_eq!(m.result.status, CaseStatus::Wrong);
        assert!(m.result.error.unwrap().contains("`y`[1] is 2.5"));
        assert_eq!(m.result.correctness.unwrap().mismatches, 1);
        assert!(m.result.samples_ns.is_empty());
        assert_eq!(backend.total_samples(), 0);
    }

    #[test]
    fn bad_samples_and_lost_backends_fail_the_case() {
        let clock = FakeClock::default();
        let mut backend = FakeBackend::new(&clock, |_, i| if i == 40 { f64::NAN } else { 1000.0 });
        let m = measure_case(&mut backend, &bench(), &case(1), &settings(), &clock, &mut |_| {});
        assert_eq!(m.result.status, CaseStatus::Failed);
        assert!(m.result.error.unwrap().contains("NaN"));

        let mut backend = FakeBackend::new(&clock, |_, _| 1000.0);
        backend.fail_check = Some(Failure::lost("CUDA_ERROR_ILLEGAL_ADDRESS"));
        let m = measure_case(&mut backend, &bench(), &case(1), &settings(), &clock, &mut |_| {});
        assert!(m.lost);
        assert_eq!(m.result.error.as_deref(), Some("CUDA_ERROR_ILLEGAL_ADDRESS"));
        assert!(backend.released_all(), "released even after a failure");
    }

    #[test]
    fn a_case_the_backend_cannot_run_is_skipped_with_the_reason() {
        let clock = FakeClock::default();
        let mut backend = FakeBackend::new(&clock, |_, _| 1000.0);
        backend.fail_check = Some(Failure::unsupported("not supported: head dim 256"));
        let m = measure_case(&mut backend, &bench(), &case(1), &settings(), &clock, &mut |_| {});
        assert_eq!(m.result.status, CaseStatus::Skipped);
        assert_eq!(m.result.error.as_deref(), Some("not supported: head dim 256"));
        assert!(!m.lost && m.result.samples_ns.is_empty());
    }

    #[test]
    fn warm_up_waits_for_a_rising_clock() {
        let clock = FakeClock::default();
        let mut backend = FakeBackend::new(&clock, |_, _| 50_000.0);
        // The clock ramps for the first 60 batches, then holds.
        backend.clock_mhz = Box::new(|batch| Some(1000 + 10 * batch.min(60) as u32));
        let m = measure_case(&mut backend, &bench(), &case(1), &settings(), &clock, &mut |_| {});
        assert_eq!(m.result.status, CaseStatus::Ok);
        let warmup = backend.total_samples() - m.result.samples_ns.len();
        assert!(warmup >= 60 * BATCH, "warm-up waited for the clock: {warmup} samples");
    }
}
