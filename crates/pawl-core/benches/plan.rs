//! Planning speed: a 10,000-case CUDA sweep (the planning test's suite), every launch expression
//! evaluated for every case.
//!
//! `cargo bench -p pawl-core --bench plan`

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use pawl_core::plan::{Selection, plan};
use pawl_core::suite::Suite;

fn bench_plan(c: &mut Criterion) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/suites/good/attention/sweep_10k.toml");
    let suite = Suite::load(&path).expect("the sweep suite loads");
    let cases: usize =
        plan(&suite, &Selection::default()).expect("it plans").iter().map(|p| p.cases.len()).sum();
    assert_eq!(cases, 10_000);
    c.bench_function("plan 10,000 cuda cases", |b| b.iter(|| plan(&suite, &Selection::default())));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench_plan
}
criterion_main!(benches);
