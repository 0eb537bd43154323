//! Expressions in suite files (`grid`, `flops`, `where`, …), evaluated with the `rhai` crate.
//!
//! Only expressions are accepted (no statements, loops or assignments): integers, floats, booleans and
//! strings; `+ - * / %`, comparisons, `&& || !`, `if c { a } else { b }`, and the functions `min`,
//! `max`, `ceil_div`, `sqrt`, `floor`, `ceil`, `to_int`, `to_float`. Integer division truncates, as in C.
//! Variables are the case's params and tune values.

use std::sync::OnceLock;

use rhai::{Dynamic, Engine, INT, Scope};

use crate::value::{Params, Value};

/// A parsed expression, kept with its source text for messages.
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

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut engine = Engine::new();
        engine.set_max_expr_depths(64, 64);
        engine.set_max_operations(100_000);
        engine.set_max_string_size(4096);
        engine.register_fn("ceil_div", |a: INT, b: INT| -> Result<INT, Box<rhai::EvalAltResult>> {
            if b == 0 {
                return Err("ceil_div by zero".into());
            }
            Ok((a + b - 1).div_euclid(b))
        });
        engine.register_fn("min", |a: INT, b: INT| a.min(b));
        engine.register_fn("max", |a: INT, b: INT| a.max(b));
        engine.register_fn("min", |a: f64, b: f64| a.min(b));
        engine.register_fn("max", |a: f64, b: f64| a.max(b));
        engine.register_fn("min", |a: INT, b: f64| (a as f64).min(b));
        engine.register_fn("max", |a: INT, b: f64| (a as f64).max(b));
        engine.register_fn("min", |a: f64, b: INT| a.min(b as f64));
        engine.register_fn("max", |a: f64, b: INT| a.max(b as f64));
        engine.register_fn("sqrt", |a: INT| (a as f64).sqrt());
        engine
    })
}

/// Serialized as its source text, so a suite's benches travel to a worker process as they were written;
/// reading it back parses it again, and a bad expression is a deserialization error.
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

impl Expr {
    /// Parses an expression. Syntax errors name the position inside the expression.
    pub fn parse(source: &str) -> Result<Expr, ExprError> {
        let ast = engine()
            .compile_expression(source)
            .map_err(|e| ExprError { source_text: source.to_owned(), message: e.to_string() })?;
        Ok(Expr { source: source.to_owned(), ast })
    }

    /// The expression as written in the suite file.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the expression with `vars` as its variables.
    pub fn eval(&self, vars: &Params) -> Result<Value, ExprError> {
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
        let result: Dynamic =
            engine().eval_ast_with_scope(&mut scope, &self.ast).map_err(|e| self.error(e.to_string()))?;
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

    #[test]
    fn arithmetic_and_functions() {
        let v = vars();
        assert_eq!(Expr::parse("ceil_div(S, BLOCK_M)").unwrap().eval_i64(&v).unwrap(), 16);
        assert_eq!(Expr::parse("ceil_div(S + 1, BLOCK_M)").unwrap().eval_i64(&v).unwrap(), 17);
        assert_eq!(Expr::parse("min(S, 100) + max(D, 1) % 7").unwrap().eval_i64(&v).unwrap(), 101);
        assert_eq!(Expr::parse("7 / 2").unwrap().eval_i64(&v).unwrap(), 3);
        let scale = Expr::parse("1.0 / sqrt(D)").unwrap().eval_f64(&v).unwrap();
        assert!((scale - 0.125).abs() < 1e-12);
        assert_eq!(Expr::parse("2 * 1.5").unwrap().eval_f64(&v).unwrap(), 3.0);
    }

    #[test]
    fn booleans_strings_and_conditionals() {
        let v = vars();
        assert!(Expr::parse("S >= 512 && causal").unwrap().eval_bool(&v).unwrap());
        assert!(Expr::parse(r#"dtype == "bf16" || !causal"#).unwrap().eval_bool(&v).unwrap());
        let flops = Expr::parse("4 * S * S * D / (if causal { 2 } else { 1 })").unwrap();
        assert_eq!(flops.eval_i64(&v).unwrap(), 4 * 2048 * 2048 * 64 / 2);
    }

    #[test]
    fn errors_quote_the_expression() {
        let err = Expr::parse("S +* 2").unwrap_err();
        assert!(err.to_string().contains("`S +* 2`"), "{err}");
        let err = Expr::parse("S * N").unwrap().eval(&vars()).unwrap_err();
        assert!(err.to_string().contains('N'), "{err}");
        let err = Expr::parse("ceil_div(S, 0)").unwrap().eval(&vars()).unwrap_err();
        assert!(err.to_string().contains("by zero"), "{err}");
        let err = Expr::parse("S > 2").unwrap().eval_i64(&vars()).unwrap_err();
        assert!(err.to_string().contains("expected an integer"), "{err}");
    }

    #[test]
    fn serializes_as_its_source_text() {
        let expr = Expr::parse("ceil_div(S, BLOCK_M)").unwrap();
        let json = serde_json::to_string(&expr).unwrap();
        assert_eq!(json, r#""ceil_div(S, BLOCK_M)""#);
        let back: Expr = serde_json::from_str(&json).unwrap();
        assert_eq!(back.eval_i64(&vars()).unwrap(), 16);
        let err = serde_json::from_str::<Expr>(r#""S +* 2""#).unwrap_err().to_string();
        assert!(err.contains("S +* 2"), "{err}");
    }

    #[test]
    fn statements_are_rejected() {
        assert!(Expr::parse("let x = 1; x").is_err());
        assert!(Expr::parse("loop { }").is_err());
    }
}
