//! Concurrent `pawl ratchet --update` on one baseline: every update lands (real processes, one file).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::runs::run_file;

const PROCESSES: usize = 4;
const ROUNDS: usize = 50;

/// One `pawl ratchet --update --accept-new` adding case `id` to `base.json` in `dir`.
fn add_case(dir: &Path, id: &str) {
    let run = dir.join(format!("run-{}.json", id.replace('/', "-")));
    std::fs::write(&run, run_file(&[(id, 100_000.0)])).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pawl"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .args(["ratchet", "--update", "--accept-new", "--baseline", "base.json", "--format", "json"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(output.status.success(), "{id}: {}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn four_updaters_on_one_baseline_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for process in 0..PROCESSES {
            let dir = dir.path();
            scope.spawn(move || {
                for round in 0..ROUNDS {
                    add_case(dir, &format!("p{process}/r{round}"));
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let baseline: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("base.json")).unwrap()).unwrap();
    let testbeds = baseline["testbeds"].as_object().unwrap();
    let kept: usize = testbeds.values().map(|t| t["cases"].as_object().unwrap().len()).sum();
    let updates = PROCESSES * ROUNDS;
    eprintln!(
        "{PROCESSES} processes x {ROUNDS} rounds: {updates} updates, {} lost, in {:.1} s",
        updates - kept,
        elapsed.as_secs_f64()
    );
    assert_eq!(kept, updates, "{} of {updates} updates were lost", updates - kept);
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".pawl-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporaries left: {leftovers:?}");
}

#[cfg(unix)]
#[test]
fn a_symlinked_baseline_is_updated_through_the_link_and_a_hard_linked_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("store")).unwrap();
    std::os::unix::fs::symlink("store/real.json", dir.path().join("base.json")).unwrap();
    add_case(dir.path(), "copy/N=1");
    add_case(dir.path(), "copy/N=2");
    let link = std::fs::symlink_metadata(dir.path().join("base.json")).unwrap();
    assert!(link.file_type().is_symlink(), "the baseline link was replaced by a file");
    let real = std::fs::read_to_string(dir.path().join("store/real.json")).unwrap();
    assert!(real.contains("copy/N=1") && real.contains("copy/N=2"), "{real}");
    assert!(dir.path().join("store/real.json.lock").exists(), "the lock sits beside the real file");

    std::fs::hard_link(dir.path().join("store/real.json"), dir.path().join("copy.json")).unwrap();
    std::fs::write(dir.path().join("run.json"), run_file(&[("copy/N=3", 100_000.0)])).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pawl"))
        .current_dir(dir.path())
        .args(["ratchet", "--update", "--accept-new", "--baseline", "base.json", "run.json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("2 hard links") && stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.path().join("copy.json")).unwrap(), real, "nothing changed");
}
