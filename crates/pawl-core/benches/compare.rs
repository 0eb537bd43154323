//! Comparison at scale: 10,000 cases × 1,000 samples each, at 99% confidence.
//!
//! Target: under 2 s on a 2-core machine. The runs are built outside the timed loop; what is timed is
//! `compare_runs` and `compare_baseline` (sorting, summaries, intervals, bootstraps where needed,
//! Benjamini–Hochberg, verdicts).

use criterion::{Criterion, criterion_group, criterion_main};
use pawl_core::baseline::{Baseline, Testbed};
use pawl_core::case::CaseId;
use pawl_core::compare::{CompareOptions, compare_baseline, compare_runs};
use pawl_core::ratchet::baseline_entry;
use pawl_core::run::{CaseResult, CaseStatus, Environment, Run};
use pawl_core::stats::normal;
use pawl_core::suite::MeasureSettings;
use pawl_core::value::Params;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CASES: usize = 10_000;
const SAMPLES: usize = 1_000;

/// Log-normal samples around `median` with relative noise `noise`.
fn samples(rng: &mut ChaCha8Rng, median: f64, noise: f64) -> Vec<f64> {
    (0..SAMPLES)
        .map(|_| {
            let u: f64 = rng.random();
            median * (noise * normal::quantile(u.clamp(1e-12, 1.0 - 1e-12))).exp()
        })
        .collect()
}

/// Old and new runs: 90% of cases unchanged, 5% 3% slower, 5% 3% faster; noise from 0.5% to 3%.
fn runs() -> (Run, Run) {
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let mut old =
        Run::new("bench", "2025-01-01T00:00:00Z", Environment::default(), MeasureSettings::default());
    let mut new = old.clone();
    for i in 0..CASES {
        let median = 1e3 + rng.random::<f64>() * 1e6;
        let noise = 0.005 + rng.random::<f64>() * 0.025;
        let shift = match i % 20 {
            0 => 1.03,
            1 => 0.97,
            _ => 1.0,
        };
        let id = format!("k/case={i}");
        for (run, factor) in [(&mut old, 1.0), (&mut new, shift)] {
            let mut case =
                CaseResult::not_measured(CaseId::from_raw(&id), "k", Params::new(), CaseStatus::Ok, "");
            case.error = None;
            case.samples_ns = samples(&mut rng, median * factor, noise);
            run.cases.push(case);
        }
    }
    (old, new)
}

fn bench(c: &mut Criterion) {
    let (old, new) = runs();
    let opts = CompareOptions::default();
    let mut baseline = Baseline::new("bench");
    let section = baseline.testbed_mut(&Testbed::from_env(&old.env));
    for case in &old.cases {
        if let Some(entry) = baseline_entry(case, None, "t", 0.99) {
            section.cases.insert(case.id.clone(), entry);
        }
    }
    let mut group = c.benchmark_group("compare 10k cases x 1k samples");
    group.sample_size(10);
    group.bench_function("runs", |b| b.iter(|| compare_runs(&old, &new, "old", "new", &opts).unwrap()));
    group.bench_function("baseline", |b| {
        b.iter(|| compare_baseline(&baseline, &new, "baseline", "new", &opts).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
