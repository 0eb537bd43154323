//! The `command` backend: external harness processes speaking the harness protocol
//! (`pawl_core::harness`). This is how PyTorch, Triton or any other framework is measured.
//!
//! Cases whose argv renders the same share one process. A process that crashes, hangs past its
//! timeout or prints garbage fails only the cases it did not answer, each with the reason.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pawl_core::backend::{Backend, BackendError, PlannedCase};
use pawl_core::case::CaseId;
use pawl_core::harness::{self, HarnessAnswer, HarnessRequest};
use pawl_core::run::{CaseResult, CaseStatus};
use pawl_core::suite::limits;
use pawl_core::suite::{Bench, BenchKind, CommandBench, MeasureSettings, Suite};

#[derive(Debug)]
pub struct CommandBackend;

impl Backend for CommandBackend {
    fn measure(
        &mut self,
        _suite: &Suite,
        bench: &Bench,
        cases: &[PlannedCase],
        settings: &MeasureSettings,
        sink: &mut dyn FnMut(CaseResult),
    ) -> Result<(), BackendError> {
        let BenchKind::Command(command) = &bench.kind else {
            return Err(BackendError::new(format!("bench `{}` is not a command bench", bench.name)));
        };
        for (argv, group) in group_by_argv(command, cases) {
            let timeout_s = command.timeout_s.unwrap_or(settings.timeout_s * group.len() as f64);
            let timeout = limits::duration(timeout_s);
            run_process(command, &argv, &group, settings, timeout, sink);
        }
        Ok(())
    }
}

/// Cases grouped by their rendered argv, in first-seen order.
fn group_by_argv<'c>(
    command: &CommandBench,
    cases: &'c [PlannedCase],
) -> Vec<(Vec<String>, Vec<&'c PlannedCase>)> {
    let mut groups: Vec<(Vec<String>, Vec<&PlannedCase>)> = Vec::new();
    for case in cases {
        let argv = command.argv(&case.case.params);
        match groups.iter_mut().find(|(a, _)| *a == argv) {
            Some((_, group)) => group.push(case),
            None => groups.push((argv, vec![case])),
        }
    }
    groups
}

/// What the reader thread sees on the harness's standard output.
enum Line {
    Answer(HarnessAnswer),
    Garbage(String),
    Closed,
}

fn run_process(
    command: &CommandBench,
    argv: &[String],
    cases: &[&PlannedCase],
    settings: &MeasureSettings,
    timeout: Duration,
    sink: &mut dyn FnMut(CaseResult),
) {
    let shown = argv.join(" ");
    let mut pending: HashMap<CaseId, &PlannedCase> = cases.iter().map(|c| (c.case.id.clone(), *c)).collect();
    let fail_rest =
        |pending: &mut HashMap<CaseId, &PlannedCase>, status, why: &str, sink: &mut dyn FnMut(CaseResult)| {
            // Report in plan order so the run file reads like the suite.
            for case in cases {
                if pending.remove(&case.case.id).is_some() {
                    sink(not_measured(case, status, why.to_owned()));
                }
            }
        };

    let mut child = match Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(&command.cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(child) => child,
        Err(err) => {
            let why = format!("cannot start `{shown}` in {}: {err}", command.cwd.display());
            fail_rest(&mut pending, CaseStatus::Failed, &why, sink);
            return;
        }
    };

    // Write the requests from a thread: a harness that answers before reading everything must not
    // deadlock against a full pipe.
    let requests: Vec<String> = cases
        .iter()
        .map(|c| {
            let request = HarnessRequest {
                case: c.case.id.clone(),
                bench: c.case.bench.clone(),
                params: c.case.params.clone(),
                flops: c.flops,
                bytes: c.bytes,
                settings: settings.clone(),
            };
            serde_json::to_string(&request).expect("requests always serialize")
        })
        .collect();
    let mut stdin = child.stdin.take().expect("stdin was piped");
    let writer = std::thread::spawn(move || {
        for line in requests {
            // A harness that exits early closes the pipe; what it answered still counts.
            if writeln!(stdin, "{line}").is_err() {
                return;
            }
        }
    });

    let stdout = child.stdout.take().expect("stdout was piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let message = match harness::parse_answer(&line) {
                Ok(Some(answer)) => Line::Answer(answer),
                Ok(None) => continue,
                Err(why) => Line::Garbage(why),
            };
            if tx.send(message).is_err() {
                return;
            }
        }
        let _ = tx.send(Line::Closed);
    });

    let deadline = Instant::now() + timeout;
    let mut protocol_error: Option<String> = None;
    loop {
        if pending.is_empty() {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Line::Answer(answer)) => match pending.remove(&answer.case) {
                Some(case) => sink(from_answer(case, answer)),
                None => {
                    let why = format!(
                        "answered for `{}`, a case it was not asked or already answered",
                        answer.case
                    );
                    protocol_error.get_or_insert(why);
                }
            },
            Ok(Line::Garbage(why)) => {
                protocol_error.get_or_insert(why);
            }
            Ok(Line::Closed) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = wait_briefly(&mut child);
                let mut why = format!("`{shown}` exited ({status}) without answering this case");
                if let Some(protocol) = &protocol_error {
                    why.push_str(&format!(
                        "; it also printed something that is not a harness answer: {protocol}"
                    ));
                }
                fail_rest(&mut pending, CaseStatus::Failed, &why, sink);
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let why =
                    format!("`{shown}` did not answer within {:.0} s and was stopped", timeout.as_secs_f64());
                fail_rest(&mut pending, CaseStatus::Timeout, &why, sink);
                break;
            }
        }
    }
    let _ = writer.join();
    let _ = child.kill();
    let _ = child.wait();
}

/// The exit status in words, waiting a moment for the process to finish closing.
fn wait_briefly(child: &mut Child) -> String {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.to_string(),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => return "still running, output closed".to_owned(),
            Err(err) => return format!("status unknown: {err}"),
        }
    }
}

fn not_measured(case: &PlannedCase, status: CaseStatus, why: String) -> CaseResult {
    let mut result = CaseResult::not_measured(
        case.case.id.clone(),
        &case.case.bench,
        case.case.params.clone(),
        status,
        why,
    );
    result.tune = case.tune.clone();
    result.flops = case.flops;
    result.bytes = case.bytes;
    result
}

fn from_answer(case: &PlannedCase, answer: HarnessAnswer) -> CaseResult {
    let status = match (&answer.error, answer.status) {
        (_, Some(status)) => status,
        (Some(_), None) => CaseStatus::Failed,
        (None, None) => CaseStatus::Ok,
    };
    let mut result = not_measured(case, status, String::new());
    result.error = answer.error;
    if status == CaseStatus::Wrong && result.error.is_none() {
        result.error = Some("the harness's correctness check failed".to_owned());
    }
    result.samples_ns = answer.samples_ns;
    result.flops = answer.flops.or(case.flops);
    result.bytes = answer.bytes.or(case.bytes);
    result.correctness = answer.correctness;
    result.timing = Some("harness".to_owned());
    result
}
