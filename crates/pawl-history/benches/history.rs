//! The history's speed: appending a run of 200 cases × 1,000 samples to SQLite (WAL, synchronous
//! FULL: each append waits for the disk), and the HTML report of 200 cases × 1,000 runs from their
//! points (change points of every case, then the page; target under 5 s and 5 MB).
//!
//! `cargo bench -p pawl-history --bench history`

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use pawl_core::stats::changepoint::ChangePointSettings;
use pawl_history::page::{self, PageOptions};
use pawl_history::{Location, Origin};

fn bench_append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = pawl_history::open(&Location::Sqlite(dir.path().join("history.sqlite"))).unwrap();
    let mut template = common::run("kernels", "2026-05-20T10:00:00Z", "abc", 0, 1.0, 1);
    for i in 0..200 {
        let mut case = common::case("copy", i, 20_000.0 + 100.0 * i as f64, i as u64);
        case.samples_ns = common::samples(1000, 20_000.0 + 100.0 * i as f64, 0.01, i as u64);
        case.sm_clock_mhz = vec![1980; 1000];
        case.stats = Some(pawl_core::stats::summarize(&case.samples_ns, 0.99).unwrap());
        template.cases.push(case);
    }
    let mut n = 0u64;
    c.bench_function("append a run of 200 cases × 1,000 samples (SQLite)", |b| {
        b.iter_batched(
            || {
                n += 1;
                let mut run = template.clone();
                run.timestamp = format!("2026-05-20T10:00:00.{n:06}Z");
                run
            },
            |run| assert!(store.append(&run, Origin::Run).unwrap().inserted),
            BatchSize::SmallInput,
        )
    });
}

fn bench_html(c: &mut Criterion) {
    let points = common::synthetic_points(200, 1000);
    let options = PageOptions {
        title: "pawl history: kernels".into(),
        tolerance: 0.02,
        generated_at: "2026-05-20T10:00:00Z".into(),
        method: "E-divisive means with a t-test".into(),
        ..PageOptions::default()
    };
    let trends = pawl_history::trends(points.clone(), &ChangePointSettings::default()).unwrap();
    let size = page::render(&trends, &options).len();
    eprintln!(
        "the report of 200 cases × 1,000 runs: {size} bytes ({:.2} MiB)",
        size as f64 / (1 << 20) as f64
    );
    assert!(size < 5 << 20);
    c.bench_function("HTML report of 200 cases × 1,000 runs (change points and page)", |b| {
        b.iter_batched(
            || points.clone(),
            |points| {
                let trends = pawl_history::trends(points, &ChangePointSettings::default()).unwrap();
                page::render(&trends, &options)
            },
            BatchSize::LargeInput,
        )
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench_append, bench_html
}
criterion_main!(benches);
