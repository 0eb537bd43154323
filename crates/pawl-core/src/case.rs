//! Cases: one point of a sweep, and its stable id.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::value::Params;

/// The stable, readable id of a case: `flash_fwd/B=32,H=8,S=512,D=64,dtype=f16`.
///
/// Bench name, a slash, then the parameters in the order the suite declares them. Ids are how runs,
/// baselines and reports refer to a case, so they never depend on anything but the bench and its params.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct CaseId(String);

impl CaseId {
    pub fn new(bench: &str, params: &Params) -> Self {
        if params.is_empty() {
            CaseId(bench.to_owned())
        } else {
            CaseId(format!("{bench}/{}", params.to_id_string()))
        }
    }

    /// An id read back from a file or typed by a user, taken as it is.
    pub fn from_raw(id: impl Into<String>) -> Self {
        CaseId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The bench part of the id (before the first `/`).
    pub fn bench(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(bench, _)| bench)
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One point of a sweep: a bench and the values of its sweep axes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Case {
    pub id: CaseId,
    pub bench: String,
    pub params: Params,
}

impl Case {
    pub fn new(bench: impl Into<String>, params: Params) -> Self {
        let bench = bench.into();
        Case { id: CaseId::new(&bench, &params), bench, params }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[test]
    fn id_is_bench_slash_params() {
        let mut params = Params::new();
        for (name, value) in [("B", 32), ("H", 8), ("S", 512), ("D", 64)] {
            params.insert(name, Value::Int(value));
        }
        params.insert("dtype", Value::from("f16"));
        let case = Case::new("flash_fwd", params);
        assert_eq!(case.id.as_str(), "flash_fwd/B=32,H=8,S=512,D=64,dtype=f16");
        assert_eq!(case.id.bench(), "flash_fwd");
    }

    #[test]
    fn id_without_params_is_the_bench_name() {
        assert_eq!(Case::new("copy", Params::new()).id.as_str(), "copy");
    }
}
