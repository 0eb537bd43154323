//! `pawl import` through the real binary: each tool's real files in, run files out, and the round trip
//! through `pawl compare` with a planted slowdown (crates/pawl-core/tests/fixtures/import, see its
//! README).

use std::collections::BTreeMap;
use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;

/// A temporary folder to import into; unlike the replay tests, these need no recorded samples.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        Workspace { dir: tempfile::tempdir().unwrap() }
    }

    fn pawl(&self) -> Command {
        let mut cmd = Command::cargo_bin("pawl").unwrap();
        cmd.current_dir(self.dir.path()).env("NO_COLOR", "1").env_remove("GITHUB_STEP_SUMMARY");
        cmd
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }

    fn files(&self) -> Vec<String> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

fn fixture(name: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../pawl-core/tests/fixtures/import").join(name)
}

fn import(ws: &Workspace, file: &str, out: &str) -> String {
    let output = ws.pawl().args(["import", fixture(file).to_str().unwrap(), "-o", out]).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{file}: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// `pawl compare OLD NEW --format json`: the exit code and each case's verdict.
fn verdicts(ws: &Workspace, old: &str, new: &str, extra: &[&str]) -> (i32, BTreeMap<String, String>) {
    let output = ws.pawl().args(["compare", old, new, "--format", "json"]).args(extra).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&output.stderr));
    });
    let kinds = report["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["id"].as_str().unwrap().to_owned(), v["kind"].as_str().unwrap().to_owned()))
        .collect();
    (output.status.code().unwrap(), kinds)
}

/// The round trip of one tool: import its file and its planted-slowdown twin, compare them, and find
/// exactly the planted case regressed. The fixtures were timed on a shared two-core machine whose load
/// moves CPU timings by up to ±20% between runs, so "unchanged" is judged at a 25% tolerance; the planted
/// slowdown doubles the work (+90% and more), far beyond it.
fn round_trip(base: &str, slow: &str, planted: &str) -> (i32, BTreeMap<String, String>) {
    let ws = Workspace::new();
    import(&ws, base, "base.json");
    import(&ws, slow, "slow.json");
    let (code, kinds) = verdicts(&ws, "base.json", "slow.json", &["--tolerance", "0.25"]);
    assert_eq!(kinds.get(planted).map(String::as_str), Some("regressed"), "{kinds:?}");
    // At pawl's default tolerance the planted case is a regression too.
    let (_, strict) = verdicts(&ws, "base.json", "slow.json", &[]);
    assert_eq!(strict.get(planted).map(String::as_str), Some("regressed"), "{strict:?}");
    (code, kinds)
}

fn others<'a>(
    kinds: &'a BTreeMap<String, String>,
    planted: &str,
) -> impl Iterator<Item = (&'a String, &'a String)> {
    kinds.iter().filter(move |(id, _)| id.as_str() != planted)
}

#[test]
fn gbench_round_trip_finds_the_planted_slowdown() {
    let planted = "sum_squares/n=4096";
    let (code, kinds) = round_trip("gbench/repetitions.json", "gbench/repetitions-slow.json", planted);
    for (id, kind) in others(&kinds, planted) {
        let want = if id == "needs_device" { "failed" } else { "unchanged" };
        assert_eq!(kind, want, "{id}");
    }
    assert_eq!(kinds.len(), 8);
    assert_eq!(code, 1, "a regression fails the comparison");
}

#[test]
fn pytest_benchmark_round_trip_finds_the_planted_slowdown() {
    let planted = "test_bench.py::test_sum_squares/n=4096";
    let (code, kinds) = round_trip("pytest-benchmark/run.json", "pytest-benchmark/run-slow.json", planted);
    assert!(others(&kinds, planted).all(|(_, kind)| kind == "unchanged"), "{kinds:?}");
    assert_eq!((kinds.len(), code), (7, 1));
}

#[test]
fn kernel_tuner_round_trip_finds_the_planted_slowdown() {
    let planted = "scale/problem_size=50000,threads_x=256,unroll=2";
    let (_, kinds) = round_trip("kernel-tuner/cache.json", "kernel-tuner/cache-slow.json", planted);
    for (id, kind) in others(&kinds, planted) {
        let want = match id {
            _ if id.contains("threads_x=2048") => "missing", // InvalidConfig: not run, skipped
            _ if id.contains("unroll=3") => "failed",        // CompilationFailedConfig
            _ => "unchanged",
        };
        assert_eq!(kind, want, "{id}");
    }
    assert_eq!(kinds.len(), 12);
}

#[test]
fn nvbench_summaries_are_compared_honestly_as_inconclusive() {
    // Two real nvbench runs without per-sample files: nothing to build an interval on.
    let ws = Workspace::new();
    let printed = import(&ws, "nvbench/test_ref.json", "ref.json");
    assert!(printed.contains("88 with a summary only"), "{printed}");
    assert!(printed.contains("states on 2 devices"), "{printed}");
    import(&ws, "nvbench/test_cmp.json", "cmp.json");
    let (code, kinds) = verdicts(&ws, "ref.json", "cmp.json", &[]);
    let count = |k: &str| kinds.values().filter(|v| v.as_str() == k).count();
    assert_eq!((count("inconclusive"), count("missing"), kinds.len()), (88, 38, 126));
    assert_eq!(code, 0, "nothing regressed, nothing failed");
    ws.pawl()
        .args(["compare", "ref.json", "cmp.json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("summary only"))
        .stdout(predicate::str::contains("88 inconclusive"));
    // The table's notes are short; --verbose says what each side's summary held.
    ws.pawl()
        .args(["compare", "--verbose", "ref.json", "cmp.json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("note: summary only (new): "))
        .stdout(predicate::str::contains("no samples kept"));
}

#[test]
fn import_prints_what_it_took_and_left_out() {
    let ws = Workspace::new();
    let printed = import(&ws, "gbench/repetitions.json", "run.json");
    assert!(printed.contains("(google-benchmark 1.9.5): 7 with samples, 1 failed"), "{printed}");
    assert!(printed.contains("28 aggregate entries (cv, mean, median, stddev) left out"), "{printed}");
    assert!(printed.contains("run file: run.json"), "{printed}");
    let run: serde_json::Value = serde_json::from_str(&ws.read("run.json")).unwrap();
    assert_eq!(run["schema"], "pawl-run/1");
    assert_eq!(run["suite"], "repetitions");
    assert_eq!(run["imported"][0]["tool"], "google-benchmark");
    assert_eq!(run["imported"][0]["version"], "1.9.5");

    let printed = import(&ws, "kernel-tuner/cache-unclosed.json", "kt.json");
    assert!(printed.contains("left unclosed by an interrupted run"), "{printed}");
    let printed = import(&ws, "gbench/aggregates-only.json", "agg.json");
    assert!(printed.contains("7 with a summary only"), "{printed}");
    assert!(printed.contains("summary only, no samples"), "{printed}");
}

#[test]
fn imported_runs_set_a_baseline_through_the_ratchet() {
    let ws = Workspace::new();
    import(&ws, "pytest-benchmark/run.json", "run.json");
    ws.pawl().args(["ratchet", "--baseline", "baseline.json", "--accept-new", "run.json"]).assert().success();
    let baseline: serde_json::Value = serde_json::from_str(&ws.read("baseline.json")).unwrap();
    let cases =
        baseline["testbeds"].as_object().unwrap().values().next().unwrap()["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 7);
    // Summaries never become baseline figures.
    import(&ws, "pytest-benchmark/autosave-no-data.json", "summaries.json");
    ws.pawl().args(["ratchet", "--baseline", "b2.json", "--accept-new", "summaries.json"]).assert().success();
    let b2: serde_json::Value = serde_json::from_str(&ws.read("b2.json")).unwrap();
    assert!(
        b2["testbeds"].as_object().unwrap().values().all(|tb| tb["cases"].as_object().unwrap().is_empty())
    );
}

#[test]
fn a_bad_file_names_the_field_exits_2_and_writes_nothing() {
    let ws = Workspace::new();
    let bad = ws.write(
        "bad.json",
        r#"{"context": {}, "benchmarks": [{"name": "a", "real_time": 1, "time_unit": "ns"},
            {"name": "b", "real_time": "soon", "time_unit": "ns"}]}"#,
    );
    ws.write("out.json", "previous contents");
    let good = fixture("gbench/repetitions.json");
    ws.pawl()
        .args(["import", good.to_str().unwrap(), bad.to_str().unwrap(), "-o", "out.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "bad.json: `benchmarks[1].real_time`: expected a number, found \"soon\"",
        ));
    assert_eq!(ws.read("out.json"), "previous contents", "nothing half-written");
    assert!(!ws.files().iter().any(|f| f.contains("pawl-tmp")));

    ws.pawl()
        .args(["import", good.to_str().unwrap(), "--format", "nvbench", "-o", "new.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`meta`: missing"));
    ws.pawl()
        .args(["import", good.to_str().unwrap(), "--format", "csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown import format `csv`"));
    ws.pawl()
        .args(["import", good.to_str().unwrap(), good.to_str().unwrap(), "-o", "twice.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("comes from both"));
    ws.pawl()
        .args(["import", "missing.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read missing.json"));
    assert!(!ws.files().iter().any(|f| f == "new.json" || f == "twice.json" || f == "pawl-run.json"));
}

#[test]
fn names_from_files_cannot_drive_the_terminal() {
    let ws = Workspace::new();
    let file = ws.write(
        "evil.json",
        "{\"context\": {}, \"benchmarks\": [{\"name\": \"x\\u001b[2J/n:1\", \"real_time\": 5, \"time_unit\": \"ns\"}]}",
    );
    let output = ws.pawl().args(["import", file.to_str().unwrap(), "-o", "run.json"]).output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(!stdout.contains('\u{1b}') && stdout.contains("x\\u{1b}[2J/n=1"), "{stdout}");
}
