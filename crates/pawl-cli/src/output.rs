//! Where reports go: standard output or a file (written atomically), with colour only on a terminal.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, Result};
use pawl_core::files;
use pawl_core::report::{self, Format, ReportOptions};
use pawl_core::verdict::Comparison;

use crate::cli::ReportArgs;

/// Report options for writing to standard output or a file.
pub fn report_options(to_terminal: bool) -> ReportOptions {
    ReportOptions {
        color: to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        ..ReportOptions::default()
    }
}

/// Renders `comparison` as asked: to `-o FILE` atomically, or to standard output.
pub fn write_report(comparison: &Comparison, args: &ReportArgs) -> Result<()> {
    write_format(comparison, args.format, args.output.as_deref())
}

pub fn write_format(comparison: &Comparison, format: Format, path: Option<&Path>) -> Result<()> {
    match path {
        Some(path) => {
            let mut bytes = Vec::new();
            report::render(format, comparison, &report_options(false), &mut bytes)?;
            files::write_atomic(path, &bytes)?;
        }
        None => {
            let stdout = std::io::stdout();
            let opts = report_options(stdout.is_terminal());
            let mut out = stdout.lock();
            report::render(format, comparison, &opts, &mut out).context("cannot write the report")?;
            out.flush()?;
        }
    }
    if format == Format::Github {
        append_step_summary(comparison)?;
    }
    Ok(())
}

/// Under GitHub Actions, appends the markdown report to the job summary.
pub fn append_step_summary(comparison: &Comparison) -> Result<()> {
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let path = Path::new(&path);
        report::github::append_step_summary(comparison, &report_options(false), path)
            .with_context(|| format!("cannot append to $GITHUB_STEP_SUMMARY ({})", path.display()))?;
    }
    Ok(())
}
