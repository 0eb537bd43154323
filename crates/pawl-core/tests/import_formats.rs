//! The importers on files written by the real tools (tests/fixtures/import, see its README): every
//! expectation is read from the file itself, so a test fails if a value is lost, scaled wrongly or
//! taken from the wrong field.

use std::path::{Path, PathBuf};

use pawl_core::import::{self, Format, ImportError, ImportedFile, NoteKind};
use pawl_core::run::{CaseResult, CaseStatus};
use pawl_core::value::Value as Param;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import").join(name)
}

fn json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

/// Reads a fixture, telling its format by its fields, and checks that the detected format is `format`.
fn read(name: &str, format: Format) -> ImportedFile {
    let file = import::read(&fixture(name), None).unwrap();
    assert_eq!(file.format, format, "{name}");
    file
}

fn case<'a>(file: &'a ImportedFile, id: &str) -> &'a CaseResult {
    file.cases.iter().find(|c| c.id.as_str() == id).unwrap_or_else(|| {
        let ids: Vec<&str> = file.cases.iter().map(|c| c.id.as_str()).collect();
        panic!("no case {id} among {ids:?}")
    })
}

fn unit_ns(unit: &str) -> f64 {
    match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        other => panic!("unit {other}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn gbench_repetitions_are_the_samples_and_aggregates_are_left_out() {
    let file = read("gbench/repetitions.json", Format::Gbench);
    let raw = json("gbench/repetitions.json");
    assert_eq!(file.tool_version.as_deref(), raw["context"]["library_version"].as_str());
    let entries = raw["benchmarks"].as_array().unwrap();
    let (ids, expected) = [
        ("sum_squares/n=1024", "sum_squares/n:1024"),
        ("sum_squares/n=4096", "sum_squares/n:4096"),
        ("transpose/rows=16,cols=8", "transpose/rows:16/cols:8"),
        ("sort_reversed/arg0=8,real_time=true", "sort_reversed/8/real_time"),
        ("dict_build", "dict_build"),
    ]
    .into_iter()
    .unzip::<_, _, Vec<_>, Vec<_>>();
    for (id, run_name) in ids.iter().zip(expected) {
        let want: Vec<f64> = entries
            .iter()
            .filter(|e| e["run_name"] == run_name && e["run_type"] == "iteration")
            .map(|e| e["real_time"].as_f64().unwrap() * unit_ns(e["time_unit"].as_str().unwrap()))
            .collect();
        let got = &case(&file, id).samples_ns;
        assert_eq!(got.len(), want.len(), "{id}");
        assert!(got.len() >= 20, "{id}: the repetitions are the samples");
        assert!(got.iter().zip(&want).all(|(g, w)| close(*g, *w)), "{id}: {got:?} vs {want:?}");
    }
    let aggregates = entries.iter().filter(|e| e["run_type"] == "aggregate").count();
    let noted = file.notes.iter().filter(|n| matches!(n.kind, NoteKind::Aggregate { .. })).count();
    assert_eq!((noted, aggregates > 0), (aggregates, true), "every aggregate is listed, none counted");
    let failed = case(&file, "needs_device");
    assert_eq!((failed.status, failed.error.as_deref()), (CaseStatus::Failed, Some("no accelerator found")));
    assert_eq!(file.cases.len(), 8);
}

#[test]
fn gbench_aggregates_only_become_summaries_without_samples() {
    let file = read("gbench/aggregates-only.json", Format::Gbench);
    let raw = json("gbench/aggregates-only.json");
    let entries = raw["benchmarks"].as_array().unwrap();
    let figure = |run_name: &str, aggregate: &str| {
        let e =
            entries.iter().find(|e| e["run_name"] == run_name && e["aggregate_name"] == aggregate).unwrap();
        e["real_time"].as_f64().unwrap() * unit_ns(e["time_unit"].as_str().unwrap())
    };
    let measured: Vec<&CaseResult> = file.cases.iter().filter(|c| c.status == CaseStatus::Ok).collect();
    assert_eq!(measured.len(), 7);
    assert!(measured.iter().all(|c| c.is_summary_only()));
    let summary = case(&file, "transpose/rows=64,cols=8").summary.clone().unwrap();
    assert!(close(summary.mean_ns.unwrap(), figure("transpose/rows:64/cols:8", "mean")));
    assert!(close(summary.median_ns.unwrap(), figure("transpose/rows:64/cols:8", "median")));
    assert!(close(summary.stddev_ns.unwrap(), figure("transpose/rows:64/cols:8", "stddev")));
    assert_eq!(summary.samples, Some(30));
    // `cv` is a percentage, not a time: left out and listed.
    assert!(file.notes.iter().any(|n| n.kind == NoteKind::Aggregate { name: "cv".into() }));
}

#[test]
fn pytest_benchmark_data_are_the_samples_in_nanoseconds() {
    let file = read("pytest-benchmark/run.json", Format::PytestBenchmark);
    let raw = json("pytest-benchmark/run.json");
    for entry in raw["benchmarks"].as_array().unwrap() {
        let fullname = entry["fullname"].as_str().unwrap();
        let bench = fullname.split('[').next().unwrap();
        let found = file.cases.iter().find(|c| {
            c.bench == bench
                && entry["params"].as_object().is_none_or(|p| {
                    p.iter().all(|(k, v)| {
                        c.params.get(k).is_some_and(|got| got.to_string() == v.to_string().trim_matches('"'))
                    })
                })
        });
        let case = found.unwrap_or_else(|| panic!("{fullname} not imported"));
        let want: Vec<f64> =
            entry["stats"]["data"].as_array().unwrap().iter().map(|s| s.as_f64().unwrap() * 1e9).collect();
        assert_eq!(case.samples_ns, want, "{fullname}");
    }
    let sort = case(&file, "test_bench.py::test_sort/dtype=int,size=100");
    assert_eq!(sort.params.get("size"), Some(&Param::Int(100)));
    assert_eq!(file.tool_version.as_deref(), raw["version"].as_str());
}

#[test]
fn pytest_benchmark_files_without_data_become_summaries() {
    let file = read("pytest-benchmark/autosave-no-data.json", Format::PytestBenchmark);
    let raw = json("pytest-benchmark/autosave-no-data.json");
    let stats = &raw["benchmarks"][0]["stats"];
    let first = &file.cases[0];
    let summary = first.summary.as_ref().expect("a summary");
    assert!(first.samples_ns.is_empty());
    assert!(close(summary.median_ns.unwrap(), stats["median"].as_f64().unwrap() * 1e9));
    assert!(close(summary.min_ns.unwrap(), stats["min"].as_f64().unwrap() * 1e9));
    assert_eq!(summary.samples, stats["rounds"].as_u64());
}

#[test]
fn kernel_tuner_cache_times_failures_and_invalid_configurations() {
    let file = read("kernel-tuner/cache.json", Format::KernelTuner);
    let raw = json("kernel-tuner/cache.json");
    for (key, entry) in raw["cache"].as_object().unwrap() {
        let id =
            format!("scale/problem_size=50000,threads_x={},unroll={}", entry["threads_x"], entry["unroll"]);
        let case = case(&file, &id);
        assert_eq!(case.tune.get("threads_x").and_then(Param::as_i64), entry["threads_x"].as_i64(), "{key}");
        match entry.get("__error__").and_then(Value::as_str) {
            Some("InvalidConfig") => assert_eq!(case.status, CaseStatus::Skipped, "{key}"),
            Some("CompilationFailedConfig") => {
                assert_eq!(case.status, CaseStatus::Failed, "{key}");
                assert!(case.error.as_deref().unwrap().starts_with("CompilationFailedConfig"));
            }
            Some(other) => panic!("{key}: unexpected {other}"),
            None => {
                let want: Vec<f64> =
                    entry["times"].as_array().unwrap().iter().map(|t| t.as_f64().unwrap() * 1e6).collect();
                assert_eq!(case.samples_ns, want, "{key}: milliseconds become nanoseconds");
            }
        }
    }
    let statuses = |s: CaseStatus| file.cases.iter().filter(|c| c.status == s).count();
    assert_eq!(
        (statuses(CaseStatus::Ok), statuses(CaseStatus::Failed), statuses(CaseStatus::Skipped)),
        (6, 2, 4)
    );
    assert!(file.notes.is_empty());
}

#[test]
fn an_unclosed_cache_reads_up_to_its_last_entry_and_says_so() {
    let text = std::fs::read_to_string(fixture("kernel-tuner/cache-unclosed.json")).unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "the fixture is unclosed");
    let file = read("kernel-tuner/cache-unclosed.json", Format::KernelTuner);
    assert_eq!(file.cases.len(), text.matches("\"timestamp\"").count());
    assert!(file.cases.len() >= 4);
    assert_eq!(file.notes.iter().filter(|n| n.kind == NoteKind::Unclosed).count(), 1);
}

#[test]
fn kernel_tuner_results_files_map_invalidity() {
    let file = read("kernel-tuner/results.json", Format::KernelTuner);
    let raw = json("kernel-tuner/results.json");
    for (entry, case) in raw["results"].as_array().unwrap().iter().zip(&file.cases) {
        let want = match entry["invalidity"].as_str().unwrap() {
            "correct" => CaseStatus::Ok,
            "compile" => CaseStatus::Failed,
            "constraints" => CaseStatus::Skipped,
            other => panic!("{other}"),
        };
        assert_eq!(case.status, want, "{}", case.id);
        assert_eq!(case.samples_ns.len(), entry["times"]["runtimes"].as_array().unwrap().len());
        assert_eq!(case.bench, "results");
    }
    // The project's own files: the older failure form, and tune values of every JSON type.
    let failed = read("kernel-tuner/project-cache-compile-failed.json", Format::KernelTuner);
    assert_eq!(failed.cases[0].status, CaseStatus::Failed);
    let mixed = read("kernel-tuner/project-cache-mixed-params.json", Format::KernelTuner);
    let params = &mixed.cases[0].params;
    assert!(matches!(params.get("test_string"), Some(Param::Str(_))));
    assert!(matches!(params.get("test_bool"), Some(Param::Bool(_))));
    assert_eq!(mixed.cases.len(), 15);
    assert!(mixed.cases.iter().all(|c| c.samples_ns.len() == 7));
    let t4 = read("kernel-tuner/project-t4-results.json", Format::KernelTuner);
    assert_eq!(t4.cases[0].samples_ns.len(), 32);
}

#[test]
fn nvbench_states_are_cases_with_nvbench_summaries() {
    let file = read("nvbench/test_ref.json", Format::Nvbench);
    let raw = json("nvbench/test_ref.json");
    let states: Vec<&Value> =
        raw["benchmarks"].as_array().unwrap().iter().flat_map(|b| b["states"].as_array().unwrap()).collect();
    assert_eq!(file.cases.len(), states.len());
    assert_eq!(file.tool_version.as_deref(), Some("0.1.0"));
    // Two devices: a Device parameter keeps the ids apart, the testbed names both.
    assert!(file.notes.iter().any(|n| n.kind == NoteKind::Devices { count: 2 }));
    assert_eq!(file.gpu.as_ref().unwrap().name, "Quadro GV100 + Quadro GP100");
    let copy = case(&file, "copy_sweep_grid_shape/Device=0,BlockSize=64,NumBlocks=64");
    let state = states
        .iter()
        .find(|s| s["device"] == 0 && s["name"].as_str().unwrap().contains("BlockSize=2^6 NumBlocks=2^6"))
        .unwrap();
    let summary = |tag: &str| {
        let s = state["summaries"].as_array().unwrap().iter().find(|s| s["tag"] == tag).unwrap();
        s["data"][0]["value"].as_str().unwrap().parse::<f64>().unwrap()
    };
    let got = copy.summary.as_ref().unwrap();
    assert!(close(got.mean_ns.unwrap(), summary("nv/cold/time/gpu/mean") * 1e9));
    assert_eq!(got.samples, Some(summary("nv/cold/sample_size") as u64));
    assert_eq!(copy.timing.as_deref(), Some("cold"));
    let skipped = states.iter().filter(|s| s["is_skipped"] == true).count();
    assert!(skipped > 0);
    assert_eq!(file.cases.iter().filter(|c| c.status == CaseStatus::Skipped).count(), skipped);
    let type_axis = case(&file, "copy_type_sweep/Device=1,T=U8");
    assert!(type_axis.is_summary_only());
}

/// A single-device nvbench file in the shape nvbench's `json_printer` writes, with a `--jsonbin`
/// sample file beside it (made here: no nvbench run without a GPU).
fn nvbench_with_samples(dir: &Path, filename: &str, size: usize, samples: &[f32]) -> PathBuf {
    let bin = dir.join("run.json-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(bin.join("0.bin"), bytes).unwrap();
    let text = format!(
        r#"{{"meta": {{"version": {{"json": {{"major": 1, "minor": 0, "patch": 0}}, "nvbench": {{"string": "0.2.0"}}}}}},
  "devices": [{{"id": 0, "name": "NVIDIA H200", "sm_version": 900, "number_of_sms": 132,
    "l2_cache_size": 62914560, "global_memory_size": 150754820096, "sm_default_clock_rate": 1980000000}}],
  "benchmarks": [{{"name": "copy", "states": [{{"name": "Device=0 Elements=2^20", "device": 0,
    "axis_values": [{{"name": "Elements", "type": "int64", "value": "1048576"}}],
    "summaries": [
      {{"tag": "nv/cold/sample_size", "data": [{{"name": "value", "type": "int64", "value": "{size}"}}]}},
      {{"tag": "nv/cold/time/gpu/mean", "data": [{{"name": "value", "type": "float64", "value": "2e-06"}}]}},
      {{"tag": "nv/json/bin:nv/cold/sample_times", "data": [
        {{"name": "filename", "type": "string", "value": "{filename}"}},
        {{"name": "size", "type": "int64", "value": "{size}"}}]}}],
    "is_skipped": false}}]}}]}}"#
    );
    let path = dir.join("run.json");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn nvbench_sample_files_give_the_samples() {
    let dir = tempfile::tempdir().unwrap();
    let samples = [2.0e-6f32, 2.1e-6, 1.9e-6, 2.05e-6];
    let file =
        import::read(&nvbench_with_samples(dir.path(), "run.json-bin/0.bin", 4, &samples), None).unwrap();
    let case = &file.cases[0];
    assert_eq!(case.id.as_str(), "copy/Elements=1048576");
    let want: Vec<f64> = samples.iter().map(|s| f64::from(*s) * 1e9).collect();
    assert_eq!(case.samples_ns, want);
    assert!(case.summary.is_none());
    let gpu = file.gpu.unwrap();
    assert_eq!(
        (gpu.name.as_str(), gpu.compute_capability.as_str(), gpu.max_sm_clock_mhz),
        ("NVIDIA H200", "9.0", Some(1980))
    );
}

#[test]
fn nvbench_sample_files_that_cannot_be_used_leave_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let samples = [2.0e-6f32, 2.1e-6];
    // Size disagrees with the file, the path leaves the folder, the file is missing, a sample is zero.
    let cases = [
        ("run.json-bin/0.bin", 3, &samples[..], "float32 samples take 12"),
        ("../0.bin", 2, &samples[..], "leaves the JSON file's folder"),
        ("/etc/hostname", 2, &samples[..], "absolute"),
        ("run.json-bin/9.bin", 2, &samples[..], "not found"),
        ("run.json-bin/0.bin", 2, &[2.0e-6, 0.0][..], "sample #1 is 0"),
    ];
    for (name, size, samples, problem) in cases {
        let path = nvbench_with_samples(dir.path(), name, size, samples);
        let file = import::read(&path, Some(Format::Nvbench)).unwrap();
        assert!(file.cases[0].is_summary_only(), "{name}");
        match &file.notes[..] {
            [note] => match &note.kind {
                NoteKind::SampleFile { problem: got, .. } => assert!(got.contains(problem), "{name}: {got}"),
                other => panic!("{name}: {other:?}"),
            },
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[cfg(unix)]
#[test]
fn nvbench_sample_files_never_follow_links_out_of_the_folder() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), [0x00, 0x00, 0x80, 0x3f]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = nvbench_with_samples(dir.path(), "run.json-bin/link.bin", 1, &[1.0]);
    std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("run.json-bin/link.bin"))
        .unwrap();
    let file = import::read(&path, None).unwrap();
    assert!(file.cases[0].is_summary_only());
    assert!(
        matches!(&file.notes[0].kind, NoteKind::SampleFile { problem, .. } if problem.contains("outside"))
    );
}

fn error(text: &str, format: Option<Format>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(&path, text).unwrap();
    let err = import::read(&path, format).unwrap_err().to_string();
    assert!(err.contains("bad.json"), "the file is named: {err}");
    err
}

#[test]
fn bad_files_name_the_field_and_what_is_wrong() {
    let gbench = |entry: &str| {
        format!(
            r#"{{"context": {{}}, "benchmarks": [{{"name": "a", "real_time": 1, "time_unit": "ns"}}, {entry}]}}"#
        )
    };
    let err = error(&gbench(r#"{"name": "b", "real_time": "fast", "time_unit": "ns"}"#), None);
    assert!(err.contains("`benchmarks[1].real_time`: expected a number, found \"fast\""), "{err}");
    let err = error(&gbench(r#"{"name": "b", "real_time": 1, "time_unit": "fortnights"}"#), None);
    assert!(err.contains("`benchmarks[1].time_unit`: \"fortnights\" is not a time unit"), "{err}");
    let err = error(&gbench(r#"{"name": "b", "real_time": -3, "time_unit": "ns"}"#), None);
    assert!(err.contains("`benchmarks[1].real_time`: -3 is not a time"), "{err}");
    let err = error(
        &gbench(r#"{"name": "a", "real_time": 2, "time_unit": "ns", "run_name": "a", "run_type": "odd"}"#),
        None,
    );
    assert!(err.contains("`benchmarks[1].run_type`"), "{err}");

    let err = error(r#"{"meta": {"version": {"json": {"major": 2}}}, "benchmarks": []}"#, None);
    assert!(err.contains("`meta.version.json.major`: nvbench JSON file version 2"), "{err}");
    let err = error(
        r#"{"machine_info": {}, "benchmarks": [{"name": "t", "stats": {"data": [1e-6, null]}}]}"#,
        None,
    );
    assert!(err.contains("`benchmarks[0].stats.data[1]`: expected a number, found null"), "{err}");
    let err = error(
        r#"{"kernel_name": "k", "tune_params_keys": ["bx"], "cache": {"1": {"bx": 1, "times": []}}}"#,
        None,
    );
    assert!(err.contains(r#"`cache["1"].times`: is empty"#), "{err}");
    let err =
        error(r#"{"kernel_name": "k", "tune_params_keys": ["bx"], "cache": {"1": {"times": [1]}}}"#, None);
    assert!(err.contains(r#"`cache["1"].bx`: missing"#), "{err}");

    assert!(error(r#"{"something": "else"}"#, None).contains("cannot tell which tool wrote this file"));
    assert!(error("{\n\"benchmarks\": [,]}", None).contains("bad.json:2:"));
    // The wrong format named explicitly is an error at the field the format needs.
    assert!(error(r#"{"context": {}, "benchmarks": []}"#, Some(Format::Nvbench)).contains("`meta`: missing"));
}

#[test]
fn assembling_refuses_duplicates_other_testbeds_and_nothing() {
    let a = import::read(&fixture("kernel-tuner/cache.json"), None).unwrap();
    let err = import::assemble(vec![a.clone(), a.clone()], "s", "0.1.0", "2026-01-01T00:00:00Z").unwrap_err();
    assert!(matches!(err, ImportError::Duplicate { .. }), "{err}");
    let mut b = import::read(&fixture("kernel-tuner/project-cache.json"), None).unwrap();
    let mut a_gpu = a.clone();
    a_gpu.gpu = b.gpu.clone().map(|mut g| {
        g.name = "another GPU".into();
        g
    });
    b.cases.truncate(1);
    let err = import::assemble(vec![a_gpu, b], "s", "0.1.0", "2026-01-01T00:00:00Z").unwrap_err();
    assert!(err.to_string().contains("\"another GPU\"") && err.to_string().contains("one testbed"), "{err}");
    let mut empty = a.clone();
    empty.cases.clear();
    assert!(matches!(import::assemble(vec![empty], "s", "0.1.0", "now"), Err(ImportError::Empty { .. })));

    let (run, summary) = import::assemble(vec![a], "s", "0.1.0", "2099-01-01T00:00:00Z").unwrap();
    run.validate().unwrap();
    assert_eq!(run.imported[0].tool, "kernel-tuner");
    assert_eq!((summary.files[0].with_samples, summary.files[0].failed, summary.files[0].skipped), (6, 2, 4));
    // Samples get the same per-case statistics as a measured run.
    assert!(run.cases.iter().filter(|c| c.status == CaseStatus::Ok).all(|c| c.stats.is_some()));
    // The time the tool ran (its earliest entry), not the time of the import.
    let raw = json("kernel-tuner/cache.json");
    let first =
        raw["cache"].as_object().unwrap().values().map(|e| e["timestamp"].as_str().unwrap()).min().unwrap();
    assert_eq!(run.timestamp[..16], first[..16].replace(' ', "T"), "{}", run.timestamp);
}
