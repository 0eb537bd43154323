//! `pawl import FILE…`: other tools' results as a run file, so that `compare`, `ratchet`, `check` and the
//! reports work on them. Prints what was imported and what was left out, and why.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use pawl_core::import::{self, FileSummary, ImportSummary, NoteKind};
use pawl_core::report::escape::terminal as terminal_safe;
use pawl_core::run::Run;

use super::Outcome;
use super::run::summary_table;
use crate::cli::{ImportArgs, ImportFormat};
use crate::output;

/// Notes of one kind listed in full up to this many; the rest are counted.
const LISTED_NOTES: usize = 8;

pub fn run(args: &ImportArgs) -> Result<Outcome> {
    let format = match args.format {
        ImportFormat::Auto => None,
        ImportFormat::Known(format) => Some(format),
    };
    let files = args.files.iter().map(|file| import::read(file, format)).collect::<Result<Vec<_>, _>>()?;
    let name = args.name.clone().unwrap_or_else(|| default_name(&args.files[0]));
    let now = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| jiff::Timestamp::now());
    let (run, summary) = import::assemble(files, &name, env!("CARGO_PKG_VERSION"), &now.to_string())?;
    save(&run, &args.output)?;

    let mut words = summary_words(&summary);
    for line in summary_table(&run).lines() {
        words += &format!("{}\n", terminal_safe(line.trim_end()));
    }
    if output::is_stdout(&args.output) {
        // Standard output carries the run file: what was imported is said on standard error.
        crate::log::info(words.trim_end());
        return Ok(Outcome::Pass);
    }
    words += &format!("run file: {}\n", args.output.display());
    match std::io::stdout().lock().write_all(words.as_bytes()) {
        // A reader that stopped early (`| head`) has all it wanted; the run file is written.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    // Failures happened in the other tool; the import itself succeeded.
    Ok(Outcome::Pass)
}

/// Writes the imported run: the one place an imported run is stored (a history append belongs here too).
fn save(run: &Run, path: &Path) -> Result<()> {
    output::write_json(path, run)
}

/// `gbench/run.json` → `run`.
fn default_name(file: &Path) -> String {
    file.file_stem().map_or_else(|| "imported".to_owned(), |s| s.to_string_lossy().into_owned())
}

/// What each file gave, in words: one paragraph a file.
fn summary_words(summary: &ImportSummary) -> String {
    summary.files.iter().map(file_words).collect()
}

fn file_words(file: &FileSummary) -> String {
    let tool = match &file.tool_version {
        Some(version) => format!("{} {}", file.format.tool(), terminal_safe(version)),
        None => file.format.tool().to_owned(),
    };
    let mut counts = Vec::new();
    let mut count = |n: usize, what: &str| {
        if n > 0 {
            counts.push(format!("{n} {what}"));
        }
    };
    count(file.with_samples, "with samples");
    count(file.summary_only, "with a summary only (no samples: comparisons call them inconclusive)");
    count(file.failed, "failed");
    count(file.skipped, "skipped");
    let mut words = format!("{} ({tool}): {}\n", file.file.display(), counts.join(", "));

    let aggregates: Vec<&str> = file
        .notes
        .iter()
        .filter_map(|n| match &n.kind {
            NoteKind::Aggregate { name } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    if !aggregates.is_empty() {
        let mut names: Vec<&str> = aggregates.clone();
        names.sort_unstable();
        names.dedup();
        words += &format!(
            "  {} aggregate entries ({}) left out: aggregates are never samples\n",
            aggregates.len(),
            terminal_safe(&names.join(", "))
        );
    }
    let others: Vec<String> = file
        .notes
        .iter()
        .filter_map(|note| {
            let what = match &note.kind {
                NoteKind::Aggregate { .. } => return None,
                NoteKind::NoTimes => "no time recorded; not imported".to_owned(),
                NoteKind::SampleFile { file, problem } if file.is_empty() => {
                    format!("no per-sample file ({problem}); the case keeps the tool's summary only")
                }
                NoteKind::SampleFile { file, problem } => {
                    format!(
                        "per-sample file `{file}` not used: {problem}; the case keeps the tool's summary only"
                    )
                }
                NoteKind::Unclosed => {
                    "left unclosed by an interrupted run; read as Kernel Tuner reads it, up to its last \
                     complete entry"
                        .to_owned()
                }
                NoteKind::Devices { count } => {
                    format!("states on {count} devices; a `Device` parameter tells them apart")
                }
            };
            Some(format!("  {}: {}\n", note.entry, terminal_safe(&what)))
        })
        .collect();
    for line in others.iter().take(LISTED_NOTES) {
        words += line;
    }
    if others.len() > LISTED_NOTES {
        words += &format!("  … and {} more like these\n", others.len() - LISTED_NOTES);
    }
    words
}
