//! Expanding sweeps into cases: order, ids, `where` filtering and its errors.

use std::path::{Path, PathBuf};

use pawl_core::suite::{Suite, SuiteError};
use pawl_core::value::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/suites/good/attention")
}

/// A suite of one command bench with the given `params` and extra keys.
fn command_suite(params: &str, extra: &str) -> Suite {
    let text = format!(
        "[suite]\nname = \"t\"\n[[bench]]\nname = \"flash_fwd\"\nkind = \"command\"\nrun = [\"x\"]\n\
         params = {params}\n{extra}\n"
    );
    Suite::from_str(&text, &dir().join("inline.toml")).unwrap()
}

fn ids(suite: &Suite) -> Vec<String> {
    suite.cases().unwrap().into_iter().map(|c| c.id.to_string()).collect()
}

#[test]
fn ids_list_params_in_declaration_order() {
    let suite = command_suite(r#"{ B = [32], H = [8], S = [512], D = [64], dtype = ["f16"] }"#, "");
    assert_eq!(ids(&suite), ["flash_fwd/B=32,H=8,S=512,D=64,dtype=f16"]);
    let case = &suite.cases().unwrap()[0];
    assert_eq!(case.bench, "flash_fwd");
    assert_eq!(case.params.get("S"), Some(&Value::Int(512)));
    assert_eq!(case.params.get("dtype"), Some(&Value::from("f16")));
}

#[test]
fn first_param_varies_slowest() {
    let suite = command_suite(r#"{ S = [512, 1024], causal = [false, true], alpha = [0.5] }"#, "");
    assert_eq!(
        ids(&suite),
        [
            "flash_fwd/S=512,causal=false,alpha=0.5",
            "flash_fwd/S=512,causal=true,alpha=0.5",
            "flash_fwd/S=1024,causal=false,alpha=0.5",
            "flash_fwd/S=1024,causal=true,alpha=0.5",
        ]
    );
}

#[test]
fn declaration_order_is_kept_even_when_not_alphabetical() {
    let suite = command_suite(r#"{ z = [1], a = [2], m = [3] }"#, "");
    assert_eq!(ids(&suite), ["flash_fwd/z=1,a=2,m=3"]);
}

#[test]
fn params_in_their_own_table_keep_their_order_too() {
    let text = "[suite]\nname = \"t\"\n[[bench]]\nname = \"b\"\nkind = \"command\"\nrun = [\"x\"]\n\
                [bench.params]\nS = [1, 2]\nB = [3]\n";
    let suite = Suite::from_str(text, &dir().join("inline.toml")).unwrap();
    assert_eq!(ids(&suite), ["b/S=1,B=3", "b/S=2,B=3"]);
}

#[test]
fn where_keeps_only_matching_points() {
    let suite = command_suite(
        r#"{ S = [256, 512, 1024], causal = [false, true] }"#,
        r#"where = "S >= 512 && (S > 512 || !causal)""#,
    );
    assert_eq!(
        ids(&suite),
        ["flash_fwd/S=512,causal=false", "flash_fwd/S=1024,causal=false", "flash_fwd/S=1024,causal=true"]
    );
}

#[test]
fn where_over_strings() {
    let suite = command_suite(r#"{ dtype = ["f16", "bf16", "f32"] }"#, r#"where = 'dtype != "f32"'"#);
    assert_eq!(ids(&suite), ["flash_fwd/dtype=f16", "flash_fwd/dtype=bf16"]);
}

#[test]
fn where_that_fails_names_the_case_and_the_expression() {
    let suite = command_suite(r#"{ S = [512] }"#, r#"where = "S >= MIN_S""#);
    let err = suite.cases().unwrap_err();
    assert!(matches!(&err, SuiteError::Case { case, .. } if case.as_str() == "flash_fwd/S=512"), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("`S >= MIN_S`") && message.contains("MIN_S"), "{message}");

    let suite = command_suite(r#"{ S = [512] }"#, r#"where = "S""#);
    let message = suite.cases().unwrap_err().to_string();
    assert!(message.contains("expected true or false"), "{message}");
}

#[test]
fn attention_suite_cases() {
    let suite = Suite::load(&dir().join("pawl.toml")).unwrap();
    let flash = suite.bench("flash_fwd").unwrap().cases().unwrap();
    // 2 × 1 × 2 × 2 × 2 × 2 points, less the 8 with S = 512 and causal.
    assert_eq!(flash.len(), 24);
    assert_eq!(flash[0].id.as_str(), "flash_fwd/B=4,H=8,S=512,D=64,causal=false,dtype=f16");
    assert_eq!(flash[1].id.as_str(), "flash_fwd/B=4,H=8,S=512,D=64,causal=false,dtype=bf16");
    assert_eq!(flash[23].id.as_str(), "flash_fwd/B=32,H=8,S=2048,D=128,causal=true,dtype=bf16");
    assert!(flash.iter().all(|c| !(c.params.get("S") == Some(&Value::Int(512))
        && c.params.get("causal") == Some(&Value::Bool(true)))));
    let all = suite.cases().unwrap();
    assert_eq!(all.len(), 24 + 4);
    assert_eq!(all[24].id.as_str(), "sdpa/backend=flash,S=512");
}
