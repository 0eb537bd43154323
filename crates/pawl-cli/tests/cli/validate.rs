use predicates::prelude::*;

use crate::common::Workspace;

#[test]
fn validate_counts_and_lists_cases() {
    let ws = Workspace::new();
    ws.pawl()
        .args(["validate", "--list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("suite `replay` is valid: 1 bench, 5 cases"))
        .stdout(predicate::str::contains("h100/series=sdpa_flash_B32H8S512D64,mode=flushed"));
}

#[test]
fn validate_reports_the_line_of_a_toml_error() {
    let ws = Workspace::new();
    ws.write(
        "bad.toml",
        "[suite]\nname = \"x\"\n\n[[bench]]\nname = \"b\"\nkind = \"command\"\nrun = [\"true\"\n",
    );
    ws.pawl()
        .args(["validate", "bad.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.toml"))
        .stderr(predicate::str::contains("7"));
}

#[test]
fn validate_missing_file_is_a_clear_error() {
    let ws = Workspace::new();
    ws.pawl().args(["validate", "nope.toml"]).assert().code(2).stderr(predicate::str::contains("nope.toml"));
}

#[test]
fn unknown_command_line_flag_is_a_usage_error() {
    let ws = Workspace::new();
    ws.pawl().args(["run", "--no-such-flag"]).assert().code(2);
}
