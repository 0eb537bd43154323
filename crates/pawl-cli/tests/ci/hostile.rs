//! Hostile case names and harness output through the CLI: what reaches the log is text, never a
//! workflow command, and the targets file holds one safe id a line.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

use crate::runs::run_file;

/// Fails when a line of `output` could be read by a CI runner as a workflow command, holds a
/// terminal escape sequence or a bidirectional override. Lines that are pawl's own annotations
/// (`::error title=…::`) are allowed when `annotations` is set.
pub fn assert_inert(name: &str, output: &[u8], annotations: bool) {
    let text = String::from_utf8_lossy(output);
    for line in text.lines() {
        let ours = annotations
            && ["::error title=", "::warning title=", "::notice title="].iter().any(|p| line.starts_with(p));
        if ours {
            continue;
        }
        assert!(!line.trim_start().starts_with("::"), "{name}: a workflow command: {line}");
        assert!(!line.contains("##["), "{name}: an old-style workflow command: {line}");
        assert!(!line.contains('\u{1b}') && !line.contains('\u{202E}'), "{name}: {line:?}");
    }
}

fn pawl(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("pawl").unwrap();
    cmd.current_dir(dir).env("NO_COLOR", "1").env_remove("GITHUB_ACTIONS").env_remove("GITHUB_STEP_SUMMARY");
    cmd
}

const SUITE: &str = r#"
[suite]
name = "hostile @alice ::warning::suite"

[[bench]]
name = "h"
kind = "command"
run = ["python3", "harness.py"]
params = { tag = ["::set-env::1", "a##[add-mask]b", "x\u202Ey\u001b[2J"] }
"#;

/// Answers every case (harness protocol 2), except the first, whose prepare fails with a hostile error.
const HARNESS: &str = r#"
import json, sys
prepared = 0
for line in sys.stdin:
    request = json.loads(line)
    answer = {"seq": request["seq"]}
    if request["op"] == "prepare":
        prepared += 1
        if prepared == 1:
            answer["error"] = "boom\n::warning::forged\n##[error]forged too\x1b[31m\u202e"
        else:
            answer["ok"] = True
    elif request["op"] == "check":
        answer["unchecked"] = True
    elif request["op"] == "time":
        answer["samples_ns"] = [1000.0 + i for i in range(len(request["cases"]))]
    else:
        answer["ok"] = True
    print(json.dumps(answer), flush=True)
"#;

#[test]
fn harness_errors_and_hostile_ids_reach_the_log_as_text() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pawl.toml"), SUITE).unwrap();
    std::fs::write(dir.path().join("harness.py"), HARNESS).unwrap();
    let output = pawl(dir.path()).args(["run", "-o", "run.json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The line break is shown as `\n`, so the forged command is text inside pawl's line, not a line of its own.
    assert!(stderr.contains("boom\\n::warning::forged"), "the error is shown, escaped: {stderr}");
    assert_inert("pawl run, stderr", &output.stderr, false);
    assert_inert("pawl run, stdout", &output.stdout, false);
    let validate = pawl(dir.path()).args(["validate", "--list"]).output().unwrap();
    assert!(validate.status.success());
    assert_inert("pawl validate --list", &validate.stdout, false);
}

const IDS: [&str; 6] = [
    "k/tag=::set-env name=X::1",
    "k/tag=a##[add-mask]b",
    "k/tag=two\nlines",
    "k/tag=x\u{202E}y",
    "#k/comment-like",
    "k/who=@alice",
];

/// A suite, a baseline of `IDS` at 100 µs and a run where every one of them takes 150 µs.
fn regressed(dir: &Path) {
    std::fs::write(dir.join("pawl.toml"), SUITE).unwrap();
    let base: Vec<(&str, f64)> = IDS.iter().map(|id| (*id, 100_000.0)).collect();
    let slow: Vec<(&str, f64)> = IDS.iter().map(|id| (*id, 150_000.0)).collect();
    std::fs::write(dir.join("base-run.json"), run_file(&base)).unwrap();
    std::fs::write(dir.join("slow.json"), run_file(&slow)).unwrap();
    let made = pawl(dir)
        .args(["ratchet", "--accept-new", "--baseline", "base.json", "base-run.json"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    assert_inert("pawl ratchet", &made.stderr, false);
}

#[test]
fn a_check_of_hostile_ids_writes_inert_logs_and_a_safe_targets_file() {
    let dir = tempfile::tempdir().unwrap();
    regressed(dir.path());
    let output = pawl(dir.path())
        .env("GITHUB_ACTIONS", "true")
        .args(["check", "--run", "slow.json", "--baseline", "base.json", "--markdown", "report.md"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    assert_inert("pawl check, stdout", &output.stdout, true);
    assert_inert("pawl check, stderr", &output.stderr, false);

    let targets = std::fs::read_to_string(dir.path().join("profile_targets.txt")).unwrap();
    // A `::` inside an id is inert (a line of the file starts with the bench's name); the ids holding
    // a line break, a hidden character or `##[` are left out.
    assert_eq!(
        targets, "k/tag=::set-env name=X::1\nk/who=@alice\n",
        "only ids that read back as they are and print as they are"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("left out of profile_targets.txt"), "{stderr}");
    let markdown = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(!markdown.contains("@alice") && !markdown.contains('\u{202E}'), "{markdown}");
}

#[test]
fn the_targets_file_is_written_only_when_asked_or_something_regressed() {
    let dir = tempfile::tempdir().unwrap();
    regressed(dir.path());
    // Nothing regressed (the baseline's own run), nothing asked: no file.
    pawl(dir.path()).args(["check", "--run", "base-run.json", "--baseline", "base.json"]).assert().success();
    assert!(!dir.path().join("profile_targets.txt").exists(), "written although nothing regressed");
    // Asked: written, empty.
    pawl(dir.path())
        .args(["check", "--run", "base-run.json", "--baseline", "base.json", "--profile-targets", "t.txt"])
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(dir.path().join("t.txt")).unwrap(), "");
}

#[test]
fn profile_refuses_a_targets_file_with_an_unsafe_id() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pawl.toml"), SUITE).unwrap();
    std::fs::write(dir.path().join("t.txt"), "h/tag=ok\nh/tag=\u{1b}[2J::x\n").unwrap();
    pawl(dir.path())
        .args(["profile", "--targets", "t.txt"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("t.txt: line 2").and(predicate::str::contains("\\u{1b}")));
}
