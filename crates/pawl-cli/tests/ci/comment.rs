//! `pawl comment` against the stubs of GitHub's and GitLab's REST APIs (neither forge can be reached
//! from here): one sticky comment per suite, written by pawl's own identity.

use std::process::Output;

use assert_cmd::Command;

use crate::hostile::assert_inert;
use crate::stub::{ACTIONS_BOT, Config, Forge, PROJECT, REPO, Stub, TOKEN};

pub const MARKER: &str = "<!-- pawl:attention -->";

/// A folder holding the comment's body, and where the job summary goes.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new(body: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("report.md"), body).unwrap();
        Env { dir }
    }

    pub fn summary(&self) -> std::path::PathBuf {
        self.dir.path().join("summary.md")
    }

    /// `pawl comment --pr 7 --body report.md` with GitHub Actions' variables pointing at `api_url`.
    pub fn github(&self, api_url: &str) -> Command {
        let mut cmd = self.bare();
        cmd.env("GITHUB_API_URL", api_url).env("GITHUB_REPOSITORY", REPO).env("GITHUB_TOKEN", TOKEN);
        cmd.args(["comment", "--pr", "7", "--body", "report.md"]);
        cmd
    }

    /// `pawl comment --forge gitlab --pr 7 --body report.md` with GitLab CI's variables.
    pub fn gitlab(&self, stub: &Stub) -> Command {
        let mut cmd = self.bare();
        cmd.env("CI_API_V4_URL", stub.api_url())
            .env("CI_PROJECT_ID", PROJECT)
            .env("PAWL_GITLAB_TOKEN", TOKEN);
        cmd.args(["comment", "--forge", "gitlab", "--pr", "7", "--body", "report.md"]);
        cmd
    }

    fn bare(&self) -> Command {
        let mut cmd = Command::cargo_bin("pawl").unwrap();
        cmd.current_dir(self.dir.path()).env("GITHUB_STEP_SUMMARY", self.summary());
        for name in [
            "GITHUB_ACTIONS",
            "GITLAB_CI",
            "GITHUB_TOKEN",
            "GITHUB_API_URL",
            "CI_API_V4_URL",
            "PAWL_GITLAB_TOKEN",
        ] {
            cmd.env_remove(name);
        }
        cmd
    }

    /// Runs `cmd`, and checks that the token is in none of its output and none of the files it left,
    /// and that its log is inert (no workflow command of anybody else's).
    pub fn run(&self, cmd: &mut Command) -> Output {
        let output = cmd.output().unwrap();
        for (name, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
            assert!(!String::from_utf8_lossy(bytes).contains(TOKEN), "the token is in {name}");
        }
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read(&path).unwrap();
            assert!(!String::from_utf8_lossy(&text).contains(TOKEN), "the token is in {}", path.display());
        }
        assert_inert("pawl comment, stdout", &output.stdout, true);
        assert_inert("pawl comment, stderr", &output.stderr, false);
        output
    }
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn bodies(stub: &Stub) -> Vec<(String, String)> {
    stub.comments().into_iter().map(|c| (c.author, c.body)).collect()
}

#[test]
fn a_first_run_creates_the_comment() {
    let body = format!("{MARKER}\n✅ no regression\n");
    let stub = Stub::start(Config::new(
        Forge::GitHub,
        &[("alice", "LGTM"), (ACTIONS_BOT, "<!-- pawl:other-suite -->\nnot ours")],
    ));
    let env = Env::new(&body);
    let output = env.run(&mut env.github(&stub.url));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("comment: created"), "{}", stderr(&output));
    let comments = bodies(&stub);
    assert_eq!(comments.len(), 3, "{comments:?}");
    assert_eq!(comments[2], (ACTIONS_BOT.to_owned(), body));
    let methods: Vec<String> = stub.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(
        methods,
        [
            "GET /user".to_owned(),
            format!("GET /repos/{REPO}/issues/7/comments?per_page=100"),
            format!("POST /repos/{REPO}/issues/7/comments")
        ]
    );
}

#[test]
fn the_comment_with_the_marker_is_updated_even_on_page_2() {
    let old = format!("{MARKER}\nold report");
    let stub = Stub::start(Config::new(
        Forge::GitHub,
        &[("alice", "first"), ("bob", "second"), (ACTIONS_BOT, &old), ("alice", "later")],
    ));
    let env = Env::new(&format!("{MARKER}\nnew report\n"));
    let output = env.run(&mut env.github(&stub.url));
    assert!(stderr(&output).contains("comment: updated"), "{}", stderr(&output));
    let summary: Vec<String> = stub.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(
        summary,
        [
            "GET /user".to_owned(),
            format!("GET /repos/{REPO}/issues/7/comments?per_page=100"),
            format!("GET /repos/{REPO}/issues/7/comments?per_page=100&page=2"),
            format!("PATCH /repos/{REPO}/issues/comments/3"),
        ]
    );
    assert_eq!(bodies(&stub)[2].1, format!("{MARKER}\nnew report\n"));
    assert_eq!(stub.comments().len(), 4, "no second comment");
}

#[test]
fn a_token_with_a_user_finds_its_comment_by_that_user() {
    let mut config = Config::new(
        Forge::GitHub,
        &[(ACTIONS_BOT, &format!("{MARKER}\nby the bot")), ("pawl-ci", &format!("{MARKER}\nold"))],
    );
    config.identity = Some("pawl-ci".to_owned());
    let stub = Stub::start(config);
    let env = Env::new(&format!("{MARKER}\nnew\n"));
    let output = env.run(&mut env.github(&stub.url));
    assert!(output.status.success(), "{}", stderr(&output));
    let comments = bodies(&stub);
    assert_eq!(comments[1].1, format!("{MARKER}\nnew\n"), "pawl-ci's comment is updated");
    assert_eq!(comments[0].1, format!("{MARKER}\nby the bot"), "another author's is not");
}

#[test]
fn a_body_over_the_limit_is_shortened_to_fit() {
    let rows: String = (0..3000).map(|i| format!("| 🔴 regressed | flash_fwd/S={i} | +5.0% |\n")).collect();
    let body = format!("{MARKER}\n{rows}");
    assert!(body.chars().count() > 65_536);
    let stub = Stub::start(Config::new(Forge::GitHub, &[]));
    let env = Env::new(&body);
    let output = env.run(&mut env.github(&stub.url));
    assert!(stderr(&output).contains("shortened to fit"), "{}", stderr(&output));
    let posted = &stub.comments()[0].body;
    assert!(posted.chars().count() < 65_536, "{} characters", posted.chars().count());
    assert!(posted.starts_with(MARKER), "the marker must survive, or the next run makes a second comment");
    assert!(posted.contains("The full report is in the job's artifacts."));
}

#[test]
fn without_permission_the_body_goes_to_the_job_summary() {
    let mut config = Config::new(Forge::GitHub, &[("alice", "first")]);
    config.writable = false;
    let stub = Stub::start(config);
    let body = format!("{MARKER}\n❌ 1 regressed\n");
    let env = Env::new(&body);
    let output = env.run(env.github(&stub.url).env("GITHUB_ACTIONS", "true"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("::warning title=pawl comment::"));
    assert!(
        stderr(&output).contains("HTTP 403") && stderr(&output).contains("job summary"),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read_to_string(env.summary()).unwrap(), format!("{body}\n"));
    assert_eq!(stub.comments().len(), 1, "nothing was posted");
}

#[test]
fn a_body_without_a_marker_needs_the_suite() {
    let stub = Stub::start(Config::new(Forge::GitHub, &[]));
    let env = Env::new("just text\n");
    let output = env.run(&mut env.github(&stub.url));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("pass --suite NAME"), "{}", stderr(&output));
    let output = env.run(env.github(&stub.url).args(["--suite", "attention"]));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stub.comments()[0].body, format!("{MARKER}\njust text\n"));
}

#[test]
fn from_check_rebuilds_the_comment_from_the_json_report_with_the_profile() {
    let report = serde_json::json!({
        "schema": "pawl-report/1",
        "suite": "attention",
        "old_label": "pawl-baseline.json",
        "new_label": "pawl-run.json",
        "mode": { "kind": "baseline", "drift": 0.01 },
        "tolerance": 0.02,
        "confidence": 0.99,
        "multiple_comparisons": "Benjamini–Hochberg, false discovery rate 1% over 1 cases",
        "testbed": "NVIDIA H100 80GB HBM3 / driver 580 / CUDA 13",
        "cost": { "gpu_seconds": 90.0, "price_per_hour": 2.4 },
        "verdicts": [{
            "id": "flash_fwd/S=8192", "bench": "flash_fwd", "params": { "S": 8192 }, "kind": "regressed",
            "ratio": { "point": 1.05, "low": 1.04, "high": 1.06, "confidence": 0.99 },
            "p_value": 1e-6, "q_value": 1e-6, "old": null, "new": null,
            "reason": {
                "why": "judged", "change": "slower", "significant": true, "tolerance": 0.02,
                "confidence": 0.99, "drift": 0.0, "cases": 1
            }
        }]
    });
    let stub = Stub::start(Config::new(Forge::GitHub, &[]));
    let env = Env::new("");
    std::fs::write(env.dir.path().join("report.json"), report.to_string()).unwrap();
    std::fs::write(env.dir.path().join("profile.md"), "### Nsight Compute\n\n| metric | base | head |\n")
        .unwrap();
    let mut cmd = Command::cargo_bin("pawl").unwrap();
    cmd.current_dir(env.dir.path())
        .env("GITHUB_API_URL", &stub.url)
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_STEP_SUMMARY", env.summary())
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .args(["comment", "--pr", "7", "--from-check", "report.json", "--extra-markdown", "profile.md"]);
    let output = env.run(&mut cmd);
    assert!(stderr(&output).contains("comment: created"), "{}", stderr(&output));
    let posted = &stub.comments()[0].body;
    assert!(posted.starts_with(MARKER), "{posted}");
    assert!(posted.contains("regressed") && posted.contains("S=8192"), "{posted}");
    assert!(posted.contains("### Nsight Compute"), "{posted}");
    assert!(posted.contains("GPU time 90 s, $0.06 at $2.40/h"), "the cost line: {posted}");
}

#[test]
fn gitlab_creates_then_updates_its_own_note_only() {
    let decoy = format!("{MARKER}\nplanted by mallory");
    let mut config = Config::new(
        Forge::GitLab,
        &[("system", &format!("{MARKER}\nadded 1 commit")), ("mallory", &decoy), ("alice", "LGTM")],
    );
    config.identity = Some("pawl-project-bot".to_owned());
    let stub = Stub::start(config);
    let env = Env::new(&format!("{MARKER}\nfirst report\n"));
    let output = env.run(&mut env.gitlab(&stub));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("comment: created"), "{}", stderr(&output));
    assert!(stderr(&output).contains("mallory"), "the decoy is mentioned: {}", stderr(&output));
    std::fs::write(env.dir.path().join("report.md"), format!("{MARKER}\nsecond report\n")).unwrap();
    let output = env.run(&mut env.gitlab(&stub));
    assert!(stderr(&output).contains("comment: updated"), "{}", stderr(&output));
    let notes = bodies(&stub);
    assert_eq!(notes.len(), 4, "{notes:?}");
    assert_eq!(notes[1].1, decoy, "mallory's note is left alone");
    assert_eq!(notes[3], ("pawl-project-bot".to_owned(), format!("{MARKER}\nsecond report\n")));
    let requests = stub.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.header("private-token") == Some(TOKEN) && r.header("authorization").is_none())
    );
    let writes: Vec<String> =
        requests.iter().filter(|r| r.method != "GET").map(|r| format!("{} {}", r.method, r.path)).collect();
    let notes_path = format!("/api/v4/projects/{PROJECT}/merge_requests/7/notes");
    assert_eq!(writes, [format!("POST {notes_path}"), format!("PUT {notes_path}/4")]);
}

#[test]
fn gitlab_is_found_from_its_ci_variables() {
    let mut config = Config::new(Forge::GitLab, &[]);
    config.identity = Some("pawl-project-bot".to_owned());
    let stub = Stub::start(config);
    let env = Env::new(&format!("{MARKER}\nreport\n"));
    let mut cmd = env.bare();
    cmd.env("GITLAB_CI", "true")
        .env("CI_API_V4_URL", stub.api_url())
        .env("CI_PROJECT_ID", PROJECT)
        .env("PAWL_GITLAB_TOKEN", TOKEN)
        .args(["comment", "--pr", "7", "--body", "report.md"]);
    let output = env.run(&mut cmd);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stub.comments().len(), 1);
}

#[test]
fn gitlab_without_a_token_prints_the_note_and_passes() {
    let stub = Stub::start(Config::new(Forge::GitLab, &[]));
    let env = Env::new(&format!("{MARKER}\n❌ 1 regressed\n"));
    let mut cmd = env.gitlab(&stub);
    cmd.env_remove("PAWL_GITLAB_TOKEN").env_remove("GITHUB_STEP_SUMMARY");
    let output = env.run(&mut cmd);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("PAWL_GITLAB_TOKEN"), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 regressed"));
    assert!(stub.requests().is_empty(), "nothing sent without a token");
}
