//! pawl's history of runs: every run a suite records, kept so that slow slides show.
//!
//! - [`store`]: the [`HistoryStore`] trait and [`open`], on SQLite (a file, the default) or Postgres (a
//!   team's shared database); one schema, one set of migrations, the same queries.
//! - [`samples`]: how raw samples are compressed, so that any comparison can be recomputed later.
//! - [`Location`]: where a history is, with passwords kept out of every message.
//! - [`trend`]: each case's points over time and its change points (found by
//!   `pawl_core::stats::changepoint`), and its figure; [`page`]: the self-contained HTML report.
//!

mod location;
pub mod page;
mod postgres;
mod record;
pub mod samples;
mod schema;
mod sql;
mod sqlite;
pub mod store;
pub mod trend;

pub use location::{HISTORY_ENV, Location, redact_url};
pub use record::{Origin, micros, run_key};
pub use store::{Appended, CasePoint, HistoryStore, PointFilter, RunFilter, RunSummary};
pub use trend::{Change, Trend, trends};

/// Why the history could not be read or written. Messages name the history (password redacted).
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("history {location}: {message}")]
    Location { location: String, message: String },
    #[error("history {location}: {message}")]
    Database { location: String, message: String },
    #[error("history {location}: {message}")]
    Invalid { location: String, message: String },
}

/// Opens (and creates, or brings up to date) the history at `location`.
pub fn open(location: &Location) -> Result<Box<dyn HistoryStore>, HistoryError> {
    Ok(match location {
        Location::Sqlite(path) => Box::new(sqlite::open(path)?),
        Location::Postgres(url) => Box::new(postgres::open(url)?),
    })
}
