use predicates::prelude::*;

use crate::common::Workspace;

#[test]
fn missing_baseline_is_an_error_unless_new_cases_are_accepted() {
    let ws = Workspace::new();
    ws.run("run.json", &[]);
    ws.pawl()
        .args(["ratchet", "run.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no baseline at pawl-baseline.json"))
        .stderr(predicate::str::contains("--accept-new"));
    assert!(!ws.path("pawl-baseline.json").exists());
    ws.pawl().args(["ratchet", "--accept-new", "run.json"]).assert().success();
    let baseline: serde_json::Value = serde_json::from_str(&ws.read("pawl-baseline.json")).unwrap();
    assert_eq!(baseline["schema"], "pawl-baseline/1");
}

#[test]
fn the_ratchet_moves_up_on_improvement_and_never_down() {
    let ws = Workspace::new();
    ws.run("run.json", &[("REPLAY_HALF", "a")]);
    ws.pawl().args(["ratchet", "--accept-new", "run.json"]).assert().success();
    let first = ws.read("pawl-baseline.json");

    // Same code again: nothing moves, the file is byte-identical.
    ws.run("again.json", &[("REPLAY_HALF", "b")]);
    ws.pawl().args(["ratchet", "again.json"]).assert().success();
    assert_eq!(ws.read("pawl-baseline.json"), first);

    // Faster: the baseline moves up.
    ws.run("fast.json", &[("REPLAY_SCALE", "0.9")]);
    ws.pawl().args(["ratchet", "fast.json"]).assert().success().stderr(predicate::str::contains("moved up"));
    let moved = ws.read("pawl-baseline.json");
    assert_ne!(moved, first);

    // Slower than the new baseline: exit 1, the baseline stays where it is, targets are written.
    ws.run("slow.json", &[]);
    ws.pawl().args(["ratchet", "slow.json", "--profile-targets", "targets.txt"]).assert().code(1);
    assert_eq!(ws.read("pawl-baseline.json"), moved);
    let targets = ws.read("targets.txt");
    assert_eq!(targets.lines().count(), 5, "{targets}");
    assert!(targets.lines().all(|l| l.starts_with("h100/series=")), "{targets}");
}

#[test]
fn dry_run_leaves_the_baseline_alone() {
    let ws = Workspace::new();
    ws.run("run.json", &[]);
    ws.pawl().args(["ratchet", "--accept-new", "run.json"]).assert().success();
    let before = ws.read("pawl-baseline.json");
    ws.run("fast.json", &[("REPLAY_SCALE", "0.9")]);
    ws.pawl().args(["ratchet", "--dry-run", "fast.json"]).assert().success();
    assert_eq!(ws.read("pawl-baseline.json"), before);
}

#[test]
fn check_writes_every_report_and_fails_on_regression() {
    let ws = Workspace::new();
    ws.run("run.json", &[]);
    ws.pawl().args(["ratchet", "--accept-new", "run.json"]).assert().success();
    ws.run("slow.json", &[("REPLAY_SCALE", "1.1")]);
    let summary = ws.write("summary.md", "");
    ws.pawl()
        .args(["check", "--run", "slow.json", "--markdown", "c.md", "--junit", "j.xml", "--json", "r.json"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("::error"));
    assert!(ws.read("c.md").starts_with("<!-- pawl:replay -->"));
    assert!(ws.read("j.xml").contains("<failure"));
    let json: serde_json::Value = serde_json::from_str(&ws.read("r.json")).unwrap();
    assert_eq!(json["verdicts"].as_array().unwrap().len(), 5);
    assert_eq!(ws.read("profile_targets.txt").lines().count(), 5);
    assert!(ws.read("summary.md").contains("<!-- pawl:replay -->"));
}

#[test]
fn check_passes_when_nothing_changed() {
    let ws = Workspace::new();
    ws.run("run.json", &[("REPLAY_HALF", "a")]);
    ws.pawl().args(["ratchet", "--accept-new", "run.json"]).assert().success();
    ws.run("again.json", &[("REPLAY_HALF", "b")]);
    ws.pawl().args(["check", "--run", "again.json"]).assert().success();
    assert!(!ws.path("profile_targets.txt").exists(), "nothing regressed and no file was asked for");
}

#[test]
fn check_in_paired_mode_refuses_a_run_file_and_needs_cuda_cases() {
    let ws = Workspace::new();
    ws.run("run.json", &[]);
    ws.pawl().args(["check", "--ab-base", "HEAD", "--run", "run.json"]).assert().code(2);
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(ws.dir.path())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@localhost")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@localhost")
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "."]);
    git(&["add", "pawl.toml", "replay.py"]);
    git(&["commit", "-qm", "suite"]);
    // The replay suite has only `command` benches: paired mode times CUDA kernels, so it says so.
    ws.pawl()
        .args(["check", "--ab-base", "HEAD"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("kind = \"cuda\""));
}
