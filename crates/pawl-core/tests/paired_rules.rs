//! Paired A/B statistics on real interleaved H100 timings (`planted_A/B/C` in
//! `tests/fixtures/h100/h100_samples.json`: three attention sizes launched A B C A B C …), the decide-then-stop
//! looks, the identical-code skip and the cycles note.

use pawl_core::case::CaseId;
use pawl_core::paired::{self, PairedCase, PairedOptions, PairedOutcome, PairedSamples, Settled, StopRule};
use pawl_core::report::words;
use pawl_core::stats::Sample;
use pawl_core::stats::bootstrap::{self, BootstrapSettings};
use pawl_core::value::Params;
use pawl_core::verdict::{CompareMode, Note, VerdictKind};

mod testbed;

/// The planted series A (S=2048), B (S=2068), C (S=2058), in nanoseconds, in launch order.
fn planted() -> [Vec<f64>; 3] {
    let json = testbed::h100_samples();
    let series = |name: &str| -> Vec<f64> {
        json["series"][name]["warm"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() * 1e6).collect()
    };
    [series("planted_A_S2048"), series("planted_B_S2068"), series("planted_C_S2058")]
}

fn rule(tolerance: f64) -> StopRule {
    StopRule { tolerance, confidence: 0.99, max_pairs: 200, seed: 7 }
}

fn measured(id: &str, base: &[f64], head: &[f64], looks: usize) -> PairedOutcome {
    PairedOutcome {
        id: CaseId::from_raw(id),
        bench: id.split('/').next().unwrap().to_owned(),
        params: Params::new(),
        flops: None,
        bytes: None,
        case: PairedCase::Measured {
            samples: PairedSamples {
                base_ns: base.to_vec(),
                head_ns: head.to_vec(),
                ..PairedSamples::default()
            },
            looks,
            settled: Settled::Open,
        },
    }
}

fn options(rule: StopRule) -> PairedOptions {
    PairedOptions {
        suite: "planted".into(),
        base_label: "main".into(),
        head_label: "working tree".into(),
        testbed: "H100".into(),
        rule,
    }
}

#[test]
fn pairing_narrows_the_interval_on_interleaved_real_data() {
    let [_, b, c] = planted();
    let settings = BootstrapSettings { resamples: 4000, seed: 1 };
    let paired = bootstrap::paired_ratio_of_medians(&b, &c, 0.99, settings).unwrap();
    let unpaired = bootstrap::ratio_of_medians(
        &Sample::new(&b).unwrap(),
        &Sample::new(&c).unwrap(),
        0.99,
        0.0,
        settings,
    )
    .unwrap();
    let width = |low: f64, high: f64| high.ln() - low.ln();
    // Neighbouring launches share their noise (correlation ≈ 0.88): pairing removes it.
    assert!(
        width(paired.low, paired.high) < 0.7 * width(unpaired.low, unpaired.high),
        "paired {paired:?} vs unpaired {unpaired:?}"
    );
    assert!(paired.low < paired.ratio && paired.ratio < paired.high);
    assert!((paired.ratio - 0.9978).abs() < 0.001, "{paired:?}");
}

#[test]
fn real_sizes_get_compare_verdicts_with_benjamini_hochberg() {
    let [a, b, c] = planted();
    let outcomes = vec![
        measured("attn/A_to_B", &a, &b, 1),
        measured("attn/B_to_C", &b, &c, 1),
        // A/A: the even and odd launches of A, interleaved in time.
        measured(
            "attn/A_even_odd",
            &a[0..200].iter().step_by(2).copied().collect::<Vec<_>>(),
            &a[1..200].iter().step_by(2).copied().collect::<Vec<_>>(),
            1,
        ),
    ];
    let comparison = paired::compare_paired(&outcomes, &options(rule(0.02)));
    assert_eq!(comparison.mode, CompareMode::Paired);
    let verdict = |id: &str| comparison.verdicts.iter().find(|v| v.id.as_str() == id).unwrap();
    let ab = verdict("attn/A_to_B");
    assert_eq!(ab.kind, VerdictKind::Regressed, "{ab:?}");
    let ratio = ab.ratio.unwrap();
    assert!(ratio.low > 1.05 && ratio.high < 1.075 && (ratio.point - 1.0626).abs() < 0.001, "{ratio:?}");
    assert!(words::reason(ab).starts_with("6.3% slower"), "{}", words::reason(ab));
    assert!(ab.q_value.is_some());
    assert_eq!(verdict("attn/B_to_C").kind, VerdictKind::Unchanged);
    assert_eq!(verdict("attn/A_even_odd").kind, VerdictKind::Unchanged);
    assert!(
        comparison.multiple_comparisons.contains("Benjamini–Hochberg"),
        "{}",
        comparison.multiple_comparisons
    );
    assert!(comparison.multiple_comparisons.contains("over 3 cases"));
    assert!(comparison.fails_check());
    // Seeded: the same inputs give the same verdicts, bit for bit.
    assert_eq!(comparison, paired::compare_paired(&outcomes, &options(rule(0.02))));
}

/// Feeds a case's pairs in order and looks where the schedule says, as the worker does.
fn sequential(base: &[f64], head: &[f64], rule: &StopRule) -> (Settled, usize, usize) {
    let id = CaseId::from_raw("k/x");
    let mut settled = Settled::Open;
    let mut looks = 0;
    let mut at = 0;
    for &n in rule.looks().iter().filter(|&&n| n <= base.len().min(head.len())) {
        looks += 1;
        at = n;
        settled = paired::look(&base[..n], &head[..n], rule, &id).unwrap();
        if settled != Settled::Open {
            break;
        }
    }
    (settled, looks, at)
}

#[test]
fn decide_then_stop_settles_early_and_only_when_sure() {
    let [a, b, c] = planted();
    let loose = rule(0.02);
    // A 6% regression is clear at the first look.
    assert_eq!(sequential(&a, &b, &loose), (Settled::Regression, 1, 32));
    // The reverse is an improvement.
    assert_eq!(sequential(&b, &a, &loose).0, Settled::Improvement);
    // B against C (0.2% apart) is equivalent within 2%, soon.
    let (settled, _, at) = sequential(&b, &c, &loose);
    assert_eq!((settled, at <= 72), (Settled::Equivalent, true));
    // Within a 0.1% tolerance the same pair cannot be called either way with 200 pairs: stays open.
    let tight = StopRule { tolerance: 0.001, ..loose };
    assert_eq!(sequential(&b, &c, &tight).0, Settled::Open);
    // Each look is stricter than the final level: Bonferroni over the schedule's looks.
    assert!(loose.look_confidence() > loose.confidence);
    let k = loose.looks().len() as f64;
    assert!((1.0 - loose.look_confidence() - 0.01 / k).abs() < 1e-12);
}

#[test]
fn looks_taken_weaken_the_p_value() {
    let [_, b, c] = planted();
    let once = paired::compare_paired(&[measured("k/x", &b, &c, 1)], &options(rule(0.02)));
    let often = paired::compare_paired(&[measured("k/x", &b, &c, 5)], &options(rule(0.02)));
    let (p1, p5) = (once.verdicts[0].p_value.unwrap(), often.verdicts[0].p_value.unwrap());
    assert!((p5 - (p1 * 5.0).min(1.0)).abs() < 1e-12, "{p1} {p5}");
    assert!(
        words::notes(&often.verdicts[0])[0].contains("after 5 looks"),
        "{:?}",
        words::notes(&often.verdicts[0])
    );
}

#[test]
fn identical_code_is_unchanged_without_measuring_and_counted() {
    let one_side = |id: &str, case: PairedCase| PairedOutcome {
        id: CaseId::from_raw(id),
        bench: "k".into(),
        params: Params::new(),
        flops: None,
        bytes: None,
        case,
    };
    let outcomes = vec![
        one_side("k/a", PairedCase::Identical),
        one_side("k/b", PairedCase::Identical),
        one_side("k/c", PairedCase::OnlyHead),
        one_side("k/d", PairedCase::OnlyBase),
        one_side("k/e", PairedCase::Failed { message: "CUDA_ERROR_ILLEGAL_ADDRESS".into() }),
    ];
    let comparison = paired::compare_paired(&outcomes, &options(rule(0.02)));
    assert_eq!(paired::identical_count(&comparison), 2);
    let identical = comparison.verdicts.iter().find(|v| v.id.as_str() == "k/a").unwrap();
    assert_eq!(identical.kind, VerdictKind::Unchanged);
    assert_eq!(identical.notes, vec![Note::IdenticalCode]);
    assert!(identical.ratio.is_none() && identical.new.is_none(), "nothing was measured");
    assert_eq!(comparison.summary_line(), "1 failed, 2 unchanged, 1 new, 1 missing");
    assert!(comparison.multiple_comparisons.starts_with("none"), "{}", comparison.multiple_comparisons);
}

#[test]
fn cycles_that_disagree_with_time_are_reported() {
    // Head 5% slower in time, but its clock was 5% lower: the same cycles, a clock change.
    let base: Vec<f64> = (0..100).map(|i| 1000.0 + (i % 7) as f64).collect();
    let head: Vec<f64> = base.iter().map(|t| t * 1.05).collect();
    let samples = PairedSamples {
        base_ns: base.clone(),
        head_ns: head,
        base_clock_mhz: vec![1980; 100],
        head_clock_mhz: vec![1886; 100],
    };
    let case = PairedOutcome {
        id: CaseId::from_raw("k/clock"),
        bench: "k".into(),
        params: Params::new(),
        flops: None,
        bytes: None,
        case: PairedCase::Measured { samples, looks: 1, settled: Settled::Regression },
    };
    let comparison = paired::compare_paired(&[case], &options(rule(0.02)));
    let v = &comparison.verdicts[0];
    assert_eq!(v.kind, VerdictKind::Regressed);
    assert!(words::notes(v).iter().any(|n| n.contains("time and cycles disagree")), "{:?}", words::notes(v));
}
