//! The schema, as refinery migrations embedded from `migrations/`: one set of SQL files both databases
//! run. refinery takes no lock of its own, so each store runs it under its database's lock (a lock file
//! beside a SQLite database, an advisory lock in Postgres): several pawl processes opening a new history
//! at once create it once.

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The table where refinery records the migrations applied.
pub(crate) const HISTORY_TABLE: &str = "pawl_schema_history";

/// The runner of every migration, with pawl's table name.
pub(crate) fn runner() -> refinery::Runner {
    let mut runner = embedded::migrations::runner();
    runner.set_migration_table_name(HISTORY_TABLE);
    runner
}

/// The newest schema version this pawl knows.
pub(crate) fn latest() -> i64 {
    runner().get_migrations().iter().map(|m| i64::from(m.version())).max().unwrap_or(0)
}

/// The query of the newest version applied (an error when the table does not exist yet).
pub(crate) const APPLIED_VERSION: &str = "SELECT MAX(version) FROM pawl_schema_history";
