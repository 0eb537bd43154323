//! Planning: selection, tune defaults, work per case, and every launch expression checked per case.

use std::path::{Path, PathBuf};

use pawl_core::expr::Expr;
use pawl_core::plan::{Selection, plan};
use pawl_core::suite::{Suite, SuiteError};
use pawl_core::value::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/suites/good/attention")
}

fn attention() -> Suite {
    Suite::load(&dir().join("pawl.toml")).unwrap()
}

/// A cuda bench `k` over `params`, with `launch` (grid, block, …) and `extra` keys; arguments and the
/// reference may be replaced through `args`.
fn cuda_suite(params: &str, launch: &str, args: &str) -> Result<Suite, SuiteError> {
    let text = format!(
        r#"
[suite]
name = "t"

[[bench]]
name = "k"
kind = "cuda"
params = {params}
source = "kernels/attention/flash_fwd.cu"
kernel = "k"
{launch}
{args}
"#
    );
    Suite::from_str(&text, &dir().join("inline.toml"))
}

const ARGS: &str = r#"
[[bench.args]]
name = "x"
dtype = "f32"
count = "N"
[[bench.args]]
name = "y"
dtype = "f32"
count = "N"
output = true
[bench.reference]
kernel = "k_ref"
grid = 1
block = 1
"#;

/// The error planning `suite` gives, as text; panics if it plans.
fn plan_error(suite: &Suite) -> (SuiteError, String) {
    let err = plan(suite, &Selection::default()).unwrap_err();
    let message = err.to_string();
    (err, message)
}

fn assert_case_error(suite: &Suite, case: &str, pieces: &[&str]) {
    let (err, message) = plan_error(suite);
    assert!(matches!(&err, SuiteError::Case { case: id, .. } if id.as_str() == case), "{message}");
    for piece in pieces {
        assert!(message.contains(piece), "`{piece}` not in: {message}");
    }
}

#[test]
fn plans_every_bench_with_tune_defaults_and_work() {
    let suite = attention();
    let plans = plan(&suite, &Selection::default()).unwrap();
    let counts: Vec<(&str, usize)> = plans.iter().map(|p| (p.bench.name.as_str(), p.cases.len())).collect();
    assert_eq!(counts, [("flash_fwd", 24), ("sdpa", 4)]);

    let first = &plans[0].cases[0];
    assert_eq!(first.case.id.as_str(), "flash_fwd/B=4,H=8,S=512,D=64,causal=false,dtype=f16");
    assert_eq!(first.tune.to_id_string(), "BLOCK_M=128,BLOCK_N=64,NUM_WARPS=4");
    assert_eq!(first.flops, Some((4_i64 * 4 * 8 * 512 * 512 * 64) as f64));
    assert_eq!(first.bytes, Some((2 * 4 * 4 * 8 * 512 * 64) as f64));
    assert_eq!(first.vars().get("BLOCK_M"), Some(&Value::Int(128)));

    let causal =
        plans[0].cases.iter().find(|c| c.case.params.get("causal") == Some(&Value::Bool(true))).unwrap();
    let s = causal.case.params.get("S").unwrap().as_i64().unwrap() as f64;
    let b = causal.case.params.get("B").unwrap().as_i64().unwrap() as f64;
    let d = causal.case.params.get("D").unwrap().as_i64().unwrap() as f64;
    assert_eq!(causal.flops, Some(4.0 * b * 8.0 * s * s * d / 2.0));

    let sdpa = &plans[1].cases[0];
    assert!(sdpa.tune.is_empty());
    assert_eq!(sdpa.bytes, None);
}

#[test]
fn selection_by_bench_and_filter() {
    let suite = attention();
    let plans = plan(&suite, &Selection { bench: Some("sdpa"), filter: None }).unwrap();
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].bench.name, "sdpa");
    assert_eq!(plans[0].cases.len(), 4);

    // `B` is only a param of flash_fwd: sdpa's cases cannot match and are left out.
    let filter = Expr::parse("B == 32 && S == 2048 && D == 64 && causal").unwrap();
    let plans = plan(&suite, &Selection { bench: None, filter: Some(&filter) }).unwrap();
    assert_eq!(plans.len(), 1);
    let ids: Vec<&str> = plans[0].cases.iter().map(|c| c.case.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "flash_fwd/B=32,H=8,S=2048,D=64,causal=true,dtype=f16",
            "flash_fwd/B=32,H=8,S=2048,D=64,causal=true,dtype=bf16"
        ]
    );
}

#[test]
fn an_unknown_bench_lists_the_benches() {
    let suite = attention();
    let err = plan(&suite, &Selection { bench: Some("flash"), filter: None }).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("no bench named `flash`"), "{message}");
    assert!(message.contains("`flash_fwd`, `sdpa`"), "{message}");
    assert!(message.contains("pawl.toml"), "{message}");
}

#[test]
fn a_filter_that_selects_nothing_says_why() {
    let suite = attention();
    let filter = Expr::parse("SEQ > 0").unwrap();
    let err = plan(&suite, &Selection { bench: None, filter: Some(&filter) }).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("the filter `SEQ > 0` selects no case"), "{message}");
    assert!(message.contains("SEQ"), "{message}");

    let filter = Expr::parse("S == 3").unwrap();
    let message = plan(&suite, &Selection { bench: None, filter: Some(&filter) }).unwrap_err().to_string();
    assert!(message.contains("the filter `S == 3` selects no case; loosen it"), "{message}");
}

#[test]
fn a_where_that_leaves_nothing_is_an_error() {
    let suite = cuda_suite("{ N = [1, 2] }", "grid = 1\nblock = 1\nwhere = \"N > 5\"", ARGS).unwrap();
    let message = plan_error(&suite).1;
    assert!(message.contains("bench `k`: `where = \"N > 5\"` leaves no case"), "{message}");
}

#[test]
fn default_tune_must_meet_the_constraints() {
    let launch = "grid = 1\nblock = \"TILE\"\nconstraints = [\"TILE * N <= 4096\"]\n[bench.tune]\nTILE = 256";
    let suite = cuda_suite("{ N = [8, 32] }", launch, ARGS).unwrap();
    assert_case_error(&suite, "k/N=32", &["constraint `TILE * N <= 4096` is false", "TILE=256", "where"]);
}

#[test]
fn constraints_over_params_only_point_to_where() {
    let suite = cuda_suite("{ N = [8, 32] }", "grid = 1\nblock = 1\nconstraints = \"N < 10\"", ARGS).unwrap();
    assert_case_error(
        &suite,
        "k/N=32",
        &["constraint `N < 10` is false", "exclude such cases with the bench's `where`"],
    );
}

#[test]
fn a_failing_launch_expression_names_the_case() {
    let suite = cuda_suite("{ N = [1, 0] }", "grid = \"ceil_div(64, N)\"\nblock = 32", ARGS).unwrap();
    assert_case_error(&suite, "k/N=0", &["`grid[0]` expression `ceil_div(64, N)`", "ceil_div by zero"]);

    let suite = cuda_suite("{ N = [1] }", "grid = \"M\"\nblock = 32", ARGS).unwrap();
    assert_case_error(&suite, "k/N=1", &["`grid[0]` expression `M`", "M"]);

    let suite = cuda_suite("{ N = [1] }", "grid = \"N > 0\"\nblock = 32", ARGS).unwrap();
    assert_case_error(&suite, "k/N=1", &["`grid[0]`", "expected an integer"]);
}

#[test]
fn geometry_must_be_positive_and_within_cuda_limits() {
    let suite = cuda_suite("{ N = [4, 0] }", "grid = [\"N\"]\nblock = 32", ARGS).unwrap();
    assert_case_error(&suite, "k/N=0", &["`grid[0]` = `N` gives 0; it must be from 1 to 2147483647"]);

    let suite = cuda_suite("{ N = [1] }", "grid = [1, 70000]\nblock = 32", ARGS).unwrap();
    assert_case_error(&suite, "k/N=1", &["`grid[1]` = `70000` gives 70000; it must be from 1 to 65535"]);

    let suite = cuda_suite("{ N = [1] }", "grid = 1\nblock = [64, 32]", ARGS).unwrap();
    assert_case_error(&suite, "k/N=1", &["`block` has 2048 threads; a block has at most 1024"]);

    let suite = cuda_suite("{ N = [1] }", "grid = 1\nblock = 32\nshared_mem = \"N - 2\"", ARGS).unwrap();
    assert_case_error(&suite, "k/N=1", &["`shared_mem` = `N - 2` gives -1; it must not be negative"]);

    let suite = cuda_suite("{ N = [2, 0] }", "grid = 1\nblock = 32", ARGS).unwrap();
    assert_case_error(&suite, "k/N=0", &["`x.count` = `N` gives 0; a buffer needs at least one element"]);
}

#[test]
fn scalars_defines_and_the_reference_are_checked() {
    let scalar = format!("{ARGS}\n[[bench.args]]\nname = \"n\"\ndtype = \"u8\"\nvalue = \"N * 100\"\n");
    let suite = cuda_suite("{ N = [1, 3] }", "grid = 1\nblock = 32", &scalar).unwrap();
    assert_case_error(
        &suite,
        "k/N=3",
        &["`n.value` = `N * 100` gives 300, which does not fit in u8 (0 to 255)"],
    );

    let suite = cuda_suite("{ N = [1] }", "grid = 1\nblock = 32\ndefines = { W = \"N / Q\" }", ARGS).unwrap();
    assert_case_error(&suite, "k/N=1", &["`defines.W` expression `N / Q`"]);

    let bad_ref = ARGS.replace("grid = 1\nblock = 1", "grid = \"N - 1\"\nblock = 1");
    let suite = cuda_suite("{ N = [1] }", "grid = 1\nblock = 32", &bad_ref).unwrap();
    assert_case_error(&suite, "k/N=1", &["`reference.grid[0]` = `N - 1` gives 0"]);

    let bad_tol = ARGS.replace("block = 1\n", "block = 1\nrtol = \"0.0 - 1e-3\"\n");
    let suite = cuda_suite("{ N = [1] }", "grid = 1\nblock = 32", &bad_tol).unwrap();
    assert_case_error(&suite, "k/N=1", &["`reference.rtol` = `0.0 - 1e-3` gives -0.001"]);
}

#[test]
fn negative_work_is_refused() {
    let suite = cuda_suite("{ N = [1] }", "grid = 1\nblock = 32\nflops = \"N - 2\"", ARGS).unwrap();
    assert_case_error(&suite, "k/N=1", &["`flops` = `N - 2` gives -1; it must not be negative"]);
}

#[test]
fn errors_come_from_the_first_failing_case_in_sweep_order() {
    let suite = cuda_suite("{ N = [4, 0, 8, 0] }", "grid = \"ceil_div(8, N)\"\nblock = 32", ARGS);
    // N = 0 twice prints the same: refused when loading.
    assert!(suite.is_err());
    let suite =
        cuda_suite("{ A = [1, 2, 3], N = [1, 0] }", "grid = \"ceil_div(8, N)\"\nblock = 32", ARGS).unwrap();
    for _ in 0..5 {
        assert_case_error(&suite, "k/A=1,N=0", &["ceil_div by zero"]);
    }
}

/// 10,000 cases, every expression of every case evaluated. How long that takes is measured by
/// `cargo bench -p pawl-core --bench plan` on the same suite, not asserted here.
#[test]
fn ten_thousand_cases_are_planned() {
    let suite = Suite::load(&dir().join("sweep_10k.toml")).unwrap();
    let plans = plan(&suite, &Selection::default()).unwrap();
    assert_eq!(plans[0].cases.len(), 10_000);
}

#[test]
fn an_expression_default_is_evaluated_per_case_and_checked_against_the_candidates() {
    let launch = "grid = 1\nblock = \"TILE\"\n[bench.tune]\n\
                  TILE = { default = \"if N >= 16 { 256 } else { 128 }\", candidates = [128, 256] }";
    let suite = cuda_suite("{ N = [8, 32] }", launch, ARGS).unwrap();
    let plans = plan(&suite, &Selection::default()).unwrap();
    let tiles: Vec<String> = plans[0].cases.iter().map(|c| c.tune.to_id_string()).collect();
    assert_eq!(tiles, ["TILE=128", "TILE=256"]);

    // A default that gives a value outside the candidates names the case and the value.
    let launch = launch.replace("256 } else", "512 } else");
    let suite = cuda_suite("{ N = [8, 32] }", &launch, ARGS).unwrap();
    assert_case_error(
        &suite,
        "k/N=32",
        &["the default of tune parameter `TILE` gives 512, which is not among its candidates [128, 256]"],
    );

    // One that cannot be evaluated (a tune parameter is no variable of a default) names it too.
    let launch = "grid = 1\nblock = \"TILE\"\n[bench.tune]\n\
                  TILE = { default = \"if OTHER > 1 { 256 } else { 128 }\", candidates = [128, 256] }";
    let suite = cuda_suite("{ N = [8] }", launch, ARGS).unwrap();
    assert_case_error(&suite, "k/N=8", &["the default of tune parameter `TILE`", "OTHER"]);
}

#[test]
fn a_string_default_among_the_candidates_is_a_value_not_an_expression() {
    let launch =
        "grid = 1\nblock = 32\n[bench.tune]\nLAYOUT = { default = \"row\", candidates = [\"row\", \"col\"] }";
    let suite = cuda_suite("{ N = [8] }", launch, ARGS).unwrap();
    let plans = plan(&suite, &Selection::default()).unwrap();
    assert_eq!(plans[0].cases[0].tune.get("LAYOUT"), Some(&Value::from("row")));
}

#[test]
fn command_benches_take_tune_parameters_into_their_argv_and_constraints() {
    let text = r#"
[suite]
name = "t"

[[bench]]
name = "tri"
kind = "command"
params = { S = [512, 4096] }
run = ["python3", "bench.py", "--size={S}", "--block={BLOCK}"]
constraints = "BLOCK <= S"

[bench.tune]
BLOCK = { default = "if S > 1024 { 256 } else { 64 }", candidates = [64, 256, 1024] }
"#;
    let suite = Suite::from_str(text, &dir().join("inline.toml")).unwrap();
    let plans = plan(&suite, &Selection::default()).unwrap();
    let pawl_core::suite::BenchKind::Command(command) = &plans[0].bench.kind else { panic!("command") };
    let argv: Vec<Vec<String>> = plans[0].cases.iter().map(|c| command.argv(&c.vars())).collect();
    assert_eq!(argv[0][2..], ["--size=512", "--block=64"]);
    assert_eq!(argv[1][2..], ["--size=4096", "--block=256"]);

    let bad = text.replace("{ 256 } else { 64 }", "{ 256 } else { 1024 }");
    let suite = Suite::from_str(&bad, &dir().join("inline.toml")).unwrap();
    assert_case_error(&suite, "tri/S=512", &["constraint `BLOCK <= S` is false", "BLOCK=1024"]);
}
