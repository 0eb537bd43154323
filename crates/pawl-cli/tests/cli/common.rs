//! Shared set-up for the CLI tests: a temporary folder holding the replay suite and its harness.
//!
//! The harness replays real H100 samples committed in pawl-core's test fixtures
//! (`crates/pawl-core/tests/fixtures/h100`, whose README says what they are): a recording, not a fake GPU.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

pub fn samples_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../pawl-core/tests/fixtures/h100/h100_samples.json")
}

impl Workspace {
    /// A temporary folder with the replay suite (`pawl.toml`) and harness (`replay.py`).
    pub fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        std::fs::copy(fixtures.join("replay.toml"), dir.path().join("pawl.toml")).unwrap();
        std::fs::copy(fixtures.join("replay.py"), dir.path().join("replay.py")).unwrap();
        Workspace { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    /// `pawl` in this folder, with the sample file set and no colour.
    pub fn pawl(&self) -> Command {
        let mut cmd = Command::cargo_bin("pawl").unwrap();
        cmd.current_dir(self.dir.path())
            .env("PAWL_SAMPLES", samples_path())
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("REPLAY_SCALE")
            .env_remove("REPLAY_HALF")
            .env_remove("REPLAY_MISBEHAVE");
        cmd
    }

    /// Measures the replay suite into `name` with the given harness environment; a run of half of each
    /// series (`REPLAY_HALF`) takes the 250 samples of that half.
    pub fn run(&self, name: &str, env: &[(&str, &str)]) {
        let mut cmd = self.pawl();
        cmd.args(["run", "-o", name]);
        if env.iter().any(|(key, _)| *key == "REPLAY_HALF") {
            cmd.args(["--min-samples", "250", "--max-samples", "250"]);
        }
        for (key, value) in env {
            cmd.env(key, value);
        }
        cmd.assert().success();
    }

    /// Files in the folder, for "nothing half-written" checks.
    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}
