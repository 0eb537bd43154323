//! Reading and writing pawl's files: schema checks on read, atomic byte-stable writes, and the lock
//! that lets one process at a time read, change and write a file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Errors reading or writing a pawl file. Every message names the file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{}: {message}", path.display())]
    Schema { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "will not write {}: it has {links} hard links, and an atomic write would give this name a new \
         file while the other names keep the old content; replace the hard links with a symbolic link \
         (pawl follows those) or a copy",
        path.display()
    )]
    HardLinked { path: PathBuf, links: u64 },
    #[error("cannot lock {} for an update: {source}", path.display())]
    Lock { path: PathBuf, source: io::Error },
}

/// The text of a file, with the path in the error.
pub fn read_text(path: &Path) -> Result<String, FileError> {
    fs::read_to_string(path).map_err(|source| FileError::Read { path: path.to_owned(), source })
}

/// Reads a JSON file whose `schema` field must have the same kind and major version as `expected`.
pub fn read_versioned<T: DeserializeOwned>(path: &Path, expected: &str) -> Result<T, FileError> {
    parse_versioned(&read_text(path)?, path, expected)
}

/// Parses the JSON text of a file whose `schema` field must have the same kind and major version as
/// `expected` (`"pawl-run/1"`); unknown extra fields are ignored. `path` is used in messages.
pub fn parse_versioned<T: DeserializeOwned>(text: &str, path: &Path, expected: &str) -> Result<T, FileError> {
    #[derive(serde::Deserialize)]
    struct Header {
        schema: Option<serde_json::Value>,
    }
    let header: Header = serde_json::from_str(text).map_err(|e| parse_error(path, &e))?;
    check_schema(path, header.schema.as_ref(), expected)?;
    serde_json::from_str(text).map_err(|e| parse_error(path, &e))
}

fn parse_error(path: &Path, e: &serde_json::Error) -> FileError {
    let message = e.to_string();
    // serde_json appends " at line L column C"; the position is already in the prefix.
    let message = match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    };
    let message = if e.is_syntax() || e.is_eof() { format!("not valid JSON: {message}") } else { message };
    FileError::Parse { path: path.to_owned(), line: e.line(), column: e.column(), message }
}

fn check_schema(path: &Path, found: Option<&serde_json::Value>, expected: &str) -> Result<(), FileError> {
    let (kind, major) = expected.split_once('/').expect("schema tags read `kind/major`");
    let schema_error = |message: String| FileError::Schema { path: path.to_owned(), message };
    let Some(found) = found else {
        return Err(schema_error(format!(
            "no `schema` field; this is not a {kind} file (expected `\"schema\": \"{expected}\"`)"
        )));
    };
    let Some(found) = found.as_str() else {
        return Err(schema_error(format!("`schema` must be a string such as \"{expected}\", found {found}")));
    };
    let (found_kind, found_major) = found.split_once('/').unwrap_or((found, ""));
    if found_kind != kind {
        return Err(schema_error(format!(
            "this is a {found_kind} file (schema \"{found}\"), expected a {kind} file"
        )));
    }
    if found_major.split('.').next() != Some(major) {
        return Err(schema_error(format!(
            "schema \"{found}\" is a version this pawl does not read (it reads \"{expected}\"); \
             use the pawl version that wrote the file, or re-create it"
        )));
    }
    Ok(())
}

/// Serializes `value` as pretty JSON with a trailing newline. Output is byte-stable for equal values:
/// struct fields in declaration order, maps as their (sorted) `BTreeMap` order, floats in shortest
/// round-trip form.
pub fn to_json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("pawl's file types always serialize");
    bytes.push(b'\n');
    bytes
}

/// Suffix of the temporary files atomic writes create beside their target.
const TEMP_SUFFIX: &str = ".pawl-tmp";

/// A temporary left unlocked this long belongs to a writer that died (its writer locks it within
/// microseconds of creating it, and the lock dies with the process).
const STALE_AFTER: Duration = Duration::from_secs(5);

/// Symbolic links followed before giving up, as the kernel does (`ELOOP`).
const MAX_SYMLINKS: usize = 40;

/// Writes JSON atomically (see [`write_atomic`]).
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), FileError> {
    write_atomic(path, &to_json_bytes(value))
}

/// Writes bytes atomically: to a temporary file beside the target, fsync, rename over the target. A
/// crash leaves either the old file or the new one, never half of either. The one way pawl writes
/// its files.
///
/// - A symbolic link is followed to the file it names, and the temporary goes beside that file; the
///   link stays a link.
/// - The file's permissions are kept; a new file gets the usual ones (0666 less the umask).
/// - A FIFO or a device (`/dev/stdout`) is written into, since replacing it would destroy it.
/// - A file with several hard links is refused ([`FileError::HardLinked`]): the rename would give
///   this name a new file and leave the other names on the old content.
/// - Temporaries a killed writer left beside the target are removed ([`STALE_AFTER`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let write_error = |source| FileError::Write { path: path.to_owned(), source };
    let target = follow_symlinks(path).map_err(write_error)?;
    let existing = match fs::metadata(&target) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(write_error(e)),
    };
    if let Some(meta) = &existing {
        if meta.is_dir() {
            return Err(write_error(io::Error::other("it is a folder")));
        }
        if !meta.is_file() {
            return write_into(&target, bytes).map_err(write_error);
        }
        let links = hard_links(meta);
        if links > 1 {
            return Err(FileError::HardLinked { path: path.to_owned(), links });
        }
    }
    let (dir, name) = dir_and_name(&target).map_err(write_error)?;
    remove_stale_temporaries(dir, name);
    replace(dir, name, &target, existing.as_ref(), bytes).map_err(write_error)
}

/// Writes `bytes` to a new temporary file in `dir` and renames it over `target`.
fn replace(
    dir: &Path,
    name: &str,
    target: &Path,
    existing: Option<&fs::Metadata>,
    bytes: &[u8],
) -> io::Result<()> {
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(TEMP_SUFFIX);
    #[cfg(unix)]
    {
        // A temporary file is created 0600; the file it becomes gets the usual 0666 less the umask.
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    let mut temp = builder.tempfile_in(dir)?;
    // The lock tells other writers' clean-up that this temporary is live. A file system without
    // locks only loses that clean-up, so a failure to lock is not one to write.
    let _ = fs4::FileExt::lock(temp.as_file());
    temp.write_all(bytes)?;
    if let Some(existing) = existing {
        temp.as_file().set_permissions(existing.permissions())?;
    }
    temp.as_file().sync_all()?;
    temp.persist(target).map_err(|e| e.error)?;
    // Make the rename itself durable; not every platform can open a folder, so this is best effort.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Writes into a file that is not a regular one (a FIFO, a device) in place.
fn write_into(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::options().write(true).open(path)?;
    file.write_all(bytes)?;
    file.flush()
}

/// `path` with every symbolic link followed, to the file that would be written (which may not exist
/// yet: a dangling link names the file to create).
fn follow_symlinks(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_owned();
    for _ in 0..MAX_SYMLINKS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!("more than {MAX_SYMLINKS} symbolic links to follow")))
}

/// The folder a file lives in (`.` for a bare name) and its name.
fn dir_and_name(path: &Path) -> io::Result<(&Path, &str)> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().and_then(|n| n.to_str());
    let name = name.ok_or_else(|| io::Error::other("not a file path with a UTF-8 file name"))?;
    Ok((dir, name))
}

#[cfg(unix)]
fn hard_links(meta: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::nlink(meta)
}

#[cfg(not(unix))]
fn hard_links(_: &fs::Metadata) -> u64 {
    1
}

/// Removes the temporaries of `name` in `dir` that a writer killed mid-write left behind: unlocked
/// (their writer's lock died with it) and older than [`STALE_AFTER`]. Best effort: a temporary that
/// cannot be judged or removed stays.
fn remove_stale_temporaries(dir: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(middle) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(TEMP_SUFFIX))
        else {
            continue;
        };
        // Only this file's temporaries (`.base.json.x.RAND.pawl-tmp` is `base.json.x`'s).
        if middle.is_empty() || !middle.chars().all(|c| c.is_ascii_alphanumeric()) {
            continue;
        }
        let old = entry
            .metadata()
            .ok()
            .filter(fs::Metadata::is_file)
            .and_then(|meta| meta.modified().ok())
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age >= STALE_AFTER);
        if !old {
            continue;
        }
        let Ok(file) = File::open(entry.path()) else { continue };
        if fs4::FileExt::try_lock(&file).is_ok() {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// An exclusive advisory lock held while one process reads, changes and writes a file, so that
/// concurrent updaters (two `pawl ratchet --update` on one baseline) take turns instead of losing
/// each other's changes. Released when dropped, or when the process dies.
///
/// The lock is on `FILE.lock` beside the file (after following symbolic links, so every name of the
/// file shares one lock), never on the file itself: atomic writes replace the file, and a lock on the
/// replaced one would no longer exclude anybody. The lock file is left in place; removing it would
/// let two processes lock two different files of the same name.
#[derive(Debug)]
pub struct UpdateLock {
    _file: File,
    path: PathBuf,
}

impl UpdateLock {
    /// Locks `path` for an update, waiting for the holder if there is one; `waiting` is called
    /// first in that case (so the caller can say why it stands still).
    pub fn acquire(path: &Path, waiting: impl FnOnce(&Path)) -> Result<UpdateLock, FileError> {
        let target =
            follow_symlinks(path).map_err(|source| FileError::Write { path: path.to_owned(), source })?;
        let mut name = target.file_name().unwrap_or_default().to_owned();
        name.push(".lock");
        let lock_path = target.with_file_name(name);
        let lock_error = |source| FileError::Lock { path: lock_path.clone(), source };
        let file =
            File::options().create(true).truncate(false).write(true).open(&lock_path).map_err(lock_error)?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                waiting(&lock_path);
                fs4::FileExt::lock(&file).map_err(lock_error)?;
            }
            Err(fs4::TryLockError::Error(e)) => return Err(lock_error(e)),
        }
        Ok(UpdateLock { _file: file, path: lock_path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Doc {
        schema: String,
        value: f64,
    }

    fn read(text: &str) -> Result<Doc, FileError> {
        parse_versioned(text, Path::new("x.json"), "pawl-run/1")
    }

    #[test]
    fn accepts_same_major_and_ignores_unknown_fields() {
        let doc = read(r#"{"schema": "pawl-run/1", "value": 1.5, "later": true}"#).unwrap();
        assert_eq!(doc.value, 1.5);
    }

    #[test]
    fn rejects_unknown_major_kind_and_missing_schema() {
        let err = read(r#"{"schema": "pawl-run/2", "value": 1}"#).unwrap_err().to_string();
        assert!(err.contains("pawl-run/2") && err.contains("does not read"), "{err}");
        let err = read(r#"{"schema": "pawl-baseline/1", "value": 1}"#).unwrap_err().to_string();
        assert!(err.contains("pawl-baseline file"), "{err}");
        let err = read(r#"{"value": 1}"#).unwrap_err().to_string();
        assert!(err.contains("no `schema` field"), "{err}");
    }

    #[test]
    fn malformed_json_names_the_line() {
        let err = read("{\n\"schema\": \"pawl-run/1\",\n\"value\": }").unwrap_err().to_string();
        assert!(err.starts_with("x.json:3:"), "{err}");
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let doc = Doc { schema: "pawl-run/1".into(), value: 2.0 };
        write_json_atomic(&path, &doc).unwrap();
        write_json_atomic(&path, &doc).unwrap();
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.json")]);
        assert_eq!(read(&fs::read_to_string(&path).unwrap()).unwrap(), doc);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_followed_to_the_file_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is still a link");
        assert_eq!(fs::read_to_string(&real).unwrap(), "new", "the file it names was updated");
        // A link to a file that does not exist yet creates that file.
        let dangling = dir.path().join("dangling.json");
        std::os::unix::fs::symlink("made.json", &dangling).unwrap();
        write_atomic(&dangling, b"made").unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("made.json")).unwrap(), "made");
        assert!(fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink());
    }

    #[cfg(unix)]
    #[test]
    fn the_file_mode_is_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mode.json");
        fs::write(&path, "old").unwrap();
        for mode in [0o640, 0o444, 0o755] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            write_atomic(&path, b"new").unwrap();
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o7777, mode);
        }
        // A new file gets the usual mode (0666 less the umask), not a temporary file's 0600.
        let fresh = dir.path().join("fresh.json");
        write_atomic(&fresh, b"x").unwrap();
        let reference = dir.path().join("reference");
        File::create(&reference).unwrap();
        assert_eq!(
            fs::metadata(&fresh).unwrap().permissions().mode(),
            fs::metadata(&reference).unwrap().permissions().mode()
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_hard_linked_file_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("base.json");
        fs::write(&path, "old").unwrap();
        let other = dir.path().join("other-name.json");
        fs::hard_link(&path, &other).unwrap();
        let err = write_atomic(&path, b"new").unwrap_err().to_string();
        assert!(err.contains("base.json") && err.contains("2 hard links"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(fs::read_to_string(&other).unwrap(), "old");
        let names = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(names, 2, "no temporary left");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_written_into_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("skipping: mkfifo is not available");
            return;
        }
        // Opened for reading and writing, the FIFO has a reader without blocking anyone.
        let mut end = File::options().read(true).write(true).open(&fifo).unwrap();
        write_atomic(&fifo, b"through the pipe").unwrap();
        let file_type = fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&file_type), "the FIFO was replaced");
        let mut got = [0; 16];
        std::io::Read::read_exact(&mut end, &mut got).unwrap();
        assert_eq!(&got, b"through the pipe");
    }

    /// Ages a file's modification time by `seconds`.
    fn age(path: &Path, seconds: u64) {
        let file = File::options().write(true).open(path).unwrap();
        let then = std::time::SystemTime::now() - std::time::Duration::from_secs(seconds);
        file.set_modified(then).unwrap();
    }

    #[test]
    fn stale_temporaries_of_dead_writers_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("base.json");
        let temp = |middle: &str| dir.path().join(format!(".base.json.{middle}.pawl-tmp"));
        // Left by a writer killed mid-write: unlocked and old.
        fs::write(temp("Ab3dE9"), "half").unwrap();
        age(&temp("Ab3dE9"), 600);
        fs::write(temp("12345"), "half").unwrap(); // the name an older pawl gave its temporaries
        age(&temp("12345"), 600);
        // Being written by a live writer: it holds the lock.
        fs::write(temp("LiveOn"), "busy").unwrap();
        age(&temp("LiveOn"), 600);
        let live = File::open(temp("LiveOn")).unwrap();
        fs4::FileExt::lock(&live).unwrap();
        // Just created, not yet locked by its writer: too young to judge.
        fs::write(temp("Young1"), "new").unwrap();
        // Another file's temporary and an unrelated file stay.
        fs::write(dir.path().join(".base.json.x.Qw3rty.pawl-tmp"), "other").unwrap();
        age(&dir.path().join(".base.json.x.Qw3rty.pawl-tmp"), 600);

        write_atomic(&path, b"new").unwrap();
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ".base.json.LiveOn.pawl-tmp",
                ".base.json.Young1.pawl-tmp",
                ".base.json.x.Qw3rty.pawl-tmp",
                "base.json"
            ]
        );
    }

    #[test]
    fn the_update_lock_is_one_holder_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("base.json");
        let first = UpdateLock::acquire(&path, |_| panic!("nobody holds it yet")).unwrap();
        assert_eq!(first.path(), dir.path().join("base.json.lock"));
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut waited = false;
                let second = UpdateLock::acquire(&path, |_| waited = true).unwrap();
                tx.send(()).unwrap();
                drop(second);
                waited
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(rx.try_recv().is_err(), "the second holder got in while the first held the lock");
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10)).expect("the lock is handed on when released");
        assert!(waiter.join().unwrap(), "the second holder was told it waits");
    }

    #[test]
    fn failed_write_leaves_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/out.json");
        assert!(write_atomic(&missing, b"x").is_err());
    }
}
