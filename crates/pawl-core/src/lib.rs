//! pawl's core: the data model (suites, cases, runs, baselines, verdicts), statistics, comparison, the
//! ratchet and report rendering.
//!
//! No GPU code and no process spawning live here: the measuring policy is [`engine`], and the mechanics
//! sit behind [`engine::Backend`], implemented by `pawl-cuda` and by the CLI's `command` backend. Nothing here prints; reports write to an
//! [`std::io::Write`].

pub mod baseline;
pub mod case;
pub mod ceilings;
pub mod compare;
pub mod engine;
pub mod estimate;
pub mod expr;
pub mod files;
pub mod harness;
pub mod hash;
pub mod import;
pub mod merge;
pub mod paired;
pub mod plan;
pub mod ratchet;
pub mod report;
pub mod run;
pub mod schema;
pub mod shard;
pub mod stats;
pub mod suite;
pub mod targets;
pub mod tune;
pub mod value;
pub mod verdict;
