//! The importers never panic, whatever the file: real fixtures mutated byte by byte and value by value.
//! Whatever they accept must assemble into a valid run (`assemble` checks that in debug builds).

use std::path::Path;

use pawl_core::import::{self, Format};
use proptest::prelude::*;
use serde_json::Value;

/// Small fixtures of every format (the large ones would only slow the search down), and [`NVBENCH`].
const FIXTURES: [&str; 6] = [
    "gbench/aggregates-only.json",
    "pytest-benchmark/autosave-no-data.json",
    "kernel-tuner/cache.json",
    "kernel-tuner/cache-unclosed.json",
    "kernel-tuner/results.json",
    "kernel-tuner/project-t4-results.json",
];

/// An nvbench file in the shape its `json_printer` writes: one device, two states, a sample-file pointer.
const NVBENCH: &str = r#"{"meta": {"version": {"json": {"major": 1, "minor": 0, "patch": 0}, "nvbench": {"string": "0.2.0"}}},
 "devices": [{"id": 0, "name": "NVIDIA H200", "sm_version": 900, "number_of_sms": 132, "l2_cache_size": 62914560,
   "global_memory_size": 150754820096, "sm_default_clock_rate": 1980000000}],
 "benchmarks": [{"name": "copy", "states": [
   {"name": "Device=0 T=F32", "device": 0, "axis_values": [{"name": "T", "type": "string", "value": "F32"}],
    "summaries": [{"tag": "nv/cold/sample_size", "data": [{"name": "value", "type": "int64", "value": "12"}]},
      {"tag": "nv/cold/time/gpu/mean", "data": [{"name": "value", "type": "float64", "value": "2e-06"}]},
      {"tag": "nv/cold/time/gpu/stdev/relative", "data": [{"name": "value", "type": "float64", "value": "0.01"}]},
      {"tag": "nv/json/bin:nv/cold/sample_times", "data": [{"name": "filename", "type": "string", "value": "x.json-bin/0.bin"},
        {"name": "size", "type": "int64", "value": "12"}]}], "is_skipped": false},
   {"name": "Device=0 T=F64", "device": 0, "axis_values": [{"name": "T", "type": "string", "value": "F64"}],
    "summaries": null, "is_skipped": true, "skip_reason": "unsupported"}]}]}"#;

fn fixture_text(index: usize) -> String {
    if index == FIXTURES.len() {
        return NVBENCH.to_owned();
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import").join(FIXTURES[index]);
    std::fs::read_to_string(path).unwrap()
}

/// Reads `bytes` as a file in every way `pawl import` can, and assembles whatever is read.
fn import_all_ways(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mutated.json");
    std::fs::write(&path, bytes).unwrap();
    let formats = [
        None,
        Some(Format::Nvbench),
        Some(Format::Gbench),
        Some(Format::KernelTuner),
        Some(Format::PytestBenchmark),
    ];
    for format in formats {
        if let Ok(file) = import::read(&path, format) {
            if let Ok((run, _)) = import::assemble(vec![file], "s", "0", "2026-01-01T00:00:00Z") {
                assert_eq!(run.validate(), Ok(()));
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Edit {
    Truncate(usize),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Replace(usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), 1usize..40).prop_map(|(at, n)| Edit::Delete(at, n)),
        (
            any::<usize>(),
            prop::collection::vec(
                prop_oneof![
                    Just(b'"'),
                    Just(b','),
                    Just(b'{'),
                    Just(b']'),
                    Just(b'-'),
                    Just(b'0'),
                    any::<u8>()
                ],
                1..8
            )
        )
            .prop_map(|(at, bytes)| Edit::Insert(at, bytes)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Replace(at, b)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len().max(1);
        match edit {
            Edit::Truncate(at) => bytes.truncate(at % len),
            Edit::Delete(at, n) => {
                let start = (at % len).min(bytes.len());
                let end = (start + n).min(bytes.len());
                bytes.drain(start..end);
            }
            Edit::Insert(at, new) => {
                let at = (at % len).min(bytes.len());
                bytes.splice(at..at, new.iter().copied());
            }
            Edit::Replace(at, b) => {
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    bytes[at] = *b;
                }
            }
        }
    }
    bytes
}

/// Values a mutation puts in place of another: every JSON type and the values importers must refuse.
fn replacement() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop_oneof![
            Just(0.0),
            Just(-1.0),
            Just(1e308),
            Just(5e-324),
            any::<f64>().prop_filter("finite", |x| x.is_finite())
        ]
        .prop_map(|x| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just("InvalidConfig".to_owned()),
            Just("aggregate".to_owned()),
            Just("ns".to_owned()),
            Just("../../etc/passwd".to_owned()),
            Just("\u{1b}[31m".to_owned()),
            ".{0,12}",
        ]
        .prop_map(Value::from),
        Just(Value::Array(vec![])),
        Just(serde_json::json!({})),
        Just(serde_json::json!([1.5, "x", null])),
    ]
}

/// Replaces the `n`-th value of `value` (depth first, modulo the count) with `new`.
fn replace_nth(value: &mut Value, n: usize, new: Value) {
    fn count(v: &Value) -> usize {
        1 + match v {
            Value::Array(items) => items.iter().map(count).sum(),
            Value::Object(map) => map.values().map(count).sum(),
            _ => 0,
        }
    }
    fn walk(v: &mut Value, n: &mut usize, new: &mut Option<Value>) {
        if *n == 0 {
            if let Some(new) = new.take() {
                *v = new;
            }
            return;
        }
        *n -= 1;
        match v {
            Value::Array(items) => items.iter_mut().for_each(|item| walk(item, n, new)),
            Value::Object(map) => map.values_mut().for_each(|item| walk(item, n, new)),
            _ => {}
        }
    }
    let mut n = n % count(value);
    walk(value, &mut n, &mut Some(new));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_bytes_never_panic(index in 0..=FIXTURES.len(), edits in prop::collection::vec(edit(), 1..4)) {
        import_all_ways(&apply(fixture_text(index).into_bytes(), &edits));
    }

    #[test]
    fn mutated_values_never_panic(
        index in 0..=FIXTURES.len(),
        changes in prop::collection::vec((any::<usize>(), replacement()), 1..4),
    ) {
        let text = fixture_text(index);
        // The unclosed cache is not JSON until closed; its bytes are mutated by the test above.
        let Ok(mut value) = serde_json::from_str::<Value>(&text) else { return Ok(()) };
        for (n, new) in changes {
            replace_nth(&mut value, n, new);
        }
        import_all_ways(value.to_string().as_bytes());
    }
}
