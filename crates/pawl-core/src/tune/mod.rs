//! Autotuning: the search for faster configurations of a bench's tune parameters, written once and run
//! live (the CLI measuring through the engine) or against a recording (replay, no GPU).
//!
//! - [`space`]: the configurations of one case (candidates × constraints) and their neighbourhoods;
//! - [`search`]: the budgeted search (explore, successive halving, paired decision) behind a small
//!   [`Measurer`](search::Measurer) trait;
//! - [`decide`]: the suggestion, its speed-up interval, or the tie set;
//! - [`record`]: `tuning.json`, every measurement; [`cache`]: the measurement cache;
//! - [`replay`]: a measurer that serves a recording, as Kernel Tuner's simulation mode does;
//! - [`patch`]: the suite's new tune defaults (expressions over params where sizes disagree) and the
//!   `git apply`-ready diff.
//!
//! docs/tuning.md explains the method and its figures.

pub mod cache;
pub mod decide;
pub mod patch;
pub mod record;
pub mod replay;
pub mod search;
pub mod space;
