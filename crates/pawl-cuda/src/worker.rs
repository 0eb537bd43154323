//! The worker process: reads one [`Request`] on standard input, measures its cases, streams
//! [`Message`]s on standard output. The CLI runs it as `pawl __worker`.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use crate::cache::Cache;
use crate::measure::Session;
use crate::protocol::{Message, Request};

/// Exit status after a fault that left the CUDA context unusable: the parent goes on in a fresh worker.
pub const EXIT_CONTEXT_LOST: u8 = 3;

/// Serves one request on standard input/output. Exit status 0 when every case has a result, 2 when
/// nothing could be measured, [`EXIT_CONTEXT_LOST`] after a fault.
pub fn serve_stdio() -> ExitCode {
    let stdin = std::io::stdin();
    let mut line = String::new();
    let mut out = std::io::stdout().lock();
    let mut send = |message: &Message| {
        // A parent that went away cannot be told anything; stopping is all that is left.
        let ok = writeln!(out, "{}", message.to_line()).and_then(|()| out.flush()).is_ok();
        if !ok {
            std::process::exit(2);
        }
    };
    if let Err(e) = stdin.lock().read_line(&mut line) {
        send(&Message::Fatal { message: format!("cannot read the request: {e}") });
        return ExitCode::from(2);
    }
    let request: Request = match serde_json::from_str(&line) {
        Ok(request) => request,
        Err(e) => {
            send(&Message::Fatal { message: format!("the request is not valid: {e}") });
            return ExitCode::from(2);
        }
    };
    let bench = match request.bench.to_bench() {
        Ok(bench) => bench,
        Err(e) => {
            send(&Message::Fatal { message: e.to_string() });
            return ExitCode::from(2);
        }
    };
    let mut session = match Session::open(Cache::from_env()) {
        Ok(session) => session,
        Err(e) => {
            send(&Message::Fatal { message: e.to_string() });
            return ExitCode::from(2);
        }
    };
    for case in request.cases {
        let case: pawl_core::backend::PlannedCase = case.into();
        let id = case.case.id.clone();
        send(&Message::Started { case: id.clone() });
        let mut progress =
            |phase: &str| send(&Message::Progress { case: id.clone(), phase: phase.to_owned() });
        let (result, context_lost) =
            session.measure(&bench, &case, &request.settings, request.timing, &mut progress);
        send(&Message::Result { result: Box::new(result) });
        if context_lost {
            return ExitCode::from(EXIT_CONTEXT_LOST);
        }
    }
    send(&Message::Done);
    ExitCode::SUCCESS
}
