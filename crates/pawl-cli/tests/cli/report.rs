//! `pawl report` end to end on a real run (the replay harness's recorded H100 samples), its bad inputs,
//! `pawl ceilings` without a GPU, and a harness's `unsupported` answer reaching the run file as a
//! skipped case.

use predicates::prelude::*;

use crate::common::Workspace;

#[test]
fn a_run_becomes_a_report_with_every_part() {
    let ws = Workspace::new();
    ws.run("run.json", &[]);
    ws.write("software.json", r#"{"PyTorch": "2.11.0+cu130", "flash_attn": null}"#);
    ws.write("commands.txt", "pawl run -o run.json\n\n");
    ws.pawl()
        .args([
            "report",
            "run.json",
            "-o",
            "out",
            "--software",
            "software.json",
            "--commands",
            "commands.txt",
        ])
        .args(["--reference", "h100", "--title", "Replay <report>"])
        .assert()
        .success()
        .stdout(predicate::str::contains("out/report.md"))
        .stderr(predicate::str::contains("5 configurations × 1 implementations, 5 of 5 cells measured"));
    let md = ws.read("out/report.md");
    assert!(md.starts_with("# Replay \\<report\\>"), "the title is escaped: {}", &md[..40]);
    for part in ["## Results", "## Power", "## Not measured", "## Reproducibility", "PyTorch: 2.11.0+cu130"] {
        assert!(md.contains(part), "{part} missing");
    }
    assert!(md.contains("flash\\_attn: not available"), "a null version says so");
    assert!(md.contains("pawl run -o run.json\npawl report run.json -o out"), "the commands, then this one");
    assert!(ws.path("out/report.html").exists() && ws.path("out/figures/heatmap_1.png").exists());
    let json: serde_json::Value = serde_json::from_str(&ws.read("out/report.json")).unwrap();
    assert_eq!(json["configurations"].as_array().unwrap().len(), 5);
}

#[test]
fn bad_report_inputs_exit_2_naming_the_file() {
    let ws = Workspace::new();
    ws.pawl()
        .args(["report", "missing.json", "-o", "out"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.json"));
    ws.run("run.json", &[]);
    ws.write("software.json", "[1, 2]");
    ws.pawl()
        .args(["report", "run.json", "--software", "software.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("software.json").and(predicate::str::contains("JSON object")));
    ws.pawl()
        .args(["report", "run.json", "--confidence", "1.5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--confidence"));
    ws.write("ceilings.json", r#"{"schema": "pawl-ceilings/9"}"#);
    ws.pawl()
        .args(["report", "run.json", "--ceilings", "ceilings.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("ceilings.json"));
    assert!(!ws.path("pawl-report/report.md").exists(), "nothing written on an error");
}

#[test]
fn ceilings_without_a_gpu_exit_2() {
    if std::path::Path::new("/dev/nvidia0").exists() {
        eprintln!("skipping: this machine has a GPU");
        return;
    }
    let ws = Workspace::new();
    ws.pawl().args(["ceilings"]).assert().code(2).stderr(predicate::str::contains("GPU"));
}

#[test]
fn an_unsupported_case_is_skipped_with_its_reason() {
    let ws = Workspace::new();
    ws.write(
        "harness.py",
        r#"import json, sys
for line in sys.stdin:
    r = json.loads(line)
    a = {"seq": r["seq"]}
    if r["op"] == "prepare" and r["params"]["N"] == 2:
        a["unsupported"] = "this implementation takes no N of 2"
    elif r["op"] in ("prepare", "release"):
        a["ok"] = True
    elif r["op"] == "check":
        a["unchecked"] = True
    elif r["op"] == "time":
        a["samples_ns"] = [1000.0 + i for i in range(len(r["cases"]))]
    print(json.dumps(a), flush=True)
"#,
    );
    ws.write(
        "pawl.toml",
        r#"[suite]
name = "skips"
[suite.measure]
min_samples = 20
max_samples = 20
warmup_ms = 0
[[bench]]
name = "b"
kind = "command"
run = ["python3", "harness.py"]
params = { N = [1, 2] }
"#,
    );
    ws.pawl().args(["run", "-o", "run.json", "--no-history"]).assert().success();
    let run: serde_json::Value = serde_json::from_str(&ws.read("run.json")).unwrap();
    let statuses: Vec<&str> =
        run["cases"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["ok", "skipped"]);
    assert_eq!(run["cases"][1]["error"], "not supported: this implementation takes no N of 2");
    ws.pawl().args(["report", "run.json", "-o", "out"]).assert().success();
    assert!(
        ws.read("out/report.md")
            .contains("| N=2 | b | skipped | not supported: this implementation takes no N of 2 |")
    );
}
