//! A harness that crashes, hangs or prints garbage fails only the case it was on; the next case gets a
//! fresh harness.

use predicates::prelude::*;

use crate::common::Workspace;

fn statuses(ws: &Workspace, file: &str) -> Vec<String> {
    let run: serde_json::Value = serde_json::from_str(&ws.read(file)).unwrap();
    run["cases"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn a_crash_fails_only_the_unanswered_cases() {
    let ws = Workspace::new();
    ws.pawl()
        .args(["run", "-o", "run.json"])
        .env("REPLAY_MISBEHAVE", "crash-after-first")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("exited"));
    // Each fresh harness measures one case and crashes preparing its second.
    assert_eq!(statuses(&ws, "run.json"), ["ok", "failed", "ok", "failed", "ok"]);
    let run = ws.read("run.json");
    assert!(run.contains("exit status: 3") && run.contains("before answering `prepare`"), "{run}");
}

#[test]
fn a_hang_times_out_and_keeps_what_was_answered() {
    let ws = Workspace::new();
    ws.pawl()
        .args(["run", "-o", "run.json", "--timeout", "1"])
        .env("REPLAY_MISBEHAVE", "hang-after-first")
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("did not answer `prepare` within 1 s"));
    assert_eq!(statuses(&ws, "run.json"), ["ok", "timeout", "ok", "timeout", "ok"]);
}

#[test]
fn garbage_output_is_a_named_warning_and_every_case_counts() {
    let ws = Workspace::new();
    ws.pawl().args(["run", "-o", "run.json"]).env("REPLAY_MISBEHAVE", "garbage-first").assert().success();
    assert_eq!(statuses(&ws, "run.json"), ["ok"; 5]);
    let run: serde_json::Value = serde_json::from_str(&ws.read("run.json")).unwrap();
    let warning = run["warnings"][0]["message"].as_str().unwrap();
    assert!(warning.contains("output line 1 was ignored") && warning.contains("Traceback"), "{warning}");
    assert_eq!(run["warnings"][0]["case"], "h100/series=sdpa_flash_B32H8S512D64,mode=flushed");
}

#[test]
fn a_wrong_result_is_reported_and_fails_the_check() {
    let ws = Workspace::new();
    ws.run("base.json", &[]);
    ws.pawl().args(["run", "-o", "run.json"]).env("REPLAY_MISBEHAVE", "wrong").assert().code(1);
    assert_eq!(statuses(&ws, "run.json")[0], "wrong");
    ws.pawl()
        .args(["compare", "base.json", "run.json"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("1 failed"));
}

#[test]
fn a_missing_program_fails_its_cases_with_the_reason() {
    let ws = Workspace::new();
    let suite = ws.read("pawl.toml").replace("\"python3\"", "\"no-such-program-pawl\"");
    ws.write("pawl.toml", &suite);
    ws.pawl()
        .args(["run", "-o", "run.json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot start `no-such-program-pawl"));
}

#[test]
fn cuda_benches_without_a_gpu_are_a_clear_error() {
    let ws = Workspace::new();
    if pawl_has_gpu(&ws) {
        eprintln!("skipping: this machine has a GPU");
        return;
    }
    ws.pawl()
        .args(["env"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("GPU").or(predicate::str::contains("driver")));
}

fn pawl_has_gpu(ws: &Workspace) -> bool {
    ws.pawl().args(["env"]).output().map(|o| o.status.success()).unwrap_or(false)
}

#[test]
fn the_minimal_harnesses_of_docs_harness_md_run() {
    // examples/harness: the Python harness, and the C++ one built with g++ (CI has it).
    let dir = tempfile::tempdir().unwrap();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/harness");
    for file in ["pawl.toml", "minimal.py", "minimal.cpp"] {
        std::fs::copy(example.join(file), dir.path().join(file)).unwrap();
    }
    let built = std::process::Command::new("g++")
        .args(["-O2", "-std=c++17", "-o", "minimal-cpp", "minimal.cpp"])
        .current_dir(dir.path())
        .status()
        .expect("g++ runs");
    assert!(built.success());
    let mut cmd = assert_cmd::Command::cargo_bin("pawl").unwrap();
    cmd.current_dir(dir.path()).args(["run", "-o", "run.json", "--max-time", "0.2"]).assert().success();
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("run.json")).unwrap()).unwrap();
    let cases = run["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        assert_eq!(case["status"], "ok", "{case}");
        assert!(case["samples_ns"].as_array().unwrap().len() >= 20, "{}", case["id"]);
    }
    let python = &cases[0];
    assert_eq!(python["correctness"]["mismatches"], 0, "the Python harness's check ran: {python}");
    assert!(run.get("warnings").is_none(), "{run}");
}
