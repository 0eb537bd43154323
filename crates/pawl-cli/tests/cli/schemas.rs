//! Files the `pawl` binary writes validate against the JSON Schemas committed in `docs/schemas/`: run
//! files of every shape (measured, failed and wrong cases, harness warnings, shards merged, imported
//! results with summaries only), baselines, and JSON reports (with a cost, of every verdict kind).

use std::path::Path;

use serde_json::Value;

use crate::common::Workspace;

fn validator(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schemas").join(name);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::draft202012::new(&schema).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Checks `file` of the workspace against `schema`, listing every error with its place.
fn valid(ws: &Workspace, file: &str, schema: &jsonschema::Validator) {
    let value: Value = serde_json::from_str(&ws.read(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let errors: Vec<String> =
        schema.iter_errors(&value).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{file} does not match its schema:\n{}", errors.join("\n"));
}

fn import_fixture(ws: &Workspace, name: &str, out: &str) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pawl-core/tests/fixtures/import").join(name);
    ws.pawl().args(["import", file.to_str().unwrap(), "-o", out]).assert().success();
}

#[test]
fn real_run_files_baselines_and_reports_match_the_committed_schemas() {
    let (run, baseline, report) = (
        validator("pawl-run-1.schema.json"),
        validator("pawl-baseline-1.schema.json"),
        validator("pawl-report-1.schema.json"),
    );
    let ws = Workspace::new();
    ws.run("base.json", &[]);
    ws.run("slow.json", &[("REPLAY_SCALE", "1.2")]);
    // A wrong result, and a harness that prints garbage before answering: a failed case and warnings.
    ws.pawl().args(["run", "-o", "wrong.json"]).env("REPLAY_MISBEHAVE", "wrong").assert().code(1);
    ws.pawl().args(["run", "-o", "garbage.json"]).env("REPLAY_MISBEHAVE", "garbage-first").assert().success();
    for shard in ["1/2", "2/2"] {
        let out = format!("shard-{}.json", &shard[..1]);
        ws.pawl().args(["run", "--shard", shard, "-o", &out]).assert().success();
    }
    ws.pawl().args(["merge", "shard-1.json", "shard-2.json", "-o", "merged.json"]).assert().success();
    import_fixture(&ws, "nvbench/test_ref.json", "nvbench-ref.json");
    import_fixture(&ws, "nvbench/test_cmp.json", "nvbench-cmp.json");
    import_fixture(&ws, "gbench/repetitions.json", "gbench.json");
    for file in [
        "base.json",
        "slow.json",
        "wrong.json",
        "garbage.json",
        "shard-1.json",
        "merged.json",
        "nvbench-ref.json",
        "gbench.json",
    ] {
        valid(&ws, file, &run);
    }
    let wrong: Value = serde_json::from_str(&ws.read("wrong.json")).unwrap();
    assert!(
        wrong["cases"].as_array().unwrap().iter().any(|c| c["status"] == "wrong"),
        "a wrong case is validated"
    );

    ws.pawl().args(["ratchet", "--accept-new", "base.json"]).assert().success();
    valid(&ws, "pawl-baseline.json", &baseline);

    // Reports: regressions with a cost; failed, new and missing cases; summaries only.
    ws.pawl()
        .args(["check", "--run", "slow.json", "--json", "check.json", "--gpu-price-per-hour", "2.5"])
        .assert()
        .code(1);
    ws.pawl()
        .args(["compare", "merged.json", "wrong.json", "--format", "json", "-o", "wrong-report.json"])
        .assert()
        .code(1);
    // Two shards: every case of each is new or missing in the other.
    let apart = ws
        .pawl()
        .args(["compare", "shard-1.json", "shard-2.json", "--format", "json", "-o", "apart.json"])
        .output()
        .unwrap();
    assert_eq!(apart.status.code(), Some(0), "{}", String::from_utf8_lossy(&apart.stderr));
    ws.pawl()
        .args(["compare", "nvbench-ref.json", "nvbench-cmp.json", "--format", "json", "-o", "summaries.json"])
        .assert()
        .success();
    for file in ["check.json", "wrong-report.json", "apart.json", "summaries.json"] {
        valid(&ws, file, &report);
    }
    let check: Value = serde_json::from_str(&ws.read("check.json")).unwrap();
    assert!(check["cost"]["amount"].is_number(), "the cost is validated too: {}", check["cost"]);
}

/// A file that breaks its schema is refused by it: the test above could fail.
#[test]
fn a_broken_run_file_does_not_match() {
    let ws = Workspace::new();
    ws.run("base.json", &[]);
    let mut value: Value = serde_json::from_str(&ws.read("base.json")).unwrap();
    value["cases"][0]["status"] = "fine".into();
    value["schema"] = "pawl-run/2".into();
    let errors: Vec<String> = validator("pawl-run-1.schema.json")
        .iter_errors(&value)
        .map(|e| e.instance_path().to_string())
        .collect();
    assert!(
        errors.contains(&"/schema".to_owned()) && errors.contains(&"/cases/0/status".to_owned()),
        "{errors:?}"
    );
}
