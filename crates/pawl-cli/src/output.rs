//! Where files and reports go: a file (written atomically), or standard output where the path is `-`,
//! with colour only on a terminal.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use pawl_core::files;
use pawl_core::report::{self, Format, ReportOptions};
use pawl_core::verdict::Comparison;
use serde::Serialize;

use crate::cli::ReportArgs;

/// The path by which every flag that names a file to write means standard output.
pub const STDOUT: &str = "-";

/// Whether `path` means standard output.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == STDOUT
}

/// How a path to write reads in messages.
pub fn shown(path: &Path) -> String {
    if is_stdout(path) { "standard output".to_owned() } else { path.display().to_string() }
}

/// Says what a command wrote: on standard output, or (unless `--quiet`) on standard error where
/// standard output carries the written file itself (`path` is `-`).
pub fn say_written(path: &Path, line: impl std::fmt::Display) {
    if is_stdout(path) {
        crate::log::info(line);
    } else {
        println!("{line}");
    }
}

/// Refuses two outputs of one command on standard output: their bytes would mix.
pub fn at_most_one_stdout<'a>(paths: impl IntoIterator<Item = (&'a str, Option<&'a Path>)>) -> Result<()> {
    let flags: Vec<&str> =
        paths.into_iter().filter(|(_, p)| p.is_some_and(is_stdout)).map(|(f, _)| f).collect();
    if let [first @ .., last] = flags.as_slice()
        && !first.is_empty()
    {
        let both = if first.len() == 1 { "both" } else { "all" };
        bail!(
            "{} and {last} would {both} write to standard output (`-`); give all but one of them a file name",
            first.join(", ")
        );
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically, or to standard output for `-`.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    if is_stdout(path) {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes).and_then(|()| out.flush()).context("cannot write to standard output")?;
        return Ok(());
    }
    files::write_atomic(path, bytes)?;
    Ok(())
}

/// Writes a pawl file (run, report) as pretty JSON to `path`, or to standard output for `-`.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    write_bytes(path, &files::to_json_bytes(value))
}

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

/// As [`write_format`], with options of the caller's (a cost, extra sections); colour and the length
/// of notes (`--verbose`) are decided here.
pub fn write_format_with(
    comparison: &Comparison,
    format: Format,
    path: Option<&Path>,
    opts: &ReportOptions,
) -> Result<()> {
    let opts = ReportOptions { full_notes: opts.full_notes || crate::log::verbose(), ..opts.clone() };
    match path.filter(|p| !is_stdout(p)) {
        Some(path) => {
            let mut bytes = Vec::new();
            report::render(format, comparison, &with_color(false, &opts), &mut bytes)?;
            files::write_atomic(path, &bytes)?;
        }
        None => {
            let stdout = std::io::stdout();
            let opts = with_color(stdout.is_terminal(), &opts);
            let mut out = stdout.lock();
            report::render(format, comparison, &opts, &mut out).context("cannot write the report")?;
            out.flush()?;
        }
    }
    if format == Format::Github {
        append_step_summary(comparison, &opts)?;
    }
    Ok(())
}

/// Writes a report to standard error: for commands whose standard output carries a file.
pub fn to_stderr(comparison: &Comparison, format: Format, opts: &ReportOptions) -> Result<()> {
    let opts = ReportOptions { full_notes: opts.full_notes || crate::log::verbose(), ..opts.clone() };
    let stderr = std::io::stderr();
    let opts = with_color(stderr.is_terminal(), &opts);
    let mut out = stderr.lock();
    report::render(format, comparison, &opts, &mut out).context("cannot write the report")?;
    if format == Format::Github {
        append_step_summary(comparison, &opts)?;
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
