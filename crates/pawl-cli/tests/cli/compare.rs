use predicates::prelude::*;

use crate::common::Workspace;

/// Two runs replaying disjoint halves of the same recordings: nothing changed.
fn halves(ws: &Workspace) {
    ws.run("a.json", &[("REPLAY_HALF", "a")]);
    ws.run("b.json", &[("REPLAY_HALF", "b")]);
}

#[test]
fn run_writes_a_run_file_and_prints_a_table() {
    let ws = Workspace::new();
    ws.pawl()
        .args(["run", "-o", "run.json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("h100/series=vecadd_1M_f32,mode=flushed"))
        .stdout(predicate::str::contains("run file: run.json"));
    let run: serde_json::Value = serde_json::from_str(&ws.read("run.json")).unwrap();
    assert_eq!(run["schema"], "pawl-run/1");
    assert_eq!(run["cases"].as_array().unwrap().len(), 5);
    let first = &run["cases"][0];
    assert_eq!(first["status"], "ok");
    assert_eq!(first["samples_ns"].as_array().unwrap().len(), 500);
    assert!(first["stats"]["median_ns"].as_f64().unwrap() > 70_000.0);
}

#[test]
fn halves_of_one_recording_compare_unchanged_in_every_format() {
    let ws = Workspace::new();
    halves(&ws);
    ws.pawl()
        .args(["compare", "a.json", "b.json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("5 unchanged"));
    for format in ["json", "markdown", "junit", "github"] {
        ws.pawl().args(["compare", "a.json", "b.json", "--format", format]).assert().success();
    }
    let out = ws.pawl().args(["compare", "a.json", "b.json", "--format", "json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdicts = report["verdicts"].as_array().unwrap();
    assert!(verdicts.iter().all(|v| v["kind"] == "unchanged"), "{report:#}");
}

#[test]
fn a_planted_slowdown_regresses_with_exit_1() {
    let ws = Workspace::new();
    ws.run("base.json", &[]);
    ws.run("slow.json", &[("REPLAY_SCALE", "1.10")]);
    ws.pawl()
        .args(["compare", "base.json", "slow.json"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("5 regressed"));
    ws.pawl()
        .args(["compare", "base.json", "slow.json", "--format", "markdown", "-o", "comment.md"])
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty());
    let markdown = ws.read("comment.md");
    assert!(markdown.starts_with("<!-- pawl:replay -->"), "{markdown}");
    assert!(markdown.contains("regressed"), "{markdown}");
    ws.pawl()
        .args(["compare", "base.json", "slow.json", "--format", "junit"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("<failure"));
    ws.pawl()
        .args(["compare", "base.json", "slow.json", "--format", "github"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("::error"));
}

#[test]
fn a_planted_speedup_improves() {
    let ws = Workspace::new();
    ws.run("base.json", &[]);
    ws.run("fast.json", &[("REPLAY_SCALE", "0.90")]);
    ws.pawl()
        .args(["compare", "base.json", "fast.json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("5 improved"));
}

#[test]
fn two_run_files_get_the_drift_allowance_between_processes() {
    // 5% of the 8 µs vecadd is 0.4 µs, within what a kernel that short shifts between two processes
    // (250 ns is 3.1% of it): inconclusive, not a regression; the longer kernels regress.
    let ws = Workspace::new();
    ws.run("base.json", &[]);
    ws.run("slow.json", &[("REPLAY_SCALE", "1.05")]);
    let out = ws.pawl().args(["compare", "base.json", "slow.json", "--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdicts = report["verdicts"].as_array().unwrap();
    for v in verdicts {
        let (id, kind, reason) = (v["id"].as_str().unwrap(), v["kind"].as_str().unwrap(), &v["reason"]);
        let want = if id.contains("vecadd") { "inconclusive" } else { "regressed" };
        assert_eq!(kind, want, "{id}: {reason}");
        // The allowance: 1%, or 250 ns where that is more.
        let drift = reason["drift"].as_f64().unwrap();
        assert!(drift >= 0.01 && (drift > 0.03) == id.contains("vecadd"), "{id}: {reason}");
    }
    let human = ws.pawl().args(["compare", "base.json", "slow.json"]).output().unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("drift allowance 1% (at least 250 ns) between processes"), "{text}");
    // Without the allowance (as if both sides came from one process) the same 5% is called.
    ws.pawl()
        .args(["compare", "base.json", "slow.json", "--drift", "0", "--drift-ns", "0"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("5 regressed"));
}

#[test]
fn tolerance_flag_is_honoured_and_checked() {
    let ws = Workspace::new();
    ws.run("base.json", &[]);
    ws.run("slow.json", &[("REPLAY_SCALE", "1.05")]);
    ws.pawl()
        .args(["compare", "base.json", "slow.json", "--tolerance", "0.10"])
        .assert()
        .success()
        .stdout(predicate::str::contains("5 unchanged"));
    ws.pawl()
        .args(["compare", "base.json", "slow.json", "--tolerance", "5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--tolerance"));
}

#[test]
fn github_format_appends_the_step_summary() {
    let ws = Workspace::new();
    halves(&ws);
    let summary = ws.write("summary.md", "earlier step\n");
    ws.pawl()
        .args(["compare", "a.json", "b.json", "--format", "github"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .assert()
        .success();
    let text = ws.read("summary.md");
    assert!(text.starts_with("earlier step\n"), "{text}");
    assert!(text.contains("<!-- pawl:replay -->"), "{text}");
}
