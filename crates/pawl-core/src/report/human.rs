//! The terminal report: a table of verdicts, most urgent first, then a summary line and the settings.
//!
//! The table fits [`WIDTH`] columns: its notes are a few words each, and a cell too wide for its column
//! wraps. With [`ReportOptions::full_notes`] (`--verbose`) every case's reason and notes follow the
//! table in full. The summary comes last so that it is what stays on screen after a long table has
//! scrolled by.

use std::io::{self, Write};

use comfy_table::{Cell, CellAlignment, Color, ContentArrangement, LineStyle, Table, TableStyle};

use super::ReportOptions;
use super::escape::terminal as terminal_safe;
use super::{text, words};
use crate::verdict::{Comparison, Verdict, VerdictKind};

const HEADER: [&str; 7] = ["verdict", "case", "old", "new", "change in time", "TFLOP/s (new)", "notes"];
/// No borders, a rule under the header: easy to read, and to copy from.
const STYLE: TableStyle = TableStyle::new().header_separator(LineStyle::none().fill('─').junction('─'));
/// Columns holding numbers, right-aligned so that digits line up.
const NUMERIC_COLUMNS: [usize; 4] = [2, 3, 4, 5];
/// The widest the table gets, in columns: a terminal's usual width, and a CI log's.
pub const WIDTH: u16 = 120;

/// Writes the human report.
pub fn write(comparison: &Comparison, opts: &ReportOptions, out: &mut dyn Write) -> io::Result<()> {
    write!(out, "pawl: suite {}", terminal_safe(&comparison.suite))?;
    if !comparison.testbed.trim().is_empty() {
        write!(out, " on {}", terminal_safe(&comparison.testbed))?;
    }
    writeln!(out, ": {} → {}", terminal_safe(&comparison.old_label), terminal_safe(&comparison.new_label))?;
    if let Some(from) = text::thresholds_from(comparison) {
        writeln!(out, "{}", terminal_safe(&from))?;
    }
    if !comparison.verdicts.is_empty() {
        // Trimmed: the last column is padded to its widest cell, which is noise at a line's end.
        for line in table(comparison, opts).lines() {
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    if opts.full_notes {
        details(comparison, out)?;
    }
    writeln!(out, "{}", comparison.summary_line())?;
    writeln!(out, "{}", text::settings(comparison, |s| terminal_safe(s).into_owned()))
}

fn table(comparison: &Comparison, opts: &ReportOptions) -> Table {
    let mut table = Table::new();
    // The CLI has already decided about colour; the table must not look at stdout itself.
    table.force_no_tty().set_content_arrangement(ContentArrangement::Dynamic).set_width(WIDTH);
    if opts.color {
        table.enforce_styling().style_text_only();
    }
    table.load_style(STYLE).set_header(HEADER);
    for index in NUMERIC_COLUMNS {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    for verdict in text::by_urgency(comparison) {
        table.add_row(row(verdict, opts.color));
    }
    table
}

fn row(verdict: &Verdict, color: bool) -> Vec<Cell> {
    let paint = |cell: Cell| match (color, kind_color(verdict.kind)) {
        (true, Some(c)) => cell.fg(c),
        _ => cell,
    };
    vec![
        paint(Cell::new(verdict.kind)),
        Cell::new(terminal_safe(verdict.id.as_str())),
        Cell::new(text::median(verdict.old.as_ref())),
        Cell::new(text::median(verdict.new.as_ref())),
        paint(Cell::new(text::change(verdict.ratio.as_ref()))),
        Cell::new(text::tflops(verdict.new.as_ref())),
        Cell::new(terminal_safe(&text::short_notes(verdict))),
    ]
}

/// Every case's reason and notes in full, one case a paragraph, most urgent first.
fn details(comparison: &Comparison, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "details:")?;
    for verdict in text::by_urgency(comparison) {
        writeln!(
            out,
            "  {} ({}): {}",
            terminal_safe(verdict.id.as_str()),
            verdict.kind,
            terminal_safe(&words::reason(verdict))
        )?;
        for note in words::notes(verdict) {
            writeln!(out, "    note: {}", terminal_safe(&note))?;
        }
    }
    Ok(())
}

fn kind_color(kind: VerdictKind) -> Option<Color> {
    match kind {
        VerdictKind::Regressed | VerdictKind::Failed => Some(Color::Red),
        VerdictKind::Improved => Some(Color::Green),
        VerdictKind::Inconclusive => Some(Color::Yellow),
        VerdictKind::Unchanged | VerdictKind::New | VerdictKind::Missing => None,
    }
}
