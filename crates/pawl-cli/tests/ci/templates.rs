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

#[test]
fn the_sharded_github_workflow_splits_on_gpu_runners_and_merges_on_a_hosted_one() {
    let (path, workflow) = template("github/pawl-sharded.yml");
    let origin = path.display().to_string();
    assert_eq!(workflow["permissions"]["contents"].as_str(), Some("read"), "{origin}: least permissions");
    assert!(check_github_jobs(&origin, &workflow) >= 4, "{origin}: the pawl commands");

    let shard = &workflow["jobs"]["shard"];
    assert!(is_gpu_job(shard), "{origin}: shards measure on the GPU runners");
    let shards = shard["strategy"]["matrix"]["shard"].as_vec().expect("a matrix of shards");
    let numbers: Vec<i64> = shards.iter().filter_map(Yaml::as_i64).collect();
    assert_eq!(numbers, (1..=shards.len() as i64).collect::<Vec<_>>(), "{origin}: shards 1 to n");
    assert_eq!(
        shard["strategy"]["fail-fast"].as_bool(),
        Some(false),
        "{origin}: every shard runs to the end"
    );
    let script = all_scripts(shard);
    assert!(
        script.contains("--shard \"${{ matrix.shard }}/${{ strategy.job-total }}\""),
        "{origin}: the shard from the matrix, the count from its size: {script}"
    );
    assert!(shard["permissions"]["pull-requests"].is_badvalue(), "{origin}: shards do not comment");

    for name in ["check", "baseline"] {
        let job = &workflow["jobs"][name];
        assert_eq!(needs(job), ["shard"], "{origin}: {name} waits for every shard");
        assert!(
            job["if"].as_str().unwrap_or_default().starts_with("always()"),
            "{origin}: {name} runs when a shard failed, to name it"
        );
        assert!(!is_gpu_job(job) && runs_on(job) == ["ubuntu-latest"], "{origin}: {name} needs no GPU");
    }
    let check = &workflow["jobs"]["check"];
    assert!(all_scripts(check).contains("pawl check \"$PAWL_SUITE\" --merge"), "{origin}");
    assert!(all_scripts(check).contains("pawl comment"), "{origin}: one comment, from the merged check");
    assert_eq!(check["permissions"]["pull-requests"].as_str(), Some("write"));
    let baseline = all_scripts(&workflow["jobs"]["baseline"]);
    assert!(baseline.contains("pawl merge") && baseline.contains("pawl ratchet --update"), "{origin}");
    assert_eq!(workflow["jobs"]["baseline"]["permissions"]["contents"].as_str(), Some("write"));
}

/// Every YAML document of a template.
fn documents(path: &str) -> (PathBuf, Vec<Yaml>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ci").join(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, docs)
}

/// The shell script a Kubernetes Job's container runs (`sh -c SCRIPT`), and its pod spec.
fn job_script(job: &Yaml) -> (String, &Yaml) {
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    let command: Vec<&str> = container["command"].as_vec().unwrap().iter().filter_map(Yaml::as_str).collect();
    assert_eq!(command, ["/bin/sh", "-c"]);
    (container["args"][0].as_str().unwrap().to_owned(), container)
}

#[test]
fn the_kubernetes_indexed_job_shards_and_the_merge_job_joins() {
    let (path, docs) = documents("kubernetes/pawl-shards.yaml");
    let origin = path.display().to_string();
    let job = docs.iter().find(|d| d["kind"].as_str() == Some("Job")).expect("a Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"), "{origin}");
    let completions = spec["completions"].as_i64().unwrap();
    assert_eq!(spec["parallelism"].as_i64(), Some(completions), "{origin}: every shard at once");
    let (script, container) = job_script(job);
    let count = container["env"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|e| e["name"].as_str() == Some("PAWL_SHARD_COUNT"))
        .and_then(|e| e["value"].as_str())
        .expect("PAWL_SHARD_COUNT, which Kubernetes does not set");
    assert_eq!(count.parse::<i64>().ok(), Some(completions), "{origin}: PAWL_SHARD_COUNT = completions");
    assert_eq!(
        container["resources"]["limits"]["nvidia.com/gpu"].as_i64(),
        Some(1),
        "{origin}: a GPU per pod"
    );
    assert!(
        script.contains("--shard auto") && script.contains("$JOB_COMPLETION_INDEX"),
        "{origin}: {script}"
    );
    let commands = pawl_commands(&script);
    assert!(!commands.is_empty(), "{origin}");
    for command in &commands {
        check_command(&origin, command);
    }
    assert!(
        docs.iter().any(|d| d["kind"].as_str() == Some("PersistentVolumeClaim")),
        "{origin}: shared results"
    );

    let (path, docs) = documents("kubernetes/pawl-merge.yaml");
    let origin = path.display().to_string();
    assert_eq!(docs.len(), 1, "{origin}");
    let (script, container) = job_script(&docs[0]);
    assert!(
        container["resources"]["limits"]["nvidia.com/gpu"].is_badvalue(),
        "{origin}: the merge needs no GPU"
    );
    assert!(
        script.contains("pawl check \"$PAWL_SUITE\" --merge /results/pawl-run-*.json"),
        "{origin}: {script}"
    );
    for command in pawl_commands(&script) {
        check_command(&origin, &command);
    }
}

#[test]
fn the_slurm_array_shards_and_the_merge_job_joins() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ci/slurm");
    let read = |name: &str| {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let syntax = std::process::Command::new("bash").arg("-n").arg(&path).status().unwrap();
        assert!(syntax.success(), "{}: bash -n", path.display());
        (path.display().to_string(), text)
    };
    let directives = |text: &str| -> Vec<String> {
        text.lines().filter_map(|l| l.strip_prefix("#SBATCH ")).map(str::to_owned).collect()
    };
    // The commands a script runs: its comments (and #SBATCH lines) left out.
    let code = |text: &str| -> String {
        text.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n")
    };

    let (origin, shards) = read("pawl-shards.sbatch");
    let sbatch = directives(&shards);
    let array = sbatch.iter().find_map(|d| d.strip_prefix("--array=")).expect("a job array");
    let (first, last) = array.split_once('-').expect("a range");
    assert_eq!(first, "0", "{origin}: a plain range from 0");
    assert!(last.parse::<u32>().is_ok(), "{origin}: a plain range, no step or limit: {array}");
    assert!(sbatch.iter().any(|d| d.starts_with("--gres=gpu:")), "{origin}: a GPU per task");
    assert!(shards.contains("--shard auto") && shards.contains("$SLURM_ARRAY_TASK_ID"), "{origin}");
    let commands = pawl_commands(&code(&shards));
    assert!(!commands.is_empty(), "{origin}");
    for command in &commands {
        check_command(&origin, command);
    }

    let (origin, merge) = read("pawl-merge.sbatch");
    assert!(!directives(&merge).iter().any(|d| d.contains("gpu")), "{origin}: the merge needs no GPU");
    assert!(merge.contains("--merge pawl-results/pawl-run-*.json"), "{origin}");
    for command in pawl_commands(&code(&merge)) {
        check_command(&origin, &command);
    }
}
