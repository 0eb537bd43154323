//! `pawl history` and the recording done by `pawl run` and `pawl check`, end to end: real processes, a
//! real SQLite file, real git, a real Postgres server (PAWL_TEST_POSTGRES_URL; PAWL_TEST_POSTGRES=skip
//! runs without it).

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::Command;
use predicates::prelude::*;

struct History {
    dir: tempfile::TempDir,
}

impl History {
    /// A git repository holding the levels suite (`pawl.toml`, history `.pawl/history.sqlite`).
    fn new() -> History {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        std::fs::copy(fixtures.join("history.toml"), dir.path().join("pawl.toml")).unwrap();
        std::fs::copy(fixtures.join("levels.py"), dir.path().join("levels.py")).unwrap();
        let h = History { dir };
        h.git(&["init", "-q", "-b", "main"]);
        h.git(&["add", "."]);
        h.git(&["commit", "-q", "-m", "suite"]);
        h
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Process::new("git")
            .current_dir(self.dir.path())
            .args(["-c", "user.name=pawl", "-c", "user.email=pawl@example.com"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn pawl(&self) -> Command {
        let mut cmd = Command::cargo_bin("pawl").unwrap();
        cmd.current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("PAWL_HISTORY")
            .env_remove("LEVEL_SCALE");
        cmd
    }

    /// `pawl run` at a new commit, with the harness's level scaled by `scale`.
    fn run_at_new_commit(&self, scale: &str, seed: usize) -> String {
        self.git(&["commit", "-q", "--allow-empty", "-m", &format!("change {seed}")]);
        self.pawl()
            .args(["run", "-o", "run.json"])
            .env("LEVEL_SCALE", scale)
            .env("LEVEL_SEED", seed.to_string())
            .assert()
            .success()
            .stderr(predicate::str::contains("history: recorded run"));
        self.git(&["rev-parse", "HEAD"])
    }

    fn list_json(&self, extra: &[&str]) -> Vec<serde_json::Value> {
        let out = self
            .pawl()
            .args(["history", "list", "--format", "json", "--limit", "1000"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[test]
fn run_records_no_history_skips_and_the_environment_overrides() {
    let h = History::new();
    h.pawl()
        .args(["run", "-o", "a.json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("history: recorded run"));
    assert!(h.path(".pawl/history.sqlite").exists());
    // Another seed: two runs of a deterministic harness in one second would be the very same run.
    h.pawl()
        .args(["run", "-o", "b.json", "--no-history"])
        .env("LEVEL_SEED", "1")
        .assert()
        .success()
        .stderr(predicate::str::contains("history").not());
    assert_eq!(h.list_json(&[]).len(), 1);
    // $PAWL_HISTORY names another history: the run goes there, not to the suite's.
    h.pawl().args(["run", "-o", "c.json"]).env("PAWL_HISTORY", "elsewhere.sqlite").assert().success();
    assert_eq!(h.list_json(&[]).len(), 1);
    assert_eq!(h.list_json(&["--history", "elsewhere.sqlite"]).len(), 1);
    // A suite without `history` records nothing.
    let suite = std::fs::read_to_string(h.path("pawl.toml"))
        .unwrap()
        .replace("history = \".pawl/history.sqlite\"\n", "");
    std::fs::write(h.path("plain.toml"), suite).unwrap();
    h.pawl()
        .args(["run", "plain.toml", "-o", "d.json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("history").not());
    // `pawl check` records the run it judged, once.
    h.pawl().args(["ratchet", "--accept-new", "a.json"]).assert().success();
    h.pawl().args(["check", "--run", "b.json"]).assert().stderr(predicate::str::contains("recorded run"));
    h.pawl().args(["check", "--run", "b.json"]).assert().stderr(predicate::str::contains("already in"));
    let runs = h.list_json(&[]);
    assert_eq!(runs.len(), 2);
    assert_eq!(runs.iter().filter(|r| r["origin"] == "check").count(), 1);
}

#[test]
fn add_imports_each_run_once_and_refuses_bad_files() {
    let h = History::new();
    h.pawl().args(["run", "-o", "a.json", "--no-history"]).assert().success();
    h.pawl()
        .args(["history", "add", "a.json", "a.json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("recorded run").and(predicate::str::contains("was already in")));
    assert_eq!(h.list_json(&[]).len(), 1);
    assert_eq!(h.list_json(&[])[0]["origin"], "import");
    std::fs::write(h.path("bad.json"), "{\"schema\": \"pawl-run/1\", \"suite\": 3}").unwrap();
    h.pawl()
        .args(["history", "add", "a.json", "bad.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.json"));
    h.pawl()
        .args(["history", "add", "missing.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.json"));
}

#[test]
fn changes_name_the_commit_where_a_case_got_slower() {
    let h = History::new();
    for seed in 0..6 {
        h.run_at_new_commit("1.0", seed);
    }
    let slow = h.run_at_new_commit("1.1", 6);
    for seed in 7..10 {
        h.run_at_new_commit("1.1", seed);
    }
    let out = h.pawl().args(["history", "changes"]).assert().code(1).get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(&format!("commit {}", &slow[..12])), "{text}");
    assert_eq!(text.matches("REGRESSION").count(), 2, "both cases: {text}");
    assert!(text.contains("+10.0%") || text.contains("+9.9%") || text.contains("+10.1%"), "{text}");
    let json =
        h.pawl().args(["history", "changes", "--format", "json", "--case", "level/N=2"]).assert().code(1);
    let report: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    assert_eq!(report["regressions"], 1);
    assert_eq!(report["cases"][0]["changes"][0]["commit"], slow.as_str());
    assert_eq!(report["cases"][0]["changes"][0]["index"], 6);
    // A tolerance above the change, or a range after it: nothing to fail on.
    h.pawl().args(["history", "changes", "--tolerance", "0.2"]).assert().success();
    h.pawl().args(["history", "changes", "--since", "2100-01-01"]).assert().success();
    h.pawl().args(["history", "changes", "--since", &slow[..10]]).assert().code(1);
    h.pawl().args(["history", "changes", "--since", "2000-01-01"]).assert().code(1);
    h.pawl()
        .args(["history", "changes", "--since", "soon"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`soon` is not a date"));
    h.pawl()
        .args(["history", "changes", "--case", "level/N=9"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no run of case `level/N=9`"));
}

#[test]
fn show_plot_html_and_export() {
    let h = History::new();
    for seed in 0..4 {
        h.run_at_new_commit("1.0", seed);
    }
    let shown =
        h.pawl().args(["history", "show", "level/N=1"]).assert().success().get_output().stdout.clone();
    let shown = String::from_utf8(shown).unwrap();
    assert!(shown.contains("level/N=1 · levels") && shown.matches(" ok ").count() == 4, "{shown}");
    let json = h.pawl().args(["history", "show", "level/N=1", "--format", "json"]).assert().success();
    let trends: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    assert_eq!(trends[0]["points"].as_array().unwrap().len(), 4);

    h.pawl()
        .args(["history", "plot", "-o", "plots"])
        .assert()
        .success()
        .stdout(predicate::str::contains("2 trends"));
    for name in ["level_N=1.svg", "level_N=1.png", "level_N=2.svg", "level_N=2.png"] {
        assert!(std::fs::metadata(h.path("plots").join(name)).unwrap().len() > 1000, "{name}");
    }
    h.pawl().args(["history", "html", "-o", "report.html"]).assert().success();
    let page = std::fs::read_to_string(h.path("report.html")).unwrap();
    assert!(page.contains("\"id\":\"level/N=1\"") && page.contains("\"id\":\"level/N=2\""));
    assert!(page.contains("default-src 'none'"), "self-contained");

    // The newest run, exported, is the very file `pawl run` wrote.
    let key = h.list_json(&[])[0]["key"].as_str().unwrap().to_owned();
    h.pawl().args(["history", "export", &key[..10], "-o", "back.json"]).assert().success();
    assert_eq!(std::fs::read(h.path("back.json")).unwrap(), std::fs::read(h.path("run.json")).unwrap());
    h.pawl()
        .args(["history", "export", "zz", "-o", "x.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a run key"));
}

#[test]
fn bad_locations_are_clear_and_keep_passwords_out() {
    let h = History::new();
    std::fs::remove_file(h.path("pawl.toml")).unwrap();
    h.pawl().args(["history", "list"]).assert().code(2).stderr(predicate::str::contains("no history named"));
    h.pawl()
        .args(["history", "list", "--history", "nothing-here.sqlite"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no history at nothing-here.sqlite"));
    assert!(!h.path("nothing-here.sqlite").exists(), "reading never creates a history");
    h.pawl()
        .args(["history", "list", "--history", "mysql://root:hunter2@db/perf"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`mysql://`").and(predicate::str::contains("hunter2").not()));
    h.pawl()
        .args(["history", "list", "--history", "postgres://pawl:s3cret-pw@127.0.0.1:1/perf"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("postgres://pawl:***@127.0.0.1:1/perf")
                .and(predicate::str::contains("s3cret").not()),
        );
}

#[test]
fn four_processes_adding_at_once_lose_nothing() {
    let h = History::new();
    h.pawl().args(["run", "-o", "one.json", "--no-history"]).assert().success();
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(h.path("one.json")).unwrap()).unwrap();
    for i in 0..100 {
        let mut copy = run.clone();
        copy["timestamp"] = format!("2026-05-20T10:{:02}:{:02}Z", i / 60, i % 60).into();
        std::fs::write(h.path(&format!("r{i}.json")), serde_json::to_string(&copy).unwrap()).unwrap();
    }
    let exe = assert_cmd::cargo::cargo_bin("pawl");
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let files: Vec<String> = (0..25).map(|i| format!("r{}.json", w * 25 + i)).collect();
            Process::new(&exe)
                .current_dir(h.dir.path())
                .args(["history", "add"])
                .args(&files)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for w in writers {
        let out = w.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(h.list_json(&[]).len(), 100);
}

#[test]
fn a_team_postgres_history_through_the_environment() {
    if std::env::var("PAWL_TEST_POSTGRES").is_ok_and(|v| v == "skip") {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "skipping Postgres: PAWL_TEST_POSTGRES=skip");
        return;
    }
    let url = std::env::var("PAWL_TEST_POSTGRES_URL").expect(
        "PAWL_TEST_POSTGRES_URL is not set: start a server with `scripts/test-postgres.sh start` and export the URL \
         it prints, or set PAWL_TEST_POSTGRES=skip to run without Postgres",
    );
    let name = format!("pawl_cli_{}", std::process::id());
    let mut admin =
        postgres::Client::connect(&url, postgres::NoTls).expect("the Postgres of PAWL_TEST_POSTGRES_URL");
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name}")).unwrap_or_else(
        |_| {
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).unwrap();
            admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        },
    );
    let (base, _) = url.rsplit_once('/').unwrap();
    let db_url = format!("{base}/{name}");
    let password = db_url
        .split_once("://")
        .unwrap()
        .1
        .split_once('@')
        .unwrap()
        .0
        .split_once(':')
        .map(|p| p.1.to_owned());
    let h = History::new();
    for (i, scale) in ["1.0", "1.0", "1.0", "1.1", "1.1", "1.1"].iter().enumerate() {
        let out = h
            .pawl()
            .args(["run", "-o", "run.json"])
            .env("PAWL_HISTORY", &db_url)
            .env("LEVEL_SCALE", scale)
            .env("LEVEL_SEED", i.to_string())
            .assert()
            .success();
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(stderr.contains("history: recorded run") && stderr.contains("postgres://"), "{stderr}");
        if let Some(p) = &password {
            assert!(!stderr.contains(p.as_str()), "{stderr}");
        }
    }
    assert!(!h.path(".pawl/history.sqlite").exists(), "the environment's history, not the suite's");
    let listed = h
        .pawl()
        .args(["history", "list", "--format", "json"])
        .env("PAWL_HISTORY", &db_url)
        .assert()
        .success();
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&listed.get_output().stdout).unwrap();
    assert_eq!(runs.len(), 6);
    h.pawl().args(["history", "changes", "--min-segment", "2"]).env("PAWL_HISTORY", &db_url).assert().code(1);
}
