//! Writes the synthetic tune-space recording the replay tests read:
//!
//! ```sh
//! cargo run -p pawl-core --example synthetic_tuning -- crates/pawl-core/tests/data/tuning/synthetic.json
//! ```
//!
//! Two attention-like cases (see `tests/testbed/tuning.rs`), every configuration measured by the
//! search's exhaustive mode on the synthetic measurer, recorded as `pawl tune --exhaustive` records a
//! real space.

#[path = "../tests/testbed/mod.rs"]
mod testbed;

use testbed::tuning::{Model, record, recording};

fn main() -> std::process::ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: synthetic_tuning OUTPUT.json");
        return std::process::ExitCode::from(2);
    };
    let cases = Model::attention_like().into_iter().map(record).collect();
    match recording(cases).save(std::path::Path::new(&path)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::from(2)
        }
    }
}
