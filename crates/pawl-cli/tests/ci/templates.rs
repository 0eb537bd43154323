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

/// Checks every `pawl` command of every job's steps; how many there were.
fn check_github_jobs(origin: &str, workflow: &Yaml) -> usize {
    let mut commands = 0;
    for (name, job) in workflow["jobs"].as_hash().expect("jobs") {
        let name = name.as_str().unwrap();
        for step in job["steps"].as_vec().expect("steps") {
            for script in scripts_of(&step["run"]) {
                for command in pawl_commands(&script) {
                    check_command(&format!("{origin}, job {name}"), &command);
                    commands += 1;
                }
            }
        }
    }
    commands
}

fn runs_on(job: &Yaml) -> Vec<&str> {
    match &job["runs-on"] {
        Yaml::String(label) => vec![label.as_str()],
        labels => labels.as_vec().map(|v| v.iter().filter_map(Yaml::as_str).collect()).unwrap_or_default(),
    }
}

fn is_gpu_job(job: &Yaml) -> bool {
    let labels = runs_on(job);
    labels.contains(&"self-hosted") && labels.contains(&"gpu")
}

fn needs(job: &Yaml) -> Vec<&str> {
    match &job["needs"] {
        Yaml::String(one) => vec![one.as_str()],
        many => many.as_vec().map(|v| v.iter().filter_map(Yaml::as_str).collect()).unwrap_or_default(),
    }
}

fn all_scripts(job: &Yaml) -> String {
    job["steps"]
        .as_vec()
        .map(|steps| steps.iter().flat_map(|s| scripts_of(&s["run"])).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

/// The wake templates: a hosted `wake` job starts the machine before every GPU job, which are
/// pawl.yml's own, and a hosted `sleep` job stops it after all of them, whatever their outcome.
fn check_wake_template(file: &str, start: &str, stop: &str) {
    let (path, workflow) = template(file);
    let origin = path.display().to_string();
    let (_, plain) = template("github/pawl.yml");
    assert_eq!(workflow["on"], plain["on"], "{origin}: the same triggers as pawl.yml");
    assert_eq!(workflow["permissions"], plain["permissions"], "{origin}: least permissions at the top");
    assert!(check_github_jobs(&origin, &workflow) >= 4, "{origin}: the pawl commands");

    let jobs = workflow["jobs"].as_hash().expect("jobs");
    let gpu_jobs: Vec<&str> =
        jobs.iter().filter(|(_, job)| is_gpu_job(job)).map(|(n, _)| n.as_str().unwrap()).collect();
    assert_eq!(gpu_jobs, ["check", "baseline"], "{origin}");
    for name in &gpu_jobs {
        let job = &workflow["jobs"][*name];
        assert_eq!(needs(job), ["wake"], "{origin}: job {name} waits for the machine");
        // pawl.yml's job, step for step: the templates cannot drift apart.
        let plain_job = &plain["jobs"][*name];
        for key in ["if", "steps", "permissions", "concurrency", "timeout-minutes", "runs-on"] {
            assert_eq!(job[key], plain_job[key], "{origin}: job {name}'s `{key}` differs from pawl.yml's");
        }
    }

    let wake = &workflow["jobs"]["wake"];
    assert!(
        !is_gpu_job(wake) && runs_on(wake) == ["ubuntu-latest"],
        "{origin}: wake runs on a hosted runner"
    );
    assert!(all_scripts(wake).contains(start), "{origin}: wake runs `{start}`");
    assert_eq!(wake["permissions"]["id-token"].as_str(), Some("write"), "{origin}: a keyless cloud login");

    let sleep = &workflow["jobs"]["sleep"];
    assert!(
        !is_gpu_job(sleep) && runs_on(sleep) == ["ubuntu-latest"],
        "{origin}: sleep runs on a hosted runner"
    );
    let mut after = needs(sleep);
    after.sort();
    assert_eq!(after, ["baseline", "check", "wake"], "{origin}: sleep comes after every job");
    assert_eq!(sleep["if"].as_str(), Some("always()"), "{origin}: the machine stops whatever the outcome");
    assert!(all_scripts(sleep).contains(stop), "{origin}: sleep runs `{stop}`");
    assert_eq!(sleep["permissions"]["actions"].as_str(), Some("read"), "{origin}: to see the other runs");
    for (name, job) in jobs {
        let name = name.as_str().unwrap();
        if name != "wake" && name != "sleep" {
            assert!(
                job["permissions"]["id-token"].is_badvalue(),
                "{origin}: only wake and sleep log in to the cloud"
            );
        }
    }
}

#[test]
fn the_google_cloud_template_wakes_and_stops_the_gpu_runner() {
    check_wake_template(
        "github/pawl-gcloud.yml",
        "gcloud compute instances start",
        "gcloud compute instances stop",
    );
}

#[test]
fn the_aws_template_wakes_and_stops_the_gpu_runner() {
    check_wake_template("github/pawl-aws.yml", "aws ec2 start-instances", "aws ec2 stop-instances");
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
    for (name, job) in workflow["jobs"].as_hash().expect("jobs") {
        assert!(is_gpu_job(job), "{origin}: job {} must run on the GPU runner", name.as_str().unwrap());
    }
    let commands = check_github_jobs(&origin, &workflow);
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
    assert!(commands >= 4, "{origin}: found only {commands} pawl commands");
    assert!(junit, "{origin}: a job must hand its JUnit report to GitLab");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("curl"), "{origin}: the MR note is pawl's job (`pawl comment --forge gitlab`)");
    let check = scripts_of(&pipeline["pawl-check"]["script"]).join("\n");
    assert!(check.contains("pawl comment --forge gitlab"), "{origin}: {check}");
}

#[test]
fn the_command_finder_finds_commands_and_flags() {
    let found = pawl_commands(
        "set -e\n./target/release/pawl check pawl.toml \\\n  --markdown r.md || true\necho pawl.toml\n",
    );
    assert_eq!(found, [vec!["check", "pawl.toml", "--markdown", "r.md"]]);
}
