//! No run or baseline file makes reading it panic: valid files cut, spliced and sprinkled with stray
//! JSON, random JSON with the files' fields, and random text either load or fail with a message that
//! names the file. What loads goes on through the comparison, the ratchet and every report format
//! without a panic.

use std::path::Path;

use pawl_core::baseline::Baseline;
use pawl_core::case::CaseId;
use pawl_core::compare::{CompareOptions, compare_baseline, compare_runs};
use pawl_core::files::{FileError, to_json_bytes};
use pawl_core::ratchet::{RatchetOptions, ratchet};
use pawl_core::report::{self, Format, ReportOptions};
use pawl_core::run::{CaseResult, CaseStatus, GitInfo, Run};
use pawl_core::suite::MeasureSettings;
use pawl_core::value::{Params, Value};
use proptest::prelude::*;

mod testbed;

fn ok_case(id: &str, samples_ns: Vec<f64>) -> CaseResult {
    let mut params = Params::new();
    params.insert("S", Value::Int(512));
    let mut case = CaseResult::not_measured(CaseId::from_raw(id), "b", params, CaseStatus::Ok, "");
    case.error = None;
    case.samples_ns = samples_ns;
    case.flops = Some(1e9);
    case
}

/// A valid run: two measured cases (one small, which the comparison bootstraps) and a failed one.
fn run_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let env = testbed::env(testbed::H100, testbed::H100_DRIVER);
        let mut run = Run::new("fuzz", "2025-01-01T00:00:00Z", env, MeasureSettings::default());
        run.git = Some(GitInfo { commit: "abc123".into(), branch: Some("main".into()), dirty: false });
        run.cases.push(ok_case("b/S=512", testbed::samples(40, 10_000.0, 0.01, 1)));
        run.cases.push(ok_case("b/S=1024", testbed::samples(12, 2_000.0, 0.02, 2)));
        run.cases.push(CaseResult::not_measured(
            CaseId::from_raw("b/S=2048"),
            "b",
            Params::new(),
            CaseStatus::Failed,
            "CUDA error: an illegal memory access was encountered",
        ));
        // A shard of one (`--shard 1/1`): the fields of a split, each case's GPU and time, for the
        // fuzzing to reach.
        let ids: Vec<CaseId> = run.cases.iter().map(|c| c.id.clone()).collect();
        let refs: Vec<&CaseId> = ids.iter().collect();
        let part = pawl_core::shard::split(&refs, pawl_core::shard::Shard { index: 1, count: 1 }, None);
        run.shard = Some(part.info);
        for (i, case) in run.cases.iter_mut().enumerate() {
            case.plan_index = Some(i);
            case.gpu_uuid = Some("GPU-00000000-1111-2222-3333-444444444444".into());
            case.elapsed_s = Some(1.5 + i as f64);
        }
        String::from_utf8(to_json_bytes(&run)).unwrap()
    })
}

/// A valid baseline of the run above.
fn baseline_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let run = Run::parse(run_text(), Path::new("run.json")).unwrap();
        let empty = Baseline::new("fuzz");
        let first = compare_baseline(&empty, &run, "empty", "run", &CompareOptions::default()).unwrap();
        let baseline = ratchet(empty, &run, &first, &RatchetOptions { accept_new: true }).baseline;
        String::from_utf8(to_json_bytes(&baseline)).unwrap()
    })
}

/// Every report format of `comparison`, into memory.
fn render_all(comparison: &pawl_core::verdict::Comparison) {
    for format in Format::ALL {
        let mut out = Vec::new();
        report::render(format, comparison, &ReportOptions::default(), &mut out).unwrap();
    }
}

/// What a loaded run goes through: compared with itself and with the valid baseline, ratcheted, merged
/// (alone and with itself), and split on its own times.
fn use_run(run: &Run) {
    if let Ok(merged) = pawl_core::merge::merge(vec![("run.json".into(), run.clone())]) {
        assert!(merged.validate().is_ok(), "a merged run reads back");
    }
    assert!(
        pawl_core::merge::merge(vec![("a".into(), run.clone()), ("b".into(), run.clone())]).is_err()
            || run.cases.is_empty()
    );
    let estimates = pawl_core::estimate::Estimates::from_run(run, "run.json");
    let ids: Vec<&CaseId> = run.cases.iter().map(|c| &c.id).collect();
    let costs = estimates.costs(&ids);
    pawl_core::shard::split(&ids, pawl_core::shard::Shard { index: 1, count: 3 }, costs.as_deref());
    let opts = CompareOptions { force: true, ..CompareOptions::default() };
    if let Ok(comparison) = compare_runs(run, run, "old", "new", &opts) {
        render_all(&comparison);
    }
    let baseline = Baseline::parse(baseline_text(), Path::new("baseline.json")).unwrap();
    if let Ok(comparison) = compare_baseline(&baseline, run, "baseline", "new", &opts) {
        render_all(&comparison);
        ratchet(baseline, run, &comparison, &RatchetOptions { accept_new: true });
    }
}

/// What a loaded baseline goes through: the valid run compared with it, ratcheted.
fn use_baseline(baseline: Baseline) {
    let run = Run::parse(run_text(), Path::new("run.json")).unwrap();
    let opts = CompareOptions { force: true, ..CompareOptions::default() };
    if let Ok(comparison) = compare_baseline(&baseline, &run, "baseline", "new", &opts) {
        render_all(&comparison);
        ratchet(baseline, &run, &comparison, &RatchetOptions { accept_new: true });
    }
}

/// An error must name the file; a parse error must point inside the text.
fn check_error(error: &FileError, name: &str, text: &str) -> Result<(), TestCaseError> {
    let message = error.to_string();
    prop_assert!(message.starts_with(name), "message does not name {name}: {message}");
    prop_assert!(message.len() > name.len() + 2, "an empty message: {message}");
    if let FileError::Parse { line, .. } = error {
        let lines = text.split('\n').count();
        prop_assert!(*line <= lines, "points at line {line} of {lines}: {message}");
    }
    Ok(())
}

fn check_run(text: &str) -> Result<(), TestCaseError> {
    match Run::parse(text, Path::new("run.json")) {
        Ok(run) => use_run(&run),
        Err(error) => check_error(&error, "run.json", text)?,
    }
    Ok(())
}

fn check_baseline(text: &str) -> Result<(), TestCaseError> {
    match Baseline::parse(text, Path::new("baseline.json")) {
        Ok(baseline) => use_baseline(baseline),
        Err(error) => check_error(&error, "baseline.json", text)?,
    }
    Ok(())
}

/// Replaces `text[from..from + len]` (clamped to character boundaries) with `insert`.
fn splice(text: &str, from: usize, len: usize, insert: &str) -> String {
    let floor = |mut at: usize| {
        at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let (start, end) = (floor(from), floor(from.saturating_add(len)));
    format!("{}{insert}{}", &text[..start], &text[end..])
}

/// Stray JSON: extreme numbers, other types, broken structure, deep nesting.
fn stray() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "",
        "0",
        "-1",
        "-0",
        "5e-324",
        "1e-300",
        "1e308",
        "-1e308",
        "1e400",
        "18446744073709551616",
        "null",
        "true",
        "\"\"",
        "\"x\"",
        "[]",
        "{}",
        "[1e308, 5e-324]",
        ",",
        "]",
        "}",
        "\"",
        "\"\\ud800\"",
        "\"pawl-run/2\"",
        "\"pawl-baseline/1\"",
        "\"ok\"",
        "\"failed\"",
        "\"schema\": 1,",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    ])
}

/// A JSON value of any kind, its numbers often extreme.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        prop::sample::select(vec![0.0, -0.0, 5e-324, 1e-300, 0.5, 1.0, 1e4, 1e308, -1e308, f64::MAX])
            .prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The valid file with the value at one of its paths replaced.
fn replaced(text: &str, pick: prop::sample::Index, value: serde_json::Value) -> String {
    let mut json: serde_json::Value = serde_json::from_str(text).unwrap();
    let mut paths = Vec::new();
    collect_paths(&json, String::new(), &mut paths);
    let path = pick.get(&paths);
    if let Some(slot) = json.pointer_mut(path) {
        *slot = value;
    }
    json.to_string()
}

/// JSON pointers to every value inside `json`.
fn collect_paths(json: &serde_json::Value, at: String, paths: &mut Vec<String>) {
    paths.push(at.clone());
    match json {
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_paths(item, format!("{at}/{i}"), paths);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                let key = key.replace('~', "~0").replace('/', "~1");
                collect_paths(value, format!("{at}/{key}"), paths);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: testbed::proptest_cases(2000), ..ProptestConfig::default() })]

    #[test]
    fn cut_or_sprinkled_run_files_never_panic(
        from in 0..8000_usize, len in 0..64_usize, insert in stray(),
    ) {
        check_run(&splice(run_text(), from, len, insert))?;
    }

    #[test]
    fn run_files_with_any_value_anywhere_never_panic(pick in any::<prop::sample::Index>(), value in json_value()) {
        check_run(&replaced(run_text(), pick, value))?;
    }

    #[test]
    fn cut_or_sprinkled_baselines_never_panic(
        from in 0..3000_usize, len in 0..64_usize, insert in stray(),
    ) {
        check_baseline(&splice(baseline_text(), from, len, insert))?;
    }

    #[test]
    fn baselines_with_any_value_anywhere_never_panic(
        pick in any::<prop::sample::Index>(), value in json_value(),
    ) {
        check_baseline(&replaced(baseline_text(), pick, value))?;
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,300}") {
        check_run(&text)?;
        check_baseline(&text)?;
    }
}

#[test]
fn the_valid_files_load() {
    let run = Run::parse(run_text(), Path::new("run.json")).unwrap();
    assert_eq!(run.cases.len(), 3);
    let baseline = Baseline::parse(baseline_text(), Path::new("baseline.json")).unwrap();
    assert_eq!(baseline.testbeds.values().map(|t| t.cases.len()).sum::<usize>(), 2);
    assert!(run_text().len() > 2000 && baseline_text().len() > 500, "the splice ranges cover the files");
}
