//! No line a harness prints makes `parse_answer` or an answer's conversions panic: random text, random
//! JSON objects and valid answers cut or sprinkled with stray text either parse into an answer whose
//! conversions keep the protocol's promises or fail with a short message.

use pawl_core::harness::parse_answer;
use proptest::prelude::*;

mod testbed;

/// The longest error message a line may cause: a harness that prints a megabyte of garbage must not
/// put a megabyte into pawl's log.
const MAX_MESSAGE: usize = 1000;

const VALID: &[&str] = &[
    r#"{"seq": 3, "samples_ns": [10500.5, 10400.0, 10650.25], "sm_clock_mhz": 1980}"#,
    r#"{"seq": 1, "error": "CUDA out of memory"}"#,
    r#"{"seq": 2, "outputs": [{"name": "o", "dtype": "f16", "out": [1.5, null], "reference": [1.5, 2]}], "rtol": 0.01}"#,
    r#"{"seq": 4, "correctness": {"max_abs_error": 0.3, "max_rel_error": 0.1, "norm_rel_error": 0.01, "mismatches": 2, "elements": 10, "rtol": 0, "atol": 0}}"#,
    r#"{"seq": 5, "ok": true}"#,
];

fn check(line: &str) -> Result<(), TestCaseError> {
    match parse_answer(line) {
        Ok(None) => prop_assert!(line.trim().is_empty(), "a non-blank line read as blank: {line:?}"),
        Ok(Some(answer)) => {
            // Whatever it holds, every conversion answers without panicking, and samples that pass are
            // what a run file may hold.
            let _ = answer.clone().into_done();
            let _ = answer.clone().into_check();
            let expected = answer.samples_ns.as_ref().map_or(0, Vec::len);
            if let Ok(batch) = answer.into_batch(expected) {
                prop_assert!(
                    batch.samples_ns.iter().all(|s| s.is_finite() && *s > 0.0),
                    "a sample that is not finite and positive passed: {line:?}"
                );
            }
        }
        Err(message) => {
            prop_assert!(!message.is_empty());
            prop_assert!(
                message.chars().count() <= MAX_MESSAGE,
                "{} characters: {message:.200}",
                message.len()
            );
        }
    }
    Ok(())
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

/// JSON values of every kind, the numbers among them extreme.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        prop::sample::select(vec![0.0, -0.0, 5e-324, 1e-300, 1.0, 1e308, -1e308, f64::MAX])
            .prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,20}".prop_map(serde_json::Value::from),
        prop::sample::select(vec!["ok", "failed", "wrong", "timeout", "skipped", "OK", ""])
            .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object with the answer's fields (each maybe missing), holding any values.
fn answer_like() -> impl Strategy<Value = String> {
    let field = |name: &'static str| prop::option::of(json_value()).prop_map(move |v| (name, v));
    (
        (field("seq"), field("samples_ns"), field("ok"), field("unchecked")),
        (field("error"), field("outputs"), field("correctness"), field("rtol")),
    )
        .prop_map(|((a, b, c, d), (e, f, g, h))| {
            let object: serde_json::Map<String, serde_json::Value> = [a, b, c, d, e, f, g, h]
                .into_iter()
                .filter_map(|(name, value)| value.map(|v| (name.to_owned(), v)))
                .collect();
            serde_json::Value::Object(object).to_string()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: testbed::proptest_cases(10000), ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(line in "\\PC{0,200}") {
        check(&line)?;
    }

    #[test]
    fn random_answers_never_panic(line in answer_like()) {
        check(&line)?;
    }

    #[test]
    fn cut_or_sprinkled_answers_never_panic(
        valid in prop::sample::select(VALID),
        from in 0..160_usize,
        len in 0..12_usize,
        insert in prop::sample::select(vec![
            "", "0", "-1", "1e400", "-0", "5e-324", "NaN", "\"NaN\"", "null", "[]", "{}", "\"", ",", "]", "}",
            "\"\\ud800\"", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
            "\n", "\u{0}", "µ", "18446744073709551616",
        ]),
    ) {
        check(&splice(valid, from, len, insert))?;
    }
}

#[test]
fn huge_lines_give_short_messages() {
    let garbage = "x".repeat(1 << 20);
    for line in [
        garbage.clone(),
        format!(r#"{{"seq": 1, "samples_ns": [1], "ok": "{garbage}"}}"#),
        format!(r#"{{"seq": 1, "samples_ns": [1], "{garbage}": 1, "error": 3}}"#),
        format!(r#"{{"seq": 1, "samples_ns": [1, -{}]}}"#, "9".repeat(1 << 16)),
        format!(r#"{{"seq": "{garbage}", "samples_ns": []}}"#),
    ] {
        let message = parse_answer(&line).unwrap_err();
        assert!(message.chars().count() <= MAX_MESSAGE, "{} characters: {message:.300}", message.len());
    }
}
