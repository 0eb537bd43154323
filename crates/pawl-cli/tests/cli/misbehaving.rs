//! No misbehaving harness makes `pawl run` lose an answer, hang, or leave a process behind.
//!
//! Each test writes a harness that behaves except for one thing, runs the real `pawl` binary on a
//! small suite, and checks three things: every case of the suite has a result with the right status,
//! the violation is named (in the case's error or in the run's warnings) in words one can act on, and
//! no process the harness started is still running once pawl has exited — neither in the harness's
//! process group nor anywhere else with the test's folder on its command line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

/// A well-behaved harness (every sample about 1 µs, no reference), with a hook: the test's
/// `misbehave(request, reply)` writes its own lines and returns True, or returns False to let the
/// reply go out as it is. Whatever the harness does on purpose, it notes in `events` (one JSON object
/// a line), so the test can hold pawl's words against what really happened.
const HARNESS: &str = r#"
import json, os, subprocess, sys, time

DIR = os.path.dirname(os.path.abspath(__file__))
out = sys.stdout.buffer
lines_written = 0


def note(kind, **fields):
    with open(os.path.join(DIR, "events"), "a") as f:
        f.write(json.dumps(dict(kind=kind, pid=os.getpid(), **fields)) + "\n")


def write(data):
    """Writes bytes to stdout as they are; returns the number of the output line they start."""
    global lines_written
    number = lines_written + 1
    out.write(data)
    out.flush()
    lines_written += data.count(b"\n")
    return number


def send(reply):
    return write(json.dumps(reply).encode() + b"\n")


def case_of(request):
    case = request.get("case") or request["cases"][0]
    return int(case.split("N=")[1])


def first_time(key):
    """True once per test, across fresh harness processes."""
    path = os.path.join(DIR, "once-" + key)
    if os.path.exists(path):
        return False
    open(path, "w").close()
    return True


def grandchild():
    """A process of the harness's own that would sleep for a minute, holding its stdout."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", DIR + "/grandchild"],
                             stderr=subprocess.DEVNULL)
    note("grandchild", child=child.pid)
    return child


def answer(request):
    op = request["op"]
    if op == "time":
        return {"samples_ns": [1000.0 + i % 7 for i in range(len(request["cases"]))]}
    if op == "check":
        return {"unchecked": True}
    return {"ok": True}


note("start")
"#;

const HARNESS_LOOP: &str = r#"
for line in sys.stdin:
    request = json.loads(line)
    reply = answer(request)
    reply["seq"] = request["seq"]
    if not misbehave(request, reply):
        send(reply)
"#;

/// A folder with a suite of `cases` cases (`N` = 1, 2, …) of one `command` bench, run by a harness
/// that misbehaves as `misbehave` says.
struct Suite {
    dir: tempfile::TempDir,
}

impl Suite {
    fn new(cases: usize, misbehave: &str) -> Suite {
        let dir = tempfile::tempdir().unwrap();
        let harness = dir.path().join("harness.py");
        std::fs::write(&harness, format!("{HARNESS}\n{misbehave}\n{HARNESS_LOOP}")).unwrap();
        let n: Vec<String> = (1..=cases).map(|n| n.to_string()).collect();
        let suite = format!(
            r#"[suite]
name = "misbehaving"

[suite.measure]
warmup_ms = 1
min_samples = 16
max_samples = 64
max_time_s = 0.5
timeout_s = 30

[[bench]]
name = "b"
kind = "command"
run = ['python3', '{}']
params = {{ N = [{}] }}
"#,
            harness.display(),
            n.join(", ")
        );
        std::fs::write(dir.path().join("pawl.toml"), suite).unwrap();
        Suite { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `pawl run -o run.json` in the folder, with `args` after.
    fn pawl(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("pawl").unwrap();
        cmd.current_dir(self.path())
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .args(["run", "-o", "run.json"])
            .args(args)
            .timeout(Duration::from_secs(120));
        cmd
    }

    /// Runs pawl, which must exit with `code`; returns its standard error and how long it took.
    fn run(&self, args: &[&str], code: i32) -> (String, Duration) {
        let start = Instant::now();
        let output = self.pawl(args).output().unwrap();
        let took = start.elapsed();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(code), "pawl run exited otherwise; its stderr:\n{stderr}");
        (stderr, took)
    }

    fn run_file(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path().join("run.json")).unwrap()).unwrap()
    }

    /// Every case's status, in order; the suite's every case must be there.
    fn statuses(&self) -> Vec<String> {
        let run = self.run_file();
        run["cases"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap().to_owned()).collect()
    }

    /// The `error` of case `N = n`.
    fn error(&self, n: usize) -> String {
        let run = self.run_file();
        let case = run["cases"].as_array().unwrap().iter().find(|c| c["params"]["N"] == n).unwrap();
        case["error"].as_str().unwrap_or_default().to_owned()
    }

    /// The run's warnings as `(case, message)`.
    fn warnings(&self) -> Vec<(String, String)> {
        let run = self.run_file();
        let Some(warnings) = run["warnings"].as_array() else { return vec![] };
        warnings
            .iter()
            .map(|w| {
                (w["case"].as_str().unwrap_or_default().to_owned(), w["message"].as_str().unwrap().to_owned())
            })
            .collect()
    }

    /// The one warning about case `N = n` that contains `text`.
    fn warning(&self, n: usize, text: &str) -> String {
        let case = format!("b/N={n}");
        let found: Vec<String> = self
            .warnings()
            .into_iter()
            .filter(|(c, m)| *c == case && m.contains(text))
            .map(|(_, m)| m)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one warning about {case} saying `{text}`; the warnings: {:#?}",
            self.warnings()
        );
        found.into_iter().next().unwrap()
    }

    /// `pawl compare run.json run.json`, which must read the run file pawl wrote; returns its report.
    fn compare(&self) -> String {
        let output = Command::cargo_bin("pawl")
            .unwrap()
            .current_dir(self.path())
            .env("NO_COLOR", "1")
            .args(["compare", "run.json", "run.json"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_ne!(
            output.status.code(),
            Some(2),
            "pawl compare cannot read the run file pawl wrote: {stderr}"
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// What the harness noted of `kind`.
    fn events(&self, kind: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.path().join("events")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["kind"] == kind)
            .collect()
    }

    /// The harness processes started (each the leader of its own process group).
    fn harness_pids(&self) -> BTreeSet<u32> {
        self.events("start").iter().map(|e| e["pid"].as_u64().unwrap() as u32).collect()
    }

    /// No process of the harnesses' groups, and none with this folder on its command line, runs:
    /// every one has exited (a zombie has). Processes killed a moment ago may take that moment.
    fn assert_nothing_left(&self) {
        let groups = self.harness_pids();
        assert!(!groups.is_empty(), "no harness ever started");
        let marker = self.path().to_string_lossy().into_owned();
        let mut left = survivors(&groups, &marker);
        let until = Instant::now() + Duration::from_secs(10);
        while !left.is_empty() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
            left = survivors(&groups, &marker);
        }
        for (pid, _) in &left {
            let _ = Process::new("sh").args(["-c", &format!("kill -9 {pid}")]).status();
        }
        assert!(left.is_empty(), "processes outlived pawl: {left:#?}");
    }
}

/// Live processes in one of `groups` or with `marker` on their command line, with their command lines.
fn survivors(groups: &BTreeSet<u32>, marker: &str) -> Vec<(u32, String)> {
    let mut left = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        // The process may end while it is read: then it is gone, which is what is wanted.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((state, pgrp)) = state_and_group(&stat) else { continue };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if state != 'Z' && (groups.contains(&pgrp) || cmdline.contains(marker)) {
            left.push((pid, cmdline));
        }
    }
    left
}

/// The state and process group in `/proc/PID/stat`: `pid (comm) S ppid pgrp …`, where comm may hold
/// spaces and parentheses.
fn state_and_group(stat: &str) -> Option<(char, u32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

fn pawl_path() -> PathBuf {
    assert_cmd::cargo::cargo_bin("pawl")
}

#[test]
fn a_line_that_is_not_utf8_costs_only_that_line() {
    // Before its first answer to `time` of case 1, the harness prints a log line with one byte that
    // is not UTF-8.
    let suite = Suite::new(
        3,
        r#"
def misbehave(request, reply):
    if request["op"] == "time" and case_of(request) == 1 and first_time("latin1"):
        note("not_utf8", line=write(b"caf\xe9 is ready\n"))
    return False
"#,
    );
    suite.run(&[], 0);
    assert_eq!(suite.statuses(), ["ok", "ok", "ok"], "later answers still count");
    let line = suite.events("not_utf8")[0]["line"].as_u64().unwrap();
    let warning = suite.warning(1, "not UTF-8");
    assert!(
        warning.contains(&format!("output line {line} is not UTF-8"))
            && warning.contains("byte 0xe9 at offset 3")
            && warning.contains("caf\u{fffd} is ready"),
        "the warning names the line, the byte and shows the text: {warning}"
    );
    assert_eq!(suite.harness_pids().len(), 1, "one harness measured every case");
    suite.assert_nothing_left();
}

#[test]
fn an_answer_that_is_not_utf8_times_out_its_request_and_says_why() {
    // The answer itself to case 1's `check` carries the bad byte: it cannot be read, so the request
    // waits for its timeout; the harness is stopped and case 2 gets a fresh one.
    let suite = Suite::new(
        2,
        r#"
def misbehave(request, reply):
    if request["op"] == "check" and case_of(request) == 1:
        reply["unchecked"] = True
        note("bad_answer", line=write(json.dumps(reply).encode()[:-1] + b', "note": "\xff"}\n'))
        return True
    return False
"#,
    );
    let (_, took) = suite.run(&["--timeout", "2"], 1);
    assert_eq!(suite.statuses(), ["timeout", "ok"]);
    let line = suite.events("bad_answer")[0]["line"].as_u64().unwrap();
    suite.warning(1, &format!("output line {line} is not UTF-8"));
    let error = suite.error(1);
    assert!(error.contains("did not answer `check` within 2 s"), "{error}");
    assert!(
        error.contains(&format!("output line {line} is not UTF-8")),
        "the error points at the line: {error}"
    );
    assert_eq!(suite.harness_pids().len(), 2);
    assert!(took < Duration::from_secs(25), "{took:?}");
    suite.assert_nothing_left();
}

#[test]
fn protocol_violations_are_warnings_and_every_answer_counts() {
    // Case 1: garbage lines around the answer to `prepare`. Case 2: an answer to a request never
    // sent, before the real one. Case 3: `check` answered twice. Case 4: `prepare` answered with an
    // error, then again with `ok`. Case 5: the very last answer (its `release`) sent twice.
    let suite = Suite::new(
        5,
        r#"
def misbehave(request, reply):
    op, n = request["op"], case_of(request)
    if op == "prepare" and n == 1:
        note("garbage", line=write(b"Loading model weights...\n"))
        send(reply)
        note("garbage", line=write(b'{"status": "warming up"}\n'))
        return True
    if op == "prepare" and n == 2:
        note("never_sent", line=send({"seq": request["seq"] + 100, "ok": True}), seq=request["seq"] + 100)
        return False
    if op == "check" and n == 3:
        send(reply)
        note("duplicate", line=send(reply), seq=request["seq"])
        return True
    if op == "prepare" and n == 4:
        send({"seq": request["seq"], "error": "no such size"})
        note("after_error", line=send(reply), seq=request["seq"])
        return True
    if op == "release" and n == 5:
        send(reply)
        note("last_duplicate", line=send(reply), seq=request["seq"])
        return True
    return False
"#,
    );
    suite.run(&[], 1);
    assert_eq!(suite.statuses(), ["ok", "ok", "ok", "failed", "ok"]);
    assert!(suite.error(4).contains("the harness reports: no such size"), "{}", suite.error(4));

    let garbage = suite.events("garbage");
    let first = suite.warning(1, &format!("output line {} was ignored", garbage[0]["line"]));
    assert!(
        first.contains("not a harness answer") && first.contains("`Loading model weights...`"),
        "{first}"
    );
    // Printed after the answer to `prepare`, it is read while `check` waits.
    let second = suite.warning(1, &format!("output line {} was ignored", garbage[1]["line"]));
    assert!(second.contains("unknown field `status`"), "{second}");

    let event = &suite.events("never_sent")[0];
    suite.warning(
        2,
        &format!("output line {} answers request {}, which was never sent", event["line"], event["seq"]),
    );
    // Each is read while the next request waits: the late answer to case 4's `prepare` comes while
    // case 5 is prepared.
    for (kind, n) in [("duplicate", 3), ("after_error", 5), ("last_duplicate", 5)] {
        let event = &suite.events(kind)[0];
        suite.warning(
            n,
            &format!(
                "output line {} answers request {}, which was answered already",
                event["line"], event["seq"]
            ),
        );
    }
    assert_eq!(suite.harness_pids().len(), 1, "violations do not cost the harness");
    suite.assert_nothing_left();
}

#[test]
fn a_flood_of_garbage_is_counted_not_kept() {
    // Instead of answering `prepare` of case 1, the harness prints garbage as fast as it can.
    let suite = Suite::new(
        2,
        r#"
def misbehave(request, reply):
    if request["op"] == "prepare" and case_of(request) == 1:
        while True:
            out.write(b"debug: still loading\n" * 1000)
    return False
"#,
    );
    suite.run(&["--timeout", "2"], 1);
    assert_eq!(suite.statuses(), ["timeout", "ok"]);
    // Ten lines word for word, and the count of the rest.
    let warnings = suite.warnings();
    assert_eq!(warnings.len(), 11, "{warnings:#?}");
    assert!(warnings[..10].iter().all(|(_, m)| m.contains("`debug: still loading`")), "{warnings:#?}");
    let summary = suite.warning(1, "more warnings like these were not kept");
    let more: u64 = summary.split_whitespace().next().unwrap().parse().unwrap();
    assert!(more > 100, "{summary}");
    let size = std::fs::metadata(suite.path().join("run.json")).unwrap().len();
    assert!(size < 100_000, "the run file holds {size} bytes");
    suite.assert_nothing_left();
}

#[test]
fn a_100_mb_line_is_dropped_with_bounded_memory() {
    // Before its first answer to `time` of case 1, the harness writes 100 MB without a newline, then
    // ends the line and answers. At `release` it notes pawl's peak memory (VmHWM of its parent).
    let suite = Suite::new(
        2,
        r#"
def misbehave(request, reply):
    if request["op"] == "time" and case_of(request) == 1 and first_time("long"):
        number = lines_written + 1
        chunk = b"x" * (1 << 20)
        for _ in range(100):
            write(chunk)
        write(b"\n")
        note("long_line", line=number)
    if request["op"] == "release" and case_of(request) == 1:
        with open(f"/proc/{os.getppid()}/status") as f:
            peak = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
        note("pawl_peak_kib", kib=peak)
    return False
"#,
    );
    let (_, took) = suite.run(&[], 0);
    assert_eq!(suite.statuses(), ["ok", "ok"], "the answer after the long line counts");
    let line = suite.events("long_line")[0]["line"].as_u64().unwrap();
    let warning = suite.warning(1, &format!("output line {line} is longer than the limit of 16777216 bytes"));
    assert!(warning.contains("dropped"), "{warning}");
    let peak_mib = suite.events("pawl_peak_kib")[0]["kib"].as_u64().unwrap() / 1024;
    eprintln!("pawl's peak memory with a 100 MB line: {peak_mib} MiB; the run took {took:?}");
    assert!(peak_mib < 64, "pawl's memory grew with the line: {peak_mib} MiB at its peak");
    assert!(took < Duration::from_secs(60), "{took:?}");
    suite.assert_nothing_left();
}

#[test]
fn a_hang_in_time_is_a_timeout_and_kills_the_grandchild() {
    let suite = Suite::new(
        2,
        r#"
def misbehave(request, reply):
    if request["op"] == "time" and case_of(request) == 1:
        grandchild()
        time.sleep(60)
    return False
"#,
    );
    let (_, took) = suite.run(&["--timeout", "2"], 1);
    assert_eq!(suite.statuses(), ["timeout", "ok"]);
    let error = suite.error(1);
    assert!(
        error.contains("did not answer `time` within 2 s (timeout_s)")
            && error.contains("with every process it started"),
        "{error}"
    );
    assert_eq!(suite.harness_pids().len(), 2, "case 2 had a fresh harness");
    assert_eq!(suite.events("grandchild").len(), 1);
    assert!(took < Duration::from_secs(30), "{took:?}");
    suite.assert_nothing_left();
}

#[test]
fn an_exit_with_a_grandchild_holding_stdout_does_not_wait_for_it() {
    // In the middle of case 1 the harness leaves a grandchild that holds its standard output, and
    // exits. pawl must not wait for the pipe to close (the grandchild would sleep a minute, twice the
    // timeout): the exit fails case 1 at once, and case 2 is measured by a fresh harness.
    let suite = Suite::new(
        2,
        r#"
def misbehave(request, reply):
    if request["op"] == "time" and case_of(request) == 1:
        grandchild()
        os._exit(3)
    return False
"#,
    );
    let (_, took) = suite.run(&["--timeout", "30"], 1);
    assert_eq!(suite.statuses(), ["failed", "ok"]);
    let error = suite.error(1);
    assert!(error.contains("exited (exit status: 3) before answering `time`"), "{error}");
    assert_eq!(suite.harness_pids().len(), 2, "case 2 had a fresh harness");
    assert!(took < Duration::from_secs(15), "pawl waited for the grandchild: {took:?}");
    suite.assert_nothing_left();
}

#[test]
fn an_error_with_negative_samples_writes_a_run_file_compare_reads() {
    // Case 1 answers `time` with an error and negative samples; case 2 with negative samples only.
    let suite = Suite::new(
        3,
        r#"
def misbehave(request, reply):
    if request["op"] == "time" and case_of(request) == 1:
        reply["error"] = "CUDA out of memory"
        reply["samples_ns"] = [-1.0] * len(request["cases"])
    if request["op"] == "time" and case_of(request) == 2:
        reply["samples_ns"] = [-5.0] * len(request["cases"])
    return False
"#,
    );
    suite.run(&[], 1);
    assert_eq!(suite.statuses(), ["failed", "failed", "ok"]);
    assert!(suite.error(1).contains("the harness reports: CUDA out of memory"), "{}", suite.error(1));
    assert!(suite.error(2).contains("the sample -5.0"), "{}", suite.error(2));
    let report = suite.compare();
    assert!(report.contains("2 failed"), "{report}");
    suite.assert_nothing_left();
}

#[test]
fn bad_samples_fail_their_case_and_are_named() {
    // Each of cases 1-4 answers its first `time` badly: too few samples, a zero, a NaN (as Python's
    // json writes it: not JSON), and 1e400 (beyond f64). Case 5 behaves.
    let suite = Suite::new(
        5,
        r#"
def misbehave(request, reply):
    if request["op"] != "time" or not first_time(str(case_of(request))):
        return False
    n, seq = case_of(request), request["seq"]
    if n == 1:
        reply["samples_ns"] = reply["samples_ns"][:3]
    elif n == 2:
        reply["samples_ns"][5] = 0
    elif n == 3:
        reply["samples_ns"][0] = float("nan")
        note("bad_json", line=send(reply))
        return True
    elif n == 4:
        note("bad_json", line=write(b'{"seq": %d, "samples_ns": [1e400]}\n' % seq))
        return True
    return False
"#,
    );
    let (_, took) = suite.run(&["--timeout", "2"], 1);
    assert_eq!(suite.statuses(), ["failed", "failed", "timeout", "timeout", "ok"]);
    assert!(suite.error(1).contains("the harness answered 3 samples for 16 requested"), "{}", suite.error(1));
    let zero = suite.error(2);
    assert!(zero.contains("the sample 0.0") && zero.contains("positive nanoseconds"), "{zero}");
    // A line that is not JSON cannot be told from garbage: the request waits for its timeout, and the
    // case's error names the line.
    let bad_json = suite.events("bad_json");
    for (n, event, why) in [(3, &bad_json[0], "NaN"), (4, &bad_json[1], "number out of range")] {
        let error = suite.error(n);
        assert!(error.contains("did not answer `time` within 2 s"), "{error}");
        assert!(
            error.contains(&format!("output line {} was ignored", event["line"])) && error.contains(why),
            "{error}"
        );
        suite.warning(n, &format!("output line {} was ignored", event["line"]));
    }
    assert!(took < Duration::from_secs(40), "{took:?}");
    suite.compare();
    suite.assert_nothing_left();
}

/// `pawl run` interrupted by `signal` while its harness hangs in `time` with a grandchild.
fn interrupt(signal: &str, code: i32) {
    let suite = Suite::new(
        2,
        r#"
def misbehave(request, reply):
    if request["op"] == "time" and case_of(request) == 1:
        grandchild()
        note("ready")
        time.sleep(60)
    return False
"#,
    );
    let mut pawl = Process::new(pawl_path())
        .current_dir(suite.path())
        .env_remove("GITHUB_ACTIONS")
        .args(["run", "-o", "run.json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    while suite.events("ready").is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!suite.events("ready").is_empty(), "the harness never reached `time`");
    // The shell's own `kill`: a slim system may have no kill program.
    let sent = Process::new("sh").args(["-c", &format!("kill -{signal} {}", pawl.id())]).status().unwrap();
    assert!(sent.success());
    let until = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = pawl.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > until {
            let _ = pawl.kill();
            panic!("pawl did not exit on SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(code));
    suite.assert_nothing_left();
}

#[test]
fn sigint_kills_the_harness_and_its_grandchild() {
    interrupt("INT", 130);
}

#[test]
fn sigterm_kills_the_harness_and_its_grandchild() {
    interrupt("TERM", 143);
}
