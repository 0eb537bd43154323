//! Planning speed: a 10,000-case CUDA sweep, every launch expression evaluated for every case.
//!
//! `cargo bench -p pawl-core --bench plan`

use criterion::{Criterion, criterion_group, criterion_main};
use pawl_core::plan::{Selection, plan};
use pawl_core::suite::Suite;

/// The suite, with the folder holding its kernel file (kept alive while the suite is used).
fn suite() -> (tempfile::TempDir, Suite) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("k.cu"), "").expect("the kernel file");
    let values = |n: i64| (1..=n).map(|i| (i * 16).to_string()).collect::<Vec<_>>().join(", ");
    let text = format!(
        r#"[suite]
name = "bench"
[[bench]]
name = "attn"
kind = "cuda"
source = "k.cu"
kernel = "attn"
params = {{ B = [{}], S = [{}], D = [64], dtype = ["f16", "bf16"] }}
grid = ["ceil_div(S, BLOCK_M)", "B"]
block = "NUM_WARPS * 32"
shared_mem = "BLOCK_M * D * 2"
flops = "4 * B * S * S * D"
bytes = "2 * 4 * B * S * D"
defines = {{ HEAD_DIM = "D", USE_BF16 = 'dtype == "bf16"' }}
constraints = ["BLOCK_M * D * 2 <= 49152"]
[bench.tune]
BLOCK_M = {{ default = 128, candidates = [64, 128] }}
NUM_WARPS = 4
[[bench.args]]
name = "q"
dtype = "{{dtype}}"
count = "B * S * D"
init = "randn"
[[bench.args]]
name = "o"
dtype = "{{dtype}}"
count = "B * S * D"
output = true
[[bench.args]]
name = "scale"
dtype = "f32"
value = "1.0 / sqrt(D)"
[bench.reference]
kernel = "ref"
grid = ["S", "B"]
block = "D"
"#,
        values(50),
        values(100)
    );
    let path = dir.path().join("pawl.toml");
    let suite = Suite::from_str(&text, &path).expect("a valid suite");
    (dir, suite)
}

fn bench_plan(c: &mut Criterion) {
    let (_dir, suite) = suite();
    assert_eq!(
        plan(&suite, &Selection::default()).expect("plans").iter().map(|p| p.cases.len()).sum::<usize>(),
        10_000
    );
    c.bench_function("plan 10,000 cuda cases", |b| b.iter(|| plan(&suite, &Selection::default())));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench_plan
}
criterion_main!(benches);
