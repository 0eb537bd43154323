//! `suggestions.patch`: the change to the suite file that makes `pawl run` use the tuned configuration
//! for every case it speeds up, and nothing else.
//!
//! For each bench, every case of its sweep gets the value it should run with — the suggestion where
//! the tune found a faster configuration, today's default everywhere else (cases the tune did not
//! measure included). Where one value serves every case, the new default is that value; where sizes
//! disagree, it is an expression over the fewest params that tell the cases apart
//! (`"if D == 128 { 64 } else { 128 }"`). The suite text is edited in place and read back: the patch is
//! written only when the edited suite loads and plans every case with exactly the values intended.

use std::collections::BTreeMap;
use std::path::Path;

use crate::case::{Case, CaseId};
use crate::plan;
use crate::suite::edit::{self, TuneDefaultEdit};
use crate::suite::{Bench, Suite, SuiteError};
use crate::value::{Params, Value};

/// Why no patch could be made.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error(transparent)]
    Suite(#[from] SuiteError),
    #[error("the suite has no bench `{0}`, which the tune measured; tune and patch the same suite")]
    NoBench(String),
    /// A check of the edited suite failed: a bug, reported rather than written.
    #[error(
        "the edited suite does not give case `{case}` the intended tune values ({expected}); found {found}"
    )]
    Mismatch { case: CaseId, expected: String, found: String },
}

/// The edited suite and its diff.
#[derive(Clone, Debug, PartialEq)]
pub struct Patch {
    pub edits: Vec<TuneDefaultEdit>,
    /// The suite text with the edits.
    pub text: String,
    /// A unified diff from the old text to the new, `git apply`-ready.
    pub diff: String,
}

/// The patch that gives each case in `changes` its tune values; `None` when nothing changes.
///
/// `text` is the suite file's contents (`suite` as loaded from it); `display` is its path as the
/// diff should name it (relative to where `git apply` runs).
pub fn suite_patch(
    suite: &Suite,
    text: &str,
    changes: &[(CaseId, Params)],
    display: &str,
) -> Result<Option<Patch>, PatchError> {
    let mut by_bench: BTreeMap<&str, Vec<&(CaseId, Params)>> = BTreeMap::new();
    for change in changes {
        by_bench.entry(change.0.bench()).or_default().push(change);
    }
    let mut edits = Vec::new();
    let mut intended: Vec<(CaseId, Params)> = Vec::new();
    for (name, changes) in by_bench {
        let bench = suite.bench(name).ok_or_else(|| PatchError::NoBench(name.to_owned()))?;
        let mut rows: Vec<(Case, Params)> = Vec::new();
        for case in bench.cases()? {
            let mut tune = plan::default_tune(bench, &case)?;
            if let Some((_, wanted)) = changes.iter().find(|(id, _)| *id == case.id) {
                for (name, value) in wanted.iter() {
                    tune.insert(name, value.clone());
                }
            }
            rows.push((case, tune));
        }
        for param in bench.tune.iter().filter(|t| t.is_tunable()) {
            let values: Vec<(&Params, Value)> = rows
                .iter()
                .map(|(case, tune)| {
                    (&case.params, tune.get(&param.name).cloned().unwrap_or(Value::Bool(false)))
                })
                .collect();
            let today: Result<Vec<Value>, _> =
                rows.iter().map(|(case, _)| param.default_for(&case.params)).collect();
            let today = today
                .map_err(|e| SuiteError::Invalid { path: suite.path.clone(), message: e.to_string() })?;
            if values.iter().zip(&today).all(|((_, want), now)| want == now) {
                continue;
            }
            edits.push(TuneDefaultEdit {
                bench: bench.name.clone(),
                param: param.name.clone(),
                toml: toml_default(&default_for(bench, &values)),
            });
        }
        intended.extend(rows.into_iter().map(|(case, tune)| (case.id, tune)));
    }
    if edits.is_empty() {
        return Ok(None);
    }
    let new_text = edit::set_tune_defaults(text, &suite.path, &edits)?;
    check(&new_text, &suite.path, &intended)?;
    let diff = similar::TextDiff::from_lines(text, &new_text)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{display}"), &format!("b/{display}"))
        .to_string();
    Ok(Some(Patch { edits, text: new_text, diff }))
}

/// Loads the edited text and plans its defaults: every case must get the intended values.
fn check(text: &str, path: &Path, intended: &[(CaseId, Params)]) -> Result<(), PatchError> {
    let suite = Suite::from_str(text, path)?;
    for (id, expected) in intended {
        let bench = suite.bench(id.bench()).ok_or_else(|| PatchError::NoBench(id.bench().to_owned()))?;
        let case = bench.cases()?.into_iter().find(|c| &c.id == id);
        let found = match case {
            Some(case) => plan::default_tune(bench, &case)?,
            None => Params::new(),
        };
        if &found != expected {
            return Err(PatchError::Mismatch {
                case: id.clone(),
                expected: expected.to_id_string(),
                found: found.to_id_string(),
            });
        }
    }
    Ok(())
}

/// A new default: one value, or an expression over params.
#[derive(Clone, Debug, PartialEq)]
enum NewDefault {
    Value(Value),
    Expr(String),
}

/// The default giving each case (its params) its value: a constant when they agree, else an
/// expression — a decision tree over the params, split first on the param that settles the most
/// cases, written as one `if` per value with the commonest leaf value as the `else`.
fn default_for(bench: &Bench, rows: &[(&Params, Value)]) -> NewDefault {
    let first = &rows[0].1;
    if rows.iter().all(|(_, v)| v == first) {
        return NewDefault::Value(first.clone());
    }
    let axes: Vec<&str> = bench.params.iter().map(|(n, _)| n.as_str()).collect();
    let mut leaves = Vec::new();
    split(rows, &(0..rows.len()).collect::<Vec<_>>(), &axes, &mut Vec::new(), &mut leaves);
    // The value with the most leaves needs no condition; among equals, the first met.
    let mut counts: Vec<(Value, usize)> = Vec::new();
    for (_, value) in &leaves {
        match counts.iter_mut().find(|(v, _)| v == value) {
            Some((_, n)) => *n += 1,
            None => counts.push((value.clone(), 1)),
        }
    }
    let commonest = counts
        .iter()
        .enumerate()
        .min_by_key(|(i, (_, n))| (std::cmp::Reverse(*n), *i))
        .map(|(_, (v, _))| v.clone())
        .unwrap_or_else(|| first.clone());
    // Branches with the shortest conditions first: the general rules, then the exceptions.
    let mut branches: Vec<&Value> = counts.iter().map(|(v, _)| v).filter(|v| **v != commonest).collect();
    let weight =
        |value: &Value| leaves.iter().filter(|(_, v)| v == value).map(|(p, _)| p.len()).sum::<usize>();
    branches.sort_by_key(|v| weight(v));
    let mut text = String::new();
    for value in branches {
        let terms: Vec<String> = leaves
            .iter()
            .filter(|(_, v)| v == value)
            .map(|(path, _)| {
                let parts: Vec<String> = path.iter().map(|(k, v)| condition(k, v)).collect();
                if parts.len() > 1 && leaves.len() > 2 {
                    format!("({})", parts.join(" && "))
                } else {
                    parts.join(" && ")
                }
            })
            .collect();
        text.push_str(&format!("if {} {{ {} }} else ", terms.join(" || "), literal(value)));
    }
    text.push_str(&format!("{{ {} }}", literal(&commonest)));
    NewDefault::Expr(text)
}

/// The leaves of a decision tree over `rows[idx]`: each a path of `param == value` and the value
/// every row on it has.
fn split(
    rows: &[(&Params, Value)],
    idx: &[usize],
    axes: &[&str],
    path: &mut Vec<(String, Value)>,
    leaves: &mut Vec<(Vec<(String, Value)>, Value)>,
) {
    let value = &rows[idx[0]].1;
    if idx.iter().all(|&i| rows[i].1 == *value) {
        leaves.push((path.clone(), value.clone()));
        return;
    }
    // Each axis's groups of rows, in the order first met.
    let groups_of = |axis: &str| -> Vec<(Value, Vec<usize>)> {
        let mut groups: Vec<(Value, Vec<usize>)> = Vec::new();
        for &i in idx {
            let key = rows[i].0.get(axis).cloned().unwrap_or(Value::Bool(false));
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(i),
                None => groups.push((key, vec![i])),
            }
        }
        groups
    };
    let settled = |groups: &[(Value, Vec<usize>)]| -> usize {
        groups
            .iter()
            .filter(|(_, m)| m.iter().all(|&i| rows[i].1 == rows[m[0]].1))
            .map(|(_, m)| m.len())
            .sum()
    };
    let best = axes
        .iter()
        .enumerate()
        .map(|(order, axis)| (order, *axis, groups_of(axis)))
        .filter(|(_, _, groups)| groups.len() > 1)
        .max_by_key(|(order, _, groups)| {
            (settled(groups), std::cmp::Reverse(groups.len()), std::cmp::Reverse(*order))
        });
    let Some((_, axis, groups)) = best else {
        // Rows no param tells apart (not possible for distinct cases): the first value stands.
        leaves.push((path.clone(), value.clone()));
        return;
    };
    for (key, members) in groups {
        path.push((axis.to_owned(), key));
        split(rows, &members, axes, path, leaves);
        path.pop();
    }
}

/// `name == value` as an expression; booleans as `name` or `!name`.
fn condition(name: &str, value: &Value) -> String {
    match value {
        Value::Bool(true) => name.to_owned(),
        Value::Bool(false) => format!("!{name}"),
        other => format!("{name} == {}", literal(other)),
    }
}

/// A value as an expression literal.
fn literal(value: &Value) -> String {
    match value {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Str(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
    }
}

/// A default as TOML text: a value as TOML writes it, an expression as a string (single-quoted when
/// it holds double quotes, so it reads as written).
fn toml_default(default: &NewDefault) -> String {
    match default {
        NewDefault::Value(Value::Str(s)) | NewDefault::Expr(s) => {
            if s.contains('"') && !s.contains('\'') && !s.contains('\n') {
                format!("'{s}'")
            } else {
                toml::Value::String(s.clone()).to_string()
            }
        }
        NewDefault::Value(Value::Float(f)) => format!("{f:?}"),
        NewDefault::Value(other) => other.to_string(),
    }
}

/// Whether `source` evaluates, for each row's params, to the row's value (used by the tests; the
/// patch itself is checked by reading the edited suite back).
#[cfg(test)]
fn evaluates_to(source: &str, rows: &[(&Params, Value)]) -> bool {
    let expr = crate::expr::Expr::parse(source).unwrap();
    rows.iter().all(|(p, v)| expr.eval(p).ok().as_ref() == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUITE: &str = r#"[suite]
name = "t"

# Tiles of the toy kernel.
[[bench]]
name = "k"
kind = "command"
run = ["python3", "h.py", "{BLOCK}"]
params = { D = [64, 128], S = [512, 4096], causal = [false, true], dtype = ["f16", "bf16"] }

[bench.tune]
BLOCK = { default = 64, candidates = [32, 64, 128] }
STAGES = { default = 2, candidates = [2, 3] }
WARPS = 4
"#;

    fn suite() -> Suite {
        Suite::from_str(SUITE, Path::new("examples/t/pawl.toml")).unwrap()
    }

    fn id(d: i64, s: i64, causal: bool, dtype: &str) -> CaseId {
        CaseId::from_raw(format!("k/D={d},S={s},causal={causal},dtype={dtype}"))
    }

    fn tune(block: i64, stages: i64) -> Params {
        [("BLOCK".to_owned(), Value::Int(block)), ("STAGES".to_owned(), Value::Int(stages))]
            .into_iter()
            .collect()
    }

    #[test]
    fn one_value_for_every_case_is_a_constant() {
        let changes: Vec<(CaseId, Params)> =
            suite().benches[0].cases().unwrap().into_iter().map(|c| (c.id, tune(128, 2))).collect();
        let patch = suite_patch(&suite(), SUITE, &changes, "examples/t/pawl.toml").unwrap().unwrap();
        assert_eq!(patch.edits.len(), 1, "STAGES keeps its default: {:?}", patch.edits);
        assert!(
            patch.diff.contains("-BLOCK = { default = 64, candidates = [32, 64, 128] }"),
            "{}",
            patch.diff
        );
        assert!(
            patch.diff.contains("+BLOCK = { default = 128, candidates = [32, 64, 128] }"),
            "{}",
            patch.diff
        );
        assert!(
            patch.diff.starts_with("--- a/examples/t/pawl.toml\n+++ b/examples/t/pawl.toml\n"),
            "{}",
            patch.diff
        );
    }

    #[test]
    fn sizes_that_disagree_get_an_expression_over_the_params_that_tell_them_apart() {
        // Every D = 128 case wants BLOCK 32 and three stages; one bf16 case of D = 64 wants BLOCK 128.
        let mut changes = Vec::new();
        for s in [512, 4096] {
            for causal in [false, true] {
                for dtype in ["f16", "bf16"] {
                    changes.push((id(128, s, causal, dtype), tune(32, 3)));
                }
            }
        }
        changes.push((id(64, 4096, true, "bf16"), tune(128, 2)));
        let patch = suite_patch(&suite(), SUITE, &changes, "pawl.toml").unwrap().unwrap();
        let block = &patch.edits.iter().find(|e| e.param == "BLOCK").unwrap().toml;
        let stages = &patch.edits.iter().find(|e| e.param == "STAGES").unwrap().toml;
        assert_eq!(stages, "\"if D == 128 { 3 } else { 2 }\"");
        assert_eq!(
            block,
            r#"'if D == 128 { 32 } else if (D == 64 && S == 4096 && causal && dtype == "bf16") { 128 } else { 64 }'"#
        );
        // The cases the tune did not change keep today's values: checked by reading the suite back.
        let back = Suite::from_str(&patch.text, Path::new("pawl.toml")).unwrap();
        assert_eq!(back.benches[0].cases().unwrap().len(), 16);
    }

    #[test]
    fn no_change_is_no_patch() {
        let changes = vec![(id(64, 512, false, "f16"), tune(64, 2))];
        assert!(suite_patch(&suite(), SUITE, &changes, "pawl.toml").unwrap().is_none());
        let err =
            suite_patch(&suite(), SUITE, &[(CaseId::from_raw("other/X=1"), tune(1, 2))], "p").unwrap_err();
        assert!(err.to_string().contains("no bench `other`"), "{err}");
    }

    #[test]
    fn expressions_evaluate_to_every_case_value() {
        let rows_params: Vec<Params> = (0..6)
            .map(|i| {
                [("N".to_owned(), Value::Int(i)), ("f".to_owned(), Value::Bool(i % 2 == 0))]
                    .into_iter()
                    .collect()
            })
            .collect();
        let bench = Bench {
            name: "b".into(),
            params: vec![
                ("N".into(), (0..6).map(Value::Int).collect()),
                ("f".into(), vec![Value::Bool(true), Value::Bool(false)]),
            ],
            filter: None,
            flops: None,
            bytes: None,
            tune: vec![],
            constraints: vec![],
            kind: crate::suite::BenchKind::Command(crate::suite::CommandBench {
                run: vec![],
                cwd: ".".into(),
                timeout_s: None,
            }),
        };
        let rows: Vec<(&Params, Value)> = rows_params
            .iter()
            .map(|p| (p, Value::from(if p.get("N") == Some(&Value::Int(3)) { "x" } else { "y" })))
            .collect();
        let NewDefault::Expr(text) = default_for(&bench, &rows) else { panic!("an expression") };
        assert_eq!(text, "if N == 3 { \"x\" } else { \"y\" }");
        assert!(evaluates_to(&text, &rows));
        let rows: Vec<(&Params, Value)> = rows_params
            .iter()
            .map(|p| (p, Value::Int(if p.get("f") == Some(&Value::Bool(true)) { 1 } else { 2 })))
            .collect();
        let NewDefault::Expr(text) = default_for(&bench, &rows) else { panic!("an expression") };
        assert!(evaluates_to(&text, &rows), "{text}");
        assert_eq!(
            toml_default(&NewDefault::Expr(text.clone())),
            format!("\"{text}\""),
            "no quotes inside: basic string"
        );
        assert_eq!(toml_default(&NewDefault::Value(Value::from("row"))), "\"row\"");
        assert_eq!(toml_default(&NewDefault::Value(Value::Float(2.0))), "2.0");
    }
}
