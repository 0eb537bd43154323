//! GitHub Actions output: annotations as workflow commands, and the job summary.
//!
//! Regressed and failed cases become `::error`, inconclusive ones `::warning`, improved ones `::notice`;
//! unchanged, new and missing cases are left to the job summary. GitHub shows at most 10 annotations of
//! each level per step and silently drops the rest, so a level with more than 10 cases gets 9 of them and
//! a 10th annotation saying how many more there are; the job summary lists them all.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

use super::escape::{self, workflow_data as escape_data, workflow_property as escape_property};
use super::{ReportOptions, markdown};
use super::{text, words};
use crate::verdict::{Comparison, Verdict, VerdictKind};

/// Annotations GitHub displays per level and step.
pub const ANNOTATIONS_PER_LEVEL: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    fn of(kind: VerdictKind) -> Option<Level> {
        match kind {
            VerdictKind::Regressed | VerdictKind::Failed => Some(Level::Error),
            VerdictKind::Inconclusive => Some(Level::Warning),
            VerdictKind::Improved => Some(Level::Notice),
            VerdictKind::Unchanged | VerdictKind::New | VerdictKind::Missing => None,
        }
    }

    fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }

    fn cases(self) -> &'static str {
        match self {
            Level::Error => "regressed or failed cases",
            Level::Warning => "inconclusive cases",
            Level::Notice => "improved cases",
        }
    }
}

/// Writes the annotations, then the summary line as plain log text.
pub fn write(comparison: &Comparison, out: &mut dyn Write) -> io::Result<()> {
    let verdicts = text::by_urgency(comparison);
    for level in [Level::Error, Level::Warning, Level::Notice] {
        let at_level: Vec<&Verdict> =
            verdicts.iter().copied().filter(|verdict| Level::of(verdict.kind) == Some(level)).collect();
        let (shown, more) = if at_level.len() > ANNOTATIONS_PER_LEVEL {
            at_level.split_at(ANNOTATIONS_PER_LEVEL - 1)
        } else {
            (at_level.as_slice(), &[][..])
        };
        for verdict in shown {
            let title = format!("{}: {}", verdict.kind, verdict.id);
            annotate(out, level, &title, &message(verdict))?;
        }
        if !more.is_empty() {
            let title = format!("{} more {}", more.len(), level.cases());
            let body = format!(
                "{} more {} are not annotated (GitHub shows {ANNOTATIONS_PER_LEVEL} per step); \
                 the job summary lists every case.",
                more.len(),
                level.cases(),
            );
            annotate(out, level, &title, &body)?;
        }
    }
    // Plain log text, not a command: the suite name must not make it one.
    writeln!(out, "pawl: suite {}: {}", escape::terminal(&comparison.suite), comparison.summary_line())
}

/// Appends the markdown report to the job summary file (the CLI passes `$GITHUB_STEP_SUMMARY`),
/// separated by a blank line from what an earlier command of the step wrote there.
pub fn append_step_summary(comparison: &Comparison, opts: &ReportOptions, path: &Path) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    let mut text = String::new();
    if file.metadata()?.len() > 0 {
        text.push('\n');
    }
    text.push_str(&markdown(comparison, opts));
    text.push('\n');
    file.write_all(text.as_bytes())
}

fn message(verdict: &Verdict) -> String {
    let mut message = words::reason(verdict);
    if let (Some(old), Some(new)) = (&verdict.old, &verdict.new) {
        message.push_str(&format!(
            " (median {} → {})",
            text::duration(old.median_ns.point),
            text::duration(new.median_ns.point),
        ));
    }
    for note in words::notes(verdict) {
        message.push_str("; ");
        message.push_str(&note);
    }
    message
}

fn annotate(out: &mut dyn Write, level: Level, title: &str, message: &str) -> io::Result<()> {
    writeln!(out, "::{} title={}::{}", level.command(), escape_property(title), escape_data(message))
}
