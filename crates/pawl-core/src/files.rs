//! Reading and writing pawl's JSON files: schema checks on read, atomic byte-stable writes.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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
}

/// The text of a file, with the path in the error.
pub fn read_text(path: &Path) -> Result<String, FileError> {
    fs::read_to_string(path).map_err(|source| FileError::Read { path: path.to_owned(), source })
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

/// Writes JSON atomically: to a temporary file beside `path`, fsync, rename over `path`.
/// A crash leaves either the old file or the new one, never half of either.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), FileError> {
    write_atomic(path, &to_json_bytes(value))
}

/// Writes bytes atomically (see [`write_json_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let write_error = |source| FileError::Write { path: path.to_owned(), source };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let file_name = path.file_name().ok_or_else(|| write_error(io::Error::other("not a file path")))?;
    let tmp = dir.join(format!(".{}.{}.pawl-tmp", file_name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        // Make the rename itself durable; not every platform can open a folder, so this is best effort.
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(write_error)
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

    #[test]
    fn failed_write_leaves_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/out.json");
        assert!(write_atomic(&missing, b"x").is_err());
    }
}
