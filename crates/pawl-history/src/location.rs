//! Where a history lives: a SQLite file, or a Postgres database named by URL. Passwords never leave
//! this module: every message shows [`Location`]'s redacted form, and [`Location::scrub`] takes the
//! password out of any text a driver hands back.

use std::fmt;
use std::path::{Path, PathBuf};

use pawl_core::suite::HistoryLocation;

use crate::HistoryError;

/// The environment variable that names a history, over the suite's `history` key: CI can point every
/// runner at one Postgres without writing its URL (and password) into the suite file.
pub const HISTORY_ENV: &str = "PAWL_HISTORY";

/// A history's place.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database file (created with its folder when missing).
    Sqlite(PathBuf),
    /// A Postgres database: `postgres://user:password@host:port/database?options`.
    Postgres(String),
}

impl Location {
    /// Reads a location as written by a user: `postgres://…` or `postgresql://…` is Postgres, any other
    /// `scheme://` is an error, and everything else is a SQLite file path, relative to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Location, HistoryError> {
        match HistoryLocation::parse(text.trim(), base) {
            HistoryLocation::File(path) => {
                if text.trim().is_empty() {
                    return Err(HistoryError::Location {
                        location: String::new(),
                        message: "the history location is empty: name a SQLite file (such as \
                                  `.pawl/history.sqlite`) or a `postgres://` URL"
                            .to_owned(),
                    });
                }
                Ok(Location::Sqlite(path))
            }
            HistoryLocation::Url(url) => Location::from_url(&url),
        }
    }

    /// The location a suite names.
    pub fn from_suite(location: &HistoryLocation) -> Result<Location, HistoryError> {
        match location {
            HistoryLocation::File(path) => Ok(Location::Sqlite(path.clone())),
            HistoryLocation::Url(url) => Location::from_url(url),
        }
    }

    fn from_url(url: &str) -> Result<Location, HistoryError> {
        let scheme = url.split("://").next().unwrap_or_default().to_ascii_lowercase();
        if scheme == "postgres" || scheme == "postgresql" {
            Ok(Location::Postgres(url.to_owned()))
        } else {
            Err(HistoryError::Location {
                location: redact_url(url),
                message: format!(
                    "`{scheme}://` is not a history pawl can use: write a SQLite file path or a \
                     `postgres://user@host/database` URL"
                ),
            })
        }
    }

    /// The location with any password replaced by `***`: what messages show.
    pub fn redacted(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url) => redact_url(url),
        }
    }

    /// `text` with this location's password taken out (as written and percent-decoded), for messages
    /// that come from a driver.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        if let Location::Postgres(url) = self {
            for secret in passwords(url) {
                if !secret.is_empty() {
                    out = out.replace(&secret, "***");
                    let decoded = percent_decode(&secret);
                    if !decoded.is_empty() {
                        out = out.replace(&decoded, "***");
                    }
                }
            }
        }
        out
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Never print a password, not even in a debug dump.
impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Location::Postgres(_) => f.debug_tuple("Postgres").field(&self.redacted()).finish(),
        }
    }
}

/// The parts of a URL: everything before the user-info, the user-info, and the rest.
fn split_user_info(url: &str) -> (&str, Option<&str>, &str) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return (url, None, "");
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => (&url[..scheme_end], Some(&rest[..at]), &rest[at..]),
        None => (&url[..scheme_end], None, rest),
    }
}

/// The passwords a URL carries: in its user-info and in a `password=` option.
fn passwords(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    let (_, user_info, rest) = split_user_info(url);
    if let Some((_, password)) = user_info.and_then(|u| u.split_once(':')) {
        found.push(password.to_owned());
    }
    if let Some((_, query)) = rest.split_once('?') {
        for pair in query.split('&') {
            if let Some((key, value)) = pair.split_once('=') {
                if key.eq_ignore_ascii_case("password") {
                    found.push(value.to_owned());
                }
            }
        }
    }
    found
}

/// `url` with the password of its user-info and of a `password=` option replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let (head, user_info, rest) = split_user_info(url);
    let user_info = match user_info {
        Some(info) => match info.split_once(':') {
            Some((user, _)) => format!("{user}:***"),
            None => info.to_owned(),
        },
        None => String::new(),
    };
    let rest = match rest.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => rest.to_owned(),
    };
    format!("{head}{user_info}{rest}")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_sqlite_and_urls_postgres() {
        let base = Path::new("/repo/bench");
        assert_eq!(
            Location::parse(".pawl/history.sqlite", base).unwrap(),
            Location::Sqlite(base.join(".pawl/history.sqlite"))
        );
        assert_eq!(Location::parse("/abs/h.db", base).unwrap(), Location::Sqlite("/abs/h.db".into()));
        let pg = Location::parse("postgresql://ci@db.internal/perf", base).unwrap();
        assert_eq!(pg, Location::Postgres("postgresql://ci@db.internal/perf".into()));
        let err = Location::parse("mysql://root:hunter2@db/perf", base).unwrap_err().to_string();
        assert!(err.contains("`mysql://`") && !err.contains("hunter2"), "{err}");
        assert!(Location::parse("  ", base).is_err());
    }

    #[test]
    fn passwords_never_show() {
        let url = "postgres://pawl:s3cr%40t@db.example:5432/perf?sslmode=disable&password=other";
        let location = Location::parse(url, Path::new(".")).unwrap();
        let shown = location.to_string();
        assert_eq!(shown, "postgres://pawl:***@db.example:5432/perf?sslmode=disable&password=***");
        assert!(!format!("{location:?}").contains("s3cr"));
        let scrubbed = location.scrub("auth failed for s3cr%40t / s3cr@t / other");
        assert_eq!(scrubbed, "auth failed for *** / *** / ***");
        // No password: nothing to hide, nothing changed.
        assert_eq!(redact_url("postgres://pawl@h/db"), "postgres://pawl@h/db");
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
        // An `@` in the path is not user-info.
        assert_eq!(redact_url("postgres://h/db@x"), "postgres://h/db@x");
    }
}
