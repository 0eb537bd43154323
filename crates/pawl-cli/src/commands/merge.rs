//! `pawl merge RUN… -o run.json`: the run files of a suite's shards (or of parts measured apart) joined
//! into one, in suite order. Anything that would make the merged run one that could not have been
//! measured at once is refused, naming the files, and nothing is written.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pawl_core::merge;
use pawl_core::run::Run;

use super::Outcome;
use crate::cli::MergeArgs;
use crate::output;

pub fn run(args: &MergeArgs) -> Result<Outcome> {
    let merged = merge_files(&args.runs)?;
    output::write_json(&args.output, &merged)
        .with_context(|| "cannot save the merged run file".to_owned())?;
    output::say_written(
        &args.output,
        format_args!("merged {} into {}", describe(&merged), output::shown(&args.output)),
    );
    Ok(Outcome::Pass)
}

/// Reads and merges `paths`; the error names the file that is wrong.
pub fn merge_files(paths: &[PathBuf]) -> Result<Run> {
    let mut runs = Vec::with_capacity(paths.len());
    for path in paths {
        let run = Run::load(path).with_context(|| format!("cannot merge {}", path.display()))?;
        runs.push((shown(path), run));
    }
    Ok(merge::merge(runs)?)
}

/// `4 shards of split 3f2a… (120 cases, 5 failed)` or `2 runs (…)`.
pub fn describe(run: &Run) -> String {
    let failed = run.cases.iter().filter(|c| c.status != pawl_core::run::CaseStatus::Ok).count();
    let parts = run.parts.len();
    let what = if run.parts.iter().all(|p| p.shard.is_some()) { "shards" } else { "runs" };
    let failed = if failed > 0 { format!(", {failed} not ok") } else { String::new() };
    format!("{parts} {what} ({} cases{failed})", run.cases.len())
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}
