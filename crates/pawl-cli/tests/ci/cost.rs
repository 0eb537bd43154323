//! The cost line: `pawl run` records how long measuring took, `pawl check` prices it.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

const SUITE: &str = r#"
[suite]
name = "costly"
baseline = "base.json"
gpu_price_per_hour = 3.6

[[bench]]
name = "sleep"
kind = "command"
run = ["python3", "harness.py"]
params = { n = [1, 2] }
"#;

/// Takes a quarter of a second to prepare each case, then answers (harness protocol 2).
const HARNESS: &str = r#"
import json, sys, time
for line in sys.stdin:
    request = json.loads(line)
    answer = {"seq": request["seq"]}
    if request["op"] == "prepare":
        time.sleep(0.25)
        answer["ok"] = True
    elif request["op"] == "check":
        answer["unchecked"] = True
    elif request["op"] == "time":
        answer["samples_ns"] = [1000.0 + i % 7 for i in range(len(request["cases"]))]
    else:
        answer["ok"] = True
    print(json.dumps(answer), flush=True)
"#;

fn pawl(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("pawl").unwrap();
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("PAWL_GPU_PRICE_PER_HOUR");
    cmd
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_check_shows_what_measuring_cost() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pawl.toml"), SUITE).unwrap();
    std::fs::write(dir.path().join("harness.py"), HARNESS).unwrap();
    pawl(dir.path()).args(["run", "-o", "run.json"]).assert().success();
    let seconds = json(&dir.path().join("run.json"))["measure_seconds"].as_f64().expect("recorded");
    assert!((0.5..30.0).contains(&seconds), "two cases of 0.25 s each took {seconds} s");
    pawl(dir.path()).args(["ratchet", "--accept-new", "run.json"]).assert().success();

    // The suite's price; a harness on no GPU is priced as the machine's time, not a GPU's.
    pawl(dir.path())
        .args(["check", "--run", "run.json", "--markdown", "r.md", "--json", "r.json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("pawl: measuring cost measuring time (no GPU)"));
    let report = json(&dir.path().join("r.json"));
    assert_eq!(report["cost"]["gpu_seconds"].as_f64(), Some(seconds));
    assert_eq!(report["cost"]["price_per_hour"].as_f64(), Some(3.6));
    assert_eq!(report["cost"]["on_gpu"], false);
    let amount = report["cost"]["amount"].as_f64().unwrap();
    assert!((amount - seconds * 3.6 / 3600.0).abs() < 1e-12, "{amount}");
    let markdown = std::fs::read_to_string(dir.path().join("r.md")).unwrap();
    let footer = markdown.lines().find(|l| l.starts_with("<sub>")).unwrap();
    assert!(
        footer.contains(&format!("measuring time (no GPU) {seconds:.0} s, < $0.01 at $3.60/h")),
        "{footer}"
    );

    // The flag (or its variable) wins over the suite's.
    pawl(dir.path())
        .env("PAWL_GPU_PRICE_PER_HOUR", "36000")
        .args(["check", "--run", "run.json", "--markdown", "r.md"])
        .assert()
        .success();
    let markdown = std::fs::read_to_string(dir.path().join("r.md")).unwrap();
    assert!(markdown.contains("at $36000.00/h"), "{markdown}");

    pawl(dir.path()).args(["check", "--run", "run.json", "--gpu-price-per-hour=-1"]).assert().code(2).stderr(
        predicate::str::contains("--gpu-price-per-hour").and(predicate::str::contains("not a price")),
    );
    // A CI variable that is not set expands to nothing: the suite's price holds.
    pawl(dir.path())
        .env("PAWL_GPU_PRICE_PER_HOUR", "")
        .args(["check", "--run", "run.json", "--markdown", "r.md"])
        .assert()
        .success();
    assert!(std::fs::read_to_string(dir.path().join("r.md")).unwrap().contains("at $3.60/h"));
}
