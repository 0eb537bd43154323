//! The `command` backend: harness processes, each under `pawl-supervise`, driven by the measuring
//! engine over the harness protocol (`pawl_core::harness`). This is how PyTorch, Triton or any other
//! framework is measured, by the same warm-up, check and stopping rule as pawl's own kernels.
//!
//! Cases whose argv renders the same share one process, started at their first case. Every request
//! waits for its answer at most the bench's `timeout_s` (the suite's, by default); a harness that does
//! not answer in time is stopped with every process it started, and that case is a `timeout`. A harness
//! that exits fails the case in progress, and the next case starts a fresh one. Whatever else it prints
//! on standard output — a line that is not an answer, an answer to a request it was never sent or had
//! answered already, a line that is not UTF-8 or too long — is a warning of the run, never silently
//! dropped: the first [`WARNINGS_PER_CASE`] of a case word for word, the rest counted, so that a
//! harness printing in a loop fills neither pawl's memory nor the run file. A request that times out
//! names the last line that was not its answer (an answer with a NaN is not JSON).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pawl_core::case::CaseId;
use pawl_core::engine::{Backend, Batch, Check, Failure, Handle};
use pawl_core::harness::{self, Answer, Op, PROTOCOL, Request};
use pawl_core::plan::PlannedCase;
use pawl_core::run::RunWarning;
use pawl_core::suite::{Bench, BenchKind, MeasureSettings, limits};
use pawl_supervise::{Child, Command, Event, Stdin, deadline_after};

/// How long a harness gets to exit by itself once its input is closed at the end of a bench.
const EXIT_WAIT: Duration = Duration::from_secs(5);
/// Warnings kept word for word per case; more are counted.
const WARNINGS_PER_CASE: u64 = 10;

/// The engine's backend for `kind = "command"` benches.
#[derive(Debug, Default)]
pub struct HarnessBackend {
    /// Set in every harness's environment, over what pawl's own holds (`CUDA_VISIBLE_DEVICES` pins the
    /// harnesses to a GPU).
    env: Vec<(String, String)>,
    harnesses: Vec<Harness>,
    cases: BTreeMap<u32, Prepared>,
    next: u32,
    /// Protocol violations, complete once [`HarnessBackend::finish`] has run; the caller moves them
    /// into the run.
    pub warnings: Vec<RunWarning>,
    /// Violations per case so far, kept in `warnings` or only counted.
    violations: BTreeMap<CaseId, u64>,
    /// Most harness processes kept running at once; the one used longest ago (with no prepared case)
    /// is closed to start another. `None`: no limit.
    max_processes: Option<usize>,
    /// Requests sent so far, to tell which harness was used last.
    clock: u64,
}

/// One harness process (or the place of one that is not running).
#[derive(Debug)]
struct Harness {
    argv: Vec<String>,
    cwd: PathBuf,
    child: Option<Child>,
    seq: u64,
    /// The case of its latest request: what it prints after its last answer is about that case.
    case: Option<CaseId>,
    /// The backend's clock at its latest request.
    last_used: u64,
}

/// A prepared case: its harness, its id, and how long each of its requests may take.
#[derive(Clone, Debug)]
struct Prepared {
    harness: usize,
    id: CaseId,
    timeout: Duration,
}

impl Harness {
    fn shown(&self) -> String {
        harness::shown(&self.argv.join(" "))
    }
}

impl HarnessBackend {
    /// A backend that keeps at most `max` harness processes running: for `pawl tune`, where each
    /// configuration may need a process of its own (a tune value in the argv).
    pub fn with_max_processes(max: usize) -> HarnessBackend {
        HarnessBackend { max_processes: Some(max.max(2)), ..HarnessBackend::default() }
    }

    /// A backend whose harnesses start with `key=value` in their environment.
    pub fn with_env(key: &str, value: &str) -> HarnessBackend {
        HarnessBackend::default().and_env(key, value)
    }

    /// This backend, its harnesses starting with `key=value` in their environment too.
    pub fn and_env(mut self, key: &str, value: &str) -> HarnessBackend {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Closes every harness's input and gives it a moment to exit by itself; one that does not is
    /// stopped. What it prints meanwhile, and an exit with an error after every case was answered,
    /// are warnings. Then adds the count of the warnings not kept, per case.
    pub fn finish(&mut self) {
        for index in 0..self.harnesses.len() {
            self.close(index);
        }
        for (case, &count) in &self.violations {
            if count > WARNINGS_PER_CASE {
                self.warnings.push(RunWarning {
                    case: Some(case.clone()),
                    message: format!(
                        "{} more warnings like these were not kept (only the first {WARNINGS_PER_CASE} of a case \
                         are)",
                        count - WARNINGS_PER_CASE
                    ),
                });
            }
        }
        self.violations.clear();
    }

    /// Closes harness `index`, as [`HarnessBackend::finish`] does.
    fn close(&mut self, index: usize) {
        let harness = &mut self.harnesses[index];
        let Some(mut child) = harness.child.take() else { return };
        child.close_stdin();
        let shown = harness.shown();
        let deadline = Instant::now() + EXIT_WAIT;
        // Every request was answered: whatever comes now is not an answer.
        let exit = loop {
            let why = match child.recv(deadline) {
                Event::Exited(exit) => break Some(exit),
                Event::Deadline => break None,
                Event::Line { number, text } => ignored(number, harness::parse_answer(&text), harness.seq),
                bad => Some(bad.to_string()),
            };
            if let (Some(why), Some(case)) = (why, &harness.case) {
                warn(&mut self.warnings, &mut self.violations, case, format!("`{shown}`: {why}"));
            }
        };
        let message = match exit {
            Some(exit) if exit.success() => None,
            Some(exit) => Some(format!("`{shown}` exited ({exit}) after its last answer")),
            None => {
                child.kill();
                Some(format!(
                    "`{shown}` did not exit within {} s of its input closing, so it was stopped",
                    EXIT_WAIT.as_secs()
                ))
            }
        };
        self.warnings.extend(message.map(|message| RunWarning { case: None, message }));
    }

    /// Makes room for one more process under the limit: closes the running harness used longest
    /// ago that holds no prepared case.
    fn make_room(&mut self) {
        let Some(max) = self.max_processes else { return };
        let running = self.harnesses.iter().filter(|h| h.child.is_some()).count();
        if running < max {
            return;
        }
        let busy: Vec<usize> = self.cases.values().map(|p| p.harness).collect();
        let idle = (0..self.harnesses.len())
            .filter(|i| self.harnesses[*i].child.is_some() && !busy.contains(i))
            .min_by_key(|i| self.harnesses[*i].last_used);
        if let Some(index) = idle {
            self.close(index);
        }
    }

    /// The harness for `argv` in `cwd`, started if it is not running.
    fn harness(&mut self, argv: Vec<String>, cwd: &PathBuf) -> Result<usize, Failure> {
        let index = match self.harnesses.iter().position(|h| h.argv == argv && &h.cwd == cwd) {
            Some(index) => index,
            None => {
                let harness =
                    Harness { argv, cwd: cwd.clone(), child: None, seq: 0, case: None, last_used: 0 };
                self.harnesses.push(harness);
                self.harnesses.len() - 1
            }
        };
        if self.harnesses[index].child.is_none() {
            self.make_room();
        }
        let harness = &mut self.harnesses[index];
        if harness.child.is_none() {
            let mut command = Command::new(&harness.argv).current_dir(&harness.cwd).stdin(Stdin::Piped);
            for (key, value) in &self.env {
                command = command.env(key, value);
            }
            let child = command.spawn().map_err(|e| {
                Failure::new(format!("cannot start `{}` in {}: {e}", harness.shown(), cwd.display()))
            })?;
            harness.child = Some(child);
            harness.seq = 0;
        }
        Ok(index)
    }

    /// Sends `op` to harness `index` and waits up to `timeout` for its answer. Lines that are not the
    /// answer become warnings about `case`.
    fn ask(&mut self, index: usize, op: Op, case: &CaseId, timeout: Duration) -> Result<Answer, Failure> {
        self.clock += 1;
        let harness = &mut self.harnesses[index];
        harness.last_used = self.clock;
        let shown = harness.shown();
        let what = op_name(&op);
        let Some(child) = harness.child.as_mut() else {
            return Err(Failure::lost(format!("`{shown}` is not running")));
        };
        harness.seq += 1;
        harness.case = Some(case.clone());
        let seq = harness.seq;
        let line = serde_json::to_string(&Request { seq, op }).map_err(|e| Failure::new(e.to_string()))?;
        // A send to a harness that has ended fails; its exit, read below, says how it ended.
        let _ = child.send_line(&line);
        let deadline = deadline_after(timeout);
        // The last line that was not the answer: perhaps it was meant to be.
        let mut last_ignored = None;
        loop {
            let why = match child.recv(deadline) {
                Event::Line { number, text } => match harness::parse_answer(&text) {
                    Ok(Some(answer)) if answer.seq == seq => return Ok(answer),
                    parsed => ignored(number, parsed, seq),
                },
                Event::Exited(exit) => {
                    harness.child = None;
                    let stderr = if exit.stderr_tail.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", exit.stderr_tail)
                    };
                    return Err(Failure::lost(format!(
                        "`{shown}` exited ({exit}) before answering `{what}`{stderr}{}",
                        last_words(last_ignored)
                    )));
                }
                Event::Deadline => {
                    child.kill();
                    harness.child = None;
                    return Err(Failure::timed_out(format!(
                        "`{shown}` did not answer `{what}` within {} s (timeout_s) and was stopped, with every \
                         process it started{}",
                        timeout.as_secs_f64(),
                        last_words(last_ignored)
                    )));
                }
                bad => Some(bad.to_string()),
            };
            if let Some(why) = why {
                warn(&mut self.warnings, &mut self.violations, case, format!("`{shown}`: {why}"));
                last_ignored = Some(why);
            }
        }
    }

    fn prepared(&self, handle: Handle) -> Result<Prepared, Failure> {
        self.cases
            .get(&handle.0)
            .cloned()
            .ok_or_else(|| Failure::new(format!("no prepared case {}", handle.0)))
    }
}

/// Why output line `number`, parsed as `parsed`, is not an answer to wait for, when `last_sent` is the
/// latest request sent; `None` for a blank line.
fn ignored(number: u64, parsed: Result<Option<Answer>, String>, last_sent: u64) -> Option<String> {
    match parsed {
        Ok(None) => None,
        Ok(Some(answer)) if answer.seq <= last_sent => Some(format!(
            "output line {number} answers request {}, which was answered already or given up; it was ignored",
            answer.seq
        )),
        Ok(Some(answer)) => Some(format!(
            "output line {number} answers request {}, which was never sent; it was ignored",
            answer.seq
        )),
        Err(why) => Some(format!("output line {number} was ignored: {why}")),
    }
}

/// Keeps a warning about `case`, or only counts it once the case has [`WARNINGS_PER_CASE`].
fn warn(
    warnings: &mut Vec<RunWarning>,
    violations: &mut BTreeMap<CaseId, u64>,
    case: &CaseId,
    message: String,
) {
    let count = violations.entry(case.clone()).or_default();
    *count += 1;
    if *count <= WARNINGS_PER_CASE {
        warnings.push(RunWarning { case: Some(case.clone()), message });
    }
}

/// The end of a failed request's message: the last line that was not its answer, if any.
fn last_words(last_ignored: Option<String>) -> String {
    last_ignored.map(|why| format!("; the last line it printed was not an answer: {why}")).unwrap_or_default()
}

/// How long one request may take: the bench's `timeout_s`, else the suite's.
fn timeout(bench_timeout_s: Option<f64>, settings: &MeasureSettings) -> Duration {
    let seconds = bench_timeout_s.unwrap_or(settings.timeout_s);
    limits::duration(seconds)
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Prepare { .. } => "prepare",
        Op::Check { .. } => "check",
        Op::Time { .. } => "time",
        Op::Release { .. } => "release",
    }
}

impl Backend for HarnessBackend {
    fn prepare(
        &mut self,
        bench: &Bench,
        case: &PlannedCase,
        settings: &MeasureSettings,
    ) -> Result<Handle, Failure> {
        let BenchKind::Command(command) = &bench.kind else {
            return Err(Failure::new(format!("bench `{}` is not a `kind = \"command\"` bench", bench.name)));
        };
        let index = self.harness(command.argv(&case.vars()), &command.cwd)?;
        let id = case.case.id.clone();
        let op = Op::Prepare {
            protocol: PROTOCOL,
            case: id.clone(),
            bench: case.case.bench.clone(),
            params: case.case.params.clone(),
            tune: case.tune.clone(),
            flops: case.flops,
            bytes: case.bytes,
            settings: settings.clone(),
        };
        let timeout = timeout(command.timeout_s, settings);
        self.ask(index, op, &id, timeout)?.into_done()?;
        let handle = self.next;
        self.next += 1;
        self.cases.insert(handle, Prepared { harness: index, id, timeout });
        Ok(Handle(handle))
    }

    fn check(&mut self, case: Handle) -> Result<Check, Failure> {
        let p = self.prepared(case)?;
        self.ask(p.harness, Op::Check { case: p.id.clone() }, &p.id, p.timeout)?.into_check()
    }

    /// Times `order`, one `time` request per run of consecutive cases of one harness: the two sides
    /// of a paired comparison whose argv differ (a tune value in it) live in two processes, and are
    /// still timed in the order asked.
    fn time(&mut self, order: &[Handle], flush: bool) -> Result<Batch, Failure> {
        let prepared: Vec<Prepared> = order.iter().map(|h| self.prepared(*h)).collect::<Result<_, _>>()?;
        let mut batch = Batch::default();
        for run in prepared.chunk_by(|a, b| a.harness == b.harness) {
            let first = &run[0];
            let cases = run.iter().map(|p| p.id.clone()).collect();
            let part = self
                .ask(first.harness, Op::Time { cases, flush }, &first.id, first.timeout)?
                .into_batch(run.len())?;
            batch.samples_ns.extend(part.samples_ns);
            batch.state = part.state;
        }
        Ok(batch)
    }

    fn release(&mut self, case: Handle) {
        let Some(p) = self.cases.remove(&case.0) else { return };
        if self.harnesses[p.harness].child.is_none() {
            return;
        }
        let released = self.ask(p.harness, Op::Release { case: p.id.clone() }, &p.id, p.timeout);
        if let Err(failure) = released.and_then(Answer::into_done) {
            let message = format!("releasing the case: {}", failure.message);
            warn(&mut self.warnings, &mut self.violations, &p.id, message);
        }
    }
}
