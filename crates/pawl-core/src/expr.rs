//! Expressions in suite files (`grid`, `flops`, `where`, …), evaluated with the `rhai` crate.
//!
//! Only expressions are accepted (no statements, loops or assignments): integers, floats, booleans and
//! strings; `+ - * / %`, comparisons, `&& || !`, `if c { a } else { b }`, and the functions `min`,
//! `max`, `ceil_div`, `sqrt`, `floor`, `ceil`, `to_int`, `to_float`. Integer division truncates, as in C.
//! Variables are the case's params and tune values.
//!
//! # A sandbox
//!
//! A suite file may come from a pull request, so no expression may hang, crash or print. The engine is
//! built raw, with none of rhai's standard library (`print`, `sleep`, `eval`, string and array
//! functions): only the functions above are registered. rhai is compiled without arrays, maps, function
//! definitions, closures and modules, and loops, `switch` and statement blocks are switched off. On top
//! of that, [`Expr::parse`] walks the parsed expression and refuses anything outside the list above,
//! so that a forbidden call fails where it is written, not at the first case that evaluates it. An
//! expression is at most [`MAX_SOURCE_CHARS`] characters and [`MAX_DEPTH`] levels deep; evaluating one
//! stops after [`MAX_OPERATIONS`] operations or [`MAX_EVAL_TIME`]; strings grow to [`MAX_STRING_BYTES`]
//! at most; integer overflow and division by zero are errors.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rhai::{ASTNode, Dynamic, Engine, EvalAltResult, FLOAT, INT, OptimizationLevel, Scope, Stmt};

use crate::value::{Params, Value};

/// Longest expression accepted, in characters: the longest in pawl's examples is about 60.
pub const MAX_SOURCE_CHARS: usize = 1000;
/// Deepest nesting, as rhai counts it: a parenthesis or a call takes two levels, each operator of a
/// chain one (`a + b + c` is two deep).
pub const MAX_DEPTH: usize = 64;
/// Operations one evaluation may take: an expression of [`MAX_SOURCE_CHARS`] takes fewer.
pub const MAX_OPERATIONS: u64 = 10_000;
/// Wall-clock time one evaluation may take: [`MAX_OPERATIONS`] take well under a millisecond.
pub const MAX_EVAL_TIME: Duration = Duration::from_millis(100);
/// Longest string an evaluation may build, in bytes.
pub const MAX_STRING_BYTES: usize = 4096;

/// The functions an expression may call.
pub const FUNCTIONS: &[&str] = &["min", "max", "ceil_div", "sqrt", "floor", "ceil", "to_int", "to_float"];
/// What every parse error ends with: what expressions may use.
const GRAMMAR: &str = "expressions use numbers, booleans, strings and variables, + - * / %, comparisons, \
                       && || !, `if c { a } else { b }` and min, max, ceil_div, sqrt, floor, ceil, to_int, \
                       to_float";
/// The operators an expression may use; rhai parses each into a call of that name.
const OPERATORS: &[&str] = &["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "!"];
/// rhai operators outside the documented set, refused by the parser.
const DISABLED_SYMBOLS: &[&str] =
    &["**", "<<", ">>", "&", "|", "^", "..", "..=", "??", "in", "!in", "?.", "?[", "=", "switch", "fn"];

/// A parsed expression, kept with its source text for messages.
///
/// It serializes as its source text; deserializing parses it again, so a bad expression fails there.
#[derive(Clone, Debug)]
pub struct Expr {
    source: String,
    ast: rhai::AST,
}

/// What went wrong parsing or evaluating an expression; the message quotes the expression.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("expression `{source_text}`: {message}")]
pub struct ExprError {
    pub source_text: String,
    pub message: String,
}

thread_local! {
    /// When the evaluation running on this thread must stop (read by the engine's progress callback).
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut engine = Engine::new_raw();
        engine
            .set_optimization_level(OptimizationLevel::None)
            .set_allow_looping(false)
            .set_allow_loop_expressions(false)
            .set_allow_switch_expression(false)
            .set_allow_statement_expression(false)
            .set_allow_shadowing(false)
            .set_max_expr_depths(MAX_DEPTH)
            .set_max_operations(MAX_OPERATIONS)
            .set_max_string_size(MAX_STRING_BYTES);
        for symbol in DISABLED_SYMBOLS {
            engine.disable_symbol(*symbol);
        }
        engine.on_print(|_| {});
        engine.on_debug(|_, _, _| {});
        engine.on_progress(|operations| {
            // Reading the clock every 256 operations costs nothing measurable.
            let late = operations % 256 == 0
                && DEADLINE.with(|d| d.get()).is_some_and(|deadline| Instant::now() > deadline);
            late.then_some(Dynamic::UNIT)
        });
        register_functions(&mut engine);
        engine
    })
}

type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// The functions of the module doc, every one total: a bad argument is an error, never a panic.
fn register_functions(engine: &mut Engine) {
    engine.register_fn("ceil_div", |a: INT, b: INT| -> Fallible<INT> {
        if b == 0 {
            return Err("ceil_div by zero".into());
        }
        if b < 0 {
            return Err(format!("ceil_div({a}, {b}): the divisor must be positive").into());
        }
        // ⌈a / b⌉ without the overflow of (a + b - 1) / b.
        Ok(a.div_euclid(b) + INT::from(a.rem_euclid(b) != 0))
    });
    engine.register_fn("min", |a: INT, b: INT| a.min(b));
    engine.register_fn("max", |a: INT, b: INT| a.max(b));
    engine.register_fn("min", |a: FLOAT, b: FLOAT| a.min(b));
    engine.register_fn("max", |a: FLOAT, b: FLOAT| a.max(b));
    engine.register_fn("min", |a: INT, b: FLOAT| (a as FLOAT).min(b));
    engine.register_fn("max", |a: INT, b: FLOAT| (a as FLOAT).max(b));
    engine.register_fn("min", |a: FLOAT, b: INT| a.min(b as FLOAT));
    engine.register_fn("max", |a: FLOAT, b: INT| a.max(b as FLOAT));
    engine.register_fn("sqrt", |a: INT| (a as FLOAT).sqrt());
    engine.register_fn("sqrt", |a: FLOAT| a.sqrt());
    engine.register_fn("floor", |a: FLOAT| a.floor());
    engine.register_fn("floor", |a: INT| a);
    engine.register_fn("ceil", |a: FLOAT| a.ceil());
    engine.register_fn("ceil", |a: INT| a);
    engine.register_fn("to_float", |a: INT| a as FLOAT);
    engine.register_fn("to_float", |a: FLOAT| a);
    engine.register_fn("to_int", |a: INT| a);
    engine.register_fn("to_int", |a: FLOAT| -> Fallible<INT> {
        // Truncates toward zero, as in C; 2^63 itself does not fit.
        const LIMIT: FLOAT = 9_223_372_036_854_775_808.0;
        if a.is_nan() || a.trunc() >= LIMIT || a.trunc() < -LIMIT {
            return Err(format!("to_int({a}): not an integer from -2^63 to 2^63 - 1").into());
        }
        Ok(a as INT)
    });
}

impl Expr {
    /// Parses an expression. Syntax errors name the position inside the expression; a construct or
    /// function outside the module doc's list is refused here.
    pub fn parse(source: &str) -> Result<Expr, ExprError> {
        let error =
            |why: String| ExprError { source_text: source.to_owned(), message: format!("{why}; {GRAMMAR}") };
        let chars = source.chars().count();
        if chars > MAX_SOURCE_CHARS {
            return Err(error(format!(
                "is {chars} characters long; expressions are at most {MAX_SOURCE_CHARS}"
            )));
        }
        let ast = engine().compile_expression(source).map_err(|e| error(e.to_string()))?;
        let mut refused = None;
        ast.walk(&mut |path: &[ASTNode]| {
            refused = path.last().and_then(refusal);
            refused.is_none()
        });
        match refused {
            Some(why) => Err(error(why)),
            None => Ok(Expr { source: source.to_owned(), ast }),
        }
    }

    /// The expression as written in the suite file.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the expression with `vars` as its variables.
    pub fn eval(&self, vars: &Params) -> Result<Value, ExprError> {
        self.eval_until(vars, Instant::now() + MAX_EVAL_TIME)
    }

    /// Evaluates the expression, stopping it if it runs past `deadline`.
    fn eval_until(&self, vars: &Params, deadline: Instant) -> Result<Value, ExprError> {
        let mut scope = Scope::new();
        for (name, value) in vars.iter() {
            let dynamic = match value {
                Value::Bool(b) => Dynamic::from_bool(*b),
                Value::Int(i) => Dynamic::from_int(*i),
                Value::Float(f) => Dynamic::from_float(*f),
                Value::Str(s) => Dynamic::from(s.clone()),
            };
            scope.push_constant_dynamic(name, dynamic);
        }
        DEADLINE.with(|d| d.set(Some(deadline)));
        let result = engine().eval_ast_with_scope::<Dynamic>(&mut scope, &self.ast);
        DEADLINE.with(|d| d.set(None));
        let result = result.map_err(|e| match *e {
            EvalAltResult::ErrorTerminated(..) => {
                self.error(format!("took longer than {} ms and was stopped", MAX_EVAL_TIME.as_millis()))
            }
            e => self.error(e.to_string()),
        })?;
        if let Ok(i) = result.as_int() {
            Ok(Value::Int(i))
        } else if let Ok(f) = result.as_float() {
            Ok(Value::Float(f))
        } else if let Ok(b) = result.as_bool() {
            Ok(Value::Bool(b))
        } else if result.is_string() {
            Ok(Value::Str(result.into_string().unwrap_or_default()))
        } else {
            Err(self.error(format!(
                "gives a value of type {}, not a number, boolean or string",
                result.type_name()
            )))
        }
    }

    /// Evaluates to an integer (a float with no fractional part is accepted).
    pub fn eval_i64(&self, vars: &Params) -> Result<i64, ExprError> {
        match self.eval(vars)? {
            Value::Int(i) => Ok(i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
            other => Err(self.error(format!("gives {other} ({}), expected an integer", other.type_name()))),
        }
    }

    /// Evaluates to a number.
    pub fn eval_f64(&self, vars: &Params) -> Result<f64, ExprError> {
        let value = self.eval(vars)?;
        match value {
            Value::Int(_) | Value::Float(_) => Ok(value.as_f64().unwrap_or_default()),
            other => Err(self.error(format!("gives {other} ({}), expected a number", other.type_name()))),
        }
    }

    /// Evaluates to a boolean.
    pub fn eval_bool(&self, vars: &Params) -> Result<bool, ExprError> {
        match self.eval(vars)? {
            Value::Bool(b) => Ok(b),
            other => {
                Err(self.error(format!("gives {other} ({}), expected true or false", other.type_name())))
            }
        }
    }

    fn error(&self, message: String) -> ExprError {
        ExprError { source_text: self.source.clone(), message }
    }
}

/// Why a node of a parsed expression is not allowed, or `None` when it is.
fn refusal(node: &ASTNode<'_>) -> Option<String> {
    use rhai::Expr as E;
    let what = match node {
        ASTNode::Expr(expr) => match expr {
            E::BoolConstant(..)
            | E::IntegerConstant(..)
            | E::FloatConstant(..)
            | E::StringConstant(..)
            | E::Variable(..)
            | E::And(..)
            | E::Or(..)
            | E::Stmt(..) => return None,
            E::FnCall(call, _) => {
                let name = call.name.as_str();
                if FUNCTIONS.contains(&name) || (call.is_operator_call() && OPERATORS.contains(&name)) {
                    return None;
                }
                return Some(format!("`{name}` is not a function expressions may call"));
            }
            E::CharConstant(..) => "character literals",
            E::InterpolatedString(..) => "interpolated strings",
            E::Unit(..) => "`()`",
            E::Coalesce(..) => "`??`",
            E::ThisPtr(..) => "`this`",
            _ => "this construct",
        },
        ASTNode::Stmt(stmt) => match stmt {
            // `if c { a } else { b }`, and the expressions inside its branches.
            Stmt::If(..) | Stmt::Expr(..) | Stmt::Block(..) | Stmt::Noop(..) => return None,
            Stmt::FnCall(..) => return None,
            _ => "statements",
        },
        _ => "this construct",
    };
    Some(format!("{what} cannot be used in expressions"))
}

impl serde::Serialize for Expr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> serde::Deserialize<'de> for Expr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        Expr::parse(&source).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Params {
        let mut p = Params::new();
        p.insert("S", Value::Int(2048));
        p.insert("D", Value::Int(64));
        p.insert("causal", Value::Bool(true));
        p.insert("dtype", Value::from("bf16"));
        p.insert("BLOCK_M", Value::Int(128));
        p
    }

    fn eval(source: &str) -> Result<Value, ExprError> {
        Expr::parse(source)?.eval(&vars())
    }

    #[test]
    fn arithmetic_and_functions() {
        let v = vars();
        assert_eq!(Expr::parse("ceil_div(S, BLOCK_M)").unwrap().eval_i64(&v).unwrap(), 16);
        assert_eq!(Expr::parse("ceil_div(S + 1, BLOCK_M)").unwrap().eval_i64(&v).unwrap(), 17);
        assert_eq!(Expr::parse("min(S, 100) + max(D, 1) % 7").unwrap().eval_i64(&v).unwrap(), 101);
        assert_eq!(Expr::parse("7 / 2").unwrap().eval_i64(&v).unwrap(), 3);
        assert_eq!(Expr::parse("-7 / 2").unwrap().eval_i64(&v).unwrap(), -3);
        let scale = Expr::parse("1.0 / sqrt(D)").unwrap().eval_f64(&v).unwrap();
        assert!((scale - 0.125).abs() < 1e-12);
        assert_eq!(Expr::parse("2 * 1.5").unwrap().eval_f64(&v).unwrap(), 3.0);
        assert_eq!(eval("floor(2.7) + ceil(0.2) + floor(S)"), Ok(Value::Float(2051.0)));
        assert_eq!(eval("to_int(2.9) + to_int(-2.9) + to_int(S)"), Ok(Value::Int(2048)));
        assert_eq!(eval("to_float(D) / 128"), Ok(Value::Float(0.5)));
        assert_eq!(eval("min(1, 2.5) + max(0.5, 2)"), Ok(Value::Float(3.0)));
    }

    #[test]
    fn ceil_div_rounds_up_without_overflow() {
        assert_eq!(eval("ceil_div(0, 3)"), Ok(Value::Int(0)));
        assert_eq!(eval("ceil_div(-7, 2)"), Ok(Value::Int(-3)));
        assert_eq!(eval("ceil_div(9223372036854775807, 2)"), Ok(Value::Int(4_611_686_018_427_387_904)));
        assert_eq!(eval("ceil_div(-9223372036854775807 - 1, 1)"), Ok(Value::Int(i64::MIN)));
        assert!(eval("ceil_div(1, -1)").unwrap_err().message.contains("positive"));
    }

    #[test]
    fn booleans_strings_and_conditionals() {
        let v = vars();
        assert!(Expr::parse("S >= 512 && causal").unwrap().eval_bool(&v).unwrap());
        assert!(Expr::parse(r#"dtype == "bf16" || !causal"#).unwrap().eval_bool(&v).unwrap());
        let flops = Expr::parse("4 * S * S * D / (if causal { 2 } else { 1 })").unwrap();
        assert_eq!(flops.eval_i64(&v).unwrap(), 4 * 2048 * 2048 * 64 / 2);
        assert_eq!(eval(r#"if dtype == "f32" { 1 } else if causal { 2 } else { 3 }"#), Ok(Value::Int(2)));
        assert_eq!(eval(r#"dtype + "_x""#), Ok(Value::from("bf16_x")));
    }

    #[test]
    fn errors_quote_the_expression() {
        let err = Expr::parse("S +* 2").unwrap_err();
        assert!(err.to_string().contains("`S +* 2`"), "{err}");
        assert!(err.message.ends_with(GRAMMAR), "a parse error says what expressions may use: {err}");
        let err = Expr::parse("S * N").unwrap().eval(&vars()).unwrap_err();
        assert!(err.to_string().contains('N'), "{err}");
        let err = Expr::parse("ceil_div(S, 0)").unwrap().eval(&vars()).unwrap_err();
        assert!(err.to_string().contains("by zero"), "{err}");
        let err = Expr::parse("S > 2").unwrap().eval_i64(&vars()).unwrap_err();
        assert!(err.to_string().contains("expected an integer"), "{err}");
    }

    #[test]
    fn statements_are_rejected() {
        for source in [
            "let x = 1; x",
            "loop { }",
            "S = 1",
            "{ 1 }",
            "1; 2",
            "while true { }",
            "for x in S { }",
            "if true { let x = 1; x } else { 0 }",
            "if true { S = 1; 2 } else { 0 }",
            "if true { loop { } } else { 0 }",
            "do { } while true",
            "return 1",
            "throw 1",
            "try { 1 } catch { 2 }",
        ] {
            assert!(Expr::parse(source).is_err(), "{source} parsed");
        }
    }

    /// Parsing fails, naming the expression; `piece` is part of the message.
    fn refused(source: &str, piece: &str) {
        match Expr::parse(source) {
            Ok(_) => panic!("`{source}` was accepted"),
            Err(err) => {
                assert_eq!(err.source_text, source);
                assert!(err.message.contains(piece), "`{source}`: {err}");
            }
        }
    }

    #[test]
    fn forbidden_calls_are_refused_when_parsed() {
        let not_allowed = "is not a function expressions may call";
        refused("sleep(1e9)", "`sleep` is not a function");
        refused("print(S)", not_allowed);
        refused("debug(S)", not_allowed);
        refused(r#"eval("loop {}")"#, not_allowed);
        refused("type_of(S)", not_allowed);
        refused(r#"Fn("min")"#, not_allowed);
        refused("abs(S)", not_allowed);
        refused("timestamp()", not_allowed);
        // Inside a branch that no case may ever take.
        refused("if false { sleep(1) } else { 0 }", "`sleep`");
        refused("min(1, sleep(1))", "`sleep`");
    }

    #[test]
    fn arrays_maps_methods_closures_and_functions_do_not_parse() {
        for source in [
            "[].pad(2000000000, 0)",
            "[1, 2, 3]",
            "#{a: 1}",
            "S.sqrt()",
            "\"x\".pad(2000000000, \"y\")",
            "|x| x + 1",
            "fn f() { 1 } f()",
            "S[0]",
            "2 ** 62",
            "1 << 40",
            "S & 1",
            "0..1000000000",
            "S ?? 1",
            "switch S { 1 => 2, _ => 3 }",
            "import \"x\" as y; 1",
        ] {
            assert!(Expr::parse(source).is_err(), "`{source}` parsed");
        }
    }

    #[test]
    fn other_literals_are_refused() {
        refused("'c'", "character literals");
        refused("`a${S}`", "interpolated strings");
        refused("()", "`()`");
    }

    #[test]
    fn size_and_depth_are_bounded() {
        let long = format!("1{}", " + 1".repeat(MAX_SOURCE_CHARS));
        refused(&long, "characters long");
        let huge_literal = format!("\"{}\"", "x".repeat(10_000_000));
        refused(&huge_literal, "characters long");
        let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
        assert!(Expr::parse(&deep).is_err());
        let deep_calls = format!("{}1{}", "min(1, ".repeat(100), ")".repeat(100));
        assert!(Expr::parse(&deep_calls).is_err());
        let deep_unary = format!("{}true", "!".repeat(900));
        assert!(Expr::parse(&deep_unary).is_err());
        // The deepest nesting of each kind that parses evaluates, on a test thread's 2 MiB stack.
        let kinds = [
            ("(", "1", ")"),
            ("min(1, ", "1", ")"),
            ("-(", "1", ")"),
            ("!", "true", ""),
            ("if true { ", "1", " } else { 0 }"),
            ("1 + ", "1", ""),
            ("2 * (", "1", " + 1)"),
        ];
        for (open, base, close) in kinds {
            let nest = |n: usize| format!("{}{base}{}", open.repeat(n), close.repeat(n));
            let deepest = (1..MAX_DEPTH).take_while(|&n| Expr::parse(&nest(n)).is_ok()).last().unwrap();
            assert!(deepest >= 10, "only {deepest} levels of `{open}`");
            assert!(eval(&nest(deepest)).is_ok());
        }
    }

    #[test]
    fn an_evaluation_past_its_deadline_stops() {
        // Hundreds of operations, so the clock is read at least once.
        let group = format!("(S{})", "+S".repeat(39));
        let source = vec![group; 8].join("+");
        let expr = Expr::parse(&source).unwrap();
        assert_eq!(expr.eval(&vars()), Ok(Value::Int(2048 * 320)));
        let err = expr.eval_until(&vars(), Instant::now()).unwrap_err();
        assert!(err.message.contains("took longer than 100 ms"), "{err}");
    }

    #[test]
    fn strings_cannot_grow_without_bound() {
        let mut p = Params::new();
        p.insert("s", Value::Str("x".repeat(MAX_STRING_BYTES / 2 + 1)));
        let err = Expr::parse("s + s").unwrap().eval(&p).unwrap_err();
        assert!(err.message.to_lowercase().contains("length of string"), "{err}");
        assert!(Expr::parse(r#""x" * 1000000000"#).unwrap().eval(&p).is_err());
    }

    #[test]
    fn integer_overflow_is_an_error() {
        for source in [
            "9223372036854775807 + 1",
            "-9223372036854775807 - 2",
            "S * S * S * S * S * S * S",
            "(-9223372036854775807 - 1) / -1",
            "(-9223372036854775807 - 1) % -1",
            "-(-9223372036854775807 - 1)",
            "S / 0",
            "S % 0",
            "to_int(1e300)",
            "to_int(sqrt(-1.0))",
        ] {
            let err = eval(source).expect_err(source);
            assert_eq!(err.source_text, source);
        }
        assert_eq!(eval("to_int(-9223372036854775808.0)"), Ok(Value::Int(i64::MIN)));
    }

    #[test]
    fn serde_round_trips_the_source_text() {
        let expr = Expr::parse("ceil_div(S, BLOCK_M)").unwrap();
        let json = serde_json::to_string(&expr).unwrap();
        assert_eq!(json, r#""ceil_div(S, BLOCK_M)""#);
        let back: Expr = serde_json::from_str(&json).unwrap();
        assert_eq!(back.source(), expr.source());
        assert_eq!(back.eval_i64(&vars()).unwrap(), 16);
        let err = serde_json::from_str::<Expr>(r#""sleep(1)""#).unwrap_err().to_string();
        assert!(err.contains("`sleep` is not a function"), "{err}");
        assert!(serde_json::from_str::<Expr>("12").is_err());
    }
}
