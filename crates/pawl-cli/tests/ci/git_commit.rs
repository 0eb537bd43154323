//! `pawl ratchet --update --git-commit` in a real git repository.

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::Command;
use predicates::prelude::*;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Process::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn run_file(median_ns: f64) -> String {
    crate::runs::run_file(&[("copy/N=4", median_ns)])
}

fn pawl(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("pawl").unwrap();
    cmd.current_dir(dir).env("NO_COLOR", "1").env_remove("GITHUB_ACTIONS").env_remove("GITHUB_STEP_SUMMARY");
    cmd.env("GIT_AUTHOR_NAME", "pawl test").env("GIT_AUTHOR_EMAIL", "pawl@example.com");
    cmd.env("GIT_COMMITTER_NAME", "pawl test").env("GIT_COMMITTER_EMAIL", "pawl@example.com");
    cmd
}

#[test]
fn only_the_baseline_is_committed_and_only_when_it_moved() {
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    git(dir, &["init", "-q"]);
    std::fs::write(dir.join("kernel.cu"), "// v1\n").unwrap();
    git(dir, &["add", "kernel.cu"]);
    git(dir, &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "kernel"]);
    std::fs::write(dir.join("run.json"), run_file(100_000.0)).unwrap();

    pawl(dir)
        .args(["ratchet", "--update", "--accept-new", "--git-commit", "--baseline", "base.json", "run.json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("committed base.json"));
    assert_eq!(git(dir, &["log", "-1", "--format=%s"]), "pawl: baseline of suite demo moves up (1 added)");

    // Something else staged and unstaged stays out of the baseline commit.
    std::fs::write(dir.join("kernel.cu"), "// v2, staged\n").unwrap();
    git(dir, &["add", "kernel.cu"]);
    std::fs::write(dir.join("fast.json"), run_file(80_000.0)).unwrap();
    pawl(dir)
        .args(["ratchet", "--update", "--git-commit", "--baseline", "base.json", "fast.json"])
        .assert()
        .success();
    assert_eq!(git(dir, &["log", "-1", "--format=%s"]), "pawl: baseline of suite demo moves up (1 improved)");
    assert_eq!(git(dir, &["show", "--name-only", "--format=", "HEAD"]), "base.json");
    assert!(git(dir, &["log", "-1", "--format=%b"]).contains("copy/N=4: 100 µs -> 80.0 µs"));
    assert_eq!(
        git(dir, &["diff", "--cached", "--name-only"]),
        "kernel.cu",
        "the staged change is still staged"
    );

    // Same speed again: nothing moves, the file is untouched, no commit.
    let head = git(dir, &["rev-parse", "HEAD"]);
    std::fs::write(dir.join("same.json"), run_file(80_000.0)).unwrap();
    pawl(dir)
        .args(["ratchet", "--update", "--git-commit", "--baseline", "base.json", "same.json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("nothing to commit"));
    assert_eq!(git(dir, &["rev-parse", "HEAD"]), head);
}

#[test]
fn update_and_dry_run_exclude_each_other() {
    let dir = tempfile::tempdir().unwrap();
    pawl(dir.path()).args(["ratchet", "--update", "--dry-run", "run.json"]).assert().code(2);
    pawl(dir.path()).args(["ratchet", "--git-commit", "--dry-run", "run.json"]).assert().code(2);
}
