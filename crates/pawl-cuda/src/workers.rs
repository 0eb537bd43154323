//! pawl's side of the worker protocol: runs a [`Request`] in worker processes, each under
//! `pawl-supervise` (its own process group, killed as a group on a hang or an interrupt), and watches
//! them.
//!
//! A kernel that faults can leave the CUDA context unusable, and one that never returns can hang the
//! process; neither may take the run down. The worker reports each case as it finishes; [`run`] hands
//! each answer on at once, kills a worker whose case runs past its watchdog, fails only that case (with
//! the CUDA error, or `timeout`), and goes on with the unanswered cases in a fresh worker.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::time::{Duration, Instant};

use pawl_core::case::CaseId;
use pawl_core::engine::Phase;
use pawl_core::paired::PairedCase;
use pawl_core::plan::PlannedCase;
use pawl_core::run::{CaseResult, CaseStatus};
use pawl_supervise::{Command, DEFAULT_STDERR_TAIL, Event, Exit, Stderr, Stdin, deadline_after, preview};

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
        let finished = one_worker(worker, &request, watchdog, stop, &mut note)?;
        if finished || stop.is_some_and(|stop| Instant::now() >= stop) {
            return Ok(());
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

/// One worker over `request`. `Ok(true)` when it answered everything or `stop` came; `Ok(false)` when
/// it stopped early (the case in progress, if any, has been failed here).
fn one_worker(
    argv: &[OsString],
    request: &Request,
    watchdog: Duration,
    stop: Option<Instant>,
    on_answer: &mut dyn FnMut(Answer),
) -> Result<bool, WorkerError> {
    if argv.is_empty() {
        return Err(WorkerError("the CUDA backend was given no worker command".into()));
    }
    let line = serde_json::to_string(request).map_err(|e| WorkerError(e.to_string()))?;
    let mut worker = Command::new(argv)
        .stdin(Stdin::Piped)
        .stderr(Stderr::Tail(DEFAULT_STDERR_TAIL))
        .spawn()
        .map_err(|e| WorkerError(format!("cannot start the CUDA worker: {e}")))?;
    // A worker that exits before reading the request shows up below as an early exit.
    let _ = worker.send_line(&line);
    worker.close_stdin();

    let asked = request.case_ids();
    let mut answered: BTreeSet<CaseId> = BTreeSet::new();
    let mut fail = Failer { request, on_answer };
    // The case the watchdog is timing: the first counts from the worker's start (its time includes
    // opening the GPU and compiling pawl's own kernels).
    let mut current: Option<(CaseId, Instant)> = asked.first().map(|id| (id.clone(), Instant::now()));
    loop {
        let deadline =
            current.as_ref().map_or_else(|| deadline_after(watchdog), |(_, since)| *since + watchdog);
        let stopping = stop.is_some_and(|stop| stop <= deadline);
        let deadline = if stopping { stop.unwrap_or(deadline) } else { deadline };
        let text = match worker.recv(deadline) {
            Event::Line { text, .. } => text,
            bad @ (Event::NotUtf8 { .. } | Event::TooLong { .. }) => {
                worker.kill();
                fail.current(current, CaseStatus::Failed, format!("the CUDA worker's {bad}"));
                return Ok(false);
            }
            Event::Deadline if stopping => {
                // The caller's time is up: the case in progress is dropped, not failed.
                worker.kill();
                return Ok(true);
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
                return Ok(false);
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
                    return Ok(false);
                }
                let text = format!(
                    "the CUDA worker exited ({exit}) while measuring this case{}",
                    stderr_words(&exit)
                );
                fail.current(current, CaseStatus::Failed, text);
                return Ok(false);
            }
        };
        if text.trim().is_empty() {
            continue;
        }
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
                return Ok(false);
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
            return Ok(false);
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
            Message::Done => return Ok(asked.iter().all(|id| answered.contains(id))),
            Message::Fatal { message } => {
                if answered.is_empty() {
                    return Err(WorkerError(message));
                }
                fail.current(current, CaseStatus::Failed, message);
                return Ok(false);
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
