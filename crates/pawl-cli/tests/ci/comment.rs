//! `pawl comment` against the stub of GitHub's REST API (GitHub itself cannot be reached from here).

use assert_cmd::Command;
use predicates::prelude::*;

use crate::stub::{REPO, Stub, TOKEN};

const MARKER: &str = "<!-- pawl:attention -->";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new(body: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("report.md"), body).unwrap();
        Env { dir }
    }

    fn summary(&self) -> std::path::PathBuf {
        self.dir.path().join("summary.md")
    }

    fn pawl(&self, stub: &Stub) -> Command {
        let mut cmd = Command::cargo_bin("pawl").unwrap();
        cmd.current_dir(self.dir.path())
            .env("GITHUB_API_URL", &stub.url)
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_STEP_SUMMARY", self.summary())
            .env_remove("GITHUB_ACTIONS")
            .args(["comment", "--pr", "7", "--body", "report.md"]);
        cmd
    }
}

#[test]
fn a_first_run_creates_the_comment() {
    let body = format!("{MARKER}\n✅ no regression\n");
    let stub = Stub::start(&["LGTM", "<!-- pawl:other-suite -->\nnot ours"], true);
    let env = Env::new(&body);
    env.pawl(&stub).assert().success().stderr(predicate::str::contains("comment: created"));
    let comments = stub.comments();
    assert_eq!(comments.len(), 3, "{comments:?}");
    assert_eq!(comments[2].1, body);
    let methods: Vec<String> = stub.requests().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["GET", "POST"]);
}

#[test]
fn the_comment_with_the_marker_is_updated_even_on_page_2() {
    let stub = Stub::start(&["first", "second", &format!("{MARKER}\nold report"), "later"], true);
    let env = Env::new(&format!("{MARKER}\nnew report\n"));
    env.pawl(&stub).assert().success().stderr(predicate::str::contains("comment: updated"));
    let requests = stub.requests();
    let summary: Vec<(String, String)> =
        requests.iter().map(|r| (r.method.clone(), r.path.clone())).collect();
    assert_eq!(
        summary,
        [
            ("GET".to_owned(), format!("/repos/{REPO}/issues/7/comments?per_page=100")),
            ("GET".to_owned(), format!("/repos/{REPO}/issues/7/comments?per_page=100&page=2")),
            ("PATCH".to_owned(), format!("/repos/{REPO}/issues/comments/3")),
        ]
    );
    assert_eq!(stub.comments()[2].1, format!("{MARKER}\nnew report\n"));
    assert_eq!(stub.comments().len(), 4, "no second comment");
}

#[test]
fn a_body_over_the_limit_is_shortened_to_fit() {
    let rows: String = (0..3000).map(|i| format!("| 🔴 regressed | flash_fwd/S={i} | +5.0% |\n")).collect();
    let body = format!("{MARKER}\n{rows}");
    assert!(body.chars().count() > 65_536);
    let stub = Stub::start(&[], true);
    let env = Env::new(&body);
    env.pawl(&stub).assert().success().stderr(predicate::str::contains("shortened to fit"));
    let posted = &stub.comments()[0].1;
    assert!(posted.chars().count() < 65_536, "{} characters", posted.chars().count());
    assert!(posted.starts_with(MARKER), "the marker must survive, or the next run makes a second comment");
    assert!(posted.contains("The full report is in the job's artifacts."));
}

#[test]
fn without_permission_the_body_goes_to_the_job_summary() {
    let stub = Stub::start(&["first"], false);
    let body = format!("{MARKER}\n❌ 1 regressed\n");
    let env = Env::new(&body);
    env.pawl(&stub)
        .env("GITHUB_ACTIONS", "true")
        .assert()
        .success()
        .stdout(predicate::str::contains("::warning title=pawl comment::"))
        .stderr(predicate::str::contains("HTTP 403").and(predicate::str::contains("job summary")));
    assert_eq!(std::fs::read_to_string(env.summary()).unwrap(), format!("{body}\n"));
    assert_eq!(stub.comments().len(), 1, "nothing was posted");
}

#[test]
fn a_body_without_a_marker_needs_the_suite() {
    let stub = Stub::start(&[], true);
    let env = Env::new("just text\n");
    env.pawl(&stub).assert().code(2).stderr(predicate::str::contains("pass --suite NAME"));
    env.pawl(&stub).args(["--suite", "attention"]).assert().success();
    assert_eq!(stub.comments()[0].1, format!("{MARKER}\njust text\n"));
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
        "verdicts": [{
            "id": "flash_fwd/S=8192", "bench": "flash_fwd", "params": { "S": 8192 }, "kind": "regressed",
            "ratio": { "point": 1.05, "low": 1.04, "high": 1.06, "confidence": 0.99 },
            "p_value": 1e-6, "q_value": 1e-6, "old": null, "new": null,
            "reason": "5.0% slower (99% CI +4.0% to +6.0%), beyond the 2% tolerance"
        }]
    });
    let stub = Stub::start(&[], true);
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
        .args(["comment", "--pr", "7", "--from-check", "report.json", "--extra-markdown", "profile.md"]);
    cmd.assert().success().stderr(predicate::str::contains("comment: created"));
    let posted = &stub.comments()[0].1;
    assert!(posted.starts_with(MARKER), "{posted}");
    assert!(posted.contains("regressed") && posted.contains("S=8192"), "{posted}");
    assert!(posted.contains("### Nsight Compute"), "{posted}");
}
