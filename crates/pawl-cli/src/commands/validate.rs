//! `pawl validate`: check a suite file, count its cases, list them on request.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Result, bail};
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
    check_programs(&plans)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: suite `{}` is valid: {}, {}",
        args.suite.display(),
        escape::terminal(&suite.name),
        counted(plans.len(), "bench", "benches"),
        counted(total, "case", "cases")
    )?;
    for plan in &plans {
        let kind = match plan.bench.kind {
            BenchKind::Cuda(_) => "cuda",
            BenchKind::Command(_) => "command",
        };
        writeln!(
            out,
            "  {} ({kind}): {}",
            escape::terminal(&plan.bench.name),
            counted(plan.cases.len(), "case", "cases")
        )?;
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

/// Every program a command bench starts must exist: a path (relative to the suite's folder) to an
/// executable file, or a name found on PATH. Checked here so that a typo fails before measuring.
fn check_programs(plans: &[plan::BenchPlan]) -> Result<()> {
    let mut missing = Vec::new();
    for plan in plans {
        let BenchKind::Command(command) = &plan.bench.kind else { continue };
        let programs: BTreeSet<String> =
            plan.cases.iter().filter_map(|case| command.argv(&case.vars()).into_iter().next()).collect();
        for program in programs {
            if !program_found(&program, &command.cwd) {
                let looked = if program.contains('/') {
                    let folder =
                        if command.cwd.as_os_str().is_empty() { Path::new(".") } else { &command.cwd };
                    format!("no executable file of that name in the suite's folder ({})", folder.display())
                } else {
                    "not on PATH".to_owned()
                };
                missing.push(format!(
                    "bench `{}`: program `{program}`: {looked}",
                    escape::terminal(&plan.bench.name)
                ));
            }
        }
    }
    if !missing.is_empty() {
        bail!(
            "{}; build or install it, or fix the bench's `run` (its first word is the program, a path relative \
             to the suite's folder or a name on PATH)",
            missing.join("; ")
        );
    }
    Ok(())
}

/// Whether `program` can be started from `cwd`: a path holding `/`, relative to `cwd`, to an executable
/// file, or a name found in a folder of PATH.
pub fn program_found(program: &str, cwd: &Path) -> bool {
    if program.contains('/') {
        return is_executable(&cwd.join(program));
    }
    on_path(program)
}

/// Whether an executable file of this name is in a folder of PATH.
pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| is_executable(&dir.join(name))))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// `1 bench`, `3 benches`.
fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
