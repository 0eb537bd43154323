//! The verdict rules of `compare`, case by case, on synthetic samples.

use pawl_core::baseline::{Baseline, Testbed};
use pawl_core::case::CaseId;
use pawl_core::compare::{CompareError, CompareOptions, compare_baseline, compare_runs};
use pawl_core::ratchet::baseline_entry;
use pawl_core::report::words;
use pawl_core::run::{CaseResult, CaseStatus, Environment, Run};
use pawl_core::suite::{MeasureSettings, Thresholds};
use pawl_core::value::Params;
use pawl_core::verdict::{CompareMode, VerdictKind};

mod testbed;
use testbed::{H100, env, samples};

fn ok(id: &str, samples_ns: Vec<f64>) -> CaseResult {
    let mut case = CaseResult::not_measured(CaseId::from_raw(id), "k", Params::new(), CaseStatus::Ok, "");
    case.error = None;
    case.samples_ns = samples_ns;
    case
}

fn run_on(env: Environment, cases: Vec<CaseResult>) -> Run {
    let mut run = Run::new("suite", "2025-01-01T00:00:00Z", env, MeasureSettings::default());
    run.cases = cases;
    run
}

fn run(cases: Vec<CaseResult>) -> Run {
    run_on(env(H100, testbed::H100_DRIVER), cases)
}

fn opts() -> CompareOptions {
    CompareOptions { thresholds: Thresholds::default(), force: false, seed: 1 }
}

/// No drift allowance: the two sides as if from one process, so the statistical rules show alone.
fn same_process() -> CompareOptions {
    CompareOptions { thresholds: Thresholds { drift: 0.0, drift_ns: 0.0, ..Thresholds::default() }, ..opts() }
}

#[test]
fn every_kind_in_order_with_reasons() {
    let old = run(vec![
        ok("k/a_slow", samples(200, 1000.0, 0.005, 1)),
        ok("k/b_fast", samples(200, 1000.0, 0.005, 2)),
        ok("k/c_same", samples(200, 1000.0, 0.005, 3)),
        ok("k/d_noisy", samples(200, 1000.0, 0.3, 4)),
        ok("k/e_fails", samples(200, 1000.0, 0.005, 5)),
        ok("k/f_gone", samples(200, 1000.0, 0.005, 6)),
        ok("k/g_skipped", samples(200, 1000.0, 0.005, 7)),
        CaseResult::not_measured(
            CaseId::from_raw("k/h_was_broken"),
            "k",
            Params::new(),
            CaseStatus::Failed,
            "fault",
        ),
    ]);
    let mut throttled = ok("k/c_same", samples(200, 1000.0, 0.005, 13));
    throttled.throttled_samples = 12;
    let new = run(vec![
        ok("k/a_slow", samples(200, 1050.0, 0.005, 11)),
        ok("k/b_fast", samples(200, 950.0, 0.005, 12)),
        throttled,
        ok("k/d_noisy", samples(200, 1070.0, 0.3, 14)),
        CaseResult::not_measured(
            CaseId::from_raw("k/e_fails"),
            "k",
            Params::new(),
            CaseStatus::Wrong,
            "12 mismatches",
        ),
        CaseResult::not_measured(
            CaseId::from_raw("k/g_skipped"),
            "k",
            Params::new(),
            CaseStatus::Skipped,
            "filtered",
        ),
        ok("k/h_was_broken", samples(200, 1000.0, 0.005, 18)),
        ok("k/i_added", samples(200, 1000.0, 0.005, 19)),
    ]);
    let c = compare_runs(&old, &new, "old.json", "new.json", &same_process()).unwrap();
    let got: Vec<(&str, VerdictKind)> = c.verdicts.iter().map(|v| (v.id.as_str(), v.kind)).collect();
    assert_eq!(
        got,
        [
            ("k/a_slow", VerdictKind::Regressed),
            ("k/e_fails", VerdictKind::Failed),
            ("k/d_noisy", VerdictKind::Inconclusive),
            ("k/b_fast", VerdictKind::Improved),
            ("k/c_same", VerdictKind::Unchanged),
            ("k/h_was_broken", VerdictKind::New),
            ("k/i_added", VerdictKind::New),
            ("k/f_gone", VerdictKind::Missing),
            ("k/g_skipped", VerdictKind::Missing),
        ]
    );
    let v = |id: &str| c.verdicts.iter().find(|v| v.id.as_str() == id).unwrap();
    assert!(words::reason(v("k/a_slow")).contains("slower (99% CI +"), "{}", words::reason(v("k/a_slow")));
    assert!(
        words::reason(v("k/a_slow")).ends_with("beyond the 2% tolerance"),
        "{}",
        words::reason(v("k/a_slow"))
    );
    assert!(words::reason(v("k/b_fast")).contains("faster"), "{}", words::reason(v("k/b_fast")));
    assert!(
        words::reason(v("k/d_noisy")).contains("but not significant at 99%: interval −"),
        "{}",
        words::reason(v("k/d_noisy"))
    );
    assert_eq!(words::reason(v("k/e_fails")), "wrong: 12 mismatches");
    assert_eq!(words::reason(v("k/g_skipped")), "skipped: filtered");
    assert!(words::notes(v("k/h_was_broken")).iter().any(|n| n.contains("failed: fault")));
    assert!(
        words::notes(v("k/c_same"))
            .iter()
            .any(|n| n.contains("12 of 200 new samples") && n.contains("throttling"))
    );
    for id in ["k/a_slow", "k/b_fast", "k/c_same", "k/d_noisy"] {
        let verdict = v(id);
        let ratio = verdict.ratio.unwrap();
        assert!(ratio.low <= ratio.point && ratio.point <= ratio.high);
        assert!(verdict.q_value.unwrap() >= verdict.p_value.unwrap());
        assert_eq!(verdict.new.as_ref().unwrap().samples, 200);
    }
    assert_eq!(c.multiple_comparisons, "Benjamini–Hochberg, false discovery rate 1% over 4 cases");
    assert_eq!(c.mode, CompareMode::Runs { drift: 0.0, drift_ns: 0.0 });
    assert!(c.fails_check());
}

#[test]
fn significant_but_within_tolerance_is_unchanged_and_says_so() {
    let old = run(vec![ok("k/x", samples(2000, 1000.0, 0.002, 1))]);
    let new = run(vec![ok("k/x", samples(2000, 1010.0, 0.002, 2))]);
    let c = compare_runs(&old, &new, "a", "b", &same_process()).unwrap();
    let v = &c.verdicts[0];
    assert_eq!(v.kind, VerdictKind::Unchanged);
    assert!(
        words::reason(v).contains("significant at 99% but within the 2% tolerance"),
        "{}",
        words::reason(v)
    );
}

#[test]
fn few_samples_are_inconclusive_and_small_ones_use_the_bootstrap() {
    let old =
        run(vec![ok("k/tiny", samples(5, 1000.0, 0.01, 1)), ok("k/small", samples(20, 1000.0, 0.003, 2))]);
    let new =
        run(vec![ok("k/tiny", samples(5, 1100.0, 0.01, 3)), ok("k/small", samples(20, 1100.0, 0.003, 4))]);
    let c = compare_runs(&old, &new, "a", "b", &same_process()).unwrap();
    let tiny = c.verdicts.iter().find(|v| v.id.as_str() == "k/tiny").unwrap();
    assert_eq!(tiny.kind, VerdictKind::Inconclusive);
    assert!(
        words::reason(tiny).contains("too few samples to judge at 99%")
            && words::reason(tiny).contains("at least 8")
    );
    let small = c.verdicts.iter().find(|v| v.id.as_str() == "k/small").unwrap();
    assert_eq!(small.kind, VerdictKind::Regressed, "{}", words::reason(small));
    assert!(words::notes(small).iter().any(|n| n.contains("bootstrap") && n.contains("fewer than 30")));
    assert!(words::notes(small).iter().any(|n| n == "only 20 new samples"));
}

#[test]
fn outliers_and_throughput_are_reported() {
    let mut noisy = samples(400, 1000.0, 0.003, 1);
    for x in noisy.iter_mut().step_by(10) {
        *x *= 3.0;
    }
    let mut old_case = ok("k/x", samples(400, 1000.0, 0.003, 2));
    old_case.flops = Some(2e9);
    old_case.bytes = Some(4e6);
    let mut new_case = ok("k/x", noisy);
    new_case.flops = Some(2e9);
    let c = compare_runs(&run(vec![old_case]), &run(vec![new_case]), "a", "b", &opts()).unwrap();
    let v = &c.verdicts[0];
    assert!(
        words::notes(v)
            .iter()
            .any(|n| n.contains("new samples are outliers by Tukey's fences") && n.contains("40 high"))
    );
    let old = v.old.as_ref().unwrap();
    // 2e9 FLOPs in ~1000 ns is ~2 PFLOP/s = ~2000 TFLOP/s; 4 MB in 1 µs is 4000 GB/s.
    assert!((old.tflops.unwrap() / (2e9 / (old.median_ns.point * 1e3)) - 1.0).abs() < 1e-12);
    assert!((old.gbps.unwrap() - 4e6 / old.median_ns.point).abs() < 1e-9);
    assert_eq!(v.new.as_ref().unwrap().gbps, None);
}

#[test]
fn testbeds_must_match_unless_forced() {
    let a = run(vec![ok("k/x", samples(100, 1000.0, 0.01, 1))]);
    let b = run_on(env("NVIDIA A100-SXM4-80GB", "580.1"), vec![ok("k/x", samples(100, 1000.0, 0.01, 2))]);
    let err = compare_runs(&a, &b, "a", "b", &opts()).unwrap_err();
    match &err {
        CompareError::TestbedMismatch { differences, available, .. } => {
            assert_eq!(differences.len(), 1);
            assert!(available.is_empty());
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("--force"), "{err}");
    let forced = compare_runs(&a, &b, "a", "b", &CompareOptions { force: true, ..opts() }).unwrap();
    assert!(forced.testbed.contains("forced"), "{}", forced.testbed);
}

#[test]
fn baseline_testbeds_closest_first_and_forcing() {
    let old_case = ok("k/x", samples(200, 1000.0, 0.005, 1));
    let entry = baseline_entry(&old_case, Some("abc123"), "2025-01-01T00:00:00Z", 0.99).unwrap();
    let mut baseline = Baseline::new("suite");
    let other_driver = Testbed::from_env(&env(H100, "570.1"));
    let other_gpu = Testbed::from_env(&env("NVIDIA L4", "580.1"));
    baseline.testbed_mut(&other_gpu).cases.insert(CaseId::from_raw("k/x"), entry.clone());
    baseline.testbed_mut(&other_driver).cases.insert(CaseId::from_raw("k/x"), entry.clone());
    let new = run(vec![ok("k/x", samples(200, 1000.0, 0.005, 2))]);

    match compare_baseline(&baseline, &new, "base", "new", &opts()).unwrap_err() {
        CompareError::TestbedMismatch { baseline: closest, available, differences, .. } => {
            assert_eq!(*closest, other_driver);
            assert_eq!(available, vec![other_driver.clone(), other_gpu.clone()]);
            assert_eq!(differences, vec!["driver major 570 vs 580".to_owned()]);
        }
        other => panic!("unexpected {other:?}"),
    }
    let forced = CompareOptions { force: true, ..opts() };
    assert!(matches!(
        compare_baseline(&baseline, &new, "base", "new", &forced),
        Err(CompareError::AmbiguousTestbed { .. })
    ));
    let mut single = Baseline::new("suite");
    single.testbed_mut(&other_driver).cases.insert(CaseId::from_raw("k/x"), entry);
    let c = compare_baseline(&single, &new, "base", "new", &forced).unwrap();
    assert_eq!(c.verdicts[0].kind, VerdictKind::Unchanged, "{}", words::reason(&c.verdicts[0]));

    // An empty baseline: every case is new.
    let c = compare_baseline(&Baseline::new("suite"), &new, "base", "new", &opts()).unwrap();
    assert_eq!(c.verdicts[0].kind, VerdictKind::New);
    assert_eq!(c.multiple_comparisons, "none: no case was measured on both sides");
}

#[test]
fn two_processes_get_the_drift_allowance_one_process_does_not() {
    // 100 µs, long enough for the relative allowance to be the larger.
    let old_case = ok("k/x", samples(1000, 100_000.0, 0.02, 1));
    let entry = baseline_entry(&old_case, None, "t", 0.99).unwrap();
    let mut baseline = Baseline::new("suite");
    baseline
        .testbed_mut(&Testbed::from_env(&env(H100, testbed::H100_DRIVER)))
        .cases
        .insert(CaseId::from_raw("k/x"), entry);
    // 1.2% slower: clearly significant within one process, but hardly beyond the 1% allowance between
    // two: two run files and a stored baseline both come from other processes.
    let new = run(vec![ok("k/x", samples(1000, 101_200.0, 0.02, 2))]);
    let old = run(vec![old_case]);
    let one = compare_runs(&old, &new, "a", "b", &same_process()).unwrap();
    let runs = compare_runs(&old, &new, "a", "b", &opts()).unwrap();
    let base = compare_baseline(&baseline, &new, "base", "b", &opts()).unwrap();
    assert_eq!(runs.mode, CompareMode::Runs { drift: 0.01, drift_ns: 250.0 });
    assert_eq!(base.mode, CompareMode::Baseline { drift: 0.01, drift_ns: 250.0 });
    let (o, r) = (one.verdicts[0].ratio.unwrap(), runs.verdicts[0].ratio.unwrap());
    assert!(r.low < o.low && r.high > o.high, "the allowance widens the interval");
    let p = |c: &pawl_core::verdict::Comparison| c.verdicts[0].p_value.unwrap();
    assert!(p(&one) < 1e-6 && p(&runs) > 0.01 && p(&base) > 0.01, "p {} {} {}", p(&one), p(&runs), p(&base));
    assert!(
        words::reason(&one.verdicts[0]).contains("significant at 99% but within"),
        "{}",
        words::reason(&one.verdicts[0])
    );
    for c in [&runs, &base] {
        let reason = words::reason(&c.verdicts[0]);
        assert_eq!(c.verdicts[0].kind, VerdictKind::Unchanged);
        assert!(!reason.contains("significant at 99%"), "{reason}");
        assert!(reason.contains("1% drift allowance between processes"), "{reason}");
    }
}

#[test]
fn short_kernels_get_the_absolute_drift_allowance() {
    // Between processes a kernel of a few microseconds shifts by a fixed 0.1–0.2 µs (docs/measurement.md):
    // 3% of 5 µs is such a shift, too small to call against a stored baseline (inconclusive, which does
    // not fail a check), while 3% of 100 µs is a real change.
    for (median, want, allowance) in [
        (5_000.0, VerdictKind::Inconclusive, "drift allowance between processes"),
        (100_000.0, VerdictKind::Regressed, "the 1% drift allowance"),
    ] {
        let old_case = ok("k/x", samples(2000, median, 0.01, 1));
        let entry = baseline_entry(&old_case, None, "t", 0.99).unwrap();
        let mut baseline = Baseline::new("suite");
        baseline
            .testbed_mut(&Testbed::from_env(&env(H100, testbed::H100_DRIVER)))
            .cases
            .insert(CaseId::from_raw("k/x"), entry);
        let new = run(vec![ok("k/x", samples(2000, median * 1.03, 0.01, 2))]);
        let c = compare_baseline(&baseline, &new, "base", "b", &opts()).unwrap();
        let v = &c.verdicts[0];
        assert_eq!(v.kind, want, "{median} ns: {}", words::reason(v));
        assert!(words::reason(v).contains(allowance), "{median} ns: {}", words::reason(v));
        assert_eq!(c.mode, CompareMode::Baseline { drift: 0.01, drift_ns: 250.0 });
        assert!(pawl_core::report::text::mode(&c.mode).contains("at least 250 ns"));
        // Without the absolute allowance (`drift_ns = 0`) the short kernel's shift is called a regression.
        let no_floor =
            CompareOptions { thresholds: Thresholds { drift_ns: 0.0, ..Thresholds::default() }, ..opts() };
        let c = compare_baseline(&baseline, &new, "base", "b", &no_floor).unwrap();
        assert_eq!(
            c.verdicts[0].kind,
            VerdictKind::Regressed,
            "{median} ns: {}",
            words::reason(&c.verdicts[0])
        );
    }
}

#[test]
fn invalid_thresholds_are_refused() {
    let r = run(vec![]);
    let bad =
        CompareOptions { thresholds: Thresholds { confidence: 1.5, ..Thresholds::default() }, ..opts() };
    let err = compare_runs(&r, &r, "a", "b", &bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid thresholds: `confidence` is 1.5; it must be above 0.5 and below 1, like 0.99 for 99%"
    );
    // Against a baseline too, and for every field, by the same rule as the suite file and the flags.
    let baseline = Baseline::new("suite");
    for bad in [
        Thresholds { tolerance: f64::NAN, ..Thresholds::default() },
        Thresholds { drift: 1.0, ..Thresholds::default() },
        Thresholds { drift_ns: -1.0, ..Thresholds::default() },
        Thresholds { drift_ns: 1e19, ..Thresholds::default() },
    ] {
        let bad = CompareOptions { thresholds: bad, ..opts() };
        let err = compare_baseline(&baseline, &r, "base", "b", &bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("invalid thresholds: {}", bad.thresholds.validate().unwrap_err())
        );
    }
}

#[test]
fn same_inputs_same_comparison_other_seed_close() {
    let old = run((0..50).map(|i| ok(&format!("k/{i}"), samples(25, 1000.0, 0.01, i))).collect());
    let new =
        run((0..50).map(|i| ok(&format!("k/{i}"), samples(25, 1000.0 + i as f64, 0.01, 100 + i))).collect());
    let a = compare_runs(&old, &new, "a", "b", &opts()).unwrap();
    let b = compare_runs(&old, &new, "a", "b", &opts()).unwrap();
    assert_eq!(a, b);
    let c = compare_runs(&old, &new, "a", "b", &CompareOptions { seed: 2, ..opts() }).unwrap();
    for (x, y) in a.verdicts.iter().zip(&c.verdicts) {
        assert_eq!(x.id, y.id);
        let (rx, ry) = (x.ratio.unwrap(), y.ratio.unwrap());
        assert_eq!(rx.point, ry.point);
        assert!((rx.low / ry.low - 1.0).abs() < 0.01 && (rx.high / ry.high - 1.0).abs() < 0.01);
    }
}

fn summary_only(id: &str, mean_ns: f64) -> CaseResult {
    let mut case = CaseResult::not_measured(CaseId::from_raw(id), "k", Params::new(), CaseStatus::Ok, "");
    case.error = None;
    case.summary = Some(pawl_core::run::ToolSummary {
        samples: Some(10),
        mean_ns: Some(mean_ns),
        median_ns: Some(mean_ns),
        ..Default::default()
    });
    case
}

#[test]
fn a_side_with_a_summary_only_is_never_judged() {
    // A tool's aggregate (no samples) on either side: inconclusive, no interval, the reason says why;
    // even a summary twice as slow is not called a regression.
    let old = run(vec![
        summary_only("k/old_summary", 1000.0),
        ok("k/new_summary", samples(200, 1000.0, 0.005, 1)),
        summary_only("k/both", 1000.0),
    ]);
    let new = run(vec![
        ok("k/old_summary", samples(200, 2000.0, 0.005, 2)),
        summary_only("k/new_summary", 2000.0),
        summary_only("k/both", 2000.0),
        summary_only("k/fresh", 1000.0),
    ]);
    old.validate().unwrap();
    new.validate().unwrap();
    let comparison = compare_runs(&old, &new, "old", "new", &opts()).unwrap();
    for verdict in &comparison.verdicts {
        let id = verdict.id.as_str();
        assert!(verdict.ratio.is_none() && verdict.p_value.is_none(), "{id}: no interval without samples");
        if id == "k/fresh" {
            assert_eq!(verdict.kind, VerdictKind::New);
        } else {
            assert_eq!(verdict.kind, VerdictKind::Inconclusive, "{id}");
            assert!(
                words::reason(verdict).contains("has no samples, only a summary"),
                "{id}: {}",
                words::reason(verdict)
            );
        }
        assert!(
            words::notes(verdict).iter().any(|n| n.starts_with("summary only")),
            "{id}: {:?}",
            verdict.notes
        );
    }
    // The side with samples keeps its figures.
    let old_summary = comparison.verdicts.iter().find(|v| v.id.as_str() == "k/old_summary").unwrap();
    assert!(old_summary.new.is_some() && old_summary.old.is_none());
    assert!(!comparison.fails_check());
    // The ratchet sets no figure from a summary.
    assert!(baseline_entry(&new.cases[1], None, "t", 0.99).is_none());
    // Every report renders it and says so.
    for format in pawl_core::report::Format::ALL {
        let mut out = Vec::new();
        pawl_core::report::render(format, &comparison, &Default::default(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        // The words in every format for people; the reason as data in JSON.
        let says = ["summary only", "no samples", "\"why\": \"summary_only\""];
        assert!(says.iter().any(|s| text.contains(s)), "{format}: {text}");
    }
}

#[test]
fn summaries_stand_in_for_samples_only() {
    let mut both = summary_only("k/both", 1000.0);
    both.samples_ns = vec![1.0, 2.0];
    assert!(run(vec![both]).validate().unwrap_err().contains("both samples and a summary"));
    let mut failed = summary_only("k/failed", 1000.0);
    failed.status = CaseStatus::Failed;
    assert!(run(vec![failed]).validate().unwrap_err().contains("status failed and a summary"));
    let mut empty = summary_only("k/empty", 1000.0);
    empty.summary = Some(Default::default());
    assert!(run(vec![empty]).validate().unwrap_err().contains("neither a mean nor a median"));
    let mut negative = summary_only("k/negative", -1.0);
    negative.summary.as_mut().unwrap().median_ns = None;
    assert!(run(vec![negative]).validate().unwrap_err().contains("mean_ns is -1"));
    // Old run files (no `summary`, no `imported`) read as before; new ones round-trip.
    let run = run(vec![summary_only("k/a", 5.0)]);
    let text = String::from_utf8(pawl_core::files::to_json_bytes(&run)).unwrap();
    assert!(!text.contains("\"imported\""));
    let back: Run = serde_json::from_str(&text).unwrap();
    assert_eq!(back, run);
}
