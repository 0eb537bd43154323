//! The CI templates parse as YAML, and every `pawl …` command in them names a subcommand and flags that
//! this pawl has (checked against `pawl SUB --help`).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use yaml_rust2::{Yaml, YamlLoader};

fn template(path: &str) -> (PathBuf, Yaml) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ci").join(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(docs.len(), 1, "{}: one YAML document", path.display());
    (path, docs.remove(0))
}

/// Every `pawl SUB --flag …` in a shell script (line continuations joined).
fn pawl_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut commands = Vec::new();
    for line in joined.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (i, word) in words.iter().enumerate() {
            if *word == "pawl" || (word.ends_with("/pawl") && !word.contains("://")) {
                let command: Vec<String> = words[i + 1..]
                    .iter()
                    .take_while(|w| !matches!(**w, "|" | "||" | "&&" | ";"))
                    .map(|w| w.to_string())
                    .collect();
                if command.first().is_some_and(|sub| !sub.starts_with('-') && !sub.contains('.')) {
                    commands.push(command);
                }
            }
        }
    }
    commands
}

/// Checks one command against `pawl SUB --help`.
fn check_command(origin: &str, command: &[String]) {
    let sub = &command[0];
    let help = Command::cargo_bin("pawl").unwrap().args([sub, "--help"]).output().unwrap();
    assert!(help.status.success(), "{origin}: `pawl {sub}` is not a subcommand");
    let help = String::from_utf8(help.stdout).unwrap();
    for word in &command[1..] {
        if let Some(flag) = word.strip_prefix("--") {
            let flag = flag.split('=').next().unwrap();
            assert!(help.contains(&format!("--{flag}")), "{origin}: `pawl {sub}` has no --{flag}");
        }
    }
}

fn scripts_of(step: &Yaml) -> Vec<String> {
    match step {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Array(items) => items.iter().flat_map(scripts_of).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn the_github_workflow_calls_only_what_exists() {
    let (path, workflow) = template("github/pawl.yml");
    let origin = path.display().to_string();
    assert_eq!(
        workflow["permissions"]["contents"].as_str(),
        Some("read"),
        "{origin}: least permissions at the top"
    );
    assert!(
        workflow["permissions"]["pull-requests"].is_badvalue(),
        "{origin}: pull-requests: write only in the job that comments"
    );
    let jobs = workflow["jobs"].as_hash().expect("jobs");
    let mut commands = 0;
    for (name, job) in jobs {
        let name = name.as_str().unwrap();
        let runs_on: Vec<&str> =
            job["runs-on"].as_vec().map(|v| v.iter().filter_map(Yaml::as_str).collect()).unwrap_or_default();
        assert!(
            runs_on.contains(&"self-hosted") && runs_on.contains(&"gpu"),
            "{origin}: job {name} must run on the GPU runner"
        );
        for step in job["steps"].as_vec().expect("steps") {
            for script in scripts_of(&step["run"]) {
                for command in pawl_commands(&script) {
                    check_command(&format!("{origin}, job {name}"), &command);
                    commands += 1;
                }
            }
        }
    }
    assert!(commands >= 4, "{origin}: found only {commands} pawl commands");
    let update = &workflow["jobs"]["baseline"];
    assert!(!update["concurrency"].is_badvalue(), "{origin}: the baseline job needs a concurrency group");
    assert_eq!(update["concurrency"]["cancel-in-progress"].as_bool(), Some(false));
    assert_eq!(update["permissions"]["contents"].as_str(), Some("write"));
    assert_eq!(workflow["jobs"]["check"]["permissions"]["pull-requests"].as_str(), Some("write"));
}

#[test]
fn the_gitlab_pipeline_calls_only_what_exists() {
    let (path, pipeline) = template("gitlab/.gitlab-ci.yml");
    let origin = path.display().to_string();
    let mut commands = 0;
    let mut junit = false;
    for (name, job) in pipeline.as_hash().expect("a mapping") {
        let name = name.as_str().unwrap_or_default();
        for key in ["script", "before_script", "after_script"] {
            for script in scripts_of(&job[key]) {
                for command in pawl_commands(&script) {
                    check_command(&format!("{origin}, job {name}"), &command);
                    commands += 1;
                }
            }
        }
        junit |= !job["artifacts"]["reports"]["junit"].is_badvalue();
    }
    assert!(commands >= 3, "{origin}: found only {commands} pawl commands");
    assert!(junit, "{origin}: a job must hand its JUnit report to GitLab");
}

#[test]
fn the_command_finder_finds_commands_and_flags() {
    let found = pawl_commands(
        "set -e\n./target/release/pawl check pawl.toml \\\n  --markdown r.md || true\necho pawl.toml\n",
    );
    assert_eq!(found, [vec!["check", "pawl.toml", "--markdown", "r.md"]]);
}
