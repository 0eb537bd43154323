//! End-to-end tests of the `pawl` binary: every command, every format, every exit code, bad inputs.

mod bad_input;
mod common;
mod compare;
mod harness;
mod history;
mod import;
mod limits;
mod misbehaving;
mod newcomer;
mod ratchet;
mod readme;
mod report;
mod scale;
mod schemas;
mod tune;
mod validate;
