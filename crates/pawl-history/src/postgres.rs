//! The Postgres store, for teams whose runners share one history. Concurrent writers are Postgres'
//! business; the schema is created under an advisory lock so that runners opening a new database at once
//! create it once.

use postgres::{Client, NoTls};

use crate::HistoryError;
use crate::location::Location;
use crate::schema;
use crate::sql::{Db, DbError};
use crate::store::Store;

/// The advisory lock key of pawl's migrations ("pawl" in ASCII).
const MIGRATION_LOCK: i64 = 0x7061_776c;

pub(crate) fn open(url: &str) -> Result<Store<Client>, HistoryError> {
    let location = Location::Postgres(url.to_owned());
    let fail =
        |e: DbError| HistoryError::Database { location: location.redacted(), message: location.scrub(&e.0) };
    let mut db = Client::connect(url, NoTls).map_err(|e| fail(e.into()))?;
    if !is_current(&mut db) {
        migrate(&mut db).map_err(fail)?;
    }
    Ok(Store { db, location })
}

fn is_current(db: &mut Client) -> bool {
    let mut version = None;
    let read = Db::query(db, schema::APPLIED_VERSION, &[], &mut |row| {
        version = row.opt_real(0)?.map(|v| v as i64);
        Ok(())
    });
    read.is_ok() && version == Some(schema::latest())
}

fn migrate(db: &mut Client) -> Result<(), DbError> {
    db.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
    let result =
        schema::runner().run(db).map(|_| ()).map_err(|e| DbError(format!("cannot set up the schema: {e}")));
    db.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
    result
}
