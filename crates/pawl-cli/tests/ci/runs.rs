//! Run files made in memory: no GPU is needed to test what happens after measuring.

use pawl_core::case::CaseId;
use pawl_core::run::{CaseResult, CaseStatus, Environment, Run};
use pawl_core::stats;
use pawl_core::suite::MeasureSettings;
use pawl_core::value::Params;

/// A run of suite `demo` with one case per `(id, median_ns)`, 60 samples tightly around the median.
pub fn run_file(cases: &[(&str, f64)]) -> String {
    let mut run =
        Run::new("demo", "2026-01-01T00:00:00Z", Environment::default(), MeasureSettings::default());
    for (id, median_ns) in cases {
        let bench = id.split('/').next().unwrap_or(id);
        let mut case =
            CaseResult::not_measured(CaseId::from_raw(*id), bench, Params::new(), CaseStatus::Ok, "");
        case.error = None;
        case.samples_ns = (0..60).map(|i| median_ns * (1.0 + 0.0005 * ((i % 7) as f64 - 3.0))).collect();
        case.stats = stats::summarize(&case.samples_ns, 0.99).ok();
        run.cases.push(case);
    }
    serde_json::to_string(&run).unwrap()
}
