//! Planning a run: the cases to measure, each checked so that a bad expression fails here, naming the
//! case, and not later on the GPU.
//!
//! For every selected case the plan takes the tune defaults (evaluated per case where a default is an
//! expression), checks the constraints with them, computes `flops` and `bytes`, and evaluates every
//! expression the backend will evaluate (launch geometry, buffer sizes, scalar arguments, defines, the
//! reference's launch and tolerances), checking each result's type and range. Autotuning plans each
//! configuration it tries the same way ([`plan_config`]).
//! Cases are checked in parallel; errors are reported for the first failing case in sweep order, so the
//! same suite always gives the same message.

use rayon::prelude::*;

use crate::case::Case;
use crate::expr::{Expr, ExprError};
use crate::suite::{Arg, Bench, BenchKind, CudaBench, Dtype, DtypeSpec, Launch, Suite, SuiteError};
use crate::value::{Params, Value};

/// A case ready to measure: its sweep point, the tune values to compile with, and its work.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlannedCase {
    pub case: Case,
    pub tune: Params,
    pub flops: Option<f64>,
    pub bytes: Option<f64>,
}

impl PlannedCase {
    /// Params and tune values together: the variables of every launch expression.
    pub fn vars(&self) -> Params {
        let mut vars = self.case.params.clone();
        for (name, value) in self.tune.iter() {
            vars.insert(name, value.clone());
        }
        vars
    }
}

/// What to plan: one bench or all, and an optional filter over params (`--bench`, `--filter`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Selection<'a> {
    pub bench: Option<&'a str>,
    /// Keeps the cases for which this is true. A case for which it cannot be evaluated (a bench without
    /// a param it names) is left out.
    pub filter: Option<&'a Expr>,
}

/// The planned cases of one bench, in sweep order.
#[derive(Clone, Debug)]
pub struct BenchPlan<'s> {
    pub bench: &'s Bench,
    pub cases: Vec<PlannedCase>,
}

/// Plans the selected cases of `suite`. Benches with no selected case are left out; selecting no case
/// at all is an error that says why.
pub fn plan<'s>(suite: &'s Suite, selection: &Selection) -> Result<Vec<BenchPlan<'s>>, SuiteError> {
    let benches: Vec<&Bench> = match selection.bench {
        Some(name) => vec![suite.bench(name).ok_or_else(|| {
            let names: Vec<String> = suite.benches.iter().map(|b| format!("`{}`", b.name)).collect();
            invalid(suite, format!("there is no bench named `{name}`; the benches are {}", names.join(", ")))
        })?],
        None => suite.benches.iter().collect(),
    };

    let mut plans = Vec::new();
    let mut filter_error: Option<ExprError> = None;
    for bench in benches {
        let cases = bench.cases()?;
        if cases.is_empty() {
            let filter = bench.filter.as_ref().map_or("", Expr::source);
            return Err(invalid(
                suite,
                format!(
                    "bench `{}`: `where = \"{filter}\"` leaves no case of the sweep; loosen it",
                    bench.name
                ),
            ));
        }
        let outcomes: Vec<Result<Outcome, SuiteError>> =
            cases.into_par_iter().map(|case| plan_case(bench, case, selection.filter)).collect();
        let mut planned = Vec::new();
        for outcome in outcomes {
            match outcome? {
                Outcome::Planned(case) => planned.push(case),
                Outcome::Unselected(error) => filter_error = filter_error.or(error),
            }
        }
        if !planned.is_empty() {
            plans.push(BenchPlan { bench, cases: planned });
        }
    }

    if plans.is_empty() {
        let filter = selection.filter.map_or("", Expr::source);
        let why =
            filter_error.map_or(String::new(), |e| format!(" (where it could be evaluated; elsewhere: {e})"));
        return Err(invalid(suite, format!("the filter `{filter}` selects no case{why}; loosen it")));
    }
    Ok(plans)
}

fn invalid(suite: &Suite, message: String) -> SuiteError {
    SuiteError::Invalid { path: suite.path.clone(), message }
}

enum Outcome {
    Planned(PlannedCase),
    /// Left out by the selection's filter, with the error if the filter could not be evaluated.
    Unselected(Option<ExprError>),
}

fn plan_case(bench: &Bench, case: Case, filter: Option<&Expr>) -> Result<Outcome, SuiteError> {
    if let Some(filter) = filter {
        match filter.eval_bool(&case.params) {
            Ok(true) => {}
            Ok(false) => return Ok(Outcome::Unselected(None)),
            Err(e) => return Ok(Outcome::Unselected(Some(e))),
        }
    }
    let tune = default_tune(bench, &case)?;
    let hint = if tune.is_empty() {
        "exclude such cases with the bench's `where`".to_owned()
    } else {
        format!(
            "the default tune configuration ({}) must meet every constraint: change the defaults, the \
             constraint, or exclude such cases with `where`",
            tune.to_id_string()
        )
    };
    plan_checked(bench, case, tune, &hint).map(Outcome::Planned)
}

/// The tune values `pawl run` uses for `case`: each parameter's default, evaluated over the case's
/// params where it is an expression, and checked to be among the candidates.
pub fn default_tune(bench: &Bench, case: &Case) -> Result<Params, SuiteError> {
    let mut tune = Params::new();
    for param in &bench.tune {
        let fail = |message: String| SuiteError::Case { case: case.id.clone(), message };
        let value = param
            .default_for(&case.params)
            .map_err(|e| fail(format!("the default of tune parameter `{}`: {e}", param.name)))?;
        if !param.candidates.contains(&value) {
            let listed: Vec<String> = param.candidates.iter().map(ToString::to_string).collect();
            return Err(fail(format!(
                "the default of tune parameter `{}` gives {value}, which is not among its candidates [{}]; add \
                 it to `candidates` or change the default",
                param.name,
                listed.join(", ")
            )));
        }
        tune.insert(param.name.clone(), value);
    }
    Ok(tune)
}

/// Plans `case` with the tune values `tune` (a configuration autotuning tries): constraints and every
/// expression checked as for a default configuration.
pub fn plan_config(bench: &Bench, case: Case, tune: Params) -> Result<PlannedCase, SuiteError> {
    plan_checked(bench, case, tune, "this configuration is outside the tune space")
}

fn plan_checked(bench: &Bench, case: Case, tune: Params, hint: &str) -> Result<PlannedCase, SuiteError> {
    let mut vars = case.params.clone();
    for (name, value) in tune.iter() {
        vars.insert(name, value.clone());
    }
    let check = Check { case: &case, vars };
    check.constraints(&bench.constraints, hint)?;
    let flops = bench.flops.as_ref().map(|e| check.work("flops", e)).transpose()?;
    let bytes = bench.bytes.as_ref().map(|e| check.work("bytes", e)).transpose()?;
    if let BenchKind::Cuda(cuda) = &bench.kind {
        check.cuda(cuda)?;
    }
    Ok(PlannedCase { case, tune, flops, bytes })
}

/// The CUDA limits on launch geometry, the same on every architecture pawl supports.
const MAX_GRID: [i64; 3] = [(1 << 31) - 1, 65_535, 65_535];
const MAX_BLOCK: [i64; 3] = [1024, 1024, 64];
const MAX_THREADS_PER_BLOCK: i64 = 1024;

/// Evaluates one case's expressions; every error names the case.
struct Check<'c> {
    case: &'c Case,
    /// Params and tune values.
    vars: Params,
}

impl Check<'_> {
    fn fail(&self, message: String) -> SuiteError {
        SuiteError::Case { case: self.case.id.clone(), message }
    }

    fn eval(&self, what: &str, expr: &Expr) -> Result<Value, SuiteError> {
        expr.eval(&self.vars).map_err(|e| self.fail(format!("{what} {e}")))
    }

    fn int(&self, what: &str, expr: &Expr) -> Result<i64, SuiteError> {
        expr.eval_i64(&self.vars).map_err(|e| self.fail(format!("{what} {e}")))
    }

    fn float(&self, what: &str, expr: &Expr) -> Result<f64, SuiteError> {
        let x = expr.eval_f64(&self.vars).map_err(|e| self.fail(format!("{what} {e}")))?;
        if !x.is_finite() {
            return Err(self.fail(format!("{what} `{}` gives {x}, not a finite number", expr.source())));
        }
        Ok(x)
    }

    /// `flops` or `bytes`: a finite number, not negative.
    fn work(&self, key: &str, expr: &Expr) -> Result<f64, SuiteError> {
        let x = self.float(&format!("`{key}`"), expr)?;
        if x < 0.0 {
            return Err(
                self.fail(format!("`{key}` = `{}` gives {x}; it must not be negative", expr.source()))
            );
        }
        Ok(x)
    }

    fn constraints(&self, constraints: &[Expr], hint: &str) -> Result<(), SuiteError> {
        for constraint in constraints {
            if !constraint.eval_bool(&self.vars).map_err(|e| self.fail(format!("constraint {e}")))? {
                return Err(self.fail(format!("constraint `{}` is false; {hint}", constraint.source())));
            }
        }
        Ok(())
    }

    fn cuda(&self, cuda: &CudaBench) -> Result<(), SuiteError> {
        self.defines("defines", &cuda.defines)?;
        self.launch("", &cuda.launch)?;
        for arg in &cuda.args {
            match arg {
                Arg::Buffer(buffer) => {
                    let what = format!("`{}.count`", buffer.name);
                    let dtype = self.dtype(&buffer.name, &buffer.dtype)?;
                    let count = self.int(&what, &buffer.count)?;
                    if count < 1 {
                        return Err(self.fail(format!(
                            "{what} = `{}` gives {count}; a buffer needs at least one element",
                            buffer.count.source()
                        )));
                    }
                    if count.checked_mul(dtype.size_bytes() as i64).is_none() {
                        return Err(self.fail(format!(
                            "{what} = `{}` gives {count} elements of {dtype}, more bytes than can be \
                             addressed",
                            buffer.count.source()
                        )));
                    }
                }
                Arg::Scalar(scalar) => {
                    let what = format!("`{}.value`", scalar.name);
                    let dtype = self.dtype(&scalar.name, &scalar.dtype)?;
                    if dtype.is_float() {
                        self.float(&what, &scalar.value)?;
                    } else {
                        let v = self.int(&what, &scalar.value)?;
                        let (low, high) = int_range(dtype);
                        if v < low || v > high {
                            return Err(self.fail(format!(
                                "{what} = `{}` gives {v}, which does not fit in {dtype} ({low} to {high})",
                                scalar.value.source()
                            )));
                        }
                    }
                }
            }
        }
        if let Some(reference) = &cuda.reference {
            // A reference without defines of its own has the bench's, already checked.
            if !same_sources(&reference.defines, &cuda.defines) {
                self.defines("reference.defines", &reference.defines)?;
            }
            self.launch("reference.", &reference.launch)?;
            for (key, expr) in [("rtol", &reference.rtol), ("atol", &reference.atol)] {
                let what = format!("`reference.{key}`");
                let x = self.float(&what, expr)?;
                if x < 0.0 {
                    return Err(self.fail(format!(
                        "{what} = `{}` gives {x}; a tolerance is not negative",
                        expr.source()
                    )));
                }
            }
        }
        Ok(())
    }

    fn defines(&self, key: &str, defines: &[(String, Expr)]) -> Result<(), SuiteError> {
        for (name, expr) in defines {
            self.eval(&format!("`{key}.{name}`"), expr)?;
        }
        Ok(())
    }

    fn launch(&self, prefix: &str, launch: &Launch) -> Result<(), SuiteError> {
        for (key, dims, limits) in [("grid", &launch.grid, MAX_GRID), ("block", &launch.block, MAX_BLOCK)] {
            let mut threads = 1_i64;
            for (axis, expr) in dims.iter().enumerate() {
                let what = format!("`{prefix}{key}[{axis}]`");
                let n = self.int(&what, expr)?;
                if n < 1 || n > limits[axis] {
                    return Err(self.fail(format!(
                        "{what} = `{}` gives {n}; it must be from 1 to {}",
                        expr.source(),
                        limits[axis]
                    )));
                }
                threads = threads.saturating_mul(n);
            }
            if key == "block" && threads > MAX_THREADS_PER_BLOCK {
                return Err(self.fail(format!(
                    "`{prefix}block` has {threads} threads; a block has at most {MAX_THREADS_PER_BLOCK}"
                )));
            }
        }
        if let Some(expr) = &launch.shared_mem {
            let what = format!("`{prefix}shared_mem`");
            let bytes = self.int(&what, expr)?;
            if bytes < 0 {
                return Err(
                    self.fail(format!("{what} = `{}` gives {bytes}; it must not be negative", expr.source()))
                );
            }
        }
        Ok(())
    }

    fn dtype(&self, arg: &str, spec: &DtypeSpec) -> Result<Dtype, SuiteError> {
        spec.resolve(&self.case.params).ok_or_else(|| {
            let shown = match spec {
                DtypeSpec::Fixed(dtype) => dtype.to_string(),
                DtypeSpec::FromParam(name) => format!("{{{name}}}"),
            };
            self.fail(format!("`{arg}.dtype` = \"{shown}\" does not give a dtype for this case"))
        })
    }
}

fn same_sources(a: &[(String, Expr)], b: &[(String, Expr)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((na, ea), (nb, eb))| na == nb && ea.source() == eb.source())
}

/// The values an integer dtype holds.
fn int_range(dtype: Dtype) -> (i64, i64) {
    match dtype {
        Dtype::I32 => (i32::MIN.into(), i32::MAX.into()),
        Dtype::U32 => (0, u32::MAX.into()),
        Dtype::U8 => (0, u8::MAX.into()),
        _ => (i64::MIN, i64::MAX),
    }
}
