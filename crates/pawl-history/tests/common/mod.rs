//! What the history tests share: runs to record, and the two stores to record them in.
//!
//! Postgres comes from `PAWL_TEST_POSTGRES_URL` (`scripts/test-postgres.sh start` prints one); each
//! test makes a database of its own there. Without the variable the Postgres tests fail, unless
//! `PAWL_TEST_POSTGRES=skip` says to run without Postgres: then they say so and pass.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::sync::atomic::{AtomicUsize, Ordering};

use pawl_core::case::CaseId;
use pawl_core::run::{CaseResult, CaseStatus, Environment, GitInfo, GpuInfo, Run};
use pawl_core::stats;
use pawl_core::suite::MeasureSettings;
use pawl_core::value::{Params, Value};
use pawl_history::Location;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// An environment on an H100 (or the GPU named).
pub fn env(gpu: &str) -> Environment {
    Environment {
        clock: Default::default(),
        pawl_version: "0.1.0".into(),
        hostname: "runner-1".into(),
        gpu: Some(GpuInfo {
            name: gpu.into(),
            uuid: "GPU-0".into(),
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
    }
}

pub const H100: &str = "NVIDIA H100 80GB HBM3";

/// Samples as pawl-cuda takes them: f32 milliseconds of CUDA events, scaled to nanoseconds.
pub fn samples(n: usize, median_ns: f64, noise: f64, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let u: f64 = rng.random::<f64>() - 0.5;
            f64::from(((median_ns * (1.0 + noise * u)) / 1e6) as f32) * 1e6
        })
        .collect()
}

/// A case of bench `bench` with `N = n`, measured around `median_ns`.
pub fn case(bench: &str, n: i64, median_ns: f64, seed: u64) -> CaseResult {
    let mut params = Params::new();
    params.insert("N", Value::Int(n));
    let samples_ns = samples(60, median_ns, 0.01, seed);
    let mut case = CaseResult::not_measured(CaseId::new(bench, &params), bench, params, CaseStatus::Ok, "");
    case.error = None;
    case.stats = Some(stats::summarize(&samples_ns, 0.99).unwrap());
    case.sm_clock_mhz = samples_ns.iter().map(|_| 1980).collect();
    case.samples_ns = samples_ns;
    case.bytes = Some(8.0 * n as f64);
    case.timing = Some("cold".into());
    case
}

/// A run of suite `suite` at `timestamp` (RFC 3339) and `commit`, with `cases` cases whose medians are
/// `level` × 10 µs × (1 + index); a failed case at the end when `failed`.
pub fn run(suite: &str, timestamp: &str, commit: &str, cases: usize, level: f64, seed: u64) -> Run {
    let mut run = Run::new(suite, timestamp, env(H100), MeasureSettings::default());
    run.git = Some(GitInfo { commit: commit.into(), branch: Some("main".into()), dirty: false });
    for i in 0..cases {
        run.cases.push(case(
            "copy",
            1 << (10 + i),
            level * 10_000.0 * (1 + i) as f64,
            seed * 1000 + i as u64,
        ));
    }
    run
}

/// The two stores every test runs against: a SQLite file in `dir`, and a fresh Postgres database
/// (or nothing, said aloud, when told to run without Postgres).
pub fn locations(dir: &std::path::Path, test: &str) -> Vec<Location> {
    let mut all = vec![Location::Sqlite(dir.join("history.sqlite"))];
    all.extend(postgres(test));
    all
}

/// A fresh Postgres database for `test`, or `None` when told to run without Postgres.
pub fn postgres(test: &str) -> Option<Location> {
    if std::env::var("PAWL_TEST_POSTGRES").is_ok_and(|v| v == "skip") {
        // Straight to the terminal: libtest would swallow eprintln! of a passing test.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "skipping Postgres for `{test}`: PAWL_TEST_POSTGRES=skip");
        return None;
    }
    let url = std::env::var("PAWL_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "PAWL_TEST_POSTGRES_URL is not set: start a server with `scripts/test-postgres.sh start` and export \
             the URL it prints, or set PAWL_TEST_POSTGRES=skip to run without Postgres"
        )
    });
    Some(Location::Postgres(fresh_database(&url, test)))
}

static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// Creates a database of its own for one test and returns its URL.
fn fresh_database(url: &str, test: &str) -> String {
    let name = format!(
        "pawl_{}_{}_{}",
        test.chars().filter(char::is_ascii_alphanumeric).take(30).collect::<String>().to_ascii_lowercase(),
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = postgres::Client::connect(url, postgres::NoTls).unwrap_or_else(|e| {
        panic!(
            "cannot reach the Postgres server of PAWL_TEST_POSTGRES_URL ({}): {e}",
            pawl_history::redact_url(url)
        )
    });
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    with_database(url, &name)
}

/// `url` with its database replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    format!("{}/{name}{query}", &base[..host_end])
}

/// Case points of a suite with `cases` cases (benches `copy` and `gemm`, params N and dtype) over `runs`
/// runs, 1% noise; the case `copy/N=1024,dtype=f16` gets 8% slower from run `runs / 2` on. In the
/// order the store gives them.
pub fn synthetic_points(cases: usize, runs: usize) -> Vec<pawl_history::CasePoint> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut out = Vec::with_capacity(cases * runs);
    let testbed = format!("{H100} / driver 580 / CUDA 13");
    let mut ids: Vec<(String, Params)> = (0..cases)
        .map(|i| {
            let bench = if i % 2 == 0 { "copy" } else { "gemm" };
            let mut params = Params::new();
            params.insert("N", Value::Int(1024 << (i / 4)));
            params.insert("dtype", Value::Str(if i % 4 < 2 { "f16" } else { "bf16" }.into()));
            (CaseId::new(bench, &params).to_string(), params)
        })
        .collect();
    ids.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, params) in ids {
        let level = 5_000.0 + 1_000.0 * (id.len() % 7) as f64;
        for r in 0..runs {
            let step = if id == "copy/N=1024,dtype=f16" && r >= runs / 2 { 1.08 } else { 1.0 };
            let median = level * step * (1.0 + 0.01 * (rng.random::<f64>() - 0.5) * 3.4);
            out.push(pawl_history::CasePoint {
                run_key: format!("{r:032x}"),
                suite: "kernels".into(),
                started_at: format!("2026-01-01T00:00:00Z+{r}"),
                started_us: 1_767_225_600_000_000 + r as i64 * 3_600_000_000,
                origin: "run".into(),
                git: Some(GitInfo {
                    commit: format!("{:040x}", r * 7919),
                    branch: Some("main".into()),
                    dirty: false,
                }),
                testbed: testbed.clone(),
                case_id: CaseId::from_raw(id.clone()),
                bench: id.split('/').next().unwrap().to_owned(),
                params: params.clone(),
                status: CaseStatus::Ok,
                median_ns: Some(median),
                ci_low_ns: Some(median * 0.995),
                ci_high_ns: Some(median * 1.006),
                rel_noise: Some(0.01),
                samples: 200,
                flops: None,
                bytes: Some(8.0 * 1024.0),
                sm_clock_mhz: Some(1980.0),
                throttled_samples: 0,
            });
        }
    }
    out
}
