//! Reading `pawl.toml` into a validated [`Suite`](super::Suite). (Being written.)

use std::path::{Path, PathBuf};

use super::Suite;

/// A suite file that cannot be used, with the file, the line and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}:{column}: {message}", path.display())]
    At { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

pub(super) fn load(path: &Path) -> Result<Suite, SuiteError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| SuiteError::Read { path: path.to_owned(), source })?;
    parse(&text, path)
}

pub(super) fn parse(_text: &str, path: &Path) -> Result<Suite, SuiteError> {
    Err(SuiteError::Invalid { path: path.to_owned(), message: "suite parsing is not written yet".into() })
}
