//! `pawl tune` end to end on a command bench whose harness (tests/fixtures/tune/tune_harness.py) times
//! a model of its tune values: a planted best per size, one configuration that answers wrong, one whose
//! harness crashes. No GPU.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use predicates::prelude::*;

/// A git repository holding the toy suite and its harness, committed.
struct Toy {
    dir: tempfile::TempDir,
}

impl Toy {
    fn new() -> Toy {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tune");
        for name in ["pawl.toml", "tune_harness.py"] {
            std::fs::copy(fixtures.join(name), dir.path().join(name)).unwrap();
        }
        let toy = Toy { dir };
        toy.git(&["init", "-q", "."]);
        toy.git(&["add", "-A"]);
        toy.git(&["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "toy"]);
        toy
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    fn git(&self, args: &[&str]) -> std::process::Output {
        let out = Process::new("git").args(args).current_dir(self.dir.path()).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    fn pawl(&self) -> Command {
        let mut cmd = Command::cargo_bin("pawl").unwrap();
        cmd.current_dir(self.dir.path()).env("NO_COLOR", "1").env_remove("TUNE_HARNESS_LOG");
        cmd.timeout(std::time::Duration::from_secs(120));
        cmd
    }

    /// `pawl tune` with a generous budget, the harness logging each configuration it prepares.
    fn tune(&self, extra: &[&str]) -> String {
        let log = self.path("prepared.log");
        let _ = std::fs::remove_file(&log);
        let out = self
            .pawl()
            .args(["tune", "--budget", "90s"])
            .args(extra)
            .env("TUNE_HARNESS_LOG", &log)
            .assert()
            .success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    }

    /// Configurations the harnesses prepared.
    fn prepared(&self) -> usize {
        self.log().iter().filter(|l| l.starts_with("N=")).count()
    }

    /// The most harness processes running at once.
    fn most_processes(&self) -> usize {
        let (mut alive, mut most) = (0usize, 0);
        for line in self.log() {
            if line.starts_with("start ") {
                alive += 1;
            } else if line.starts_with("end ")
                || line.starts_with("N=") && line.ends_with("UNROLL=4") && line.contains("BLOCK=128")
            {
                // A process ends at its input's end, or by the planted crash.
                alive = alive.saturating_sub(1);
            }
            most = most.max(alive);
        }
        most
    }

    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("prepared.log"))
            .map_or(Vec::new(), |t| t.lines().map(str::to_owned).collect())
    }
}

fn tuning(toy: &Toy) -> serde_json::Value {
    serde_json::from_str(&toy.read("tuning/tuning.json")).unwrap()
}

#[test]
fn the_planted_best_wins_and_the_patch_applies() {
    let toy = Toy::new();
    let stdout = toy.tune(&[]);
    assert!(stdout.contains("| toy/N=1000 | BLOCK=64,UNROLL=2 | ×1.2"), "{stdout}");
    assert!(stdout.contains("| toy/N=4000 | BLOCK=128,UNROLL=2 | ×1.3"), "{stdout}");

    // Both misbehaving configurations were tried, rejected with their reasons, and lost.
    let md = toy.read("tuning/suggestions.md");
    assert!(md.contains("- wrong (") && md.contains("`BLOCK=16,UNROLL=4`"), "{md}");
    assert!(
        md.contains("exited (exit status: 3) before answering") && md.contains("`BLOCK=128,UNROLL=4`"),
        "{md}"
    );
    let t = tuning(&toy);
    for case in t["cases"].as_array().unwrap() {
        let suggested = case["decision"]["suggested"].as_u64().unwrap();
        let rejected: Vec<u64> = case["visits"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|v| v["measurements"].as_array().unwrap())
            .filter(|m| m["outcome"] == "rejected")
            .map(|m| m["config"].as_u64().unwrap())
            .collect();
        assert_eq!(rejected.len(), 2, "{rejected:?}");
        assert!(!rejected.contains(&suggested));
        assert_eq!(case["decision"]["basis"]["kind"], "faster");
    }

    // The patch applies to the committed suite, and applied, the suite runs the tuned configurations.
    let patch = toy.read("tuning/suggestions.patch");
    assert!(patch.starts_with("--- a/pawl.toml\n+++ b/pawl.toml\n"), "{patch}");
    toy.git(&["apply", "--check", "tuning/suggestions.patch"]);
    toy.git(&["apply", "tuning/suggestions.patch"]);
    let suite = toy.read("pawl.toml");
    assert!(suite.contains("BLOCK = { default = \"if N == 4000 { 128 } else { 64 }\""), "{suite}");
    toy.pawl()
        .args(["validate", "--list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("toy/N=1000  [BLOCK=64,UNROLL=2]"))
        .stdout(predicate::str::contains("toy/N=4000  [BLOCK=128,UNROLL=2]"));

    // Tuned again, the new defaults are the fastest: nothing more to change.
    let stdout = toy.tune(&["--fresh"]);
    assert!(stdout.contains("**0 faster**"), "{stdout}");
    assert!(toy.read("tuning/suggestions.md").contains("Nothing is faster: the suite stays as it is."));
    assert!(!toy.path("tuning/suggestions.patch").exists(), "a stale patch is removed");
}

/// `--gpus`: the two cases split over two (stand-in) GPUs and tuned at once, every harness of a case
/// pinned to its GPU; the results in suite order, each naming its GPU, and the planted bests still win.
#[test]
fn gpus_split_the_cases_and_pin_each_case_to_its_gpu() {
    let toy = Toy::new();
    let log = toy.path("prepared.log");
    let out = toy
        .pawl()
        .args(["tune", "--budget", "90s", "--gpus", "all"])
        .env("TUNE_HARNESS_LOG", &log)
        .env(
            "PAWL_FAKE_GPUS",
            r#"[{"uuid": "GPU-a", "name": "Test GPU"}, {"uuid": "GPU-b", "name": "Test GPU"}]"#,
        )
        .env_remove("CUDA_VISIBLE_DEVICES")
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("| toy/N=1000 | BLOCK=64,UNROLL=2 | ×1.2"), "{stdout}");
    assert!(stdout.contains("| toy/N=4000 | BLOCK=128,UNROLL=2 | ×1.3"), "{stdout}");

    let t = tuning(&toy);
    let placed: Vec<(&str, &str)> = t["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["gpu_uuid"].as_str().unwrap()))
        .collect();
    assert_eq!(placed, [("toy/N=1000", "GPU-a"), ("toy/N=4000", "GPU-b")]);
    let pins: Vec<String> = toy.log().into_iter().filter(|l| l.starts_with("gpu ")).collect();
    assert!(pins.iter().any(|l| l == "gpu GPU-a N=1000") && pins.iter().any(|l| l == "gpu GPU-b N=4000"));
    for line in &pins {
        assert!(
            line == "gpu GPU-a N=1000" || line == "gpu GPU-b N=4000",
            "a case measured off its GPU: {line}"
        );
    }
}

#[test]
fn a_rerun_measures_only_what_changed() {
    let toy = Toy::new();
    toy.tune(&[]);
    let first = toy.prepared();
    assert!(first >= 30, "every configuration of both cases prepared at least once: {first}");
    // One process per BLOCK (its argv, six of them), at most four running at once.
    let most = toy.most_processes();
    assert!((2..=4).contains(&most), "{most} harness processes at once");

    toy.tune(&[]);
    assert_eq!(toy.prepared(), 0, "nothing changed: everything comes from the cache");
    let t = tuning(&toy);
    let all_cached = t["cases"].as_array().unwrap().iter().all(|c| {
        c["visits"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|v| v["measurements"].as_array().unwrap())
            .all(|m| m["cached"] == true)
    });
    assert!(all_cached);

    toy.tune(&["--fresh"]);
    assert!(toy.prepared() >= 30, "--fresh measures again");

    // The harness is the command's code: changing it changes every key.
    let harness = toy.read("tune_harness.py") + "\n# changed\n";
    std::fs::write(toy.path("tune_harness.py"), harness).unwrap();
    toy.tune(&[]);
    assert!(toy.prepared() >= 30);
}

#[test]
fn replay_needs_no_device() {
    let toy = Toy::new();
    let recording =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../pawl-core/tests/data/tuning/synthetic.json");
    let out = toy
        .pawl()
        .args(["tune", "--replay"])
        .arg(&recording)
        .args(["--out-dir", "replayed", "--budget", "25%"])
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("**2 faster**"), "{stdout}");
    let md = toy.read("replayed/suggestions.md");
    assert!(md.contains("against the exhaustive recording"), "{md}");
    // The toy suite has no synthetic bench: the replay says so and writes no patch.
    assert!(!toy.path("replayed/suggestions.patch").exists());
    let replayed: serde_json::Value = serde_json::from_str(&toy.read("replayed/tuning.json")).unwrap();
    assert!(replayed["source"].as_str().unwrap().starts_with("replay of"));
}

#[test]
fn bad_input_is_a_clear_error() {
    let toy = Toy::new();
    toy.pawl()
        .args(["tune", "--budget", "soon"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--budget `soon` is not a positive time"));
    toy.pawl()
        .args(["tune", "--budget", "25%"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is for --replay"));
    toy.pawl()
        .args(["tune", "--replay", "missing.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.json"));
    std::fs::write(toy.path("broken.json"), "{\"schema\": \"pawl-tuning/1\", \"suite\": ").unwrap();
    toy.pawl()
        .args(["tune", "--replay", "broken.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("broken.json:1:"));
    std::fs::write(toy.path("run.json"), "{\"schema\": \"pawl-run/1\"}").unwrap();
    toy.pawl()
        .args(["tune", "--replay", "run.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected a pawl-tuning file"));

    std::fs::create_dir_all(toy.path("tuning")).unwrap();
    std::fs::write(toy.path("tuning/cache.json"), "not json").unwrap();
    toy.pawl()
        .args(["tune", "--budget", "10s"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("delete it or use --fresh"));

    let fixed = toy
        .read("pawl.toml")
        .replace("candidates = [8, 16, 32, 64, 128, 256]", "candidates = [32]")
        .replace("candidates = [1, 2, 4]", "candidates = [1]");
    std::fs::write(toy.path("pawl.toml"), fixed).unwrap();
    toy.pawl()
        .args(["tune", "--fresh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing to tune").and(predicate::str::contains("candidates")));
}
