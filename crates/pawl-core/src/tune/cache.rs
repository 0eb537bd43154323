//! The measurement cache: what each configuration measured, keyed by everything that decides the
//! measurement (GPU, driver, the source and its headers, the defines, the case, the settings), so a
//! re-run measures only what is new or changed. The CLI builds the keys; this is the file.
//!
//! A configuration's samples accumulate across runs; a tune takes them in order and measures only
//! what the cache cannot give. A rejection is cached too (the same code fails the same way);
//! `--fresh` ignores the whole file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::search::Outcome;
use crate::files::{self, FileError};
use crate::paired::PairedCase;

/// Schema tag of cache files.
pub const CACHE_SCHEMA: &str = "pawl-tune-cache/1";

/// Measurements by key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeasurementCache {
    pub schema: String,
    pub measurements: BTreeMap<String, Cached>,
    /// Paired comparisons, by the two sides' keys.
    #[serde(default)]
    pub pairs: BTreeMap<String, PairedCase>,
}

/// What one configuration measured so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cached {
    /// Timed (every sample so far) or rejected.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The samples include a full measurement (the suite's own settings).
    #[serde(default)]
    pub full: bool,
    /// Setup of the first measurement and timing of all, seconds: what replaying the cache costs.
    pub setup_s: f64,
    pub timing_s: f64,
}

impl Default for MeasurementCache {
    fn default() -> Self {
        MeasurementCache {
            schema: CACHE_SCHEMA.into(),
            measurements: BTreeMap::new(),
            pairs: BTreeMap::new(),
        }
    }
}

impl MeasurementCache {
    /// Takes in every entry of `other` (a copy another GPU's tune added to), its entries winning.
    pub fn merge(&mut self, other: &MeasurementCache) {
        self.measurements.extend(other.measurements.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.pairs.extend(other.pairs.iter().map(|(k, v)| (k.clone(), v.clone())));
    }

    /// Reads the cache at `path`; a missing file is an empty cache.
    pub fn load(path: &Path) -> Result<MeasurementCache, FileError> {
        if !path.exists() {
            return Ok(MeasurementCache::default());
        }
        let cache: MeasurementCache = files::read_versioned(path, CACHE_SCHEMA)?;
        for (key, cached) in &cache.measurements {
            if let Outcome::Timed { samples_ns } = &cached.outcome
                && let Some(bad) = samples_ns.iter().find(|s| !s.is_finite() || **s <= 0.0)
            {
                return Err(FileError::Invalid {
                    path: path.to_owned(),
                    message: format!(
                        "entry `{key}` has the sample {bad}; delete the file or run with --fresh to measure anew"
                    ),
                });
            }
        }
        Ok(cache)
    }

    /// Writes the cache atomically, as compact JSON.
    pub fn save(&self, path: &Path) -> Result<(), FileError> {
        let mut bytes = serde_json::to_vec(self).expect("caches always serialize");
        bytes.push(b'\n');
        files::write_atomic(path, &bytes)
    }

    /// The key of a paired comparison of `base` and `head`.
    pub fn pair_key(base: &str, head: &str) -> String {
        format!("{base}+{head}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::CaseStatus;

    #[test]
    fn a_cache_round_trips_and_a_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json");
        assert_eq!(MeasurementCache::load(&path).unwrap(), MeasurementCache::default());
        let mut cache = MeasurementCache::default();
        cache.measurements.insert(
            "k1".into(),
            Cached {
                outcome: Outcome::Timed { samples_ns: vec![1.5, 2.0] },
                full: false,
                setup_s: 1.0,
                timing_s: 0.1,
            },
        );
        cache.measurements.insert(
            "k2".into(),
            Cached {
                outcome: Outcome::Rejected {
                    status: CaseStatus::Failed,
                    reason: "too many registers".into(),
                },
                full: false,
                setup_s: 0.5,
                timing_s: 0.0,
            },
        );
        cache.save(&path).unwrap();
        assert_eq!(MeasurementCache::load(&path).unwrap(), cache);
        std::fs::write(&path, std::fs::read_to_string(&path).unwrap().replace("1.5", "-1.5")).unwrap();
        let err = MeasurementCache::load(&path).unwrap_err().to_string();
        assert!(err.contains("`k1`") && err.contains("--fresh"), "{err}");
    }
}
