//! The ratchet's rules: only improvements move, new cases only when accepted, never down, untouched
//! entries byte-identical.

use pawl_core::baseline::{Baseline, Testbed};
use pawl_core::case::CaseId;
use pawl_core::compare::{CompareOptions, compare_baseline};
use pawl_core::ratchet::{MoveKind, RatchetOptions, baseline_entry, profile_targets, ratchet};
use pawl_core::run::{CaseResult, CaseStatus, Environment, GitInfo, Run};
use pawl_core::suite::MeasureSettings;
use pawl_core::value::Params;

mod testbed;

fn env() -> Environment {
    testbed::env(testbed::H100, testbed::H100_DRIVER)
}

/// A case of `median` ns; the tests use 100 µs and up, where the relative drift allowance is the larger.
fn case(id: &str, median: f64, seed: u64) -> CaseResult {
    let mut c = CaseResult::not_measured(CaseId::from_raw(id), "k", Params::new(), CaseStatus::Ok, "");
    c.error = None;
    c.samples_ns = testbed::samples(300, median, 0.004, seed);
    c
}

fn run(timestamp: &str, commit: &str, cases: Vec<CaseResult>) -> Run {
    let mut r = Run::new("suite", timestamp, env(), MeasureSettings::default());
    r.git = Some(GitInfo { commit: commit.into(), branch: None, dirty: false });
    r.cases = cases;
    r
}

fn json(b: &Baseline) -> String {
    serde_json::to_string_pretty(b).unwrap()
}

#[test]
fn ratchet_moves_only_up() {
    let first = run(
        "2025-01-01T00:00:00Z",
        "aaa",
        vec![
            case("k/faster", 100_000.0, 1),
            case("k/same", 100_000.0, 2),
            case("k/slower", 100_000.0, 3),
            case("k/slightly_faster", 100_000.0, 4),
        ],
    );
    let opts = CompareOptions::default();
    let empty = Baseline::new("suite");
    let c0 = compare_baseline(&empty, &first, "baseline", "first", &opts).unwrap();
    // Without accept_new nothing is added.
    assert!(ratchet(empty.clone(), &first, &c0, &RatchetOptions { accept_new: false }).moves.is_empty());
    let out = ratchet(empty, &first, &c0, &RatchetOptions { accept_new: true });
    assert_eq!(out.moves.len(), 4);
    assert!(out.moves.iter().all(|m| m.kind == MoveKind::Added && m.old_median_ns.is_none()));
    let baseline = out.baseline;
    let before = json(&baseline);

    let second = run(
        "2025-02-01T00:00:00Z",
        "bbb",
        vec![
            case("k/faster", 95_000.0, 11),
            case("k/same", 100_000.0, 12),
            case("k/slower", 105_000.0, 13),
            case("k/slightly_faster", 99_500.0, 14),
            case("k/brand_new", 50_000.0, 15),
        ],
    );
    let c1 = compare_baseline(&baseline, &second, "baseline", "second", &opts).unwrap();
    let out = ratchet(baseline.clone(), &second, &c1, &RatchetOptions { accept_new: false });
    assert_eq!(out.regressed, vec![CaseId::from_raw("k/slower")]);
    assert_eq!(profile_targets(&c1), out.regressed);
    assert_eq!(out.moves.len(), 1, "{:?}", out.moves);
    let mv = &out.moves[0];
    assert_eq!((mv.id.as_str(), mv.kind), ("k/faster", MoveKind::Improved));
    assert!(mv.new_median_ns < mv.old_median_ns.unwrap());

    let tb = Testbed::from_env(&env());
    let (old_tb, new_tb) = (baseline.testbed(&tb).unwrap(), out.baseline.testbed(&tb).unwrap());
    for id in ["k/same", "k/slower", "k/slightly_faster"] {
        let id = CaseId::from_raw(id);
        assert_eq!(
            serde_json::to_string(&old_tb.cases[&id]).unwrap(),
            serde_json::to_string(&new_tb.cases[&id]).unwrap()
        );
    }
    let moved = &new_tb.cases[&CaseId::from_raw("k/faster")];
    assert_eq!((moved.commit.as_deref(), moved.set_at.as_str()), (Some("bbb"), "2025-02-01T00:00:00Z"));
    assert!(!new_tb.cases.contains_key(&CaseId::from_raw("k/brand_new")));
    assert_ne!(json(&out.baseline), before);

    // Re-ratcheting the same run against the moved baseline changes nothing.
    let c2 = compare_baseline(&out.baseline, &second, "baseline", "second", &opts).unwrap();
    let again = ratchet(out.baseline.clone(), &second, &c2, &RatchetOptions { accept_new: false });
    assert!(again.moves.is_empty());
    assert_eq!(json(&again.baseline), json(&out.baseline));
}

#[test]
fn entries_are_rounded_and_valid() {
    let c = case("k/x", 12_345.678_9, 5);
    let e = baseline_entry(&c, Some("abc"), "t", 0.99).unwrap();
    for v in [e.median_ns, e.ci_low_ns, e.ci_high_ns] {
        assert_eq!((v * 10.0).round() / 10.0, v);
    }
    assert!(e.ci_low_ns <= e.median_ns && e.median_ns <= e.ci_high_ns);
    let digits = format!("{}", e.rel_noise).trim_start_matches("0.").trim_start_matches('0').len();
    assert!(e.rel_noise > 0.0 && digits <= 6, "{}", e.rel_noise);
    assert_eq!(e.samples, 300);
    let failed =
        CaseResult::not_measured(CaseId::from_raw("k/y"), "k", Params::new(), CaseStatus::Failed, "x");
    assert!(baseline_entry(&failed, None, "t", 0.99).is_none());

    // The file round-trips through save and load byte for byte.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baseline.json");
    let mut b = Baseline::new("suite");
    b.testbed_mut(&Testbed::from_env(&env())).cases.insert(CaseId::from_raw("k/x"), e);
    b.save(&path).unwrap();
    let first = std::fs::read(&path).unwrap();
    Baseline::load(&path).unwrap().save(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), first);
}
