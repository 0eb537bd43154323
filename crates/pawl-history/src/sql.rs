//! The little SQL layer both stores share, so that every query is written once.
//!
//! Statements use Postgres' `$1, $2, …` placeholders; the SQLite side rewrites them to SQLite's own
//! numbered form `?1, ?2, …`. Values cross as [`Value`], rows come back as [`Row`]s of them.

use std::collections::HashMap;
use std::error::Error;

use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// A driver's error, as text: the store adds the (redacted) location.
#[derive(Debug)]
pub(crate) struct DbError(pub String);

impl<E: Error> From<E> for DbError {
    fn from(e: E) -> Self {
        // The driver's own words, with their causes ("db error: ERROR: relation … does not exist").
        let mut text = e.to_string();
        let mut source = e.source();
        while let Some(cause) = source {
            let words = cause.to_string();
            if !text.contains(&words) {
                text = format!("{text}: {words}");
            }
            source = cause.source();
        }
        DbError(text)
    }
}

/// One SQL value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Real(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Bytes(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// One row of a result.
#[derive(Debug)]
pub(crate) struct Row(Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> Result<&Value, DbError> {
        self.0.get(i).ok_or_else(|| DbError(format!("the result has no column {i}")))
    }

    fn mismatch(&self, i: usize, wanted: &str) -> DbError {
        DbError(format!("column {i} holds {:?} where {wanted} was expected", self.0.get(i)))
    }

    pub(crate) fn text(&self, i: usize) -> Result<String, DbError> {
        self.opt_text(i)?.ok_or_else(|| self.mismatch(i, "text"))
    }

    pub(crate) fn opt_text(&self, i: usize) -> Result<Option<String>, DbError> {
        match self.at(i)? {
            Value::Text(v) => Ok(Some(v.clone())),
            Value::Null => Ok(None),
            _ => Err(self.mismatch(i, "text")),
        }
    }

    pub(crate) fn int(&self, i: usize) -> Result<i64, DbError> {
        match self.at(i)? {
            Value::Int(v) => Ok(*v),
            _ => Err(self.mismatch(i, "an integer")),
        }
    }

    /// A float, or `None` for NULL. SQLite may hand back a whole float as an integer.
    pub(crate) fn opt_real(&self, i: usize) -> Result<Option<f64>, DbError> {
        match self.at(i)? {
            Value::Real(v) => Ok(Some(*v)),
            Value::Int(v) => Ok(Some(*v as f64)),
            Value::Null => Ok(None),
            _ => Err(self.mismatch(i, "a number")),
        }
    }

    /// A boolean, or `None` for NULL. SQLite keeps booleans as 0 and 1.
    pub(crate) fn opt_bool(&self, i: usize) -> Result<Option<bool>, DbError> {
        match self.at(i)? {
            Value::Bool(v) => Ok(Some(*v)),
            Value::Int(v) => Ok(Some(*v != 0)),
            Value::Null => Ok(None),
            _ => Err(self.mismatch(i, "a boolean")),
        }
    }

    pub(crate) fn bytes(&self, i: usize) -> Result<Vec<u8>, DbError> {
        match self.at(i)? {
            Value::Bytes(v) => Ok(v.clone()),
            _ => Err(self.mismatch(i, "bytes")),
        }
    }
}

/// Statements inside one write transaction.
pub(crate) trait Exec {
    /// Runs a statement; returns the rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError>;
}

/// A database connection both stores drive alike.
pub(crate) trait Db {
    /// Runs `work` in one write transaction: all of it is kept, or none of it.
    fn write(&mut self, work: &mut dyn FnMut(&mut dyn Exec) -> Result<(), DbError>) -> Result<(), DbError>;

    /// Runs a query and hands each row to `each`, in order.
    fn query(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(Row) -> Result<(), DbError>,
    ) -> Result<(), DbError>;
}

// ---- SQLite ----

/// `$1` → `?1`: SQLite's numbered parameters, so each `$n` binds the n-th value wherever it appears.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Real(v) => ValueRef::Real(*v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Bytes(v) => ValueRef::Blob(v),
            Value::Bool(v) => ValueRef::Integer(i64::from(*v)),
        }))
    }
}

impl Exec for rusqlite::Transaction<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let mut statement = self.prepare_cached(&sqlite_sql(sql))?;
        Ok(statement.execute(rusqlite::params_from_iter(params))? as u64)
    }
}

impl Db for rusqlite::Connection {
    fn write(&mut self, work: &mut dyn FnMut(&mut dyn Exec) -> Result<(), DbError>) -> Result<(), DbError> {
        // IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue (busy_timeout) instead of
        // failing when a read lock cannot be upgraded.
        let mut tx = self.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        work(&mut tx)?;
        tx.commit()?;
        Ok(())
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(Row) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        use rusqlite::types::ValueRef;
        let mut statement = self.prepare_cached(&sqlite_sql(sql))?;
        let columns = statement.column_count();
        let mut rows = statement.query(rusqlite::params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Real(v) => Value::Real(v),
                    ValueRef::Text(v) => Value::Text(String::from_utf8_lossy(v).into_owned()),
                    ValueRef::Blob(v) => Value::Bytes(v.to_vec()),
                });
            }
            each(Row(values))?;
        }
        Ok(())
    }
}

// ---- Postgres ----

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => v.to_sql_checked(ty, out),
            Value::Real(v) => v.to_sql_checked(ty, out),
            Value::Text(v) => v.to_sql_checked(ty, out),
            Value::Bytes(v) => v.to_sql_checked(ty, out),
            Value::Bool(v) => v.to_sql_checked(ty, out),
        }
    }

    /// Every variant checks its own type when written (`to_sql_checked` above).
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn pg_params(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

/// A Postgres transaction with its statements prepared once each.
struct PgTx<'c, 't> {
    tx: &'t mut postgres::Transaction<'c>,
    prepared: HashMap<String, postgres::Statement>,
}

impl Exec for PgTx<'_, '_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let statement = match self.prepared.get(sql) {
            Some(s) => s.clone(),
            None => {
                let s = self.tx.prepare(sql)?;
                self.prepared.insert(sql.to_owned(), s.clone());
                s
            }
        };
        Ok(self.tx.execute(&statement, &pg_params(params))?)
    }
}

impl Db for postgres::Client {
    fn write(&mut self, work: &mut dyn FnMut(&mut dyn Exec) -> Result<(), DbError>) -> Result<(), DbError> {
        let mut tx = self.transaction()?;
        work(&mut PgTx { tx: &mut tx, prepared: HashMap::new() })?;
        tx.commit()?;
        Ok(())
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(Row) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        use postgres::fallible_iterator::FallibleIterator;
        let mut rows = self.query_raw(sql, pg_params(params))?;
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(row.len());
            for (i, column) in row.columns().iter().enumerate() {
                let ty = column.type_();
                let value = if *ty == Type::INT8 {
                    row.try_get::<_, Option<i64>>(i)?.into()
                } else if *ty == Type::INT4 {
                    row.try_get::<_, Option<i32>>(i)?.map(i64::from).into()
                } else if *ty == Type::FLOAT8 {
                    row.try_get::<_, Option<f64>>(i)?.into()
                } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
                    row.try_get::<_, Option<String>>(i)?.into()
                } else if *ty == Type::BYTEA {
                    row.try_get::<_, Option<Vec<u8>>>(i)?.into()
                } else if *ty == Type::BOOL {
                    row.try_get::<_, Option<bool>>(i)?.into()
                } else {
                    return Err(DbError(format!(
                        "column `{}` has the type {ty}, which pawl does not read",
                        column.name()
                    )));
                };
                values.push(value);
            }
            each(Row(values))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_sqlite_numbered_ones() {
        assert_eq!(
            sqlite_sql("SELECT a FROM t WHERE b = $2 AND c = $1 OR d = $2"),
            "SELECT a FROM t WHERE b = ?2 AND c = ?1 OR d = ?2"
        );
    }
}
