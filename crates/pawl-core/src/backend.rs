//! The seam between planning and measuring: a [`Backend`] turns planned cases into case results.
//!
//! `pawl-cuda` implements it for `kind = "cuda"` benches and the CLI for `kind = "command"` benches.

use crate::case::Case;
use crate::run::CaseResult;
use crate::suite::{Bench, MeasureSettings, Suite};
use crate::value::Params;

/// A case ready to measure: its sweep point, the tune values to compile with, and its work.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedCase {
    pub case: Case,
    pub tune: Params,
    pub flops: Option<f64>,
    pub bytes: Option<f64>,
}

impl PlannedCase {
    /// Params and tune values together: the variables of every launch expression.
    pub fn vars(&self) -> Params {
        let mut vars = self.case.params.clone();
        for (name, value) in self.tune.iter() {
            vars.insert(name, value.clone());
        }
        vars
    }
}

/// An error that stops a whole bench (a case's own failure is a [`CaseResult`] with a failed status).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    pub message: String,
}

impl BackendError {
    pub fn new(message: impl Into<String>) -> Self {
        BackendError { message: message.into() }
    }
}

/// Something that can measure the cases of a bench.
pub trait Backend {
    /// Measures `cases` (all of `bench`), handing each result to `sink` as soon as it is known, so
    /// that a crash later loses nothing already measured. Every case given gets exactly one result.
    fn measure(
        &mut self,
        suite: &Suite,
        bench: &Bench,
        cases: &[PlannedCase],
        settings: &MeasureSettings,
        sink: &mut dyn FnMut(CaseResult),
    ) -> Result<(), BackendError>;
}
