//! Change points of one case over 10,000 runs (target: under 50 ms): 2% noise with a 5% step every
//! 2,000 runs.
//!
//! `cargo bench -p pawl-core --bench changepoint`

use criterion::{Criterion, criterion_group, criterion_main};
use pawl_core::stats::changepoint::{ChangePointSettings, change_points};
use pawl_core::stats::normal;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn bench_changepoints(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let series: Vec<f64> = (0..10_000)
        .map(|i| {
            let level = 100_000.0 * (1.0 + 0.05 * ((i / 2_000) % 2) as f64);
            level * (1.0 + 0.02 * normal::quantile(rng.random::<f64>().clamp(1e-12, 1.0 - 1e-12)))
        })
        .collect();
    let settings = ChangePointSettings::default();
    let found = change_points(&series, &settings).expect("a valid series");
    assert_eq!(found.len(), 4, "{:?}", found.iter().map(|c| c.index).collect::<Vec<_>>());
    c.bench_function("change points of 10,000 runs", |b| b.iter(|| change_points(&series, &settings)));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_changepoints
}
criterion_main!(benches);
