//! The parent side: [`CudaBackend`] runs each bench's cases in a worker process and watches it.
//!
//! A kernel that faults can leave the CUDA context unusable, and one that never returns can hang the
//! process; neither may take the run down. The worker reports each case as it finishes; the parent
//! hands results to the sink at once, kills a worker whose case runs past `timeout_s`, fails only that
//! case (with the CUDA error, or `timeout`), and goes on with the remaining cases in a fresh worker.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pawl_core::backend::{Backend, BackendError, PlannedCase};
use pawl_core::case::CaseId;
use pawl_core::run::{CaseResult, CaseStatus};
use pawl_core::suite::{Bench, BenchKind, MeasureSettings, Suite, limits};

use crate::protocol::{BenchSpec, Message, Request, WireCase};
use crate::timing::TimingMode;

/// Bytes of the worker's standard error kept for messages.
const STDERR_TAIL: usize = 4096;

/// Measures `kind = "cuda"` benches in worker processes.
#[derive(Clone, Debug)]
pub struct CudaBackend {
    worker_argv: Vec<OsString>,
    graph: bool,
}

impl CudaBackend {
    /// `worker_argv` starts a worker: the CLI passes `[current_exe, "__worker"]`.
    pub fn new(worker_argv: Vec<OsString>) -> CudaBackend {
        CudaBackend { worker_argv, graph: false }
    }

    /// Times with CUDA graph batches (warm-cache throughput per launch) instead of single cold launches.
    pub fn with_graph_timing(mut self, graph: bool) -> CudaBackend {
        self.graph = graph;
        self
    }
}

impl Backend for CudaBackend {
    fn measure(
        &mut self,
        suite: &Suite,
        bench: &Bench,
        cases: &[PlannedCase],
        settings: &MeasureSettings,
        sink: &mut dyn FnMut(CaseResult),
    ) -> Result<(), BackendError> {
        let BenchKind::Cuda(cuda) = &bench.kind else {
            return Err(BackendError::new(format!(
                "bench `{}` is not a `kind = \"cuda\"` bench",
                bench.name
            )));
        };
        let spec = BenchSpec::from(cuda);
        let mut remaining: Vec<&PlannedCase> = cases.iter().collect();
        while !remaining.is_empty() {
            let request = Request {
                suite_path: suite.path.clone(),
                bench_name: bench.name.clone(),
                bench: spec.clone(),
                cases: remaining.iter().map(|c| WireCase::from(*c)).collect(),
                settings: settings.clone(),
                timing: TimingMode::for_settings(self.graph, settings),
            };
            let answered = self.run_worker(&request, settings.timeout_s, sink)?;
            remaining.retain(|c| !answered.contains(&c.case.id));
        }
        Ok(())
    }
}

/// The worker's standard output, line by line, through a thread so reads can time out.
fn spawn_reader(stdout: impl Read + Send + 'static) -> Receiver<std::io::Result<String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The last [`STDERR_TAIL`] bytes of the worker's standard error, read by a thread of its own.
struct StderrTail {
    bytes: Arc<Mutex<Vec<u8>>>,
    /// Closed by the reading thread when the worker's standard error ends.
    finished: mpsc::Receiver<()>,
}

impl StderrTail {
    fn spawn(stderr: impl Read + Send + 'static) -> StderrTail {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let keep = bytes.clone();
        let (done, finished) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            let _done = done;
            let mut stderr = stderr;
            let mut buf = [0u8; 1024];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let Ok(mut tail) = keep.lock() else { break };
                tail.extend_from_slice(&buf[..n]);
                let excess = tail.len().saturating_sub(STDERR_TAIL);
                tail.drain(..excess);
            }
        });
        StderrTail { bytes, finished }
    }

    /// `; worker stderr: …`, or nothing. Called once the worker has exited: waits briefly for the
    /// reading thread to drain the pipe, so the last words of a crashing worker are not lost.
    fn text(&self) -> String {
        let _ = self.finished.recv_timeout(Duration::from_secs(2));
        let tail =
            self.bytes.lock().map(|t| String::from_utf8_lossy(&t).trim().to_owned()).unwrap_or_default();
        if tail.is_empty() { String::new() } else { format!("; worker stderr: {tail}") }
    }
}

/// A worker process that is killed and reaped when dropped.
struct Worker {
    child: Child,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn send_request(stdin: &mut ChildStdin, request: &Request) -> std::io::Result<()> {
    let line = serde_json::to_string(request).map_err(std::io::Error::other)?;
    writeln!(stdin, "{line}")?;
    stdin.flush()
}

impl CudaBackend {
    /// Runs one worker over `request`'s cases. Returns the ids that got a result; a case the worker
    /// started but did not finish gets a failed or timeout result here, so every worker makes progress.
    fn run_worker(
        &self,
        request: &Request,
        timeout_s: f64,
        sink: &mut dyn FnMut(CaseResult),
    ) -> Result<Vec<CaseId>, BackendError> {
        let (program, args) = self
            .worker_argv
            .split_first()
            .ok_or_else(|| BackendError::new("the CUDA backend was given no worker command"))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| BackendError::new(format!("cannot start the CUDA worker {program:?}: {e}")))?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(BackendError::new("the CUDA worker was started without pipes"));
        };
        let mut worker = Worker { child };
        let lines = spawn_reader(stdout);
        let stderr_tail = StderrTail::spawn(stderr);
        // A worker that exits before reading the request shows up below as an early exit.
        let _ = send_request(&mut stdin, request);
        drop(stdin);

        let timeout = limits::duration(timeout_s.max(0.001));
        let mut answered: Vec<CaseId> = Vec::new();
        // The case the watchdog is timing: the first case counts from the worker's start (its time
        // includes opening the GPU and compiling pawl's own kernels).
        let mut current: Option<(CaseId, Instant)> =
            request.cases.first().map(|c| (c.id.clone(), Instant::now()));
        let case_of = |id: &CaseId| request.cases.iter().find(|c| &c.id == id);
        let fail = |id: &CaseId, status: CaseStatus, message: String| {
            let case = case_of(id);
            let mut result = CaseResult::not_measured(
                id.clone(),
                request.bench_name.clone(),
                case.map(|c| c.params.clone()).unwrap_or_default(),
                status,
                message,
            );
            if let Some(case) = case {
                result.tune = case.tune.clone();
                result.flops = case.flops;
                result.bytes = case.bytes;
            }
            result
        };
        let stderr_text = || stderr_tail.text();

        loop {
            let wait = match &current {
                Some((_, since)) => timeout.saturating_sub(since.elapsed()),
                None => timeout,
            };
            match lines.recv_timeout(wait) {
                Ok(Ok(line)) => {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let message: Message = match serde_json::from_str(&line) {
                        Ok(message) => message,
                        Err(e) => {
                            let shown: String = line.chars().take(200).collect();
                            let text =
                                format!("the CUDA worker sent a line that is not a message ({e}): `{shown}`");
                            return Ok(self.give_up(current, answered, text, &fail, sink));
                        }
                    };
                    match message {
                        Message::Started { case } => {
                            if case_of(&case).is_none() || answered.contains(&case) {
                                let text = format!(
                                    "the CUDA worker started case `{case}`, which it was not asked for"
                                );
                                return Ok(self.give_up(current, answered, text, &fail, sink));
                            }
                            current = Some((case, Instant::now()));
                        }
                        Message::Progress { .. } => {}
                        Message::Result { result } => {
                            if case_of(&result.id).is_none() || answered.contains(&result.id) {
                                let text =
                                    format!("the CUDA worker answered case `{}` twice or unasked", result.id);
                                return Ok(self.give_up(current, answered, text, &fail, sink));
                            }
                            answered.push(result.id.clone());
                            current = None;
                            sink(*result);
                        }
                        Message::Done => {
                            if answered.is_empty() && !request.cases.is_empty() {
                                return Err(BackendError::new(
                                    "the CUDA worker finished without answering any case it was given",
                                ));
                            }
                            return Ok(answered);
                        }
                        Message::Fatal { message } => {
                            if answered.is_empty() {
                                return Err(BackendError::new(message));
                            }
                            return Ok(self.give_up(current, answered, message, &fail, sink));
                        }
                    }
                }
                Ok(Err(e)) => {
                    let text = format!("cannot read the CUDA worker's output: {e}");
                    return Ok(self.give_up(current, answered, text, &fail, sink));
                }
                Err(RecvTimeoutError::Timeout) => {
                    let Some((id, since)) = current.take() else { continue };
                    let _ = worker.child.kill();
                    let _ = worker.child.wait();
                    let text = format!(
                        "no result after {:.1} s (timeout_s = {timeout_s}): the kernel did not finish (a hang?); \
                         the worker was stopped{}",
                        since.elapsed().as_secs_f64(),
                        stderr_text()
                    );
                    sink(fail(&id, CaseStatus::Timeout, text));
                    answered.push(id);
                    return Ok(answered);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // The worker closed its output: it exited (normally after a fault) or crashed.
                    let status = worker.child.wait().ok();
                    let context_lost =
                        status.and_then(|s| s.code()) == Some(i32::from(crate::worker::EXIT_CONTEXT_LOST));
                    if context_lost || current.is_none() {
                        // Every case it started has its result; the rest go to a fresh worker.
                        if answered.is_empty() && current.is_none() && !request.cases.is_empty() {
                            let text =
                                format!("the CUDA worker exited without measuring anything{}", stderr_text());
                            return Err(BackendError::new(text));
                        }
                        return Ok(answered);
                    }
                    let how = match status {
                        Some(s) => s.to_string(),
                        None => "for an unknown reason".to_owned(),
                    };
                    let text =
                        format!("the CUDA worker exited ({how}) while measuring this case{}", stderr_text());
                    return Ok(self.give_up(current, answered, text, &fail, sink));
                }
            }
        }
    }

    /// Fails the case in progress (the first unanswered one if none was started) with `message`.
    fn give_up(
        &self,
        current: Option<(CaseId, Instant)>,
        mut answered: Vec<CaseId>,
        message: String,
        fail: &dyn Fn(&CaseId, CaseStatus, String) -> CaseResult,
        sink: &mut dyn FnMut(CaseResult),
    ) -> Vec<CaseId> {
        if let Some((id, _)) = current.filter(|(id, _)| !answered.contains(id)) {
            sink(fail(&id, CaseStatus::Failed, message));
            answered.push(id);
        }
        answered
    }
}
