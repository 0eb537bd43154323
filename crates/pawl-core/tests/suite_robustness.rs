//! No input makes reading or planning a suite panic: the example suite cut, spliced and sprinkled with
//! stray text, the example with any value replaced by any other, and random text either load or fail
//! with a message that points inside the file; random expressions parse and evaluate or fail, promptly.

use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use pawl_core::expr::Expr;
use pawl_core::plan::{Selection, plan};
use pawl_core::suite::{Suite, SuiteError};
use pawl_core::value::{Params, Value};
use proptest::prelude::*;

mod testbed;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/suites/good/attention")
}

fn example() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| std::fs::read_to_string(dir().join("pawl.toml")).unwrap())
}

/// Replaces `text[from..from + len]` (clamped to character boundaries) with `insert`.
fn splice(text: &str, from: usize, len: usize, insert: &str) -> String {
    let floor = |mut at: usize| {
        at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let (start, end) = (floor(from), floor(from.saturating_add(len)));
    format!("{}{insert}{}", &text[..start], &text[end..])
}

fn check(text: &str) -> Result<(), TestCaseError> {
    let path = dir().join("mutated.toml");
    match Suite::from_str(text, &path) {
        Ok(suite) => {
            // Planning may fail, but only with an error.
            let _ = plan(&suite, &Selection::default());
        }
        Err(SuiteError::At { line, column, .. }) => {
            let lines = text.split('\n').count();
            prop_assert!(
                line >= 1 && line <= lines && column >= 1,
                "points at {line}:{column} of {lines} lines"
            );
        }
        Err(SuiteError::Syntax { .. }) => {}
        Err(other) => prop_assert!(false, "unexpected error kind: {other:?}"),
    }
    Ok(())
}

/// Pieces of expressions, allowed and not, for expressions made at random.
const TOKENS: &[&str] = &[
    "S",
    "D",
    "B",
    "causal",
    "dtype",
    "x",
    "1",
    "0",
    "-1",
    "2.5",
    "1e308",
    "9223372036854775807",
    "\"f16\"",
    "true",
    " + ",
    " - ",
    " * ",
    " / ",
    " % ",
    "(",
    ")",
    "min(",
    "max(",
    "ceil_div(",
    "sqrt(",
    "to_int(",
    "to_float(",
    "floor(",
    ", ",
    "if ",
    " { ",
    " } ",
    " else ",
    " && ",
    " || ",
    "!",
    " == ",
    " < ",
    " >= ",
    "sleep(",
    "print(",
    "eval(",
    "[",
    "]",
    ".",
    "\"",
    "'",
    "#{",
    "**",
    "..",
    "fn ",
    "|",
    ";",
    "let ",
    "loop ",
    "=",
    "`",
    "${",
    "?",
    "::",
    "\n",
    "\\",
    "\u{0}",
];

/// An expression written at random from [`TOKENS`].
fn expression() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|tokens| tokens.concat())
}

/// A TOML value of any kind, often an expression or an extreme number.
fn toml_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        expression().prop_map(toml::Value::String),
        ".{0,12}".prop_map(toml::Value::String),
        any::<i64>().prop_map(toml::Value::Integer),
        prop::sample::select(vec![0, -1, 1, 2, 1_000_000, 1_000_001, i64::MAX, i64::MIN])
            .prop_map(toml::Value::Integer),
        any::<f64>().prop_map(toml::Value::Float),
        prop::sample::select(vec![
            0.0,
            -0.0,
            5e-324,
            1e-300,
            0.5,
            0.999,
            1.0,
            86_400.0,
            1e19,
            1e300,
            f64::NAN
        ])
        .prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
    ];
    leaf.prop_recursive(2, 16, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(toml::Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

/// The example with the value at one of its keys (or array positions) replaced by `value`.
fn replaced(pick: prop::sample::Index, value: toml::Value) -> String {
    fn paths(value: &toml::Value, at: Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(at.clone());
        match value {
            toml::Value::Table(table) => {
                for (key, v) in table {
                    let mut next = at.clone();
                    next.push(key.clone());
                    paths(v, next, out);
                }
            }
            toml::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let mut next = at.clone();
                    next.push(i.to_string());
                    paths(v, next, out);
                }
            }
            _ => {}
        }
    }
    fn slot<'v>(value: &'v mut toml::Value, path: &[String]) -> Option<&'v mut toml::Value> {
        let Some((first, rest)) = path.split_first() else { return Some(value) };
        let next = match value {
            toml::Value::Table(table) => table.get_mut(first)?,
            toml::Value::Array(items) => items.get_mut(first.parse::<usize>().ok()?)?,
            _ => return None,
        };
        slot(next, rest)
    }
    let mut doc: toml::Value = toml::from_str(example()).unwrap();
    let mut all = Vec::new();
    paths(&doc, Vec::new(), &mut all);
    let path = pick.get(&all[1..]).clone();
    if let Some(target) = slot(&mut doc, &path) {
        *target = value;
    }
    toml::to_string(&doc).unwrap_or_default()
}

/// The variables of [`TOKENS`], of several types.
fn vars() -> Params {
    let mut vars = Params::new();
    vars.insert("S", Value::Int(2048));
    vars.insert("D", Value::Int(i64::MAX));
    vars.insert("B", Value::Float(0.5));
    vars.insert("causal", Value::Bool(true));
    vars.insert("dtype", Value::from("f16"));
    vars
}

proptest! {
    #![proptest_config(ProptestConfig { cases: testbed::proptest_cases(2000), ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,300}") {
        check(&text)?;
    }

    #[test]
    fn any_value_anywhere_never_panics(pick in any::<prop::sample::Index>(), value in toml_value()) {
        check(&replaced(pick, value))?;
    }

    #[test]
    fn random_expressions_parse_and_evaluate_or_fail_promptly(source in expression()) {
        let start = Instant::now();
        let vars = vars();
        match Expr::parse(&source) {
            Ok(expr) => {
                let _ = expr.eval(&vars);
            }
            Err(e) => prop_assert_eq!(e.source_text, source.clone()),
        }
        prop_assert!(start.elapsed() < Duration::from_secs(1), "{source:?} took {:?}", start.elapsed());
    }

    #[test]
    fn cut_text_never_panics(from in 0..4000_usize, len in 0..200_usize) {
        check(&splice(example(), from, len, ""))?;
    }

    #[test]
    fn stray_text_never_panics(
        from in 0..4000_usize,
        len in 0..8_usize,
        insert in prop::sample::select(vec![
            "0", "-1", "\"\"", "[]", "{}", "true", "\"{x}\"", "\"{dtype\"", "1e400", "nan", "\"µ\"",
            "\"0 / 0\"", "\"S * S * S * S * S * S\"", "9223372036854775807", "[[bench]]\n", "\n[x]\n",
        ]),
    ) {
        check(&splice(example(), from, len, insert))?;
    }
}
