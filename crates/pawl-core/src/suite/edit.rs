//! Editing a suite file's text in place: new tune defaults written where the old ones are, every other
//! byte (comments, layout, order) kept, so the change reads as a small diff.

use std::path::Path;

use super::parse::{self, SuiteError};

/// A new default for one tune parameter, as TOML text (`64`, `"if D == 128 { 64 } else { 128 }"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TuneDefaultEdit {
    pub bench: String,
    pub param: String,
    pub toml: String,
}

/// `text` (the suite at `path`, which loads) with each edit's default replaced.
///
/// A parameter written as a lone value (`NUM_WARPS = 4`) has no candidates, so autotuning never
/// changes it; an edit of one, or of a parameter the text does not have, is an error naming it.
pub fn set_tune_defaults(text: &str, path: &Path, edits: &[TuneDefaultEdit]) -> Result<String, SuiteError> {
    let spans = parse::tune_default_spans(text, path)?;
    let mut placed = Vec::with_capacity(edits.len());
    for edit in edits {
        let found = spans.iter().find(|s| s.bench == edit.bench && s.param == edit.param && !s.lone);
        let Some(span) = found else {
            return Err(SuiteError::Invalid {
                path: path.to_owned(),
                message: format!(
                    "bench `{}` has no tune parameter `{}` written with `default = ...`; its default cannot be \
                     changed",
                    edit.bench, edit.param
                ),
            });
        };
        placed.push((span.span.clone(), edit.toml.as_str()));
    }
    // From the end, so earlier ranges stay where they are.
    placed.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    let mut out = text.to_owned();
    for (range, toml) in placed {
        out.replace_range(range, toml);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUITE: &str = r#"[suite]
name = "t"

[[bench]]
name = "k"
kind = "command"
run = ["true"]
params = { D = [64, 128] }

[bench.tune]
BLOCK = { default = 64, candidates = [32, 64, 128] }   # tiles
WARPS = 4

[bench.tune.STAGES]
default = 2
candidates = [2, 3]
"#;

    fn edit(param: &str, toml: &str) -> TuneDefaultEdit {
        TuneDefaultEdit { bench: "k".into(), param: param.into(), toml: toml.into() }
    }

    #[test]
    fn defaults_are_replaced_in_place_and_everything_else_is_kept() {
        let path = Path::new("pawl.toml");
        let out = set_tune_defaults(
            SUITE,
            path,
            &[edit("STAGES", "3"), edit("BLOCK", "\"if D == 128 { 32 } else { 128 }\"")],
        )
        .unwrap();
        assert!(out.contains("BLOCK = { default = \"if D == 128 { 32 } else { 128 }\", candidates = [32, 64, 128] }   # tiles"), "{out}");
        assert!(out.contains("[bench.tune.STAGES]\ndefault = 3\n"), "{out}");
        assert_eq!(out.lines().count(), SUITE.lines().count());
        let suite = crate::suite::Suite::from_str(&out, path).unwrap();
        let case = suite.benches[0].cases().unwrap().remove(1);
        let tune = crate::plan::default_tune(&suite.benches[0], &case).unwrap();
        assert_eq!(tune.to_id_string(), "BLOCK=32,WARPS=4,STAGES=3");
    }

    #[test]
    fn a_lone_value_or_an_unknown_parameter_is_refused() {
        let path = Path::new("pawl.toml");
        let err = set_tune_defaults(SUITE, path, &[edit("WARPS", "8")]).unwrap_err().to_string();
        assert!(err.contains("`WARPS`"), "{err}");
        let err = set_tune_defaults(SUITE, path, &[edit("TILE", "8")]).unwrap_err().to_string();
        assert!(err.contains("`TILE`"), "{err}");
    }
}
