//! The history store: one trait, one implementation of it over [`Db`], opened on SQLite or Postgres.

use std::collections::HashMap;

use pawl_core::case::CaseId;
use pawl_core::run::{CaseStatus, GitInfo, Run};
use pawl_core::value::Params;
use serde::Serialize;

use crate::HistoryError;
use crate::location::Location;
use crate::record::{self, INSERT_CASE, INSERT_RUN, INSERT_SAMPLES, Origin};
use crate::sql::{Db, DbError, Row, Value};

/// What [`HistoryStore::append`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Appended {
    /// The run's key ([`record::run_key`]).
    pub key: String,
    /// False when the history already held this very run: nothing was written.
    pub inserted: bool,
    pub cases: usize,
}

/// A run as `pawl history list` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSummary {
    pub key: String,
    pub suite: String,
    pub started_at: String,
    pub origin: String,
    pub git: Option<GitInfo>,
    pub testbed: String,
    pub hostname: String,
    pub pawl_version: String,
    pub cases: usize,
    /// Cases whose status is not `ok`.
    pub not_ok: usize,
}

/// One case of one run: a point of that case's trend.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CasePoint {
    pub run_key: String,
    pub suite: String,
    pub started_at: String,
    /// Microseconds since 1970 (UTC): the order of the points (runs that started in the same second
    /// are in the order they were recorded).
    pub started_us: i64,
    pub origin: String,
    pub git: Option<GitInfo>,
    pub testbed: String,
    pub case_id: CaseId,
    pub bench: String,
    pub params: Params,
    pub status: CaseStatus,
    pub median_ns: Option<f64>,
    pub ci_low_ns: Option<f64>,
    pub ci_high_ns: Option<f64>,
    pub rel_noise: Option<f64>,
    pub samples: usize,
    pub flops: Option<f64>,
    pub bytes: Option<f64>,
    pub sm_clock_mhz: Option<f64>,
    pub throttled_samples: usize,
}

/// Which runs to list, newest first.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    pub suite: Option<String>,
    /// Only runs that started at or after this instant (µs since 1970).
    pub since_us: Option<i64>,
    pub limit: Option<usize>,
}

/// Which case points to read, oldest first within each suite, testbed and case.
#[derive(Clone, Debug, Default)]
pub struct PointFilter {
    pub suite: Option<String>,
    pub case: Option<String>,
}

/// A history of runs. [`crate::open`] gives one on SQLite or Postgres; both keep the same schema and
/// answer the same queries.
pub trait HistoryStore {
    /// Where this history is (redacted when shown).
    fn location(&self) -> &Location;

    /// Records a run with all its cases and samples, in one transaction. A run already recorded (same
    /// [`record::run_key`]) is left as it is.
    fn append(&mut self, run: &Run, origin: Origin) -> Result<Appended, HistoryError>;

    /// Runs, newest first.
    fn runs(&mut self, filter: &RunFilter) -> Result<Vec<RunSummary>, HistoryError>;

    /// Case points ordered by suite, testbed, case id, then time.
    fn points(&mut self, filter: &PointFilter) -> Result<Vec<CasePoint>, HistoryError>;

    /// The run whose key is `key` or starts with it, exactly as recorded, raw samples included.
    fn run(&mut self, key: &str) -> Result<Run, HistoryError>;
}

/// [`HistoryStore`] over any [`Db`]: the SQL is the same for both databases.
pub(crate) struct Store<D> {
    pub(crate) db: D,
    pub(crate) location: Location,
}

impl<D: Db> Store<D> {
    fn error(&self, e: DbError) -> HistoryError {
        HistoryError::Database { location: self.location.redacted(), message: self.location.scrub(&e.0) }
    }

    fn invalid(&self, message: String) -> HistoryError {
        HistoryError::Invalid { location: self.location.redacted(), message }
    }
}

const RUN_COLUMNS: &str = "r.run_key, r.suite, r.started_at, r.origin, r.git_commit, r.git_branch, r.git_dirty, \
    r.testbed, r.hostname, r.pawl_version";

fn git_from(row: &Row, at: usize) -> Result<Option<GitInfo>, DbError> {
    Ok(row.opt_text(at)?.map(|commit| GitInfo {
        commit,
        branch: row.opt_text(at + 1).ok().flatten(),
        dirty: row.opt_bool(at + 2).ok().flatten().unwrap_or(false),
    }))
}

impl<D: Db> HistoryStore for Store<D> {
    fn location(&self) -> &Location {
        &self.location
    }

    fn append(&mut self, run: &Run, origin: Origin) -> Result<Appended, HistoryError> {
        let key = record::run_key(run);
        let started_us = record::micros(&run.timestamp).map_err(|message| self.invalid(message))?;
        let run_row = record::run_values(run, &key, started_us, jiff::Timestamp::now(), origin);
        let cases: Vec<(Vec<Value>, Vec<Value>)> = run
            .cases
            .iter()
            .enumerate()
            .map(|(i, case)| (record::case_values(&key, i, case), record::samples_values(&key, case)))
            .collect();
        let mut inserted = false;
        self.db
            .write(&mut |tx| {
                inserted = tx.execute(INSERT_RUN, &run_row)? == 1;
                if inserted {
                    for (case, samples) in &cases {
                        tx.execute(INSERT_CASE, case)?;
                        tx.execute(INSERT_SAMPLES, samples)?;
                    }
                }
                Ok(())
            })
            .map_err(|e| self.error(e))?;
        Ok(Appended { key, inserted, cases: run.cases.len() })
    }

    fn runs(&mut self, filter: &RunFilter) -> Result<Vec<RunSummary>, HistoryError> {
        let mut conditions = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        if let Some(suite) = &filter.suite {
            params.push(suite.as_str().into());
            conditions.push(format!("r.suite = ${}", params.len()));
        }
        if let Some(since) = filter.since_us {
            params.push(since.into());
            conditions.push(format!("r.started_us >= ${}", params.len()));
        }
        let mut sql = format!(
            "SELECT {RUN_COLUMNS}, COUNT(c.case_id), SUM(CASE WHEN c.status <> 'ok' THEN 1 ELSE 0 END) \
             FROM pawl_runs r LEFT JOIN pawl_cases c ON c.run_key = r.run_key"
        );
        if !conditions.is_empty() {
            sql += &format!(" WHERE {}", conditions.join(" AND "));
        }
        sql += " GROUP BY r.run_key ORDER BY r.started_us DESC, r.recorded_us DESC, r.run_key DESC";
        if let Some(limit) = filter.limit {
            params.push((limit as i64).into());
            sql += &format!(" LIMIT ${}", params.len());
        }
        let mut out = Vec::new();
        self.db
            .query(&sql, &params, &mut |row| {
                out.push(RunSummary {
                    key: row.text(0)?,
                    suite: row.text(1)?,
                    started_at: row.text(2)?,
                    origin: row.text(3)?,
                    git: git_from(&row, 4)?,
                    testbed: row.text(7)?,
                    hostname: row.text(8)?,
                    pawl_version: row.text(9)?,
                    cases: row.int(10)? as usize,
                    not_ok: row.opt_real(11)?.unwrap_or(0.0) as usize,
                });
                Ok(())
            })
            .map_err(|e| self.error(e))?;
        Ok(out)
    }

    fn points(&mut self, filter: &PointFilter) -> Result<Vec<CasePoint>, HistoryError> {
        let mut conditions = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        if let Some(suite) = &filter.suite {
            params.push(suite.as_str().into());
            conditions.push(format!("r.suite = ${}", params.len()));
        }
        if let Some(case) = &filter.case {
            params.push(case.as_str().into());
            conditions.push(format!("c.case_id = ${}", params.len()));
        }
        let mut sql = format!(
            "SELECT {RUN_COLUMNS}, r.started_us, c.case_id, c.bench, c.params, c.status, c.median_ns, \
             c.ci_low_ns, c.ci_high_ns, c.rel_noise, c.sample_count, c.flops, c.bytes, c.sm_clock_mhz, \
             c.throttled_samples FROM pawl_cases c JOIN pawl_runs r ON r.run_key = c.run_key"
        );
        if !conditions.is_empty() {
            sql += &format!(" WHERE {}", conditions.join(" AND "));
        }
        sql += " ORDER BY r.suite, r.testbed, c.case_id, r.started_us, r.recorded_us, r.run_key";
        let mut out = Vec::new();
        // Params repeat for every run of a case: parse each distinct text once.
        let mut params_seen: HashMap<String, Params> = HashMap::new();
        let mut bad: Option<String> = None;
        self.db
            .query(&sql, &params, &mut |row| {
                let params_text = row.text(13)?;
                let params = match params_seen.get(&params_text) {
                    Some(p) => p.clone(),
                    None => {
                        let p: Params = serde_json::from_str(&params_text).map_err(|e| {
                            DbError(format!("stored params `{params_text}` do not read ({e})"))
                        })?;
                        params_seen.insert(params_text, p.clone());
                        p
                    }
                };
                let status_text = row.text(14)?;
                let status = match record::status_from(&status_text) {
                    Ok(s) => s,
                    Err(message) => {
                        bad.get_or_insert(message);
                        return Ok(());
                    }
                };
                out.push(CasePoint {
                    run_key: row.text(0)?,
                    suite: row.text(1)?,
                    started_at: row.text(2)?,
                    origin: row.text(3)?,
                    git: git_from(&row, 4)?,
                    testbed: row.text(7)?,
                    started_us: row.int(10)?,
                    case_id: CaseId::from_raw(row.text(11)?),
                    bench: row.text(12)?,
                    params,
                    status,
                    median_ns: row.opt_real(15)?,
                    ci_low_ns: row.opt_real(16)?,
                    ci_high_ns: row.opt_real(17)?,
                    rel_noise: row.opt_real(18)?,
                    samples: row.int(19)? as usize,
                    flops: row.opt_real(20)?,
                    bytes: row.opt_real(21)?,
                    sm_clock_mhz: row.opt_real(22)?,
                    throttled_samples: row.int(23)? as usize,
                });
                Ok(())
            })
            .map_err(|e| self.error(e))?;
        match bad {
            Some(message) => Err(self.invalid(message)),
            None => Ok(out),
        }
    }

    fn run(&mut self, key: &str) -> Result<Run, HistoryError> {
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(self.invalid(format!(
                "`{key}` is not a run key: keys are hexadecimal (`pawl history list` shows them)"
            )));
        }
        let mut found: Vec<(String, String)> = Vec::new();
        self.db
            .query(
                "SELECT run_key, detail FROM pawl_runs WHERE run_key LIKE $1 ORDER BY run_key LIMIT 2",
                &[format!("{}%", key.to_ascii_lowercase()).into()],
                &mut |row| {
                    found.push((row.text(0)?, row.text(1)?));
                    Ok(())
                },
            )
            .map_err(|e| self.error(e))?;
        let (full_key, detail) = match found.len() {
            0 => return Err(self.invalid(format!("no run has a key starting with `{key}`"))),
            1 => found.remove(0),
            _ => {
                return Err(self.invalid(format!(
                    "several runs have keys starting with `{key}` ({}, {}…): give more of the key",
                    found[0].0, found[1].0
                )));
            }
        };
        let mut run = record::run_from(&detail).map_err(|m| self.invalid(m))?;
        let mut cases = Vec::new();
        self.db
            .query(
                "SELECT c.detail, s.samples FROM pawl_cases c JOIN pawl_samples s \
                 ON s.run_key = c.run_key AND s.case_id = c.case_id WHERE c.run_key = $1 ORDER BY c.position",
                &[full_key.as_str().into()],
                &mut |row| {
                    cases.push((row.text(0)?, row.bytes(1)?));
                    Ok(())
                },
            )
            .map_err(|e| self.error(e))?;
        for (detail, blob) in cases {
            run.cases.push(record::case_from(&detail, &blob).map_err(|m| self.invalid(m))?);
        }
        Ok(run)
    }
}
