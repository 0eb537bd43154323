//! Hand-built comparisons for the report tests.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use pawl_core::case::CaseId;
use pawl_core::run::CaseStatus;
use pawl_core::value::{Params, Value};
use pawl_core::verdict::{
    Change, CompareMode, Comparison, Estimate, Note, OldName, Reason, Side, SideSummary, Verdict, VerdictKind,
};

/// A case name with every character that markdown, HTML, XML or a workflow command treats specially.
pub const HOSTILE: &str = "a|b*c_d`e<script>alert(1)</script>[x](y) & \"q\" 'r' %0A: -->";

pub fn estimate(point: f64, low: f64, high: f64) -> Estimate {
    Estimate { point, low, high, confidence: 0.99 }
}

pub fn side(median_ns: f64, tflops: Option<f64>) -> SideSummary {
    SideSummary {
        median_ns: estimate(median_ns, median_ns * 0.995, median_ns * 1.005),
        rel_noise: 0.004,
        samples: 200,
        tflops,
        gbps: None,
    }
}

/// A verdict on `bench` with params; `ratio` and the sides follow from `old_ns`/`new_ns`.
pub fn verdict(
    bench: &str,
    params: &[(&str, Value)],
    kind: VerdictKind,
    old_ns: Option<f64>,
    new_ns: Option<f64>,
    reason: Reason,
) -> Verdict {
    let params: Params = params.iter().map(|(name, value)| ((*name).to_owned(), value.clone())).collect();
    let ratio = match (old_ns, new_ns) {
        (Some(old), Some(new)) => {
            let point = new / old;
            Some(estimate(point, point - 0.009, point + 0.009))
        }
        _ => None,
    };
    Verdict {
        id: CaseId::new(bench, &params),
        bench: bench.to_owned(),
        params,
        kind,
        ratio,
        p_value: ratio.map(|_| 0.0004),
        q_value: ratio.map(|_| 0.003),
        // The same work on both sides: 300 TFLOP/s at the old median.
        old: old_ns.map(|ns| side(ns, Some(300.0))),
        new: new_ns.map(|ns| side(ns, Some(300.0 * old_ns.unwrap_or(ns) / ns))),
        reason,
        notes: Vec::new(),
    }
}

/// The reason of a measured case: `change` at a 2% tolerance and 99% confidence.
pub fn judged(change: Change, significant: bool) -> Reason {
    Reason::Judged { change, significant, tolerance: 0.02, confidence: 0.99, drift: 0.01, cases: 5 }
}

/// The reason of a case that failed with `error`.
pub fn failed(error: &str) -> Reason {
    Reason::NotMeasured { status: CaseStatus::Failed, error: Some(error.to_owned()) }
}

fn flash(seq: i64) -> Vec<(&'static str, Value)> {
    vec![("B", Value::Int(8)), ("H", Value::Int(16)), ("S", Value::Int(seq)), ("dtype", Value::from("f16"))]
}

/// One verdict of each kind, most urgent first, against a stored baseline; the failed case has a
/// hostile name and a reason over two lines.
pub fn all_kinds() -> Comparison {
    let mut regressed = verdict(
        "flash_fwd",
        &flash(4096),
        VerdictKind::Regressed,
        Some(1_230_000.0),
        Some(1_280_430.0),
        judged(Change::Slower, true),
    );
    regressed.notes.push(Note::Throttled { side: Side::New, throttled: 120, samples: 200 });
    let failed = verdict(
        "weird",
        &[("name", Value::from(HOSTILE))],
        VerdictKind::Failed,
        Some(52_000.0),
        None,
        failed("CUDA error: an illegal memory access was encountered\nat launch 3 | see log"),
    );
    let mut inconclusive = verdict(
        "flash_fwd",
        &flash(512),
        VerdictKind::Inconclusive,
        Some(48_100.0),
        Some(48_820.0),
        judged(Change::Unsettled, false),
    );
    inconclusive.ratio = Some(estimate(1.015, 0.991, 1.039));
    inconclusive.notes.push(Note::Outliers { side: Side::New, share: 0.12, low: 0, high: 24 });
    let improved = verdict(
        "flash_fwd",
        &flash(2048),
        VerdictKind::Improved,
        Some(410_000.0),
        Some(373_100.0),
        judged(Change::Faster, true),
    );
    let unchanged = verdict(
        "flash_fwd",
        &flash(1024),
        VerdictKind::Unchanged,
        Some(120_500.0),
        Some(120_741.0),
        judged(Change::Within, false),
    );
    let new = verdict(
        "flash_bwd",
        &flash(1024),
        VerdictKind::New,
        None,
        Some(361_000.0),
        Reason::NotInOld { old: OldName::Baseline },
    );
    let missing = verdict(
        "flash_fwd",
        &flash(8192),
        VerdictKind::Missing,
        Some(4_900_000.0),
        None,
        Reason::NotInNew { old: OldName::Baseline },
    );
    Comparison {
        suite: "attention".to_owned(),
        old_label: "baseline.json".to_owned(),
        new_label: "HEAD (3f2a9c1)".to_owned(),
        mode: CompareMode::Baseline { drift: 0.01, drift_ns: 0.0 },
        tolerance: 0.02,
        confidence: 0.99,
        multiple_comparisons: "Benjamini–Hochberg, false discovery rate 1%".to_owned(),
        testbed: "NVIDIA H100 80GB HBM3, driver 570, CUDA 12.8".to_owned(),
        thresholds_from: None,
        verdicts: vec![regressed, failed, inconclusive, improved, unchanged, new, missing],
    }
}

/// `n` verdicts of kinds cycling through `kinds` (so each kind gets about n / kinds.len()), ordered most
/// urgent first as `compare` orders them, between two runs.
pub fn many(n: usize, kinds: &[VerdictKind]) -> Comparison {
    let mut verdicts: Vec<Verdict> = (0..n)
        .map(|i| {
            let kind = kinds[i % kinds.len()];
            let (old, new) = match kind {
                VerdictKind::New => (None, Some(100_000.0)),
                VerdictKind::Missing => (Some(100_000.0), None),
                VerdictKind::Failed => (Some(100_000.0), None),
                VerdictKind::Regressed => (Some(100_000.0), Some(110_000.0)),
                VerdictKind::Improved => (Some(100_000.0), Some(90_000.0)),
                _ => (Some(100_000.0), Some(100_300.0)),
            };
            let params = [("S", Value::Int(i as i64)), ("dtype", Value::from("f16"))];
            let reason = match kind {
                VerdictKind::New => Reason::NotInOld { old: OldName::OldRun },
                VerdictKind::Missing => Reason::NotInNew { old: OldName::OldRun },
                VerdictKind::Failed => failed(&format!("case number {i} faulted")),
                VerdictKind::Regressed => judged(Change::Slower, true),
                VerdictKind::Improved => judged(Change::Faster, true),
                VerdictKind::Unchanged => judged(Change::Within, false),
                VerdictKind::Inconclusive => judged(Change::Unsettled, false),
            };
            verdict("gemm", &params, kind, old, new, reason)
        })
        .collect();
    verdicts.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.id.cmp(&b.id)));
    Comparison {
        suite: "sweep".to_owned(),
        old_label: "main".to_owned(),
        new_label: "HEAD".to_owned(),
        mode: CompareMode::Runs { drift: 0.01, drift_ns: 250.0 },
        tolerance: 0.02,
        confidence: 0.99,
        multiple_comparisons: "Benjamini–Hochberg, false discovery rate 1%".to_owned(),
        testbed: "NVIDIA H100".to_owned(),
        thresholds_from: None,
        verdicts,
    }
}
