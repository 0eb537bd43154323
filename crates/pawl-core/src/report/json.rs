//! The JSON report: the comparison as it is, with a summary of counts in front for quick checks
//! (`jq .summary.fails_check`).
//!
//! Output is pretty-printed and byte-stable: fields in declaration order, every kind counted (zero
//! included) so the shape never changes, floats written by `serde_json`'s shortest round-trip form. The
//! comparison's fields sit at the top level, so the report reads back as a [`Comparison`] (the extra
//! `schema`, `summary` and `cost` fields are ignored).
//!
//! When the cost of measuring is known, `cost` holds the GPU seconds and, with a price per hour, the
//! price and the amount: `{"gpu_seconds": 93.2, "price_per_hour": 2.5, "amount": 0.0647}`.

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use super::Cost;
use crate::verdict::{Comparison, VerdictKind};

/// Identifies the report format and its major version.
pub const SCHEMA: &str = "pawl-report/1";

/// Counts of each verdict kind, and whether the check fails.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    pub total: usize,
    pub regressed: usize,
    pub failed: usize,
    pub inconclusive: usize,
    pub improved: usize,
    pub unchanged: usize,
    pub new: usize,
    pub missing: usize,
    pub fails_check: bool,
}

impl Summary {
    pub fn of(comparison: &Comparison) -> Self {
        let count = |kind| comparison.count(kind);
        Summary {
            total: comparison.verdicts.len(),
            regressed: count(VerdictKind::Regressed),
            failed: count(VerdictKind::Failed),
            inconclusive: count(VerdictKind::Inconclusive),
            improved: count(VerdictKind::Improved),
            unchanged: count(VerdictKind::Unchanged),
            new: count(VerdictKind::New),
            missing: count(VerdictKind::Missing),
            fails_check: comparison.fails_check(),
        }
    }
}

/// The JSON report: the comparison's fields at the top level, with the report's own in front.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Report<'a> {
    /// `pawl-report/1`: the kind of file and its major version.
    #[schemars(pattern(r"^pawl-report/1(\.[0-9]+)*$"))]
    schema: &'static str,
    summary: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<CostReport>,
    #[serde(flatten)]
    comparison: &'a Comparison,
}

/// What measuring cost, and the amount in US dollars where a price per hour is known.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct CostReport {
    #[serde(flatten)]
    cost: Cost,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<f64>,
}

/// Writes the JSON report, ending with a newline.
pub fn write(comparison: &Comparison, cost: Option<&Cost>, out: &mut dyn Write) -> io::Result<()> {
    let cost = cost.map(|&cost| CostReport { cost, amount: cost.amount() });
    let report = Report { schema: SCHEMA, summary: Summary::of(comparison), cost, comparison };
    serde_json::to_writer_pretty(&mut *out, &report)?;
    out.write_all(b"\n")
}
