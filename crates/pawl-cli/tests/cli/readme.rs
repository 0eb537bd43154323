//! README.md's walk-throughs run as written, on a fresh copy of what they use, without a GPU: the
//! quickstart in `examples/quickstart`, and a suite of one's own from `pawl init`.
//!
//! Each command line of the section's `sh` block runs in turn (`VAR=value` before `pawl` sets the
//! variable, `cd DIR` changes folder). A line whose comment says `exit code N` must exit with N; a
//! `pawl compare` or `pawl check` of the same code may call noise a regression on a busy machine, as
//! README.md says, so it must exit 0 or 1; every other line must exit 0.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap()
}

/// The lines of the first `sh` block under the heading `heading`.
fn block(readme: &str, heading: &str) -> Vec<String> {
    let section = readme.split_once(heading).unwrap_or_else(|| panic!("README.md has no `{heading}`")).1;
    let body = section.split_once("```sh\n").unwrap().1.split_once("```").unwrap().0;
    body.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect()
}

/// One line of a walk-through: its words, and the comment after them.
struct Line {
    env: Vec<(String, String)>,
    words: Vec<String>,
    comment: String,
}

fn parse(line: &str) -> Line {
    let (code, comment) = match line.find(" #") {
        Some(at) => (&line[..at], line[at + 2..].trim()),
        None => (line, ""),
    };
    let mut env = Vec::new();
    let mut words: Vec<String> = Vec::new();
    for word in code.split_whitespace() {
        match word.split_once('=') {
            Some((name, value))
                if words.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_') =>
            {
                env.push((name.to_owned(), value.to_owned()))
            }
            _ => words.push(word.to_owned()),
        }
    }
    Line { env, words, comment: comment.to_owned() }
}

/// Runs the walk-through `lines` from `root`; returns the folder it ended in.
fn walk(root: &Path, lines: &[String]) -> PathBuf {
    let mut here = root.to_owned();
    for text in lines {
        let line = parse(text);
        match line.words.first().map(String::as_str) {
            Some("cd") => {
                here = here.join(&line.words[1]);
                continue;
            }
            Some("pawl") => {}
            other => panic!("README.md: `{text}` runs {other:?}, which this test does not know"),
        }
        let output = Command::cargo_bin("pawl")
            .unwrap()
            .args(&line.words[1..])
            .envs(line.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&here)
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("PAWL_HISTORY")
            .output()
            .unwrap();
        let code = output.status.code();
        let said = format!(
            "README.md: `{text}` exited with {code:?}\n--- stdout\n{}--- stderr\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        // Comparing the same code on a CPU: noise may read as a change on a busy machine.
        let noisy_compare = line.words.get(1).is_some_and(|w| w == "compare" || w == "check");
        match line.comment.split_once("exit code ") {
            Some((_, expected)) => {
                let expected: i32 =
                    expected.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap();
                assert_eq!(code, Some(expected), "{said}");
            }
            None if noisy_compare => assert!(matches!(code, Some(0 | 1)), "{said}"),
            None => assert_eq!(code, Some(0), "{said}"),
        }
    }
    here
}

#[test]
fn the_quickstart_runs_as_written_on_a_fresh_copy() {
    let lines = block(&readme(), "## Quickstart");
    assert!(lines.len() >= 8, "{lines:?}");
    let root = tempfile::tempdir().unwrap();
    let quickstart = root.path().join("examples/quickstart");
    std::fs::create_dir_all(&quickstart).unwrap();
    for file in ["pawl.toml", "harness.py"] {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart").join(file);
        std::fs::copy(from, quickstart.join(file)).unwrap();
    }
    let end = walk(root.path(), &lines);
    for file in ["run-1.json", "run-2.json", "slow.json", "pawl-baseline.json", "junit.xml", "comment.md"] {
        assert!(end.join(file).is_file(), "the quickstart writes {file}");
    }
    assert!(std::fs::read_to_string(end.join("comment.md")).unwrap().contains("regressed"));
}

#[test]
fn a_suite_of_ones_own_from_pawl_init_runs_as_written() {
    let lines = block(&readme(), "## Your own suite");
    let root = tempfile::tempdir().unwrap();
    let end = walk(root.path(), &lines);
    assert!(end.join("pawl-baseline.json").is_file() && end.join("pawl-run.json").is_file());
}

#[test]
fn the_install_command_keeps_the_pinned_versions() {
    let install = block(&readme(), "## Install");
    assert!(install[0].starts_with("cargo install --locked --path crates/pawl-cli"), "{install:?}");
}
