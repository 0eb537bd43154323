//! The worker process: reads [`Request`]s on standard input, one a line, measures each with the engine
//! on a [`CudaBackend`], and streams [`Message`]s on standard output. The CLI runs it as `pawl
//! __worker`, one per GPU, each kept for a whole run.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use pawl_core::engine::paired::{self, Event, PairJob, PairedPlan};
use pawl_core::engine::{self, SystemClock};
use pawl_core::suite::limits;

use crate::backend::CudaBackend;
use crate::cache::Cache;
use crate::protocol::{Message, PairedRequest, PairedResult, Request};
use crate::session::Session;

/// Exit status after a fault that left the CUDA context unusable: the parent goes on in a fresh worker.
pub const EXIT_CONTEXT_LOST: u8 = 3;

/// Serves requests on standard input/output, one a line, until its input closes: each answered case by
/// case and closed by `done`, on one GPU session kept open between requests. Exit status 0 when every
/// request was served, 2 when nothing could be measured, [`EXIT_CONTEXT_LOST`] after a fault.
pub fn serve_stdio() -> ExitCode {
    let mut out = std::io::stdout().lock();
    let mut send = |message: &Message| {
        // A parent that went away cannot be told anything; stopping is all that is left.
        let ok = writeln!(out, "{}", message.to_line()).and_then(|()| out.flush()).is_ok();
        if !ok {
            std::process::exit(2);
        }
    };
    let mut input = std::io::stdin().lock();
    // Opened at the first request, so that a worker that is never asked anything never touches the GPU.
    let mut backend: Option<CudaBackend> = None;
    loop {
        let mut line = String::new();
        let request = match input.read_line(&mut line) {
            Ok(0) => return ExitCode::SUCCESS,
            Ok(_) if line.trim().is_empty() => continue,
            Ok(_) => {
                serde_json::from_str::<Request>(&line).map_err(|e| format!("the request is not valid: {e}"))
            }
            Err(e) => Err(format!("cannot read the request: {e}")),
        };
        let request = match request {
            Ok(request) => request,
            Err(message) => {
                send(&Message::Fatal { message });
                return ExitCode::from(2);
            }
        };
        let backend = match &mut backend {
            Some(backend) => backend,
            None => match Session::open(Cache::from_env()) {
                Ok(session) => backend.insert(CudaBackend::new(session)),
                Err(e) => {
                    send(&Message::Fatal { message: e.to_string() });
                    return ExitCode::from(2);
                }
            },
        };
        let lost = match &request {
            Request::Measure { bench, cases, settings } => {
                let clock = SystemClock::new();
                cases.iter().any(|case| {
                    let id = case.case.id.clone();
                    send(&Message::Started { case: id.clone() });
                    let mut progress = |phase| send(&Message::Progress { case: id.clone(), phase });
                    let measured =
                        engine::measure_case(backend, bench, case, settings, &clock, &mut progress);
                    send(&Message::Result { result: Box::new(measured.result) });
                    measured.lost
                })
            }
            Request::Paired(request) => match serve_paired(backend, request, &mut send) {
                Ok(lost) => lost,
                Err(message) => {
                    send(&Message::Fatal { message });
                    return ExitCode::from(2);
                }
            },
        };
        if lost {
            return ExitCode::from(EXIT_CONTEXT_LOST);
        }
        send(&Message::Done);
    }
}

/// Runs the paired schedule; `Ok(true)` when a fault lost the CUDA context (the case is already
/// reported), `Err` for a request that cannot be served.
fn serve_paired(
    backend: &mut CudaBackend,
    request: &PairedRequest,
    send: &mut dyn FnMut(&Message),
) -> Result<bool, String> {
    let mut jobs: Vec<PairJob<'_>> = Vec::with_capacity(request.cases.len());
    for c in &request.cases {
        let Some((base, head)) = request.benches.get(c.bench) else {
            return Err(format!(
                "case `{}` names bench {} of {}",
                c.head.case.id,
                c.bench,
                request.benches.len()
            ));
        };
        jobs.push(PairJob { base: (base, &c.base), head: (head, &c.head) });
    }
    let plan = PairedPlan {
        settings: request.settings.clone(),
        rule: request.rule,
        budget: limits::duration(request.budget_s),
        measure_identical: request.measure_identical,
    };
    let mut report = |event: Event<'_>| match event {
        Event::Visiting(i) => send(&Message::Started { case: jobs[i].head.1.case.id.clone() }),
        Event::Visited(i, state) => {
            let result = PairedResult {
                id: jobs[i].head.1.case.id.clone(),
                case: state.outcome(),
                elapsed_s: state.elapsed.as_secs_f64(),
            };
            send(&Message::Paired { result: Box::new(result) });
        }
    };
    Ok(paired::run(backend, &jobs, &plan, &SystemClock::new(), &mut report).is_err())
}
