//! Where reports go: standard output or a file (written atomically), with colour only on a terminal.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, Result};
use pawl_core::files;
use pawl_core::report::{self, Format, ReportOptions};
use pawl_core::verdict::Comparison;

use crate::cli::ReportArgs;

/// `opts` with colour where it belongs: on a terminal, unless `NO_COLOR` is set.
fn with_color(to_terminal: bool, opts: &ReportOptions) -> ReportOptions {
    ReportOptions {
        color: to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        ..opts.clone()
    }
}

/// Renders `comparison` as asked: to `-o FILE` atomically, or to standard output.
pub fn write_report(comparison: &Comparison, args: &ReportArgs) -> Result<()> {
    write_format(comparison, args.format, args.output.as_deref())
}

pub fn write_format(comparison: &Comparison, format: Format, path: Option<&Path>) -> Result<()> {
    write_format_with(comparison, format, path, &ReportOptions::default())
}

/// As [`write_format`], with options of the caller's (a cost, extra sections); colour is decided here.
pub fn write_format_with(
    comparison: &Comparison,
    format: Format,
    path: Option<&Path>,
    opts: &ReportOptions,
) -> Result<()> {
    match path {
        Some(path) => {
            let mut bytes = Vec::new();
            report::render(format, comparison, &with_color(false, opts), &mut bytes)?;
            files::write_atomic(path, &bytes)?;
        }
        None => {
            let stdout = std::io::stdout();
            let opts = with_color(stdout.is_terminal(), opts);
            let mut out = stdout.lock();
            report::render(format, comparison, &opts, &mut out).context("cannot write the report")?;
            out.flush()?;
        }
    }
    if format == Format::Github {
        append_step_summary(comparison, opts)?;
    }
    Ok(())
}

/// Under GitHub Actions, appends the markdown report to the job summary.
fn append_step_summary(comparison: &Comparison, opts: &ReportOptions) -> Result<()> {
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let path = Path::new(&path);
        report::github::append_step_summary(comparison, &with_color(false, opts), path)
            .with_context(|| format!("cannot append to $GITHUB_STEP_SUMMARY ({})", path.display()))?;
    }
    Ok(())
}
