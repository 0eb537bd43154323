//! Loading valid suites: every key of `tests/fixtures/suites/good/attention/pawl.toml` (the example of
//! docs/suite.md) ends up where it belongs, and omitted keys take their documented defaults.

use std::path::{Path, PathBuf};

use pawl_core::suite::{
    Arg, BenchKind, CommandBench, CudaBench, Dtype, DtypeSpec, HistoryLocation, Init, MeasureSettings, Suite,
    Thresholds,
};
use pawl_core::value::{Params, Value};

fn attention_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/suites/good/attention")
}

fn attention() -> Suite {
    Suite::load(&attention_dir().join("pawl.toml")).unwrap()
}

fn cuda(suite: &Suite, name: &str) -> CudaBench {
    match &suite.bench(name).unwrap().kind {
        BenchKind::Cuda(cuda) => cuda.clone(),
        BenchKind::Command(_) => panic!("{name} is a command bench"),
    }
}

fn command(suite: &Suite, name: &str) -> CommandBench {
    match &suite.bench(name).unwrap().kind {
        BenchKind::Command(command) => command.clone(),
        BenchKind::Cuda(_) => panic!("{name} is a cuda bench"),
    }
}

fn vars(pairs: &[(&str, Value)]) -> Params {
    pairs.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect()
}

#[test]
fn suite_table_and_measure_settings() {
    let suite = attention();
    let dir = attention_dir();
    assert_eq!(suite.name, "attention");
    assert_eq!(suite.path, dir.join("pawl.toml"));
    assert_eq!(suite.dir(), dir);
    assert_eq!(suite.baseline, Some(dir.join("pawl-baseline.json")));
    assert_eq!(suite.history, Some(HistoryLocation::File(dir.join(".pawl/history.sqlite"))));
    assert_eq!(
        suite.thresholds,
        Thresholds { tolerance: 0.03, confidence: 0.95, drift: 0.005, drift_ns: 250.0 }
    );
    assert_eq!(
        suite.measure,
        MeasureSettings {
            target_rel_ci: 0.01,
            min_samples: 30,
            max_samples: 5000,
            max_time_s: 2.5,
            warmup_ms: 50.0,
            warm_cache: true,
            timeout_s: 30.0,
            seed: 7,
            graph: false,
        }
    );
    let names: Vec<&str> = suite.benches.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["flash_fwd", "sdpa"]);
}

#[test]
fn cuda_bench_keeps_params_in_declaration_order() {
    let suite = attention();
    let bench = suite.bench("flash_fwd").unwrap();
    let axes: Vec<(&str, usize)> = bench.params.iter().map(|(n, v)| (n.as_str(), v.len())).collect();
    assert_eq!(axes, [("B", 2), ("H", 1), ("S", 2), ("D", 2), ("causal", 2), ("dtype", 2)]);
    assert_eq!(bench.params[4].1, [Value::Bool(false), Value::Bool(true)]);
    assert_eq!(bench.params[5].1, [Value::from("f16"), Value::from("bf16")]);
    assert_eq!(bench.filter.as_ref().unwrap().source(), "S >= 1024 || !causal");
    let case = vars(&[
        ("B", 4.into()),
        ("H", 8.into()),
        ("S", 2048.into()),
        ("D", 64.into()),
        ("causal", true.into()),
    ]);
    let flops = bench.flops.as_ref().unwrap().eval_f64(&case).unwrap();
    assert_eq!(flops, (4_i64 * 4 * 8 * 2048 * 2048 * 64 / 2) as f64);
}

#[test]
fn cuda_bench_compile_and_launch_settings() {
    let suite = attention();
    let dir = attention_dir();
    let cuda = cuda(&suite, "flash_fwd");
    assert_eq!(cuda.source, dir.join("kernels/attention/flash_fwd.cu"));
    assert_eq!(cuda.kernel, "flash_fwd");
    assert_eq!(cuda.include_dirs, [dir.join("kernels/include")]);
    assert_eq!(cuda.extra_flags, ["--use_fast_math"]);

    let defines: Vec<(&str, &str)> = cuda.defines.iter().map(|(n, e)| (n.as_str(), e.source())).collect();
    assert_eq!(
        defines,
        [("HEAD_DIM", "D"), ("IS_CAUSAL", "causal"), ("USE_BF16", "dtype == \"bf16\""), ("STAGES", "2")]
    );

    let bench = suite.bench("flash_fwd").unwrap();
    let tune: Vec<(&str, Value, &[Value])> = bench
        .tune
        .iter()
        .map(|t| (t.name.as_str(), t.default_for(&Params::new()).unwrap(), t.candidates.as_slice()))
        .collect();
    assert_eq!(
        tune,
        [
            ("BLOCK_M", Value::Int(128), &[Value::Int(64), Value::Int(128)][..]),
            ("BLOCK_N", Value::Int(64), &[Value::Int(32), Value::Int(64), Value::Int(128)][..]),
            ("NUM_WARPS", Value::Int(4), &[Value::Int(4)][..]),
        ]
    );
    assert_eq!(bench.constraints.len(), 1);

    let grid: Vec<&str> = cuda.launch.grid.iter().map(|e| e.source()).collect();
    assert_eq!(grid, ["ceil_div(S, BLOCK_M)", "H", "B"]);
    let block: Vec<&str> = cuda.launch.block.iter().map(|e| e.source()).collect();
    assert_eq!(block, ["NUM_WARPS * 32"]);
    assert_eq!(cuda.launch.shared_mem.as_ref().unwrap().source(), "(BLOCK_M + 2 * BLOCK_N) * D * 2");
}

#[test]
fn cuda_bench_arguments() {
    let suite = attention();
    let cuda = cuda(&suite, "flash_fwd");
    let summary: Vec<String> = cuda
        .args
        .iter()
        .map(|arg| match arg {
            Arg::Buffer(b) => {
                format!("{} {:?} [{}] {:?} out={}", b.name, b.dtype, b.count.source(), b.init, b.output)
            }
            Arg::Scalar(s) => format!("{} {:?} = {}", s.name, s.dtype, s.value.source()),
        })
        .collect();
    let from_param = DtypeSpec::FromParam("dtype".to_owned());
    assert_eq!(
        summary,
        [
            format!("q {from_param:?} [B * H * S * D] {:?} out=false", Init::Randn { mean: 0.0, std: 0.5 }),
            format!("k {from_param:?} [B * H * S * D] {:?} out=false", Init::Randn { mean: 0.0, std: 1.0 }),
            format!(
                "v {from_param:?} [B * H * S * D] {:?} out=false",
                Init::Uniform { low: -2.0, high: 2.0 }
            ),
            format!("o {from_param:?} [B * H * S * D] {:?} out=true", Init::Zeros),
            format!("seq_len {:?} = S", DtypeSpec::Fixed(Dtype::I32)),
            format!("scale {:?} = 1.0 / sqrt(D)", DtypeSpec::Fixed(Dtype::F32)),
        ]
    );
    let bf16 = vars(&[("dtype", "bf16".into())]);
    assert_eq!(from_param.resolve(&bf16), Some(Dtype::Bf16));
}

#[test]
fn cuda_bench_reference() {
    let suite = attention();
    let cuda = cuda(&suite, "flash_fwd");
    let reference = cuda.reference.unwrap();
    assert_eq!(reference.source, attention_dir().join("kernels/attention/reference.cu"));
    assert_eq!(reference.kernel, "attention_ref");
    // Defines not given: the bench's own.
    assert_eq!(reference.defines.len(), cuda.defines.len());
    let grid: Vec<&str> = reference.launch.grid.iter().map(|e| e.source()).collect();
    assert_eq!(grid, ["S", "H", "B"]);
    assert_eq!(reference.launch.shared_mem.as_ref().unwrap().source(), "S * 4");
    let rtol = |dtype: &str| reference.rtol.eval_f64(&vars(&[("dtype", dtype.into())])).unwrap();
    assert_eq!(rtol("bf16"), 2e-2);
    assert_eq!(rtol("f16"), 5e-3);
    assert_eq!(reference.atol.eval_f64(&Params::new()).unwrap(), 1e-3);
}

#[test]
fn command_bench() {
    let suite = attention();
    let bench = suite.bench("sdpa").unwrap();
    let command = command(&suite, "sdpa");
    assert_eq!(command.cwd, attention_dir());
    assert_eq!(command.timeout_s, Some(600.0));
    assert_eq!(bench.flops.as_ref().unwrap().source(), "4 * 4 * 16 * S * S * 64");
    let case = vars(&[("backend", "cudnn".into()), ("S", 512.into())]);
    assert_eq!(
        command.argv(&case),
        ["python3", "adapters/torch_sdpa.py", "--backend", "cudnn", "--json={\"S\": 1}"]
    );
}

#[test]
fn omitted_keys_take_their_defaults() {
    let dir = attention_dir();
    let text = r#"
        [suite]
        name = "minimal"

        [[bench]]
        name = "copy"
        kind = "cuda"
        source = "kernels/attention/flash_fwd.cu"
        kernel = "copy"
        grid = 1
        block = 256
        args = [
            { name = "src", dtype = "f32", count = 1024 },
            { name = "dst", dtype = "f32", count = 1024, output = true },
        ]
        reference = { kernel = "copy_ref", grid = 4, block = 64 }

        [[bench]]
        name = "script"
        kind = "command"
        run = ["./bench.sh"]
    "#;
    let suite = Suite::from_str(text, &dir.join("minimal.toml")).unwrap();
    assert_eq!(suite.baseline, None);
    assert_eq!(suite.history, None);
    assert_eq!(suite.thresholds, Thresholds::default());
    assert_eq!(suite.measure, MeasureSettings::default());

    let bench = suite.bench("copy").unwrap();
    assert!(
        bench.params.is_empty() && bench.filter.is_none() && bench.flops.is_none() && bench.bytes.is_none()
    );
    let cuda = cuda(&suite, "copy");
    assert!(cuda.include_dirs.is_empty() && cuda.extra_flags.is_empty() && cuda.defines.is_empty());
    assert!(bench.tune.is_empty() && bench.constraints.is_empty() && cuda.launch.shared_mem.is_none());
    assert_eq!(cuda.launch.grid.len(), 1);
    let Arg::Buffer(src) = &cuda.args[0] else { panic!("src is a buffer") };
    assert_eq!(src.init, Init::Randn { mean: 0.0, std: 1.0 });
    let reference = cuda.reference.unwrap();
    assert_eq!(reference.source, dir.join("kernels/attention/flash_fwd.cu"));
    assert_eq!(reference.rtol.source(), "1e-3");
    assert_eq!(reference.atol.source(), "1e-5");

    let command = command(&suite, "script");
    assert_eq!(command.timeout_s, None);
    assert_eq!(command.cwd, dir);
    assert_eq!(suite.cases().unwrap().len(), 2);
}

#[test]
fn a_bare_file_name_resolves_against_the_current_folder() {
    let text = "[suite]\nname = \"x\"\nbaseline = \"base.json\"\n\
                [[bench]]\nname = \"b\"\nkind = \"command\"\nrun = [\"true\"]\n";
    let suite = Suite::from_str(text, Path::new("pawl.toml")).unwrap();
    assert_eq!(suite.baseline, Some(PathBuf::from("base.json")));
    assert_eq!(command(&suite, "b").cwd, PathBuf::from("."));
}

#[test]
fn the_example_in_the_docs_loads_and_expands() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/suite.md");
    let docs = std::fs::read_to_string(docs).unwrap();
    let start =
        docs.find("```toml\n[suite]").expect("docs/suite.md has a complete example") + "```toml\n".len();
    let example = &docs[start..start + docs[start..].find("```").unwrap()];
    let suite = Suite::from_str(example, &attention_dir().join("docs-example.toml")).unwrap();
    let flash = suite.bench("flash_fwd").unwrap().cases().unwrap();
    assert_eq!(flash.len(), 24, "the docs say 24 cases");
    assert_eq!(flash[0].id.as_str(), "flash_fwd/B=4,H=8,S=512,D=64,causal=false,dtype=f16");
    let plans = pawl_core::plan::plan(&suite, &pawl_core::plan::Selection::default()).unwrap();
    assert_eq!(plans.iter().map(|p| p.cases.len()).sum::<usize>(), 24 + 4);
}

#[test]
fn the_limits_in_the_docs_are_the_code_s() {
    use pawl_core::expr;
    use pawl_core::suite::limits;
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/suite.md")).unwrap();
    let thousands = |n: u64| {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    for phrase in [
        format!(
            "at most {} characters and {} levels",
            thousands(expr::MAX_SOURCE_CHARS as u64),
            expr::MAX_DEPTH
        ),
        format!(
            "after {} operations or {} ms",
            thousands(expr::MAX_OPERATIONS),
            expr::MAX_EVAL_TIME.as_millis()
        ),
        format!("at most {} bytes", thousands(expr::MAX_STRING_BYTES as u64)),
        format!("at most {} cases", thousands(limits::MAX_CASES as u64)),
    ] {
        assert!(docs.contains(&phrase), "docs/suite.md does not say `{phrase}`");
    }
    // Each range the code checks, in the docs' words, with the values at its ends.
    let day = 86_400.0;
    for (limit, words, accepted, refused) in [
        (limits::TIMEOUT_S, "Above 0, at most 86,400 (a day)", [1e-9, day], [0.0, day + 1e-6]),
        (limits::MAX_TIME_S, "Above 0, at most 86,400 (a day)", [1e-9, day], [0.0, day + 1e-6]),
        (
            limits::COMMAND_TIMEOUT_S,
            "Above 0, at most 604,800 (a week)",
            [1e-9, 7.0 * day],
            [0.0, 7.0 * day + 1e-6],
        ),
        (limits::WARMUP_MS, "From 0 to 3,600,000 (an hour)", [0.0, 3.6e6], [-1e-9, 3.6e6 + 1e-6]),
        (limits::MIN_SAMPLES, "From 2 to 1,000,000", [2.0, 1e6], [1.0, 1e6 + 1.0]),
        (
            limits::MAX_SAMPLES,
            "From 2 to 1,000,000, and at least `min_samples`",
            [2.0, 1e6],
            [1.0, 1e6 + 1.0],
        ),
        (limits::TOLERANCE, "Above 0 and below 1", [1e-9, 0.999_999], [0.0, 1.0]),
        (limits::TARGET_REL_CI, "Above 0 and below 1", [1e-9, 0.999_999], [0.0, 1.0]),
        (limits::CONFIDENCE, "Above 0.5 and below 1", [0.500_001, 0.999_999], [0.5, 1.0]),
        (limits::DRIFT, "From 0 up to 1 (not 1 itself)", [0.0, 0.999_999], [-1e-9, 1.0]),
        (limits::DRIFT_NS, "From 0 to 1,000,000,000 (a second)", [0.0, 1e9], [-1e-9, 1e9 + 1.0]),
    ] {
        let row = docs.lines().find(|l| l.starts_with(&format!("| `{}` |", limit.key)) && l.contains(words));
        assert!(row.is_some(), "docs/suite.md has no row for `{}` saying `{words}`", limit.key);
        for x in accepted {
            assert!(limit.contains(x), "`{}` refuses {x}, which the docs allow", limit.key);
        }
        for x in refused {
            assert!(!limit.contains(x), "`{}` accepts {x}, which the docs refuse", limit.key);
        }
    }
}
