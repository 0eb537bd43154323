//! The disk cache of compiled kernels: one cubin per key, written atomically.
//!
//! The key is a SHA-256 over everything that changes the output (see [`crate::compile::cache_key`]), so
//! a stale entry is never read: a changed header, define, option, architecture or NVRTC version is a
//! different key. Entries are never rewritten in place, so concurrent pawl processes can share a folder.

use std::path::{Path, PathBuf};

/// Where compiled kernels are kept: `$PAWL_CACHE`, else the user's cache folder (`~/.cache/pawl/nvrtc`).
#[derive(Clone, Debug)]
pub struct Cache {
    dir: Option<PathBuf>,
}

impl Cache {
    /// The cache folder from the environment; no cache when no folder can be found.
    pub fn from_env() -> Cache {
        let dir = match std::env::var_os("PAWL_CACHE") {
            Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
            _ => dirs::cache_dir().map(|d| d.join("pawl").join("nvrtc")),
        };
        Cache { dir }
    }

    pub fn at(dir: impl Into<PathBuf>) -> Cache {
        Cache { dir: Some(dir.into()) }
    }

    /// A cache that stores nothing (tests, read-only machines).
    pub fn disabled() -> Cache {
        Cache { dir: None }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{key}.cubin")))
    }

    /// The cubin stored under `key`, if any. An unreadable entry counts as absent.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let bytes = std::fs::read(self.path(key)?).ok()?;
        (!bytes.is_empty()).then_some(bytes)
    }

    /// Stores a cubin. A cache that cannot be written is not an error: the kernel compiles again next
    /// time, so failures are ignored rather than failing a measurement.
    pub fn put(&self, key: &str, cubin: &[u8]) {
        let (Some(dir), Some(path)) = (self.dir.as_ref(), self.path(key)) else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let _ = pawl_core::files::write_atomic(&path, cubin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_entries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().join("nested"));
        assert_eq!(cache.get("abc"), None);
        cache.put("abc", b"\x7fELF cubin");
        assert_eq!(cache.get("abc").as_deref(), Some(&b"\x7fELF cubin"[..]));
        assert_eq!(cache.get("abd"), None);
        let disabled = Cache::disabled();
        disabled.put("abc", b"x");
        assert_eq!(disabled.get("abc"), None);
    }
}
