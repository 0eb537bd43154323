//! Paired A/B measuring for `pawl ab`: the base and head kernels of each case interleaved in rounds
//! (A B B A …) in one worker process, each sample timed as [`Timer`](crate::timing) times (blocking
//! kernel, clean L2 flush outside the events), until [`pawl_core::paired`] settles the case or its share
//! of the budget is spent.
//!
//! The worker ([`serve_paired_stdio`]) also owns the schedule: a first pass gives every case an equal
//! share of the budget; cases still open then split what is left. Each visit of a case sends its result
//! so far, so a crash loses only the case in progress. The parent ([`run_paired`]) watches the worker
//! and starts a fresh one for cases that never got an answer.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use pawl_core::backend::{BackendError, PlannedCase};
use pawl_core::case::CaseId;
use pawl_core::paired::{Budget, PairedSamples, Settled, StopRule, look};
use pawl_core::suite::{CudaBench, MeasureSettings, limits};
use sha2::{Digest, Sha256};

use crate::buffers::plan_args;
use crate::cache::Cache;
use crate::compile::{Source, local_includes};
use crate::error::CudaError;
use crate::launch::{Geometry, Kernel, KernelArg};
use crate::measure::{Placements, Session};
use crate::protocol::{PairedMessage, PairedRequest, PairedResult, PairedWireCase, PairedWireOutcome};
use crate::timing::BATCH;
use crate::worker::EXIT_CONTEXT_LOST;

/// Launch order within a batch: rounds of A B B A, so a linear drift within a round hits both alike.
const ROUND: [Side; 4] = [Side::Base, Side::Head, Side::Head, Side::Base];
/// Warm-up takes at most this share of a case's first visit.
const WARMUP_SHARE: f64 = 0.2;
/// A pass 2 share shorter than this is not worth preparing a case for.
const MIN_SHARE: Duration = Duration::from_millis(50);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Base,
    Head,
}

/// A case's progress across visits.
struct CaseState {
    samples: PairedSamples,
    looks_done: usize,
    settled: Settled,
    elapsed: Duration,
    finished: Option<PairedWireOutcome>,
}

impl CaseState {
    fn outcome(&self) -> PairedWireOutcome {
        self.finished.clone().unwrap_or_else(|| PairedWireOutcome::Measured {
            samples: self.samples.clone(),
            looks: self.looks_done,
            settled: self.settled,
        })
    }
}

/// Serves one [`PairedRequest`] on standard input/output. Exit status 0 when every case has a result,
/// 2 when nothing could be measured, [`EXIT_CONTEXT_LOST`] after a fault.
pub fn serve_paired_stdio() -> ExitCode {
    let mut out = std::io::stdout().lock();
    let mut send = |message: &PairedMessage| {
        let ok = writeln!(out, "{}", message.to_line()).and_then(|()| out.flush()).is_ok();
        if !ok {
            std::process::exit(2);
        }
    };
    let mut line = String::new();
    let request: PairedRequest = match std::io::stdin().lock().read_line(&mut line) {
        Ok(_) => match serde_json::from_str(&line) {
            Ok(request) => request,
            Err(e) => {
                send(&PairedMessage::Fatal { message: format!("the request is not valid: {e}") });
                return ExitCode::from(2);
            }
        },
        Err(e) => {
            send(&PairedMessage::Fatal { message: format!("cannot read the request: {e}") });
            return ExitCode::from(2);
        }
    };
    let benches: Result<Vec<(CudaBench, CudaBench)>, _> =
        request.benches.iter().map(|(b, h)| Ok::<_, String>((to_bench(b)?, to_bench(h)?))).collect();
    let benches = match benches {
        Ok(benches) => benches,
        Err(message) => {
            send(&PairedMessage::Fatal { message });
            return ExitCode::from(2);
        }
    };
    let mut session = match Session::open(Cache::from_env()) {
        Ok(session) => session,
        Err(e) => {
            send(&PairedMessage::Fatal { message: e.to_string() });
            return ExitCode::from(2);
        }
    };
    let mut worker = PairedWorker { session: &mut session, request: &request, benches: &benches };
    match worker.serve(&mut send) {
        Ok(()) => {
            send(&PairedMessage::Done);
            ExitCode::SUCCESS
        }
        Err(()) => ExitCode::from(EXIT_CONTEXT_LOST),
    }
}

fn to_bench(spec: &crate::protocol::BenchSpec) -> Result<CudaBench, String> {
    spec.to_bench().map_err(|e| e.to_string())
}

struct PairedWorker<'a> {
    session: &'a mut Session,
    request: &'a PairedRequest,
    benches: &'a [(CudaBench, CudaBench)],
}

impl PairedWorker<'_> {
    /// Both passes. `Err` after a fault that left the CUDA context unusable (already reported).
    fn serve(&mut self, send: &mut dyn FnMut(&PairedMessage)) -> Result<(), ()> {
        let cases = &self.request.cases;
        let mut budget = Budget::new(limits::duration(self.request.budget_s));
        let mut states: Vec<CaseState> = cases
            .iter()
            .map(|_| CaseState {
                samples: PairedSamples::default(),
                looks_done: 0,
                settled: Settled::Open,
                elapsed: Duration::ZERO,
                finished: None,
            })
            .collect();
        let first = budget.first_share(cases.len());
        for (case, state) in cases.iter().zip(&mut states) {
            let spent = self.visit(case, state, first, send)?;
            budget.spend(spent);
        }
        let max_pairs = self.request.rule.max_pairs;
        let open = |s: &CaseState| {
            s.finished.is_none() && s.settled == Settled::Open && s.samples.pairs() < max_pairs
        };
        let undecided: Vec<usize> = (0..cases.len()).filter(|&i| open(&states[i])).collect();
        for (k, &i) in undecided.iter().enumerate() {
            let share = budget.leftover_share(undecided.len() - k);
            if share < MIN_SHARE {
                break;
            }
            let spent = self.visit(&cases[i], &mut states[i], share, send)?;
            budget.spend(spent);
        }
        Ok(())
    }

    /// Measures one case for up to `share`, sends its result so far, and returns the time spent.
    fn visit(
        &mut self,
        case: &PairedWireCase,
        state: &mut CaseState,
        share: Duration,
        send: &mut dyn FnMut(&PairedMessage),
    ) -> Result<Duration, ()> {
        let start = Instant::now();
        let id = case.head.id.clone();
        send(&PairedMessage::Started { case: id.clone() });
        let outcome = self.measure(case, state, share);
        let spent = start.elapsed();
        state.elapsed += spent;
        let sticky = match outcome {
            Ok(()) => false,
            Err(error) => {
                state.finished = Some(PairedWireOutcome::Failed { message: error.to_string() });
                error.is_sticky()
            }
        };
        let result = PairedResult { id, outcome: state.outcome(), elapsed_s: state.elapsed.as_secs_f64() };
        send(&PairedMessage::Result { result: Box::new(result) });
        if sticky { Err(()) } else { Ok(spent) }
    }

    fn measure(
        &mut self,
        case: &PairedWireCase,
        state: &mut CaseState,
        share: Duration,
    ) -> Result<(), CudaError> {
        let start = Instant::now();
        let (base_bench, head_bench) = self.benches.get(case.bench).ok_or_else(|| {
            CudaError::Setup(format!("case `{}` names bench {} of none", case.head.id, case.bench))
        })?;
        let base_case: PlannedCase = case.base.clone().into();
        let head_case: PlannedCase = case.head.clone().into();
        let settings = &self.request.settings;
        let first_visit = state.looks_done == 0 && state.samples.pairs() == 0;
        if first_visit && !self.request.measure_identical {
            let base = fingerprint(self.session, base_bench, &base_case, settings, &self.request.base_root)?;
            let head = fingerprint(self.session, head_bench, &head_case, settings, &self.request.head_root)?;
            if base == head {
                state.finished = Some(PairedWireOutcome::Identical);
                return Ok(());
            }
        }
        let base = self.session.prepare(base_bench, &base_case, settings, Placements::Rotate)?;
        let head = self.session.prepare(head_bench, &head_case, settings, Placements::Rotate)?;
        let session = &*self.session;
        // Each batch is BATCH / 4 rounds of A B B A; round r runs on each side's buffer set r mod its
        // number of sets, so both sides rotate over their placements alike.
        let rounds_done = std::cell::Cell::new(0usize);
        let batch = || {
            let first_round = rounds_done.get();
            rounds_done.set(first_round + BATCH / ROUND.len());
            let order: Vec<(&Kernel, &[KernelArg])> = (0..BATCH)
                .map(|i| {
                    let round = first_round + i / ROUND.len();
                    let side = match ROUND[i % ROUND.len()] {
                        Side::Base => &base,
                        Side::Head => &head,
                    };
                    (&side.kernel, side.sets[round % side.sets.len()].args.as_slice())
                })
                .collect();
            session.timer.sequence(&session.builtins, &order)
        };

        // Warm-up: the case's own kernels, until warmup_ms or a share of the visit has passed.
        let warmup = limits::duration(settings.warmup_ms / 1000.0)
            .min(limits::duration(share.as_secs_f64() * WARMUP_SHARE));
        loop {
            batch()?;
            if start.elapsed() >= warmup {
                break;
            }
        }

        let rule: &StopRule = &self.request.rule;
        let looks = rule.looks();
        while state.samples.pairs() < rule.max_pairs {
            let times = batch()?;
            let clock = session.monitor.as_ref().and_then(|m| m.sm_clock_mhz().ok());
            for (time, side) in times.into_iter().zip(ROUND.iter().cycle()) {
                let (ns, clocks) = match side {
                    Side::Base => (&mut state.samples.base_ns, &mut state.samples.base_clock_mhz),
                    Side::Head => (&mut state.samples.head_ns, &mut state.samples.head_clock_mhz),
                };
                ns.push(time);
                clocks.extend(clock);
            }
            let pairs = state.samples.pairs();
            if looks.get(state.looks_done).is_some_and(|&at| pairs >= at) {
                state.looks_done += 1;
                let s = &state.samples;
                state.settled = look(&s.base_ns[..pairs], &s.head_ns[..pairs], rule, &case.head.id)
                    .map_err(|e| CudaError::Setup(format!("interim look: {e}")))?;
                if state.settled != Settled::Open {
                    break;
                }
            }
            if start.elapsed() >= share {
                break;
            }
        }
        session_sync(session)
    }
}

fn session_sync(session: &Session) -> Result<(), CudaError> {
    session.gpu().stream.synchronize().map_err(CudaError::driver("finishing the timed launches"))
}

/// What decides the code a case runs and how: source and local includes byte for byte (their paths
/// relative to `root`), NVRTC options, the kernel's name, launch geometry and every argument. Equal
/// fingerprints compile to the same cubin (but for the file names `-lineinfo` records) and launch it
/// identically.
fn fingerprint(
    session: &Session,
    bench: &CudaBench,
    case: &PlannedCase,
    settings: &MeasureSettings,
    root: &Path,
) -> Result<Vec<u8>, CudaError> {
    let vars = case.vars();
    let options = session.options(bench, &bench.defines, &case.tune, &vars)?;
    let source = Source::read(&bench.source)?;
    let root = root.canonicalize().unwrap_or_else(|_| root.to_owned());
    let relative = |path: &Path| -> String {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        path.strip_prefix(&root).unwrap_or(&path).display().to_string()
    };
    let mut hash = Sha256::new();
    let mut field = |label: &str, bytes: &[u8]| {
        hash.update(label.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    field("source", source.text.as_bytes());
    for (path, bytes) in local_includes(&source, &options.include_dirs) {
        field("include", relative(&path).as_bytes());
        field("include-text", &bytes);
    }
    for (name, value) in &options.defines {
        field("define", format!("{name}={value}").as_bytes());
    }
    for flag in &options.extra_flags {
        field("flag", flag.as_bytes());
    }
    field("arch", options.arch.as_bytes());
    field("kernel", bench.kernel.as_bytes());
    field("geometry", format!("{:?}", Geometry::from_launch(&bench.launch, &vars)?).as_bytes());
    field("args", format!("{:?}", plan_args(&bench.args, &vars, settings.seed)?).as_bytes());
    Ok(hash.finalize().to_vec())
}

/// Runs `request` in paired worker processes started by `worker_argv` (`[pawl, "__paired_worker"]`),
/// calling `progress` with each answer. Returns the last answer of every case; a case whose worker
/// died or hung fails with the reason.
pub fn run_paired(
    worker_argv: &[OsString],
    request: &PairedRequest,
    progress: &mut dyn FnMut(&PairedResult),
) -> Result<BTreeMap<CaseId, PairedResult>, BackendError> {
    let mut answers: BTreeMap<CaseId, PairedResult> = BTreeMap::new();
    let mut remaining = request.clone();
    let watchdog = limits::duration((request.settings.timeout_s + request.budget_s).max(1.0));
    while !remaining.cases.is_empty() {
        let before = answers.len();
        let stopped = one_worker(worker_argv, &remaining, watchdog, &mut answers, progress)?;
        if let Some((case, message)) = stopped {
            let failed = PairedResult {
                id: case.clone(),
                outcome: PairedWireOutcome::Failed { message },
                elapsed_s: answers.get(&case).map_or(0.0, |r| r.elapsed_s),
            };
            progress(&failed);
            answers.insert(case, failed);
        }
        remaining.cases.retain(|c| !answers.contains_key(&c.head.id));
        if answers.len() == before {
            return Err(BackendError::new("the paired CUDA worker stopped without answering any case"));
        }
        // Time already spent is not given again.
        let spent: f64 = answers.values().map(|r| r.elapsed_s).sum();
        remaining.budget_s = (request.budget_s - spent).max(0.0);
    }
    Ok(answers)
}

/// A worker that is killed and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One worker's run. Returns the case it was on when it stopped early, with why.
fn one_worker(
    argv: &[OsString],
    request: &PairedRequest,
    watchdog: Duration,
    answers: &mut BTreeMap<CaseId, PairedResult>,
    progress: &mut dyn FnMut(&PairedResult),
) -> Result<Option<(CaseId, String)>, BackendError> {
    let (program, args) =
        argv.split_first().ok_or_else(|| BackendError::new("the paired worker was given no command"))?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| BackendError::new(format!("cannot start the paired CUDA worker {program:?}: {e}")))?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(BackendError::new("the paired CUDA worker was started without pipes"));
    };
    let mut child = Reaped(child);
    let line = serde_json::to_string(request).map_err(|e| BackendError::new(e.to_string()))?;
    let _ = writeln!(stdin, "{line}").and_then(|()| stdin.flush());
    drop(stdin);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut current: Option<CaseId> = request.cases.first().map(|c| c.head.id.clone());
    loop {
        match rx.recv_timeout(watchdog) {
            Ok(Ok(line)) if line.trim().is_empty() => {}
            Ok(Ok(line)) => match serde_json::from_str::<PairedMessage>(&line) {
                Ok(PairedMessage::Started { case }) => current = Some(case),
                Ok(PairedMessage::Result { result }) => {
                    current = None;
                    progress(&result);
                    answers.insert(result.id.clone(), *result);
                }
                Ok(PairedMessage::Done) => return Ok(None),
                Ok(PairedMessage::Fatal { message }) => return Err(BackendError::new(message)),
                Err(e) => {
                    let shown: String = line.chars().take(200).collect();
                    let why = format!("the paired worker sent a line that is not a message ({e}): `{shown}`");
                    return Ok(current.map(|c| (c, why)));
                }
            },
            Ok(Err(e)) => return Ok(current.map(|c| (c, format!("cannot read the paired worker: {e}")))),
            Err(RecvTimeoutError::Timeout) => {
                let _ = child.0.kill();
                let why = format!(
                    "no answer after {:.0} s: the kernel did not finish (a hang?)",
                    watchdog.as_secs_f64()
                );
                return Ok(current.map(|c| (c, why)));
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = child.0.wait().ok();
                let why = format!(
                    "the paired CUDA worker exited ({}) while measuring this case",
                    status.map_or_else(|| "for an unknown reason".to_owned(), |s| s.to_string())
                );
                return Ok(current.map(|c| (c, why)));
            }
        }
    }
}
