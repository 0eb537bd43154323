//! Expanding a bench's sweep into cases. (Being written.)

use super::{Bench, SuiteError};
use crate::case::Case;

pub(super) fn cases(_bench: &Bench) -> Result<Vec<Case>, SuiteError> {
    Ok(Vec::new())
}
