//! Expanding a bench's sweep into cases: the cartesian product of its params, filtered by `where`.

use std::collections::HashSet;

use super::limits::MAX_CASES;
use super::{Bench, SuiteError};
use crate::case::{Case, CaseId};
use crate::value::Params;

/// The cases of `bench`, in declaration order: the first param varies slowest, the last fastest.
pub(super) fn cases(bench: &Bench) -> Result<Vec<Case>, SuiteError> {
    let sizes: Vec<usize> = bench.params.iter().map(|(_, values)| values.len()).collect();
    if let Some(message) = too_many_cases(&sizes) {
        return Err(SuiteError::Case { case: CaseId::from_raw(&bench.name), message });
    }
    if sizes.contains(&0) {
        return Ok(Vec::new());
    }
    // At most MAX_CASES, checked above, so the product does not overflow.
    let points: usize = sizes.iter().product();

    let mut cases = Vec::new();
    // An odometer over the axes: `index[i]` is the position in axis `i`; the last axis turns fastest.
    let mut index = vec![0_usize; sizes.len()];
    for _ in 0..points {
        let params: Params = bench
            .params
            .iter()
            .zip(&index)
            .map(|((name, values), &i)| (name.clone(), values[i].clone()))
            .collect();
        let keep = match &bench.filter {
            Some(filter) => filter.eval_bool(&params).map_err(|e| SuiteError::Case {
                case: CaseId::new(&bench.name, &params),
                message: format!("`where` {e}; fix the expression or the params"),
            })?,
            None => true,
        };
        if keep {
            cases.push(Case::new(bench.name.as_str(), params));
        }
        for (position, size) in index.iter_mut().zip(&sizes).rev() {
            *position += 1;
            if *position < *size {
                break;
            }
            *position = 0;
        }
    }

    let mut seen = HashSet::with_capacity(cases.len());
    if let Some(twice) = cases.iter().find(|case| !seen.insert(&case.id)) {
        return Err(SuiteError::Case {
            case: twice.id.clone(),
            message: "two points of the sweep have this id, because two values of a param print the same; \
                      make the values distinct"
                .to_owned(),
        });
    }
    Ok(cases)
}

/// Why a sweep whose axes have `sizes` values is too large to expand, or `None` when it is not.
pub(super) fn too_many_cases(sizes: &[usize]) -> Option<String> {
    // In floating point, so that no product overflows; exact up to 2^53, far above the limit.
    let cases: f64 = sizes.iter().map(|&n| n as f64).product();
    if cases <= MAX_CASES as f64 {
        return None;
    }
    let cases = if cases < 2f64.powi(53) { format!("{cases}") } else { format!("{cases:.3e}") };
    let sizes: Vec<String> = sizes.iter().map(usize::to_string).collect();
    Some(format!(
        "the sweep has {} = {cases} cases, more than the {MAX_CASES} a bench may have; sweep fewer \
         values, or split the sweep into several benches",
        sizes.join(" × ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Expr;
    use crate::suite::{BenchKind, CommandBench};
    use crate::value::Value;

    fn bench(params: Vec<(&str, Vec<Value>)>, filter: Option<&str>) -> Bench {
        Bench {
            name: "b".to_owned(),
            params: params.into_iter().map(|(n, v)| (n.to_owned(), v)).collect(),
            filter: filter.map(|f| Expr::parse(f).unwrap()),
            flops: None,
            bytes: None,
            tune: vec![],
            constraints: vec![],
            kind: BenchKind::Command(CommandBench {
                run: vec!["x".into()],
                cwd: ".".into(),
                timeout_s: None,
            }),
        }
    }

    fn ids(cases: &[Case]) -> Vec<&str> {
        cases.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn first_axis_turns_slowest() {
        let b = bench(
            vec![
                ("A", vec![1.into(), 2.into()]),
                ("c", vec![false.into(), true.into()]),
                ("d", vec!["x".into()]),
            ],
            None,
        );
        let cases = cases(&b).unwrap();
        assert_eq!(
            ids(&cases),
            ["b/A=1,c=false,d=x", "b/A=1,c=true,d=x", "b/A=2,c=false,d=x", "b/A=2,c=true,d=x"]
        );
    }

    #[test]
    fn no_params_is_one_case_named_like_the_bench() {
        assert_eq!(ids(&cases(&bench(vec![], None)).unwrap()), ["b"]);
    }

    #[test]
    fn where_filters_and_its_failures_name_the_case() {
        let b = bench(vec![("S", vec![256.into(), 512.into(), 1024.into()])], Some("S >= 512"));
        assert_eq!(ids(&cases(&b).unwrap()), ["b/S=512", "b/S=1024"]);

        let b = bench(vec![("S", vec![256.into()])], Some("S + 1"));
        let err = cases(&b).unwrap_err().to_string();
        assert!(err.contains("case `b/S=256`") && err.contains("`S + 1`"), "{err}");
        assert!(err.contains("expected true or false"), "{err}");
    }

    #[test]
    fn values_that_print_the_same_are_refused() {
        let b = bench(vec![("S", vec![Value::Int(1), Value::Float(1.0)])], None);
        let err = cases(&b).unwrap_err().to_string();
        assert!(err.contains("`b/S=1`") && err.contains("print the same"), "{err}");
    }

    #[test]
    fn huge_sweeps_are_refused_before_allocating() {
        let axis: Vec<Value> = (0..1000).map(Value::Int).collect();
        let b = bench(vec![("A", axis.clone()), ("B", axis.clone()), ("C", axis)], None);
        let err = cases(&b).unwrap_err().to_string();
        assert!(err.contains("1000 × 1000 × 1000 = 1000000000 cases"), "{err}");
        let sizes = [1000; 40];
        assert!(too_many_cases(&sizes).unwrap().contains("= 1.000e120 cases"));
        assert_eq!(too_many_cases(&[1000, 1000]), None);
        assert_eq!(too_many_cases(&[]), None);
    }
}
