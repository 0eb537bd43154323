//! `--gpus`, `--shard`, `pawl merge` and `pawl check --shard/--merge`, with `command` benches standing in
//! for GPU programs: the harness (tests/fixtures/scale/gpu_harness.py) records the CUDA_VISIBLE_DEVICES
//! pawl pinned it to, and the GPUs are named by PAWL_FAKE_GPUS.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

/// A temporary folder holding the scale suite and its harness.
struct Scale {
    dir: tempfile::TempDir,
}

/// Two GPUs of one model and one of another, as NVML would list them.
const HOST: &str = r#"[
    {"uuid": "GPU-00000000-aaaa", "name": "Test GPU"},
    {"uuid": "GPU-11111111-bbbb", "name": "Test GPU"},
    {"uuid": "GPU-22222222-cccc", "name": "Other GPU"},
    {"uuid": "GPU-33333333-dddd", "name": "Test GPU"}
]"#;

/// One line of the harness's log: a case it measured.
#[derive(Debug)]
struct Measured {
    case: String,
    gpu: Option<String>,
    pid: u64,
    start: f64,
    end: f64,
    crashed: bool,
}

impl Scale {
    fn new() -> Scale {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scale");
        for file in ["pawl.toml", "gpu_harness.py"] {
            std::fs::copy(fixtures.join(file), dir.path().join(file)).unwrap();
        }
        Scale { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `pawl` in this folder, on the fake host, logging to `log`.
    fn pawl(&self, log: &str) -> Command {
        let mut cmd = Command::cargo_bin("pawl").unwrap();
        cmd.current_dir(self.dir.path())
            .env("PAWL_FAKE_GPUS", HOST)
            .env("SCALE_LOG", self.path(log))
            .env("NO_COLOR", "1")
            .env_remove("CUDA_VISIBLE_DEVICES")
            .env_remove("SCALE_CRASH_CASE")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("PAWL_SHARD_COUNT")
            .env_remove("SLURM_ARRAY_TASK_ID");
        cmd
    }

    fn log(&self, name: &str) -> Vec<Measured> {
        let text = std::fs::read_to_string(self.path(name)).unwrap_or_default();
        text.lines()
            .map(|line| {
                let v: Value = serde_json::from_str(line).unwrap();
                Measured {
                    case: v["case"].as_str().unwrap().to_owned(),
                    gpu: v["gpu"].as_str().map(str::to_owned),
                    pid: v["pid"].as_u64().unwrap(),
                    start: v["start"].as_f64().unwrap(),
                    end: v["end"].as_f64().unwrap(),
                    crashed: v["crashed"].as_bool().unwrap_or(false),
                }
            })
            .collect()
    }

    fn run_file(&self, name: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path(name)).unwrap()).unwrap()
    }
}

fn ids(run: &Value) -> Vec<String> {
    run["cases"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect()
}

/// The suite's cases, in suite order.
fn suite_order() -> Vec<String> {
    let mut ids: Vec<String> = (1..=5).map(|n| format!("copy/N={n}")).collect();
    ids.extend([10, 20, 30].map(|i| format!("fma/iters={i}")));
    ids
}

#[test]
fn every_case_runs_once_on_the_gpu_it_records_and_lands_in_suite_order() {
    let scale = Scale::new();
    scale.pawl("log").args(["run", "--gpus", "0,1,3", "-o", "run.json"]).assert().success();
    let run = scale.run_file("run.json");
    assert_eq!(ids(&run), suite_order(), "suite order, whatever order they finished in");

    let log = scale.log("log");
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &log {
        *times.entry(m.case.as_str()).or_default() += 1;
    }
    assert!(times.values().all(|&n| n == 1) && times.len() == 8, "each case measured once: {times:?}");
    let chosen: BTreeSet<&str> = ["GPU-00000000-aaaa", "GPU-11111111-bbbb", "GPU-33333333-dddd"].into();
    for case in run["cases"].as_array().unwrap() {
        assert_eq!(case["status"], "ok", "{case}");
        let recorded = case["gpu_uuid"].as_str().expect("each case records its GPU");
        let seen = log.iter().find(|m| m.case == case["id"]).unwrap();
        assert_eq!(seen.gpu.as_deref(), Some(recorded), "the harness ran where the run file says");
        assert!(chosen.contains(recorded), "{recorded} was not chosen");
        assert!(case["elapsed_s"].as_f64().unwrap() > 0.0);
    }
    // One harness process per GPU, kept for its cases.
    let pids: BTreeSet<(u64, &str)> = log.iter().map(|m| (m.pid, m.gpu.as_deref().unwrap())).collect();
    let gpus: BTreeSet<&str> = pids.iter().map(|(_, g)| *g).collect();
    assert_eq!(pids.len(), gpus.len(), "{pids:?}");
    assert!(gpus.len() >= 2, "the cases were spread: {gpus:?}");
    // The GPUs measured at the same time: some case began before another GPU's case ended.
    let overlap =
        log.iter().any(|a| log.iter().any(|b| a.gpu != b.gpu && a.start < b.end && b.start < a.end));
    assert!(overlap, "the GPUs measured in parallel: {log:?}");
}

#[test]
fn without_gpus_one_harness_measures_everything_unpinned() {
    let scale = Scale::new();
    scale.pawl("log").args(["run", "-o", "run.json"]).assert().success();
    let log = scale.log("log");
    assert_eq!(log.len(), 8);
    assert!(log.iter().all(|m| m.gpu.is_none() && m.pid == log[0].pid), "{log:?}");
    let run = scale.run_file("run.json");
    assert_eq!(ids(&run), suite_order());
    assert!(run["cases"][0].get("gpu_uuid").is_none(), "no GPU seen, none recorded");
}

#[test]
fn gpus_are_numbered_as_cuda_visible_devices_shows_them() {
    let scale = Scale::new();
    // pawl itself sees physical GPUs 3 and 1, in that order: its GPU 1 is physical GPU 1.
    scale
        .pawl("log")
        .env("CUDA_VISIBLE_DEVICES", "3,1")
        .args(["run", "--gpus", "1", "--bench", "fma", "-o", "run.json"])
        .assert()
        .success();
    let log = scale.log("log");
    assert!(log.iter().all(|m| m.gpu.as_deref() == Some("GPU-11111111-bbbb")), "{log:?}");
    scale
        .pawl("log")
        .env("CUDA_VISIBLE_DEVICES", "3,1")
        .args(["run", "--gpus", "2", "-o", "none.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("there is no GPU 2; this machine shows 2 (0 to 1)"));
    assert!(!scale.path("none.json").exists());
}

#[test]
fn one_run_never_spans_gpu_models() {
    let scale = Scale::new();
    scale.pawl("log").args(["run", "--gpus", "all", "-o", "run.json"]).assert().code(2).stderr(
        predicate::str::contains("GPU 0 is `Test GPU` and GPU 2 `Other GPU`")
            .and(predicate::str::contains("--gpus 0,1,3")),
    );
    assert!(!scale.path("run.json").exists(), "nothing measured, nothing written");
    assert!(scale.log("log").is_empty());
    for bad in ["0,0", "x", "0,1,9"] {
        scale.pawl("log").args(["run", "--gpus", bad]).assert().code(2);
    }
    scale
        .pawl("log")
        .env("PAWL_FAKE_GPUS", "[{\"uuid\": 1}]")
        .args(["run", "--gpus", "all"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("PAWL_FAKE_GPUS is not a JSON list"));
}

#[test]
fn a_fault_on_one_gpu_fails_only_its_case_and_a_fresh_harness_goes_on_there() {
    let scale = Scale::new();
    scale
        .pawl("log")
        .env("SCALE_CRASH_CASE", "copy/N=2")
        .args(["run", "--gpus", "0,1", "-o", "run.json"])
        .assert()
        .code(1);
    let run = scale.run_file("run.json");
    assert_eq!(ids(&run), suite_order());
    for case in run["cases"].as_array().unwrap() {
        let expected = if case["id"] == "copy/N=2" { "failed" } else { "ok" };
        assert_eq!(case["status"], expected, "{case}");
        assert!(case["gpu_uuid"].is_string());
    }
    let log = scale.log("log");
    let (measured, crashes): (Vec<&Measured>, Vec<&Measured>) = log.iter().partition(|m| !m.crashed);
    assert_eq!(measured.len(), 7, "every other case measured once: {log:?}");
    assert_eq!(crashes.len(), 1);
    let crash = crashes[0];
    assert_eq!(run["cases"][1]["gpu_uuid"].as_str(), crash.gpu.as_deref(), "the failed case names its GPU");
    // That GPU went on with a fresh harness: later cases there ran in another process.
    let later: Vec<&&Measured> =
        measured.iter().filter(|m| m.gpu == crash.gpu && m.start > crash.end).collect();
    assert!(!later.is_empty(), "its GPU measured more cases after the crash: {log:?}");
    assert!(later.iter().all(|m| m.pid != crash.pid), "{log:?}");
}

#[test]
fn estimates_hand_the_longest_cases_out_first() {
    let scale = Scale::new();
    scale.pawl("log").args(["run", "-o", "first.json"]).assert().success();
    // Pretend the last two cases were the longest last time.
    let mut first = scale.run_file("first.json");
    for (i, case) in first["cases"].as_array_mut().unwrap().iter_mut().enumerate() {
        case["elapsed_s"] = Value::from(if i >= 6 { 100.0 + i as f64 } else { 1.0 });
    }
    std::fs::write(scale.path("first.json"), first.to_string()).unwrap();
    scale
        .pawl("log2")
        .args(["run", "--gpus", "0,1", "--estimates", "first.json", "-o", "run.json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("longest first"));
    let mut log = scale.log("log2");
    log.sort_by(|a, b| a.start.total_cmp(&b.start));
    let first_two: BTreeSet<&str> = log[..2].iter().map(|m| m.case.as_str()).collect();
    assert_eq!(first_two, ["fma/iters=20", "fma/iters=30"].into(), "{log:?}");
    assert_eq!(ids(&scale.run_file("run.json")), suite_order(), "results still in suite order");
}

/// Runs every shard of `count` into `shard-i.json`.
fn shards(scale: &Scale, count: u32, extra: &[&str]) -> Vec<String> {
    (1..=count)
        .map(|i| {
            let file = format!("shard-{i}.json");
            scale
                .pawl("log")
                .args(["run", "--shard", &format!("{i}/{count}"), "-o", &file])
                .args(extra)
                .assert()
                .success();
            file
        })
        .collect()
}

#[test]
fn shards_are_disjoint_cover_the_suite_and_merge_in_suite_order() {
    let scale = Scale::new();
    let files = shards(&scale, 3, &[]);
    let mut seen: Vec<String> = Vec::new();
    for file in &files {
        let run = scale.run_file(file);
        assert!(run["shard"]["plan"].is_string());
        seen.extend(ids(&run));
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no case in two shards");
    assert_eq!(unique.len(), 8, "every case in one shard");
    assert_eq!(scale.log("log").len(), 8, "each measured once");

    let mut merge = scale.pawl("log");
    merge.arg("merge").args(files.iter().rev()).args(["-o", "merged.json"]);
    merge.assert().success().stdout(predicate::str::contains("merged 3 shards (8 cases)"));
    let merged = scale.run_file("merged.json");
    assert_eq!(ids(&merged), suite_order());
    assert!(merged.get("shard").is_none() && merged["cases"][0].get("plan_index").is_none());
    assert_eq!(merged["parts"].as_array().unwrap().len(), 3);
}

#[test]
fn shards_spread_over_gpus_too() {
    let scale = Scale::new();
    let files = shards(&scale, 2, &["--gpus", "0,1"]);
    let log = scale.log("log");
    assert_eq!(log.len(), 8);
    assert!(log.iter().all(|m| m.gpu.is_some()));
    let mut merge = scale.pawl("log");
    merge.arg("merge").args(&files).args(["-o", "merged.json"]).assert().success();
    assert_eq!(ids(&scale.run_file("merged.json")), suite_order());
}

#[test]
fn merging_refuses_bad_inputs_and_writes_nothing() {
    let scale = Scale::new();
    let files = shards(&scale, 3, &[]);
    let refuse = |args: &[&str], words: &[&str]| {
        let out = scale.pawl("log").arg("merge").args(args).args(["-o", "merged.json"]).assert().code(2);
        let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        for w in words {
            assert!(stderr.contains(w), "{args:?}: {stderr}");
        }
        assert!(!scale.path("merged.json").exists(), "{args:?}: no partial output");
    };
    refuse(&[&files[0], &files[2]], &["shard 2/3", "missing"]);
    refuse(
        &[&files[0], &files[1], &files[2], &files[1]],
        &["shard-2.json and shard-2.json are both shard 2/3"],
    );

    // Another suite, another testbed, a case twice.
    let mut other = scale.run_file(&files[1]);
    other["suite"] = Value::from("elsewhere");
    std::fs::write(scale.path("other-suite.json"), other.to_string()).unwrap();
    refuse(&[&files[0], "other-suite.json", &files[2]], &["shard-1.json", "other-suite.json", "`elsewhere`"]);

    let mut gpu = scale.run_file(&files[1]);
    gpu["env"]["gpu"] = serde_json::json!({
        "name": "NVIDIA H200", "uuid": "GPU-x", "compute_capability": "9.0", "sm_count": 132,
        "l2_bytes": 1, "memory_bytes": 1, "driver_version": "580.1", "cuda_version": "13.0",
        "nvrtc_version": null, "max_sm_clock_mhz": null
    });
    std::fs::write(scale.path("other-gpu.json"), gpu.to_string()).unwrap();
    refuse(&[&files[0], "other-gpu.json", &files[2]], &["other-gpu.json", "NVIDIA H200", "testbeds"]);

    scale.pawl("log").args(["run", "--bench", "copy", "-o", "copy.json"]).assert().success();
    scale.pawl("log").args(["run", "--where", "N <= 2 || iters == 10", "-o", "some.json"]).assert().success();
    refuse(&["copy.json", "some.json"], &["case `copy/N=1` is in both copy.json and some.json"]);
    refuse(&["copy.json", &files[0]], &["is a shard", "is not"]);
    refuse(&["copy.json", "no-such.json"], &["no-such.json"]);

    // Parts measured apart merge in file order.
    scale.pawl("log").args(["run", "--bench", "fma", "-o", "fma.json"]).assert().success();
    scale.pawl("log").args(["merge", "fma.json", "copy.json", "-o", "merged.json"]).assert().success();
    let merged = ids(&scale.run_file("merged.json"));
    assert_eq!(merged[..3], suite_order()[5..]);
}

#[test]
fn shard_auto_reads_the_batch_scheduler() {
    let scale = Scale::new();
    scale
        .pawl("log")
        .env("JOB_COMPLETION_INDEX", "1")
        .env("PAWL_SHARD_COUNT", "2")
        .args(["run", "--shard", "auto", "-o", "k8s.json"])
        .assert()
        .success();
    assert_eq!(scale.run_file("k8s.json")["shard"]["index"], 2);
    scale
        .pawl("log")
        .env("SLURM_ARRAY_TASK_ID", "4")
        .env("SLURM_ARRAY_TASK_MIN", "4")
        .env("SLURM_ARRAY_TASK_MAX", "5")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .args(["run", "--shard", "auto", "-o", "slurm.json"])
        .assert()
        .success();
    let slurm = scale.run_file("slurm.json");
    assert_eq!((slurm["shard"]["index"].as_u64(), slurm["shard"]["count"].as_u64()), (Some(1), Some(2)));
    scale
        .pawl("log")
        .env("JOB_COMPLETION_INDEX", "0")
        .args(["run", "--shard", "auto"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("PAWL_SHARD_COUNT"));
    scale
        .pawl("log")
        .args(["run", "--shard", "auto"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("found no batch scheduler"));
    scale
        .pawl("log")
        .args(["run", "--shard", "3/2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("3/2"));
}

#[test]
fn a_sharded_check_judges_each_shard_alone_and_the_merge_as_a_whole() {
    let scale = Scale::new();
    scale.pawl("log").args(["run", "-o", "base.json"]).assert().success();
    scale.pawl("log").args(["ratchet", "--accept-new", "base.json"]).assert().success();
    let mut files = Vec::new();
    for i in 1..=2 {
        let file = format!("shard-{i}.json");
        let report = format!("report-{i}.json");
        scale
            .pawl("log")
            .args(["check", "--shard", &format!("{i}/2"), "--save-run", &file, "--json", &report])
            .assert()
            .success();
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(scale.path(&report)).unwrap()).unwrap();
        let run = scale.run_file(&file);
        let summary = &report["summary"];
        assert_eq!(summary["missing"], 0, "the other shard's cases are not missing: {report}");
        assert_eq!(summary["total"].as_u64(), Some(ids(&run).len() as u64), "{report}");
        assert_eq!(run["shard"]["balanced"], true, "balanced on the baseline's figures");
        files.push(file);
    }
    let mut merge = scale.pawl("log");
    merge
        .args(["check", "--save-run", "merged.json", "--markdown", "comment.md", "--merge"])
        .args(&files)
        .assert()
        .success()
        .stderr(predicate::str::contains("merged 2 shards (8 cases) into merged.json"));
    assert_eq!(ids(&scale.run_file("merged.json")), suite_order());
    let comment = std::fs::read_to_string(scale.path("comment.md")).unwrap();
    for id in suite_order() {
        assert!(comment.contains(&id), "the one comment has every case: {id}\n{comment}");
    }
    // A missing shard fails the merge check with the error, not a report of missing cases.
    scale
        .pawl("log")
        .args(["check", "--save-run", "partial.json", "--merge", &files[0]])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("shard 2/2").and(predicate::str::contains("missing")));
}

#[test]
fn paired_runs_never_span_gpu_models_either() {
    let scale = Scale::new();
    let dir = scale.dir.path();
    let kernel = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kernels/testing/copy.cu");
    std::fs::copy(kernel, dir.join("copy.cu")).unwrap();
    std::fs::write(
        dir.join("cuda.toml"),
        r#"[suite]
name = "cuda"

[[bench]]
name = "copy"
kind = "cuda"
params = { N = [1024, 4096] }
source = "copy.cu"
kernel = "copy_vec4"
grid = ["ceil_div(N / 4, 256)"]
block = [256]

[[bench.args]]
name = "x"
dtype = "f32"
count = "N"

[[bench.args]]
name = "y"
dtype = "f32"
count = "N"
output = true

[[bench.args]]
name = "n4"
dtype = "i64"
value = "N / 4"

[bench.reference]
kernel = "copy_ref"
grid = [1]
block = [256]
rtol = 0
atol = 0
"#,
    )
    .unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git").arg("-C").arg(dir).args(args).status().unwrap().success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "cuda.toml", "copy.cu"]);
    git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "suite"]);
    scale
        .pawl("log")
        .args(["ab", "--base", "HEAD", "cuda.toml", "--gpus", "all"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("GPU 0 is `Test GPU` and GPU 2 `Other GPU`"));
}

#[test]
fn over_several_gpus_the_history_gives_the_estimates() {
    let scale = Scale::new();
    let history = scale.path("history.sqlite");
    scale.pawl("log").env("PAWL_HISTORY", &history).args(["run", "-o", "first.json"]).assert().success();
    scale
        .pawl("log2")
        .env("PAWL_HISTORY", &history)
        .args(["run", "--gpus", "0,1", "-o", "run.json"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "estimates of each case's time from the latest run of `scale` in the history",
        ));
    // Shards never read it: runners appending to it as they go would each compute another split.
    scale
        .pawl("log3")
        .env("PAWL_HISTORY", &history)
        .args(["run", "--shard", "1/2", "-o", "shard.json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("in the history").not());
}

#[test]
fn shards_checked_at_once_share_one_history_and_the_merge_adds_nothing() {
    let scale = Scale::new();
    scale.pawl("log").args(["run", "--no-history", "-o", "base.json"]).assert().success();
    scale.pawl("log").args(["ratchet", "--accept-new", "base.json"]).assert().success();
    let history = scale.path("history.sqlite");
    // Both shards at the same time, as two runners would, appending to one history.
    let children: Vec<std::process::Child> = (1..=2)
        .map(|i| {
            let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("pawl"));
            cmd.current_dir(scale.dir.path())
                .env("PAWL_FAKE_GPUS", HOST)
                .env("SCALE_LOG", scale.path("log"))
                .env("PAWL_HISTORY", &history)
                .env("NO_COLOR", "1")
                .args(["check", "--shard", &format!("{i}/2"), "--save-run", &format!("shard-{i}.json")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    scale
        .pawl("log")
        .env("PAWL_HISTORY", &history)
        .args(["check", "--save-run", "merged.json", "--merge", "shard-1.json", "shard-2.json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("the merged run is not recorded again"));
    let list = scale
        .pawl("log")
        .env("PAWL_HISTORY", &history)
        .args(["history", "list", "--format", "json"])
        .output()
        .unwrap();
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    let runs: Value = serde_json::from_slice(&list.stdout).unwrap();
    let cases: Vec<u64> = runs.as_array().unwrap().iter().map(|r| r["cases"].as_u64().unwrap()).collect();
    assert_eq!(cases.len(), 2, "one run per shard: {runs}");
    assert_eq!(cases.iter().sum::<u64>(), 8, "every case once, none lost: {runs}");
}
