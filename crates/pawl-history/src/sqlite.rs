//! The SQLite store: one file, no server. WAL mode (set when the file is created), so readers never
//! wait for the writer and writers queue behind each other (each append is one IMMEDIATE transaction; a waiting writer retries for up to
//! a minute).

use std::fs::{self, OpenOptions};
use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::HistoryError;
use crate::location::Location;
use crate::schema;
use crate::sql::{Db, DbError};
use crate::store::Store;

/// How long a writer waits for another to finish before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn open(path: &Path) -> Result<Store<Connection>, HistoryError> {
    let location = Location::Sqlite(path.to_owned());
    let fail = |message: String| HistoryError::Database { location: location.redacted(), message };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)
            .map_err(|e| fail(format!("cannot create the folder {}: {e}", dir.display())))?;
    }
    let mut db = Connection::open(path).map_err(|e| fail(DbError::from(e).0))?;
    let setup = |db: &Connection| -> rusqlite::Result<()> {
        db.busy_timeout(BUSY_TIMEOUT)?;
        db.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")
    };
    setup(&db).map_err(|e| fail(DbError::from(e).0))?;
    if !is_current(&mut db) {
        migrate(&mut db, path).map_err(fail)?;
    }
    Ok(Store { db, location })
}

/// Switches the file to WAL mode, which then persists in it. The switch needs the file to itself, and
/// SQLite answers "busy" at once, without waiting, while another connection has it open: retry for
/// up to the busy timeout.
fn write_ahead_log(db: &Connection) -> rusqlite::Result<()> {
    let start = std::time::Instant::now();
    loop {
        match db.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && start.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

fn is_current(db: &mut Connection) -> bool {
    let mut version = None;
    let read = db.query(schema::APPLIED_VERSION, &[], &mut |row| {
        version = row.opt_real(0)?.map(|v| v as i64);
        Ok(())
    });
    read.is_ok() && version == Some(schema::latest())
}

/// Applies the migrations while holding `<file>-lock`, so that concurrent first opens do not race.
fn migrate(db: &mut Connection, path: &Path) -> Result<(), String> {
    let lock_path = {
        let mut name = path.as_os_str().to_owned();
        name.push("-lock");
        std::path::PathBuf::from(name)
    };
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open the lock file {}: {e}", lock_path.display()))?;
    fs4::FileExt::lock(&lock).map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    let result = write_ahead_log(db)
        .map_err(|e| format!("{} (is it a SQLite database?)", DbError::from(e).0))
        .and_then(|()| {
            schema::runner().run(db).map(|_| ()).map_err(|e| format!("cannot set up the schema: {e}"))
        });
    // Closing the file releases the lock too; say it explicitly.
    let _ = fs4::FileExt::unlock(&lock);
    result
}
