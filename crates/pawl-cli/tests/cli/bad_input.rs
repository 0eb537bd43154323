//! Bad inputs: each gives a clear message naming the file, exit code 2, and leaves no file half-written.

use predicates::prelude::*;

use crate::common::Workspace;

fn base_run(ws: &Workspace) -> serde_json::Value {
    ws.run("base.json", &[]);
    serde_json::from_str(&ws.read("base.json")).unwrap()
}

fn compare_fails(ws: &Workspace, new: &str, needle: &str) {
    let before = ws.files();
    ws.pawl()
        .args(["compare", "base.json", new, "--format", "markdown", "-o", "out.md"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(new))
        .stderr(predicate::str::contains(needle));
    assert_eq!(ws.files(), before, "a failed command must not leave files behind");
}

#[test]
fn malformed_json_names_file_and_line() {
    let ws = Workspace::new();
    base_run(&ws);
    ws.write("new.json", "{\n  \"schema\": \"pawl-run/1\",\n  \"cases\": [\n");
    compare_fails(&ws, "new.json", "new.json:4");
}

#[test]
fn unknown_schema_version_is_refused() {
    let ws = Workspace::new();
    let mut run = base_run(&ws);
    run["schema"] = "pawl-run/2".into();
    ws.write("new.json", &run.to_string());
    compare_fails(&ws, "new.json", "pawl-run/2");
}

#[test]
fn bad_samples_are_refused() {
    let ws = Workspace::new();
    let run = base_run(&ws);
    for (name, samples, needle) in [
        ("empty.json", serde_json::json!([]), "no samples"),
        ("negative.json", serde_json::json!([100.0, -5.0]), "-5"),
        ("text.json", serde_json::json!([100.0, "NaN"]), "empty"),
    ] {
        let mut bad = run.clone();
        bad["cases"][0]["samples_ns"] = samples;
        ws.write(name, &bad.to_string());
        let needle = if name == "text.json" { "text.json" } else { needle };
        compare_fails(&ws, name, needle);
    }
}

#[test]
fn duplicate_case_ids_are_refused() {
    let ws = Workspace::new();
    let mut run = base_run(&ws);
    let first = run["cases"][0].clone();
    run["cases"].as_array_mut().unwrap().push(first);
    ws.write("dup.json", &run.to_string());
    compare_fails(&ws, "dup.json", "more than once");
}

#[test]
fn a_baseline_from_another_testbed_is_refused_unless_forced() {
    let ws = Workspace::new();
    let run = base_run(&ws);
    ws.pawl().args(["ratchet", "--accept-new", "base.json"]).assert().success();
    let mut other = run.clone();
    other["env"]["gpu"] = serde_json::json!({
        "name": "NVIDIA L4", "uuid": "GPU-x", "compute_capability": "8.9", "sm_count": 58,
        "l2_bytes": 50331648u64, "memory_bytes": 24000000000u64, "driver_version": "550.54.15",
        "cuda_version": "12.4", "nvrtc_version": null, "max_sm_clock_mhz": 2040
    });
    ws.write("l4.json", &other.to_string());
    ws.pawl()
        .args(["compare", "pawl-baseline.json", "l4.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("NVIDIA L4"))
        .stderr(predicate::str::contains("--force"));
    ws.pawl().args(["compare", "pawl-baseline.json", "l4.json", "--force"]).assert().success();
}

#[test]
fn a_run_file_is_not_taken_for_a_baseline_by_ratchet() {
    let ws = Workspace::new();
    base_run(&ws);
    ws.pawl()
        .args(["ratchet", "--baseline", "base.json", "base.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("base.json"));
}
