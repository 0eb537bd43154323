//! No input makes reading or planning a suite panic: the example suite, cut, spliced and sprinkled
//! with stray text, either loads or fails with a message that points inside the file.

use std::path::{Path, PathBuf};

use pawl_core::plan::{Selection, plan};
use pawl_core::suite::{Suite, SuiteError};
use proptest::prelude::*;

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

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

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
