//! Reading a spanned TOML tree key by key, with errors that point at a line and column.
//!
//! `toml`'s de-table keeps the byte span of every key and value. [`Table`] hands out [`Field`]s by key
//! and checks that no key outside an allowed list is present; [`Field`]'s typed getters turn a wrong
//! type into a message that quotes the value. Every error goes through [`Source::error`], which turns
//! the span into `line:column`.

use std::fmt::Display;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::SuiteError;
use crate::expr::Expr;
use crate::suite::limits::{Limit, OutOfRange};
use crate::value::Value;

/// The suite text, for turning byte offsets into `line:column`.
#[derive(Debug)]
pub(super) struct Source<'a> {
    path: &'a Path,
    text: &'a str,
    /// Byte offset of the start of every line.
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub(super) fn new(path: &'a Path, text: &'a str) -> Self {
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(at, _)| at + 1)).collect();
        Source { path, text, line_starts }
    }

    /// `(line, column)` of a byte offset, both counted from 1, the column in characters.
    pub(super) fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset).max(1);
        let start = self.line_starts[line - 1];
        let column = self.text.get(start..offset).map_or(1, |before| before.chars().count() + 1);
        (line, column)
    }

    /// An error pointing at the start of `span`.
    pub(super) fn error(&self, span: &Range<usize>, message: impl Into<String>) -> SuiteError {
        let (line, column) = self.line_column(span.start);
        SuiteError::At { path: self.path.to_owned(), line, column, message: message.into() }
    }

    /// The text of a value as written, shortened for a message.
    fn quote(&self, span: &Range<usize>) -> String {
        const MAX: usize = 40;
        let text = self.text.get(span.clone()).unwrap_or_default();
        let text = text.lines().next().unwrap_or_default();
        if text.chars().count() > MAX {
            format!("{}…", text.chars().take(MAX).collect::<String>())
        } else {
            text.to_owned()
        }
    }
}

/// A TOML table being read. `what` names it in messages (`[suite]`, ``bench `flash_fwd` ``).
#[derive(Debug)]
pub(super) struct Table<'a> {
    src: &'a Source<'a>,
    entries: &'a DeTable<'a>,
    /// The table's header (`[suite]`), or the inline table; where errors about the whole table point.
    span: Range<usize>,
    what: String,
}

impl<'a> Table<'a> {
    /// The document itself; its messages have no prefix.
    pub(super) fn root(src: &'a Source<'a>, doc: &'a Spanned<DeTable<'a>>) -> Self {
        Table { src, entries: doc.get_ref(), span: 0..0, what: String::new() }
    }

    pub(super) fn what(&self) -> &str {
        &self.what
    }

    /// The same table under another name (once its `name` key is known).
    pub(super) fn named(self, what: impl Into<String>) -> Self {
        Table { what: what.into(), ..self }
    }

    /// `message`, prefixed with what this table is.
    fn prefixed(&self, message: impl Display) -> String {
        if self.what.is_empty() { message.to_string() } else { format!("{}: {message}", self.what) }
    }

    /// An error about the whole table, pointing at its header.
    pub(super) fn error(&self, message: impl Display) -> SuiteError {
        self.src.error(&self.span, self.prefixed(message))
    }

    /// Fails on the first key not in `allowed`. `misplaced` may explain a key that belongs elsewhere;
    /// otherwise the message suggests the closest allowed key and lists them all.
    pub(super) fn check_keys(
        &self,
        allowed: &[&str],
        misplaced: impl Fn(&str) -> Option<String>,
    ) -> Result<(), SuiteError> {
        for key in self.entries.keys() {
            let name: &str = key.get_ref();
            if allowed.contains(&name) {
                continue;
            }
            let hint = misplaced(name).unwrap_or_else(|| {
                let list = allowed.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
                match closest(name, allowed) {
                    Some(near) => format!("did you mean `{near}`? The keys allowed here are {list}"),
                    None => format!("the keys allowed here are {list}"),
                }
            });
            return Err(self.src.error(&key.span(), self.prefixed(format!("unknown key `{name}`; {hint}"))));
        }
        Ok(())
    }

    /// The entries in the order they are written.
    pub(super) fn fields(&self) -> impl Iterator<Item = Field<'a>> + '_ {
        self.entries.iter().map(|(key, value)| Field {
            src: self.src,
            owner: self.what.clone(),
            key: key.get_ref().to_string(),
            key_span: key.span(),
            value,
        })
    }

    pub(super) fn get(&self, key: &str) -> Option<Field<'a>> {
        let (spanned_key, value) = self.entries.get_key_value(key)?;
        Some(Field {
            src: self.src,
            owner: self.what.clone(),
            key: key.to_owned(),
            key_span: spanned_key.span(),
            value,
        })
    }

    /// A key that must be present; `hint` says what to write.
    pub(super) fn require(&self, key: &str, hint: &str) -> Result<Field<'a>, SuiteError> {
        self.get(key).ok_or_else(|| self.error(format!("`{key}` is missing; {hint}")))
    }
}

/// One value of a table or array, with the key it was found under.
#[derive(Debug)]
pub(super) struct Field<'a> {
    src: &'a Source<'a>,
    /// What holds the key, for messages.
    owner: String,
    /// The key, or `key[i]` for an element of an array.
    key: String,
    key_span: Range<usize>,
    value: &'a Spanned<DeValue<'a>>,
}

impl<'a> Field<'a> {
    pub(super) fn key(&self) -> &str {
        &self.key
    }

    /// What holds the key, as messages name it.
    pub(super) fn owner(&self) -> &str {
        &self.owner
    }

    pub(super) fn span(&self) -> Range<usize> {
        self.value.span()
    }

    /// The value as written, for messages.
    pub(super) fn quoted(&self) -> String {
        self.src.quote(&self.value.span())
    }

    /// An error pointing at the value: "{owner}: `{key}` {message}".
    pub(super) fn error(&self, message: impl Display) -> SuiteError {
        self.at(&self.value.span(), format!("`{}` {message}", self.key))
    }

    /// An error pointing at the key: "{owner}: {message}".
    pub(super) fn key_error(&self, message: impl Display) -> SuiteError {
        self.at(&self.key_span, message)
    }

    /// An error pointing at `span`, prefixed with the owner only.
    pub(super) fn at(&self, span: &Range<usize>, message: impl Display) -> SuiteError {
        let message =
            if self.owner.is_empty() { message.to_string() } else { format!("{}: {message}", self.owner) };
        self.src.error(span, message)
    }

    /// "must be {expected}, not `value` (a string)".
    pub(super) fn wrong_type(&self, expected: &str) -> SuiteError {
        self.error(format!(
            "must be {expected}, not `{}` ({})",
            self.quoted(),
            type_phrase(self.value.get_ref())
        ))
    }

    pub(super) fn str(&self) -> Result<&'a str, SuiteError> {
        match self.value.get_ref() {
            DeValue::String(s) => Ok(s),
            _ => Err(self.wrong_type("a string")),
        }
    }

    /// A string that is not empty.
    pub(super) fn non_empty_str(&self) -> Result<&'a str, SuiteError> {
        let s = self.str()?;
        if s.trim().is_empty() {
            return Err(self.error("must not be empty"));
        }
        Ok(s)
    }

    pub(super) fn bool(&self) -> Result<bool, SuiteError> {
        self.value.get_ref().as_bool().ok_or_else(|| self.wrong_type("true or false"))
    }

    pub(super) fn int(&self) -> Result<i64, SuiteError> {
        match self.value.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .map_err(|_| self.error(format!("`{}` is too large", self.quoted()))),
            _ => Err(self.wrong_type("an integer")),
        }
    }

    /// A finite number; integers are accepted.
    pub(super) fn f64(&self) -> Result<f64, SuiteError> {
        let x = match self.value.get_ref() {
            DeValue::Integer(_) => self.int()? as f64,
            DeValue::Float(f) => f.as_str().parse::<f64>().map_err(|_| self.wrong_type("a number"))?,
            _ => return Err(self.wrong_type("a number")),
        };
        if !x.is_finite() {
            return Err(self.error(format!("must be a finite number, not `{}`", self.quoted())));
        }
        Ok(x)
    }

    /// A number within `limit`.
    pub(super) fn f64_in(&self, limit: &Limit) -> Result<f64, SuiteError> {
        limit.check(self.f64()?).map_err(|e| self.out_of_range(e))
    }

    /// `error` pointing at this value, which it quotes as written.
    pub(super) fn out_of_range(&self, error: OutOfRange) -> SuiteError {
        self.at(&self.value.span(), OutOfRange { name: self.key.clone(), value: self.quoted(), ..error })
    }

    pub(super) fn array(&self) -> Result<Vec<Field<'a>>, SuiteError> {
        match self.value.get_ref() {
            DeValue::Array(items) => Ok(self.elements(items)),
            _ => Err(self.wrong_type("an array")),
        }
    }

    /// An array, or a lone value taken as an array of one.
    pub(super) fn one_or_many(&self) -> Vec<Field<'a>> {
        match self.value.get_ref() {
            DeValue::Array(items) => self.elements(items),
            _ => vec![self.clone_field()],
        }
    }

    fn elements(&self, items: &'a [Spanned<DeValue<'a>>]) -> Vec<Field<'a>> {
        items
            .iter()
            .enumerate()
            .map(|(i, value)| Field {
                src: self.src,
                owner: self.owner.clone(),
                key: format!("{}[{i}]", self.key),
                key_span: value.span(),
                value,
            })
            .collect()
    }

    fn clone_field(&self) -> Field<'a> {
        Field {
            src: self.src,
            owner: self.owner.clone(),
            key: self.key.clone(),
            key_span: self.key_span.clone(),
            value: self.value,
        }
    }

    pub(super) fn is_table(&self) -> bool {
        self.value.get_ref().is_table()
    }

    /// The value as a table named `what` in messages.
    pub(super) fn table(&self, what: impl Into<String>) -> Result<Table<'a>, SuiteError> {
        match self.value.get_ref() {
            DeValue::Table(entries) => {
                Ok(Table { src: self.src, entries, span: self.value.span(), what: what.into() })
            }
            _ => Err(self.wrong_type("a table")),
        }
    }

    /// An integer, float, boolean or string.
    pub(super) fn scalar(&self) -> Result<Value, SuiteError> {
        const EXPECTED: &str = "an integer, a float, a boolean or a string";
        match self.value.get_ref() {
            DeValue::String(s) => Ok(Value::Str(s.to_string())),
            DeValue::Integer(_) => Ok(Value::Int(self.int()?)),
            DeValue::Float(_) => Ok(Value::Float(self.f64()?)),
            DeValue::Boolean(b) => Ok(Value::Bool(*b)),
            DeValue::Datetime(_) | DeValue::Array(_) | DeValue::Table(_) => Err(self.wrong_type(EXPECTED)),
        }
    }

    /// An expression: a string holding one, or a number or boolean written as it is.
    pub(super) fn expr(&self) -> Result<Expr, SuiteError> {
        let source = match self.value.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Integer(_) => self.int()?.to_string(),
            // Debug formatting always writes a float literal (`3.0`, `1e-5`) that rhai reads back.
            DeValue::Float(_) => format!("{:?}", self.f64()?),
            DeValue::Boolean(b) => b.to_string(),
            DeValue::Datetime(_) | DeValue::Array(_) | DeValue::Table(_) => {
                return Err(self.wrong_type("a number or an expression in quotes"));
            }
        };
        if source.trim().is_empty() {
            return Err(self.error("is an empty expression; write a number or an expression"));
        }
        Expr::parse(&source)
            .map_err(|e| self.error(format!("is not a valid expression: `{}`: {}", e.source_text, e.message)))
    }
}

fn type_phrase(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The allowed key nearest to a misspelt one, if any is near enough to be what was meant.
pub(super) fn closest<'k>(key: &str, allowed: &[&'k str]) -> Option<&'k str> {
    let key_lower = key.to_ascii_lowercase().replace('-', "_");
    let (best, distance) = allowed
        .iter()
        .map(|candidate| (*candidate, edit_distance(&key_lower, candidate)))
        .min_by_key(|(_, distance)| *distance)?;
    let near = distance <= (key.chars().count() / 3).max(1);
    // `timeout` for `timeout_s`, `warmup` for `warmup_ms`: a missing unit suffix.
    let prefix = key_lower.len() >= 3 && allowed.iter().any(|c| c.starts_with(key_lower.as_str()));
    if near {
        Some(best)
    } else if prefix {
        allowed.iter().find(|c| c.starts_with(key_lower.as_str())).copied()
    } else {
        None
    }
}

/// Levenshtein distance (insertions, deletions and substitutions each cost 1), over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters_from_one() {
        let path = Path::new("pawl.toml");
        let src = Source::new(path, "ab\nµx = 1\n\nlast");
        assert_eq!(src.line_column(0), (1, 1));
        assert_eq!(src.line_column(2), (1, 3));
        assert_eq!(src.line_column(3), (2, 1));
        // `µ` is two bytes, one character.
        assert_eq!(src.line_column(5), (2, 2));
        assert_eq!(src.line_column(11), (3, 1));
        assert_eq!(src.line_column(12), (4, 1));
        assert_eq!(src.line_column(999), (4, 5));
    }

    #[test]
    fn closest_suggests_near_misses_only() {
        let keys = ["name", "kernel", "timeout_s", "include_dirs", "bench"];
        assert_eq!(closest("kernal", &keys), Some("kernel"));
        assert_eq!(closest("include-dirs", &keys), Some("include_dirs"));
        assert_eq!(closest("timeout", &keys), Some("timeout_s"));
        assert_eq!(closest("benches", &keys), Some("bench"));
        assert_eq!(closest("Name", &keys), Some("name"));
        assert_eq!(closest("colour", &keys), None);
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
