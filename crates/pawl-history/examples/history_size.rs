//! What a history costs on disk, measured: writes RUNS runs of CASES cases × SAMPLES samples into a
//! fresh SQLite history (and a Postgres one with `--postgres URL`) and prints the sizes.
//!
//! ```sh
//! cargo run --release -p pawl-history --example history_size -- --runs 1000 --cases 200 --samples 1000 DIR
//! ```
//!
//! The samples are real: each case draws (seeded, with replacement) from one of six series pawl recorded
//! on an H100 (`examples/data/h100_flushed_ns.json`: CUDA event times, f32 milliseconds scaled to
//! nanoseconds as pawl-cuda takes them), with an SM clock reading per sample as pawl-cuda records it.

use std::path::PathBuf;
use std::time::Instant;

use pawl_core::case::CaseId;
use pawl_core::run::{CaseResult, CaseStatus, Environment, GitInfo, GpuInfo, Run};
use pawl_core::stats;
use pawl_core::suite::MeasureSettings;
use pawl_core::value::{Params, Value};
use pawl_history::{Location, Origin};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let number = |name: &str, default: usize| option(name).map_or(default, |v| v.parse().expect("a number"));
    let (runs, cases, samples) = (number("--runs", 1000), number("--cases", 200), number("--samples", 1000));
    let dir =
        args.last().filter(|a| !a.starts_with("--") && option("--postgres").as_deref() != Some(a.as_str()));
    let dir = PathBuf::from(dir.cloned().unwrap_or_else(|| ".".into()));

    let data: serde_json::Value =
        serde_json::from_str(include_str!("data/h100_flushed_ns.json")).expect("the sample file is JSON");
    let series: Vec<Vec<f64>> = data["series"]
        .as_object()
        .expect("series")
        .values()
        .map(|v| v.as_array().expect("samples").iter().map(|x| x.as_f64().expect("a number")).collect())
        .collect();

    let mut locations = vec![Location::Sqlite(dir.join("history-size.sqlite"))];
    if let Some(url) = option("--postgres") {
        locations.push(Location::Postgres(url));
    }
    let raw = runs * cases * samples * 8;
    println!(
        "{runs} runs × {cases} cases × {samples} samples: {:.1} MiB of raw f64 samples",
        mib(raw as u64)
    );
    for location in &locations {
        if let Location::Sqlite(path) = location {
            for suffix in ["", "-wal", "-shm", "-lock"] {
                let mut p = path.as_os_str().to_owned();
                p.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
        }
        let mut store = pawl_history::open(location).expect("the history opens");
        let start = Instant::now();
        for r in 0..runs {
            let run = make_run(r, cases, samples, &series);
            store.append(&run, Origin::Run).expect("the run is recorded");
        }
        let elapsed = start.elapsed().as_secs_f64();
        drop(store);
        let bytes = size(location);
        println!(
            "{location}: {:.1} MiB on disk ({:.2} bytes a sample, {:.0} bytes a case row, {:.1}× smaller than raw); \
             written in {elapsed:.0} s ({:.0} ms a run)",
            mib(bytes),
            bytes as f64 / (runs * cases * samples) as f64,
            bytes as f64 / (runs * cases) as f64,
            raw as f64 / bytes as f64,
            elapsed * 1000.0 / runs as f64
        );
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// Bytes the history takes: the SQLite file after a checkpoint, or the Postgres tables with indexes.
fn size(location: &Location) -> u64 {
    match location {
        Location::Sqlite(path) => {
            let db = rusqlite::Connection::open(path).expect("reopens");
            db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).expect("checkpoint");
            drop(db);
            std::fs::metadata(path).expect("the file").len()
        }
        Location::Postgres(url) => {
            let mut db = postgres::Client::connect(url, postgres::NoTls).expect("reconnects");
            let row = db
                .query_one(
                    "SELECT pg_total_relation_size('pawl_runs') + pg_total_relation_size('pawl_cases') \
                     + pg_total_relation_size('pawl_samples')",
                    &[],
                )
                .expect("sizes");
            row.get::<_, i64>(0) as u64
        }
    }
}

fn make_run(r: usize, cases: usize, samples: usize, series: &[Vec<f64>]) -> Run {
    let env = Environment {
        clock: Default::default(),
        pawl_version: "0.1.0".into(),
        hostname: "gpu-runner-1".into(),
        gpu: Some(GpuInfo {
            name: "NVIDIA H100 80GB HBM3".into(),
            uuid: "GPU-5f3b".into(),
            compute_capability: "9.0".into(),
            sm_count: 132,
            l2_bytes: 50 << 20,
            memory_bytes: 80 << 30,
            driver_version: "580.159.04".into(),
            cuda_version: "13.0".into(),
            nvrtc_version: Some("13.0".into()),
            max_sm_clock_mhz: Some(1980),
        }),
        clocks_start: None,
        clocks_end: None,
        throttle_reasons_seen: vec![],
        ceilings: None,
    };
    // One run an hour from 2026-01-01.
    let started = jiff::Timestamp::from_second(1_767_225_600 + r as i64 * 3600).expect("in range");
    let mut run = Run::new("size", started.to_string(), env, MeasureSettings::default());
    run.git = Some(GitInfo {
        commit: format!("{:040x}", r * 2_654_435_761),
        branch: Some("main".into()),
        dirty: false,
    });
    let mut rng = ChaCha8Rng::seed_from_u64(r as u64);
    for c in 0..cases {
        let source = &series[c % series.len()];
        let samples_ns: Vec<f64> = (0..samples).map(|_| source[rng.random_range(0..source.len())]).collect();
        let clocks: Vec<u32> =
            (0..samples).map(|_| if rng.random::<f64>() < 0.02 { 1965 } else { 1980 }).collect();
        let mut params = Params::new();
        params.insert("N", Value::Int(1 << (10 + c % 20)));
        params.insert("variant", Value::Int((c / 20) as i64));
        let mut case =
            CaseResult::not_measured(CaseId::new("kernel", &params), "kernel", params, CaseStatus::Ok, "");
        case.error = None;
        case.stats = Some(stats::summarize(&samples_ns, 0.99).expect("valid samples"));
        case.samples_ns = samples_ns;
        case.sm_clock_mhz = clocks;
        case.bytes = Some(1e8);
        case.timing = Some("cold".into());
        run.cases.push(case);
    }
    run
}
