//! `pawl profile` with a stand-in for Nsight Compute (there is no GPU here): a script that replays a CSV
//! captured by ncu on an H100, or one that hangs with a grandchild, to check how pawl runs ncu — its
//! output files, the base revision from git, and the process group killed when pawl is interrupted.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;

const SUITE: &str = r#"[suite]
name = "t"

[[bench]]
name = "copy"
kind = "cuda"
source = "copy.cu"
kernel = "copy_vec4"
params = { N = [4] }
grid = 1
block = 32
args = [{ name = "x", dtype = "f32", count = "N", output = true }]
reference = { source = "copy.cu", kernel = "copy_ref", grid = 1, block = 32 }
"#;

/// A git repository with the suite committed, the case listed as a target, and `ncu` written from
/// `script` (a shell script).
fn workspace(script: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    std::fs::write(path.join("pawl.toml"), SUITE).unwrap();
    std::fs::write(path.join("copy.cu"), "__global__ void copy_vec4(float* x) {}\n").unwrap();
    std::fs::write(path.join("targets.txt"), "copy/N=4\n").unwrap();
    let ncu = path.join("ncu");
    std::fs::write(&ncu, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&ncu, std::fs::Permissions::from_mode(0o755)).unwrap();
    for args in [&["init", "-q"][..], &["add", "pawl.toml", "copy.cu"], &["commit", "-qm", "suite"]] {
        let out = Process::new("git")
            .arg("-C")
            .arg(path)
            .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    dir
}

fn pawl_profile(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("pawl").unwrap();
    cmd.current_dir(dir).env_remove("GITHUB_ACTIONS").env_remove("PAWL_NCU");
    cmd.args(["profile", "pawl.toml", "--targets", "targets.txt", "--ncu", "./ncu", "--out-dir", "out"]);
    cmd
}

#[test]
fn profiles_head_and_base_from_ncu_csv_files() {
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ncu/h100_copy_block32.csv");
    let dir = workspace(&format!("cat '{}'", csv.display()));
    pawl_profile(dir.path()).args(["--base", "HEAD"]).assert().success();
    let report = std::fs::read_to_string(dir.path().join("out/profile.md")).unwrap();
    assert!(report.contains("### Nsight Compute: regressed cases at base HEAD and head"), "{report}");
    assert!(report.contains("| duration | 81.4 µs | 81.4 µs | = |"), "{report}");
    for side in ["head-1.csv", "base-1.csv"] {
        let written = std::fs::read_to_string(dir.path().join("out").join(side)).unwrap();
        assert_eq!(written, std::fs::read_to_string(&csv).unwrap(), "{side}");
    }
}

#[test]
fn a_failing_ncu_is_a_warning_in_the_report() {
    let dir = workspace("echo '==ERROR== the profiler broke' >&2; exit 1");
    pawl_profile(dir.path()).args(["--base", "no-such-rev"]).assert().success();
    let report = std::fs::read_to_string(dir.path().join("out/profile.md")).unwrap();
    assert!(report.contains("No profile at head: Nsight Compute could not profile copy/N=4 at head: ncu exited with exit status: 1 (==ERROR== the profiler broke)"), "{report}");
    assert!(report.contains(r"cannot take the sources at \`no-such-rev\`, so only head is profiled: \`no-such-rev\` names no commit"), "{report}");
}

/// Whether process `pid` is alive (not gone, not a zombie waiting to be reaped).
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

fn within(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

#[test]
fn an_interrupted_pawl_kills_ncu_and_what_it_started() {
    let dir = workspace("sleep 60 &\necho $! > grandchild.pid\nwait");
    let mut pawl = Process::new(assert_cmd::cargo::cargo_bin("pawl"))
        .current_dir(dir.path())
        .env_remove("GITHUB_ACTIONS")
        .args(["profile", "pawl.toml", "--targets", "targets.txt", "--ncu", "./ncu", "--out-dir", "out"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let read_pid = || std::fs::read_to_string(&pid_file).ok().and_then(|t| t.trim().parse::<u32>().ok());
    assert!(within(Duration::from_secs(30), || read_pid().is_some()), "the stand-in ncu never started");
    let grandchild = read_pid().unwrap();
    assert!(alive(grandchild));

    // The shell's own `kill`: a slim system may have no kill program.
    let sent = Process::new("sh").args(["-c", &format!("kill -INT {}", pawl.id())]).status().unwrap();
    assert!(sent.success());
    let mut status = None;
    assert!(within(Duration::from_secs(20), || {
        status = pawl.try_wait().unwrap();
        status.is_some()
    }));
    assert_eq!(status.unwrap().code(), Some(130));
    assert!(within(Duration::from_secs(10), || !alive(grandchild)), "ncu's child {grandchild} outlived pawl");
}
