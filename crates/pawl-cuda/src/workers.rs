//! pawl's side of the worker protocol: runs [`Request`]s in worker processes, each under
//! `pawl-supervise` (its own process group, killed as a group on a hang or an interrupt), and watches
//! them.
//!
//! A kernel that faults can leave the CUDA context unusable, and one that never returns can hang the
//! process; neither may take the run down. The worker reports each case as it finishes; a [`Worker`]
//! hands each answer on at once, kills a process whose case runs past its watchdog, fails only that
//! case (with the CUDA error, or `timeout`), and goes on with the unanswered cases in a fresh process.
//! Between requests it keeps its process, so a run opens each GPU once; [`run`] is one request in a
//! worker of its own.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::time::{Duration, Instant};

use pawl_core::case::CaseId;
use pawl_core::engine::Phase;
use pawl_core::paired::PairedCase;
use pawl_core::plan::PlannedCase;
use pawl_core::run::{CaseResult, CaseStatus};
use pawl_supervise::{
    Child, Command, DEFAULT_STDERR_TAIL, Event, Exit, Stderr, Stdin, deadline_after, preview,
};

use crate::protocol::{Message, PairedResult, Request};

/// What the workers found, case by case, as it comes.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Progress {
        case: CaseId,
        phase: Phase,
    },
    /// A case of a [`Request::Measure`]: measured, or failed by the worker or by its watchdog.
    Result(Box<CaseResult>),
    /// A case of a [`Request::Paired`] so far.
    Paired(Box<PairedResult>),
}

/// Why no worker could measure anything.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WorkerError(pub String);

/// How long a worker whose input was closed gets to exit by itself before it is killed.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// Runs `request` in workers started by `worker` (`[pawl, "__worker"]`) until every case has its
/// answer. `watchdog` is how long one case (one visit of an A/B case) may run.
pub fn run(
    worker: &[OsString],
    request: Request,
    watchdog: Duration,
    on_answer: &mut dyn FnMut(Answer),
) -> Result<(), WorkerError> {
    run_until(worker, request, watchdog, None, on_answer)
}

/// As [`run`], but at `stop` the worker is stopped (with the case in progress, which gets no answer)
/// and the cases not answered by then stay unanswered: for callers with a time budget, such as
/// `pawl tune`.
pub fn run_until(
    worker: &[OsString],
    request: Request,
    watchdog: Duration,
    stop: Option<Instant>,
    on_answer: &mut dyn FnMut(Answer),
) -> Result<(), WorkerError> {
    let mut worker = Worker::new(worker);
    let outcome = worker.run_until(request, watchdog, stop, on_answer);
    worker.finish();
    outcome
}

/// A worker process kept from one request to the next (one GPU session for a whole run), and started
/// again when it stops: after a fault, a hang, or a crash.
#[derive(Debug)]
pub struct Worker {
    argv: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    child: Option<Child>,
}

/// How one worker process served a request.
enum Served {
    /// Every case has its answer; the process waits for the next request.
    All,
    /// It stopped early (the case in progress, if any, has been failed); the rest go to a fresh one.
    Early,
    /// A process kept from an earlier request had ended while it waited: it heard nothing of this one.
    Gone,
    /// The caller's time ran out: the process was stopped, and the case in progress gets no answer.
    Stopped,
}

impl Worker {
    /// A worker started as `argv` (`[pawl, "__worker"]`) when it is first needed. It times with this
    /// process's clock (handed over as `PAWL_CLOCK`), so the run's environment names the right one.
    pub fn new(argv: &[OsString]) -> Worker {
        let clock = crate::clock::setting_value(crate::clock::choice().clock);
        Worker { argv: argv.to_vec(), env: vec![(crate::clock::SETTING.into(), clock.into())], child: None }
    }

    /// Sets a variable in the environment of every process started for this worker:
    /// `CUDA_VISIBLE_DEVICES` pins it to one GPU.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Worker {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs `request` until every case has its answer, in this worker's process, then in fresh ones
    /// for the cases a stopped process left. `watchdog` is how long one case (one visit of an A/B case)
    /// may run. An error means no process could measure anything of it.
    pub fn run(
        &mut self,
        request: Request,
        watchdog: Duration,
        on_answer: &mut dyn FnMut(Answer),
    ) -> Result<(), WorkerError> {
        self.run_until(request, watchdog, None, on_answer)
    }

    /// As [`Worker::run`], but at `stop` the process is stopped and the cases not answered by then
    /// stay unanswered.
    pub fn run_until(
        &mut self,
        request: Request,
        watchdog: Duration,
        stop: Option<Instant>,
        on_answer: &mut dyn FnMut(Answer),
    ) -> Result<(), WorkerError> {
        let mut request = request;
        let mut answered: BTreeSet<CaseId> = BTreeSet::new();
        let mut spent_s = 0.0;
        loop {
            let before = answered.len();
            let mut note = |answer: Answer| {
                match &answer {
                    Answer::Result(result) => {
                        answered.insert(result.id.clone());
                    }
                    Answer::Paired(result) => {
                        answered.insert(result.id.clone());
                        spent_s += result.elapsed_s;
                    }
                    Answer::Progress { .. } => {}
                }
                on_answer(answer);
            };
            match self.serve(&request, watchdog, stop, &mut note)? {
                Served::All | Served::Stopped => return Ok(()),
                // The same request, to a fresh process.
                Served::Gone => continue,
                Served::Early if stop.is_some_and(|stop| Instant::now() >= stop) => return Ok(()),
                Served::Early => {}
            }
            // The rest go to a fresh worker; an A/B run gets what is left of its budget.
            match &mut request {
                Request::Measure { cases, .. } => cases.retain(|c| !answered.contains(&c.case.id)),
                Request::Paired(paired) => {
                    paired.cases.retain(|c| !answered.contains(&c.head.case.id));
                    paired.budget_s = (paired.budget_s - spent_s).max(0.0);
                    spent_s = 0.0;
                }
            }
            if request.case_ids().is_empty() {
                return Ok(());
            }
            if answered.len() == before {
                return Err(WorkerError("the CUDA worker stopped without answering any case".into()));
            }
        }
    }

    /// Closes the worker's input, gives it a moment to exit by itself, and kills it if it does not.
    pub fn finish(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.close_stdin();
            if child.wait(deadline_after(EXIT_WAIT)).is_none() {
                child.kill();
            }
        }
    }

    /// `request` in this worker's process, started if there is none.
    fn serve(
        &mut self,
        request: &Request,
        watchdog: Duration,
        stop: Option<Instant>,
        on_answer: &mut dyn FnMut(Answer),
    ) -> Result<Served, WorkerError> {
        if self.argv.is_empty() {
            return Err(WorkerError("the CUDA backend was given no worker command".into()));
        }
        let line = serde_json::to_string(request).map_err(|e| WorkerError(e.to_string()))?;
        let kept = self.child.is_some();
        let mut worker = match self.child.take() {
            Some(child) => child,
            None => {
                let mut command =
                    Command::new(&self.argv).stdin(Stdin::Piped).stderr(Stderr::Tail(DEFAULT_STDERR_TAIL));
                for (key, value) in &self.env {
                    command = command.env(key, value);
                }
                command.spawn().map_err(|e| WorkerError(format!("cannot start the CUDA worker: {e}")))?
            }
        };
        // A worker that exits before reading the request shows up below as an early exit.
        let _ = worker.send_line(&line);
        let served = one_request(&mut worker, request, watchdog, stop, kept, on_answer)?;
        if matches!(served, Served::All) {
            self.child = Some(worker);
        }
        Ok(served)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.finish();
    }
}

/// One request in `worker`, whose line was sent, until every case has its answer or `stop`. `kept`:
/// the process served an earlier request.
fn one_request(
    worker: &mut Child,
    request: &Request,
    watchdog: Duration,
    stop: Option<Instant>,
    kept: bool,
    on_answer: &mut dyn FnMut(Answer),
) -> Result<Served, WorkerError> {
    let asked = request.case_ids();
    let mut answered: BTreeSet<CaseId> = BTreeSet::new();
    let mut fail = Failer { request, on_answer };
    // Whether the process has said anything about this request.
    let mut heard = false;
    // The case the watchdog is timing: the first counts from the request (for a fresh worker its time
    // includes opening the GPU and compiling pawl's own kernels).
    let mut current: Option<(CaseId, Instant)> = asked.first().map(|id| (id.clone(), Instant::now()));
    loop {
        let deadline =
            current.as_ref().map_or_else(|| deadline_after(watchdog), |(_, since)| *since + watchdog);
        let stopping = stop.is_some_and(|stop| stop <= deadline);
        let deadline = if stopping { stop.unwrap_or(deadline) } else { deadline };
        let text = match worker.recv(deadline) {
            Event::Exited(_) if kept && !heard => return Ok(Served::Gone),
            Event::Deadline if stopping => {
                // The caller's time is up: the case in progress is dropped, not failed.
                worker.kill();
                return Ok(Served::Stopped);
            }
            Event::Line { text, .. } => text,
            bad @ (Event::NotUtf8 { .. } | Event::TooLong { .. }) => {
                worker.kill();
                fail.current(current, CaseStatus::Failed, format!("the CUDA worker's {bad}"));
                return Ok(Served::Early);
            }
            Event::Deadline => {
                let Some((id, since)) = current else { continue };
                let exit = worker.kill();
                let text = format!(
                    "no result after {:.1} s (watchdog {:.0} s): the kernel did not finish (a hang?); the \
                     worker was stopped{}",
                    since.elapsed().as_secs_f64(),
                    watchdog.as_secs_f64(),
                    stderr_words(&exit)
                );
                fail.current(Some((id, since)), CaseStatus::Timeout, text);
                return Ok(Served::Early);
            }
            Event::Exited(exit) => {
                // It exited: normally after a fault that lost its CUDA context, or it crashed.
                let lost = exit.code() == Some(i32::from(crate::worker::EXIT_CONTEXT_LOST));
                if lost || current.is_none() {
                    if answered.is_empty() && current.is_none() && !asked.is_empty() {
                        let text = format!(
                            "the CUDA worker exited without measuring anything{}",
                            stderr_words(&exit)
                        );
                        return Err(WorkerError(text));
                    }
                    return Ok(Served::Early);
                }
                let text = format!(
                    "the CUDA worker exited ({exit}) while measuring this case{}",
                    stderr_words(&exit)
                );
                fail.current(current, CaseStatus::Failed, text);
                return Ok(Served::Early);
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        heard = true;
        let violation = |why: String| format!("the CUDA worker broke its protocol: {why}");
        let message = match serde_json::from_str::<Message>(&text) {
            Ok(message) => message,
            Err(e) => {
                worker.kill();
                let why = violation(format!(
                    "it sent a line that is not a message ({e}): `{}`",
                    preview(text.as_bytes())
                ));
                fail.current(current, CaseStatus::Failed, why);
                return Ok(Served::Early);
            }
        };
        let answer_id = match &message {
            Message::Result { result } => Some(&result.id),
            Message::Paired { result } => Some(&result.id),
            _ => None,
        };
        let unasked = match &message {
            Message::Started { case } | Message::Progress { case, .. } => Some(case),
            _ => answer_id,
        }
        .filter(|id| !asked.contains(id));
        let twice = matches!(message, Message::Result { .. })
            .then_some(answer_id)
            .flatten()
            .filter(|id| answered.contains(*id));
        if let Some(id) = unasked.or(twice) {
            let why = if twice.is_some() { "answered it twice" } else { "it was not asked for it" };
            let text = violation(format!("case `{id}`: {why}"));
            worker.kill();
            fail.current(current, CaseStatus::Failed, text);
            return Ok(Served::Early);
        }
        match message {
            Message::Started { case } => current = Some((case, Instant::now())),
            Message::Progress { case, phase } => fail.on_answer(Answer::Progress { case, phase }),
            Message::Result { result } => {
                answered.insert(result.id.clone());
                current = None;
                fail.on_answer(Answer::Result(result));
            }
            Message::Paired { result } => {
                answered.insert(result.id.clone());
                current = None;
                fail.on_answer(Answer::Paired(result));
            }
            Message::Done if answered.is_empty() && !asked.is_empty() => {
                return Err(WorkerError("the CUDA worker finished without answering any case".into()));
            }
            // Cases it never answered go to a fresh worker.
            Message::Done if asked.iter().all(|id| answered.contains(id)) => return Ok(Served::All),
            Message::Done => {
                worker.kill();
                return Ok(Served::Early);
            }
            Message::Fatal { message } => {
                if answered.is_empty() {
                    return Err(WorkerError(message));
                }
                fail.current(current, CaseStatus::Failed, message);
                return Ok(Served::Early);
            }
        }
    }
}

/// `; worker stderr: …`, or nothing.
fn stderr_words(exit: &Exit) -> String {
    if exit.stderr_tail.is_empty() { String::new() } else { format!("; worker stderr: {}", exit.stderr_tail) }
}

/// Fails the case in progress, in the shape its request expects.
struct Failer<'a> {
    request: &'a Request,
    on_answer: &'a mut dyn FnMut(Answer),
}

impl Failer<'_> {
    fn on_answer(&mut self, answer: Answer) {
        (self.on_answer)(answer);
    }

    fn current(&mut self, current: Option<(CaseId, Instant)>, status: CaseStatus, message: String) {
        let Some((id, _)) = current else { return };
        let answer = match self.request {
            Request::Measure { cases, .. } => {
                let result = match cases.iter().find(|c| c.case.id == id) {
                    Some(case) => failed(case, status, message),
                    None => {
                        CaseResult::not_measured(id.clone(), id.bench(), Default::default(), status, message)
                    }
                };
                Answer::Result(Box::new(result))
            }
            Request::Paired(_) => Answer::Paired(Box::new(PairedResult {
                id,
                case: PairedCase::Failed { message },
                elapsed_s: 0.0,
            })),
        };
        (self.on_answer)(answer);
    }
}

fn failed(case: &PlannedCase, status: CaseStatus, message: String) -> CaseResult {
    let mut result = CaseResult::planned(case, status);
    result.error = Some(message);
    result
}
