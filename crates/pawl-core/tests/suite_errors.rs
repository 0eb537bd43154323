//! Every invalid suite under `tests/fixtures/suites/bad/` must fail to load with the message its header
//! announces:
//!
//! ```toml
//! # error-at: 27:8                  (line:column the message points at)
//! # error-syntax-at: 12:8           (the same, for a TOML syntax error, whose snippet names the line)
//! # error-has: `init` makes input   (a piece of the message; as many lines as needed)
//! ```

use std::path::{Path, PathBuf};

use pawl_core::suite::{Suite, SuiteError};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/suites/bad")
}

struct Expected {
    line: usize,
    column: usize,
    syntax: bool,
    has: Vec<String>,
}

fn expected(path: &Path) -> Expected {
    let text = std::fs::read_to_string(path).unwrap();
    let mut at = None;
    let mut has = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# error-at: ") {
            at = Some((rest, false));
        } else if let Some(rest) = line.strip_prefix("# error-syntax-at: ") {
            at = Some((rest, true));
        } else if let Some(rest) = line.strip_prefix("# error-has: ") {
            has.push(rest.to_owned());
        }
    }
    let (at, syntax) = at.unwrap_or_else(|| panic!("{} has no `# error-at:` line", path.display()));
    let (line, column) = at.split_once(':').unwrap();
    assert!(!has.is_empty(), "{} has no `# error-has:` line", path.display());
    Expected { line: line.parse().unwrap(), column: column.parse().unwrap(), syntax, has }
}

/// Checks one fixture; `Err` says how the error differs from what its header announces.
fn check(path: &Path) -> Result<(), String> {
    let expected = expected(path);
    let error = match Suite::load(path) {
        Ok(_) => return Err("loaded without error".to_owned()),
        Err(error) => error,
    };
    let message = error.to_string();
    match (&error, expected.syntax) {
        (SuiteError::At { path: at, line, column, .. }, false) => {
            if at != path || (*line, *column) != (expected.line, expected.column) {
                return Err(format!(
                    "points at {}:{line}:{column}, expected line {}:{}: {message}",
                    at.display(),
                    expected.line,
                    expected.column
                ));
            }
            let prefix = format!("{}:{line}:{column}: ", path.display());
            if !message.starts_with(&prefix) {
                return Err(format!("message does not start with `{prefix}`: {message}"));
            }
        }
        (SuiteError::Syntax { .. }, true) => {
            let prefix = format!(
                "{}: TOML parse error at line {}, column {}",
                path.display(),
                expected.line,
                expected.column
            );
            if !message.starts_with(&prefix) {
                return Err(format!("message does not start with `{prefix}`: {message}"));
            }
        }
        _ => return Err(format!("wrong kind of error: {error:?}")),
    }
    for piece in &expected.has {
        if !message.contains(piece.as_str()) {
            return Err(format!("message lacks `{piece}`: {message}"));
        }
    }
    Ok(())
}

#[test]
fn every_bad_fixture_fails_with_its_announced_message() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 60, "only {} fixtures found", paths.len());
    let failures: Vec<String> = paths
        .iter()
        .filter_map(|path| {
            check(path).err().map(|why| format!("{}: {why}", path.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n\n")
    );
}

#[test]
fn a_missing_file_names_it() {
    let path = fixtures().join("no_such_file.toml");
    let err = Suite::load(&path).unwrap_err();
    assert!(matches!(err, SuiteError::Read { .. }));
    assert!(err.to_string().contains("no_such_file.toml"), "{err}");
}

#[test]
fn syntax_errors_keep_the_snippet_from_toml() {
    let err =
        Suite::from_str("[suite]\nname = \"x\"\nname = \"y\"\n", Path::new("dir/pawl.toml")).unwrap_err();
    let message = err.to_string();
    assert!(message.starts_with("dir/pawl.toml: TOML parse error at line 3, column 1"), "{message}");
    assert!(message.contains("3 | name = \"y\""), "{message}");
    assert!(message.contains("duplicate key"), "{message}");
}
