//! Values out of range and hostile expressions, in a suite file or on the command line: exit code 2 with
//! the file, the line and the value, promptly, without a panic and without output on stdout.

use std::time::{Duration, Instant};

use assert_cmd::assert::Assert;
use predicates::prelude::*;

use crate::common::Workspace;

/// A suite with one command bench; `measure` goes into [suite.measure], `bench` into the bench.
fn suite(measure: &str, bench: &str) -> String {
    format!(
        "[suite]\nname = \"limits\"\n\n[suite.measure]\n{measure}\n\n[[bench]]\nname = \"b\"\nkind = \"command\"\n\
         run = [\"python3\", \"replay.py\"]\nparams = {{ series = [\"vecadd_1M_f32\"], mode = [\"flushed\"] }}\n{bench}\n"
    )
}

/// The line (from 1) of `suite` that starts with `key =`.
fn line_of(suite: &str, key: &str) -> usize {
    suite.lines().position(|l| l.starts_with(&format!("{key} ="))).unwrap() + 1
}

/// Runs `pawl args…` and checks the refusal: exit code 2 within 5 s, nothing on stdout, no panic, and
/// every piece in `needles` on stderr.
fn refused(ws: &Workspace, args: &[&str], needles: &[String]) -> Assert {
    let before = ws.files();
    let start = Instant::now();
    let assert = ws.pawl().args(args).timeout(Duration::from_secs(30)).assert().code(2);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "pawl {args:?} took {took:?}");
    let assert = assert
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("panicked").not())
        .stderr(predicate::str::contains("RUST_BACKTRACE").not());
    let assert = needles.iter().fold(assert, |a, needle| a.stderr(predicate::str::contains(needle.as_str())));
    assert_eq!(ws.files(), before, "a refused command must not leave files behind");
    assert
}

#[test]
fn a_timeout_of_1e19_is_refused_with_its_line_by_validate_and_run() {
    let ws = Workspace::new();
    for value in ["1e19", "1e300", "-1", "0"] {
        let text = suite(&format!("timeout_s = {value}"), "");
        ws.write("t.toml", &text);
        let at =
            format!("t.toml:{}:13: [suite.measure]: `timeout_s` is {value};", line_of(&text, "timeout_s"));
        let range = "it must be a number of seconds above 0 and at most 86400 (a day)".to_owned();
        for command in ["validate", "run"] {
            refused(&ws, &[command, "t.toml"], &[at.clone(), range.clone()]);
        }
    }
}

#[test]
fn every_duration_and_count_of_a_suite_has_a_range() {
    let ws = Workspace::new();
    for (measure, bench, key, column) in [
        ("max_time_s = 1e19", "", "max_time_s", 14),
        ("warmup_ms = 1e300", "", "warmup_ms", 13),
        ("min_samples = 1", "", "min_samples", 15),
        ("max_samples = 1000000000", "", "max_samples", 15),
        ("target_rel_ci = 1.5", "", "target_rel_ci", 17),
        ("", "timeout_s = 1e19", "timeout_s", 13),
    ] {
        let text = suite(measure, bench);
        ws.write("t.toml", &text);
        let at = format!("t.toml:{}:{column}:", line_of(&text, key));
        refused(&ws, &["validate", "t.toml"], &[at, format!("`{key}` is"), "it must be".to_owned()]);
    }
}

#[test]
fn measuring_flags_out_of_range_are_refused_like_suite_keys() {
    let ws = Workspace::new();
    for (flag, value, key) in [
        ("--timeout", "1e19", "timeout_s"),
        ("--max-time", "1e300", "max_time_s"),
        ("--target-rel-ci", "0", "target_rel_ci"),
        ("--min-samples", "1", "min_samples"),
    ] {
        // The suite key's message, from the same value in a suite file.
        let text = suite(&format!("{key} = {value}"), "");
        ws.write("t.toml", &text);
        let output = ws.pawl().args(["validate", "t.toml"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let (_, wording) = stderr.split_once(&format!("`{key}` is {value}")).expect(&stderr);
        // The error's own line; the hint line under it is the suite file's.
        let wording = wording.lines().next().unwrap_or_default().trim_end().to_owned();

        let expected = format!("`{flag}` is {value}{wording}");
        refused(&ws, &["run", flag, value], &[expected]);
    }
}

#[test]
fn threshold_flags_and_suite_keys_share_one_rule_and_one_wording() {
    let ws = Workspace::new();
    ws.run("base.json", &[]);
    for (flag, key, value) in [
        ("--tolerance", "tolerance", "2"),
        ("--tolerance", "tolerance", "0"),
        ("--confidence", "confidence", "1"),
        ("--drift", "drift", "-0.5"),
        ("--drift-ns", "drift_ns", "1e19"),
    ] {
        let text = format!(
            "[suite]\nname = \"t\"\n{key} = {value}\n\n[[bench]]\nname = \"b\"\nkind = \"command\"\nrun = [\"x\"]\n"
        );
        ws.write("t.toml", &text);
        let output = ws.pawl().args(["validate", "t.toml"]).output().unwrap();
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("t.toml:3:{}: [suite]: `{key}` is {value}; it must be", key.len() + 4)),
            "{stderr}"
        );
        let (_, wording) = stderr.split_once(&format!("`{key}` is {value}")).expect(&stderr);
        let expected =
            format!("`{flag}` is {value}{}", wording.lines().next().unwrap_or_default().trim_end());
        refused(&ws, &["compare", "base.json", "base.json", &format!("{flag}={value}")], &[expected]);
    }
}

/// Each hostile expression, where it is written in the suite, with a piece of its message.
const HOSTILE: &[(&str, &str, &str)] = &[
    ("where", "\"sleep(1e9)\"", "`sleep` is not a function expressions may call"),
    ("flops", "\"[].pad(2000000000, 0)\"", "`[].pad(2000000000, 0)`"),
    ("bytes", "'print(\"pwned\") + 1'", "`print` is not a function expressions may call"),
    ("bytes", "'debug(\"pwned\")'", "`debug` is not a function expressions may call"),
    ("where", "'eval(\"loop { }\")'", "`eval` is not a function expressions may call"),
    ("where", "\"loop { }\"", "`loop { }`"),
    ("flops", "\"|x| x\"", "`|x| x`"),
    ("flops", "\"fn f() { f() } f()\"", "`fn f() { f() } f()`"),
    ("flops", "\"2 ** 1000000000\"", "`2 ** 1000000000`"),
];

#[test]
fn hostile_expressions_are_refused_promptly_with_file_line_and_expression() {
    let ws = Workspace::new();
    for (key, value, why) in HOSTILE {
        let text = suite("", &format!("{key} = {value}"));
        ws.write("hostile.toml", &text);
        let at = format!(
            "hostile.toml:{}:{}: bench `b`: `{key}` is not a valid expression",
            line_of(&text, key),
            key.len() + 4
        );
        for command in ["validate", "run"] {
            refused(&ws, &[command, "hostile.toml"], &[at.clone(), (*why).to_owned()]);
        }
    }
}

#[test]
fn a_hostile_filter_on_the_command_line_is_refused() {
    let ws = Workspace::new();
    refused(&ws, &["run", "--where", "sleep(1e9)"], &["--where".to_owned(), "`sleep`".to_owned()]);
}

#[test]
fn an_overflowing_expression_is_an_error_not_a_panic() {
    let ws = Workspace::new();
    let text = suite("", "flops = \"9223372036854775807 * 2\"");
    ws.write("o.toml", &text);
    refused(&ws, &["validate", "o.toml"], &["`flops`".to_owned(), "9223372036854775807 * 2".to_owned()]);
}

#[test]
fn a_sweep_too_large_to_expand_is_refused_at_its_line() {
    let ws = Workspace::new();
    let axis: Vec<String> = (0..101).map(|i| i.to_string()).collect();
    let axis = axis.join(", ");
    let text = format!(
        "[suite]\nname = \"big\"\n\n[[bench]]\nname = \"b\"\nkind = \"command\"\nrun = [\"x\"]\n\
         params = {{ A = [{axis}], B = [{axis}], C = [{axis}] }}\n"
    );
    ws.write("big.toml", &text);
    refused(
        &ws,
        &["validate", "big.toml"],
        &["big.toml:8:1: bench `b`: the sweep has 101 × 101 × 101 = 1030301 cases, more than the 1000000"
            .to_owned()],
    );
}
