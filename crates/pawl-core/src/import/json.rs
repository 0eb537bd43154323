//! Walking another tool's JSON with the path to every value, so that an error names the very field that
//! is wrong (`benchmarks[3].real_time`), quoting what it found.

use serde_json::Value;

use crate::value::Value as ParamValue;

/// What is wrong at one place of a file: the JSON path and the problem, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) path: String,
    pub(crate) problem: String,
}

pub(crate) type Field<T> = Result<T, FieldError>;

/// A JSON value and the path that leads to it.
#[derive(Clone, Debug)]
pub(crate) struct Node<'a> {
    value: &'a Value,
    path: String,
}

impl<'a> Node<'a> {
    pub(crate) fn root(value: &'a Value) -> Node<'a> {
        Node { value, path: String::new() }
    }

    pub(crate) fn value(&self) -> &'a Value {
        self.value
    }

    pub(crate) fn path(&self) -> &str {
        if self.path.is_empty() { "(the top level)" } else { &self.path }
    }

    /// An error about this value.
    pub(crate) fn error(&self, problem: impl Into<String>) -> FieldError {
        FieldError { path: self.path().to_owned(), problem: problem.into() }
    }

    fn child(&self, value: &'a Value, step: &str) -> Node<'a> {
        let path = if self.path.is_empty() {
            step.trim_start_matches('.').to_owned()
        } else {
            format!("{}{step}", self.path)
        };
        Node { value, path }
    }

    /// The member `key`, when present and not null.
    pub(crate) fn get(&self, key: &str) -> Option<Node<'a>> {
        let value = self.value.as_object()?.get(key).filter(|v| !v.is_null())?;
        Some(self.child(value, &key_step(key)))
    }

    /// The member `key`, which must be present and not null.
    pub(crate) fn field(&self, key: &str) -> Field<Node<'a>> {
        if !self.value.is_object() {
            return Err(self.error(format!("expected an object, found {}", quote(self.value))));
        }
        self.get(key).ok_or_else(|| {
            let missing = self.child(&Value::Null, &key_step(key));
            missing.error("missing")
        })
    }

    pub(crate) fn array(&self) -> Field<Vec<Node<'a>>> {
        let items = self
            .value
            .as_array()
            .ok_or_else(|| self.error(format!("expected an array, found {}", quote(self.value))))?;
        Ok(items.iter().enumerate().map(|(i, v)| self.child(v, &format!("[{i}]"))).collect())
    }

    /// The members of an object, in the file's order where serde_json keeps it (sorted otherwise).
    pub(crate) fn members(&self) -> Field<Vec<(&'a str, Node<'a>)>> {
        let map = self
            .value
            .as_object()
            .ok_or_else(|| self.error(format!("expected an object, found {}", quote(self.value))))?;
        Ok(map.iter().map(|(k, v)| (k.as_str(), self.child(v, &key_step(k)))).collect())
    }

    pub(crate) fn str(&self) -> Field<&'a str> {
        self.value
            .as_str()
            .ok_or_else(|| self.error(format!("expected a string, found {}", quote(self.value))))
    }

    pub(crate) fn bool(&self) -> Field<bool> {
        self.value
            .as_bool()
            .ok_or_else(|| self.error(format!("expected true or false, found {}", quote(self.value))))
    }

    pub(crate) fn f64(&self) -> Field<f64> {
        self.value
            .as_f64()
            .ok_or_else(|| self.error(format!("expected a number, found {}", quote(self.value))))
    }

    /// A time of `ns_per_unit` nanoseconds a unit, in nanoseconds: above zero and finite once scaled.
    pub(crate) fn time_ns(&self, ns_per_unit: f64) -> Field<f64> {
        self.nanoseconds(self.f64()?, ns_per_unit, false)
    }

    /// A spread (a standard deviation), as [`Node::time_ns`] but zero allowed.
    pub(crate) fn spread_ns(&self, ns_per_unit: f64) -> Field<f64> {
        self.nanoseconds(self.f64()?, ns_per_unit, true)
    }

    /// `x` units of `ns_per_unit` nanoseconds, checked to be a time (or a spread) at this node.
    pub(crate) fn nanoseconds(&self, x: f64, ns_per_unit: f64, spread: bool) -> Field<f64> {
        let ns = x * ns_per_unit;
        if !ns.is_finite() {
            Err(self.error(format!("{x} is too large to be a time")))
        } else if spread && ns < 0.0 {
            Err(self.error(format!("{x} is not a spread: it must be zero or more")))
        } else if !spread && ns <= 0.0 {
            Err(self.error(format!("{x} is not a time: times must be positive")))
        } else {
            Ok(ns)
        }
    }

    pub(crate) fn u64(&self) -> Field<u64> {
        self.value
            .as_u64()
            .ok_or_else(|| self.error(format!("expected a whole number ≥ 0, found {}", quote(self.value))))
    }

    /// A scalar as a parameter value; arrays and objects become their compact JSON text.
    pub(crate) fn param(&self) -> ParamValue {
        match self.value {
            Value::Bool(b) => ParamValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => ParamValue::Int(i),
                None => ParamValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => ParamValue::Str(s.clone()),
            Value::Null => ParamValue::Str("null".to_owned()),
            other => ParamValue::Str(other.to_string()),
        }
    }
}

/// `.name` for plain keys, `["odd key"]` for the rest (escaped, so a key cannot forge a message).
fn key_step(key: &str) -> String {
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain { format!(".{key}") } else { format!("[{}]", Value::from(key)) }
}

/// A value as it reads in a message: JSON text, escaped, cut to 60 characters.
pub(crate) fn quote(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 { format!("{}…", text.chars().take(59).collect::<String>()) } else { text }
}

/// A string from a file, quoted and escaped for a message, cut to 60 characters.
pub(crate) fn quote_str(text: &str) -> String {
    quote(&Value::from(text))
}

/// Python's `json` module writes `NaN`, `Infinity` and `-Infinity`, which JSON does not have; Kernel
/// Tuner and pytest-benchmark files can hold them. Outside strings they become `null`, which the
/// importers then treat as a missing value (and name, where a value is needed).
pub(crate) fn python_literals_to_null(text: &str) -> std::borrow::Cow<'_, str> {
    const LITERALS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];
    if !LITERALS.iter().any(|l| text.contains(l)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(literal) = LITERALS.iter().find(|l| rest.starts_with(**l)) {
            out.push_str("null");
            rest = &rest[literal.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_field() {
        let value: Value =
            serde_json::from_str(r#"{"benchmarks": [{"real_time": 1}, {"real_time": "x"}], "a b": {}}"#)
                .unwrap();
        let root = Node::root(&value);
        let second = &root.field("benchmarks").unwrap().array().unwrap()[1];
        let err = second.field("real_time").unwrap().f64().unwrap_err();
        assert_eq!(err.path, "benchmarks[1].real_time");
        assert_eq!(err.problem, r#"expected a number, found "x""#);
        assert_eq!(second.field("cpu_time").unwrap_err().path, "benchmarks[1].cpu_time");
        assert_eq!(root.field("a b").unwrap().field("c").unwrap_err().path, r#"["a b"].c"#);
        assert_eq!(root.field("x").unwrap_err().path, "x");
    }

    #[test]
    fn python_literals_outside_strings_become_null() {
        let text = r#"{"a": NaN, "b": [Infinity, -Infinity], "c": "NaN and Infinity \" NaN"}"#;
        let fixed = python_literals_to_null(text);
        let value: Value = serde_json::from_str(&fixed).unwrap();
        assert!(value["a"].is_null() && value["b"][0].is_null() && value["b"][1].is_null());
        assert_eq!(value["c"], r#"NaN and Infinity " NaN"#);
    }

    #[test]
    fn quotes_are_short_and_escaped() {
        assert_eq!(quote_str("a\u{1b}[31m"), r#""a\u001b[31m""#);
        assert_eq!(quote(&Value::from("x".repeat(100))).chars().count(), 60);
    }
}
