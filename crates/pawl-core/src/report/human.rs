//! The terminal report: a table of verdicts, most urgent first, then a summary line and the settings.
//!
//! The table fits [`WIDTH`] columns: its notes are a few words each, and a cell too wide for its column
//! wraps. With [`ReportOptions::full_notes`] (`--verbose`) every case's reason and notes follow the
//! table in full. The summary comes last so that it is what stays on screen after a long table has
//! scrolled by.

use std::io::{self, Write};

use comfy_table::{
    Cell, CellAlignment, Color, ColumnConstraint, ContentArrangement, LineStyle, Table, TableStyle,
};

use super::ReportOptions;
use super::escape::terminal as terminal_safe;
use super::{text, words};
use crate::verdict::{Comparison, Verdict, VerdictKind};

const HEADER: [&str; 7] = ["verdict", "case", "old", "new", "change in time", "TFLOP/s", "notes"];
/// No borders, a rule under the header: easy to read, and to copy from.
const STYLE: TableStyle = TableStyle::new().header_separator(LineStyle::none().fill('─').junction('─'));
/// Columns holding numbers, right-aligned so that digits line up.
const NUMERIC_COLUMNS: [usize; 4] = [2, 3, 4, 5];
/// The widest the table gets, in columns: a terminal's usual width, and a CI log's.
pub const WIDTH: u16 = 120;
/// The notes column is never narrower than this (or its longest note); case ids wrap before it does.
const NOTES_MIN_WIDTH: usize = 16;
/// What a column takes besides its content: a space either side and the gap between columns.
const PADDING: usize = 3;

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
    // The case column takes what the fixed columns and the notes' minimum leave, up to its longest id;
    // a longer id is broken after a `,` or `/` of its own, so that each line of it reads as params.
    let rows: Vec<Vec<String>> = text::by_urgency(comparison).into_iter().map(plain_row).collect();
    let width = |index: usize| {
        rows.iter()
            .map(|row| row[index].chars().count())
            .chain([HEADER[index].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let fixed: usize = [0, 2, 3, 4, 5].into_iter().map(|index| width(index) + PADDING).sum();
    let room = usize::from(WIDTH).saturating_sub(fixed + width(6).min(NOTES_MIN_WIDTH) + 2 * PADDING);
    let id_width = width(1).min(room.max(HEADER[1].len()));
    for (verdict, mut cells) in text::by_urgency(comparison).into_iter().zip(rows) {
        cells[1] = wrap_id(&cells[1], id_width);
        table.add_row(painted(verdict, cells, opts.color));
    }
    for index in NUMERIC_COLUMNS {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    // Verdicts and numbers never wrap; notes take what is left.
    for index in [0].into_iter().chain(NUMERIC_COLUMNS) {
        if let Some(column) = table.column_mut(index) {
            column.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
    if let Some(column) = table.column_mut(1) {
        column.set_constraint(ColumnConstraint::ContentWidth);
    }
    table
}

/// A row's cells as text.
fn plain_row(verdict: &Verdict) -> Vec<String> {
    vec![
        verdict.kind.to_string(),
        terminal_safe(verdict.id.as_str()).into_owned(),
        text::median(verdict.old.as_ref()),
        text::median(verdict.new.as_ref()),
        text::change(verdict.ratio.as_ref()),
        text::tflops(verdict.new.as_ref()),
        terminal_safe(&text::short_notes(verdict)).into_owned(),
    ]
}

/// The cells, the verdict and the change coloured by the kind.
fn painted(verdict: &Verdict, cells: Vec<String>, color: bool) -> Vec<Cell> {
    let paint = |index: usize, cell: Cell| match (color && matches!(index, 0 | 4), kind_color(verdict.kind)) {
        (true, Some(c)) => cell.fg(c),
        _ => cell,
    };
    cells.into_iter().enumerate().map(|(index, text)| paint(index, Cell::new(text))).collect()
}

/// `id` in lines of at most `width` characters, broken after a `,` or `/` where it can be (a part
/// longer than a line is cut where the line ends).
pub fn wrap_id(id: &str, width: usize) -> String {
    let width = width.max(1);
    let mut parts: Vec<String> = Vec::new();
    let mut part = String::new();
    for c in id.chars() {
        part.push(c);
        if matches!(c, ',' | '/') {
            parts.push(std::mem::take(&mut part));
        }
    }
    parts.push(part);
    let mut lines: Vec<String> = vec![String::new()];
    for part in parts {
        for c_part in chunks(&part, width) {
            let line = lines.last_mut().expect("never empty");
            if !line.is_empty() && line.chars().count() + c_part.chars().count() > width {
                lines.push(c_part);
            } else {
                line.push_str(&c_part);
            }
        }
    }
    lines.join("\n")
}

/// `text` in pieces of at most `width` characters.
fn chunks(text: &str, width: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(width).map(|piece| piece.iter().collect()).collect()
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

#[cfg(test)]
mod tests {
    use super::wrap_id;

    #[test]
    fn ids_break_between_params() {
        assert_eq!(wrap_id("flash_fwd/B=8,H=16,S=4096,dtype=f16", 40), "flash_fwd/B=8,H=16,S=4096,dtype=f16");
        assert_eq!(
            wrap_id("flash_fwd/B=8,H=16,S=4096,dtype=f16", 26),
            "flash_fwd/B=8,H=16,S=4096,\ndtype=f16"
        );
        assert_eq!(
            wrap_id("flash_fwd/B=8,H=16,S=4096,dtype=f16", 12),
            "flash_fwd/\nB=8,H=16,\nS=4096,\ndtype=f16"
        );
        assert_eq!(wrap_id("averyveryverylongname", 8), "averyver\nyverylon\ngname");
    }
}
