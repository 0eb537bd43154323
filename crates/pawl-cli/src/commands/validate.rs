//! `pawl validate`: check a suite file, count its cases, list them on request.

use std::io::Write;

use anyhow::Result;
use pawl_core::plan::{self, Selection};
use pawl_core::report::escape;
use pawl_core::suite::BenchKind;

use super::{Outcome, load_suite};
use crate::cli::ValidateArgs;

pub fn run(args: &ValidateArgs) -> Result<Outcome> {
    let suite = load_suite(&args.suite)?;
    // Planning evaluates every expression of every case, so a bad one fails here, not on the GPU.
    let plans = plan::plan(&suite, &Selection { bench: None, filter: None })?;
    let total: usize = plans.iter().map(|p| p.cases.len()).sum();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: suite `{}` is valid: {} benches, {} cases",
        args.suite.display(),
        escape::terminal(&suite.name),
        plans.len(),
        total
    )?;
    for plan in &plans {
        let kind = match plan.bench.kind {
            BenchKind::Cuda(_) => "cuda",
            BenchKind::Command(_) => "command",
        };
        writeln!(out, "  {} ({kind}): {} cases", escape::terminal(&plan.bench.name), plan.cases.len())?;
        if args.list {
            for case in &plan.cases {
                if case.tune.is_empty() {
                    writeln!(out, "    {}", escape::terminal(case.case.id.as_str()))?;
                } else {
                    let tune = case.tune.to_id_string();
                    writeln!(
                        out,
                        "    {}  [{}]",
                        escape::terminal(case.case.id.as_str()),
                        escape::terminal(&tune)
                    )?;
                }
            }
        }
    }
    Ok(Outcome::Pass)
}
