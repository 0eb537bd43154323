//! The markdown report: the sticky PR comment and the job summary.
//!
//! Layout, most important first: a hidden marker (so CI can find and update its one comment), a one-line
//! summary, a table of regressions and failures, a table of the other changes, the unchanged, new and
//! missing cases folded in a `<details>` block, the settings, then any extra sections.
//!
//! Everything that comes from users (suite and case names, labels, reasons) is escaped
//! ([`escape::markdown`](super::escape::markdown)), so that it can neither break a table, inject HTML,
//! ping anybody nor link anywhere. The whole report stays under
//! [`ReportOptions::max_markdown_chars`]: when it would not, rows are left out from the least urgent end
//! and a note says how many and where the full report is.

use std::fmt::Write as _;
use std::ops::Range;

use super::ReportOptions;
use super::escape::markdown as escape;
use super::text;
use crate::verdict::{Comparison, Verdict, VerdictKind};

/// The hidden first line of the report, by which CI finds the comment to update: `<!-- pawl:SUITE -->`.
///
/// Characters other than ASCII letters, digits and `_ . : / + = @ ,` are percent-encoded, and so is a `-`
/// followed by another, so no suite name can close the comment (`-->`) or open a new one. The encoding
/// is deterministic: the same suite always gives the same marker.
pub fn marker(suite: &str) -> String {
    let mut encoded = String::with_capacity(suite.len());
    let mut chars = suite.chars().peekable();
    while let Some(c) = chars.next() {
        let plain =
            c.is_ascii_alphanumeric() || "_.:/+=@,".contains(c) || (c == '-' && chars.peek() != Some(&'-'));
        if plain {
            encoded.push(c);
        } else {
            let mut utf8 = [0; 4];
            for byte in c.encode_utf8(&mut utf8).bytes() {
                // Writing to a String cannot fail.
                let _ = write!(encoded, "%{byte:02X}");
            }
        }
    }
    format!("<!-- pawl:{encoded} -->")
}

/// The markdown report for `comparison`, at most `opts.max_markdown_chars` characters long (less a
/// margin) whenever the parts always shown (marker, summary, settings, truncation note) fit.
///
/// When the full report is too long, parts are left out in this order until it fits: rows that do not
/// fail the check (least urgent first), the extra sections (last first), then the rows that do.
pub fn markdown(comparison: &Comparison, opts: &ReportOptions) -> String {
    let report = Report::new(comparison, opts);
    let budget = budget(opts.max_markdown_chars);
    let fits = |shown: Shown| report.render(shown).chars().count() <= budget;

    let all_rows = report.rows.len();
    let all_extras = opts.extra_markdown.len();
    let urgent = report.sections[0].range.end;
    let full = Shown { rows: all_rows, extras: all_extras };
    let chosen = if fits(full) {
        full
    } else if let Some(rows) =
        largest_fitting(urgent..all_rows, |rows| fits(Shown { rows, extras: all_extras }))
    {
        Shown { rows, extras: all_extras }
    } else if let Some(extras) = largest_fitting(0..all_extras, |extras| fits(Shown { rows: urgent, extras }))
    {
        Shown { rows: urgent, extras }
    } else if let Some(rows) = largest_fitting(0..urgent, |rows| fits(Shown { rows, extras: 0 })) {
        Shown { rows, extras: 0 }
    } else {
        Shown { rows: 0, extras: 0 }
    };
    report.render(chosen)
}

/// The length to aim for under a limit: 1% less, because GitHub's count may differ from ours (it may
/// count UTF-16 units, and 🔴 is two of them) and a caller may add a line around the report.
fn budget(limit: usize) -> usize {
    limit - limit / 100
}

/// The largest `n` in `range` for which `fits(n)` holds, given that it holds for every `n` below one that
/// does (the report only grows as more is shown). `None` when it holds for none. Binary search: about
/// log2(range) calls.
fn largest_fitting(range: Range<usize>, fits: impl Fn(usize) -> bool) -> Option<usize> {
    let (mut low, mut high) = (range.start, range.end);
    // Invariant: everything below `low` fits, everything from `high` on does not.
    while low < high {
        let mid = low + (high - low) / 2;
        if fits(mid) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    (low > range.start).then(|| low - 1)
}

/// How much of the report to show: the first `rows` verdicts in urgency order and the first `extras`
/// extra sections.
#[derive(Clone, Copy, Debug)]
struct Shown {
    rows: usize,
    extras: usize,
}

/// A group of verdicts with its own table, as a range of the urgency-ordered rows.
#[derive(Debug)]
struct Section {
    /// The heading above its table; `None` folds the table into a `<details>` block titled by its counts.
    title: Option<&'static str>,
    range: Range<usize>,
    counts: String,
}

/// The parts of a markdown report, escaped and formatted once, put together by [`Report::render`].
#[derive(Debug)]
struct Report<'a> {
    opts: &'a ReportOptions,
    marker: String,
    summary: String,
    settings: String,
    /// One table row per verdict, most urgent first.
    rows: Vec<String>,
    sections: [Section; 3],
}

impl<'a> Report<'a> {
    fn new(comparison: &Comparison, opts: &'a ReportOptions) -> Self {
        let verdicts = text::by_urgency(comparison);
        let end_of = |in_section: fn(VerdictKind) -> bool, start: usize| {
            start + verdicts[start..].iter().take_while(|v| in_section(v.kind)).count()
        };
        let urgent_end = end_of(VerdictKind::fails_check, 0);
        let changes_end =
            end_of(|kind| matches!(kind, VerdictKind::Inconclusive | VerdictKind::Improved), urgent_end);
        let counts = |range: &Range<usize>| {
            VerdictKind::ALL
                .iter()
                .filter_map(|&kind| {
                    let n = verdicts[range.clone()].iter().filter(|v| v.kind == kind).count();
                    (n > 0).then(|| format!("{n} {kind}"))
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let section = |title, range: Range<usize>| Section { title, counts: counts(&range), range };
        let sections = [
            section(Some("Regressions and failures"), 0..urgent_end),
            section(Some("Other changes"), urgent_end..changes_end),
            section(None, changes_end..verdicts.len()),
        ];
        Report {
            opts,
            marker: marker(&comparison.suite),
            summary: summary(comparison),
            settings: {
                let mut settings = text::settings(comparison, escape);
                if let Some(from) = text::thresholds_from(comparison) {
                    settings = format!("{settings} · {}", escape(&from));
                }
                match &opts.cost {
                    Some(cost) => format!("{settings} · {}", text::cost(cost)),
                    None => settings,
                }
            },
            rows: verdicts.iter().map(|verdict| row(verdict)).collect(),
            sections,
        }
    }

    fn render(&self, shown: Shown) -> String {
        let mut out = String::new();
        out.push_str(&self.marker);
        out.push('\n');
        out.push_str(&self.summary);
        out.push('\n');
        for section in &self.sections {
            let end = section.range.end.min(shown.rows);
            if end <= section.range.start {
                continue;
            }
            let rows = &self.rows[section.range.start..end];
            match section.title {
                Some(title) => {
                    out.push_str("\n### ");
                    out.push_str(title);
                    out.push_str("\n\n");
                    push_table(&mut out, rows);
                }
                None => {
                    out.push_str("\n<details>\n<summary>");
                    out.push_str(&section.counts);
                    out.push_str("</summary>\n\n");
                    push_table(&mut out, rows);
                    out.push_str("\n</details>\n");
                }
            }
        }
        if let Some(note) = self.truncation_note(shown) {
            out.push('\n');
            out.push_str(&note);
            out.push('\n');
        }
        out.push_str("\n<sub>");
        out.push_str(&self.settings);
        out.push_str("</sub>\n");
        for extra in &self.opts.extra_markdown[..shown.extras] {
            out.push('\n');
            out.push_str(extra.trim_end());
            out.push('\n');
        }
        // The caller decides about the final newline (a comment body does not need one).
        out.truncate(out.trim_end().len());
        out
    }

    fn truncation_note(&self, shown: Shown) -> Option<String> {
        let hidden_rows = self.rows.len() - shown.rows;
        let hidden_extras = self.opts.extra_markdown.len() - shown.extras;
        if hidden_rows == 0 && hidden_extras == 0 {
            return None;
        }
        let mut left_out = Vec::new();
        if hidden_rows > 0 {
            left_out.push(format!("{hidden_rows} of {} cases", self.rows.len()));
        }
        if hidden_extras > 0 {
            let plural = if hidden_extras == 1 { "" } else { "s" };
            left_out.push(format!("{hidden_extras} extra section{plural}"));
        }
        let full_report = match &self.opts.artifact_hint {
            Some(hint) => format!("The full report: {hint}."),
            None => "Render the comparison with `--format json` for the full report.".to_owned(),
        };
        Some(format!(
            "**Truncated** to stay within the {}-character comment limit, leaving out {}. {full_report}",
            self.opts.max_markdown_chars,
            left_out.join(" and "),
        ))
    }
}

/// `❌ 2 regressed, 1 improved, 37 unchanged — suite **attention** on NVIDIA H100, main → HEAD`.
fn summary(comparison: &Comparison) -> String {
    let icon = if comparison.fails_check() {
        "❌"
    } else if comparison.count(VerdictKind::Inconclusive) + comparison.count(VerdictKind::Missing) > 0 {
        "⚠️"
    } else {
        "✅"
    };
    let mut line = format!("{icon} {} — suite **{}**", comparison.summary_line(), escape(&comparison.suite));
    if !comparison.testbed.trim().is_empty() {
        line.push_str(" on ");
        line.push_str(&escape(&comparison.testbed));
    }
    line.push_str(", ");
    line.push_str(&escape(&comparison.old_label));
    line.push_str(" → ");
    line.push_str(&escape(&comparison.new_label));
    line
}

const TABLE_HEADER: &str = "| verdict | case | old | new | change in time | TFLOP/s (new) | notes |\n\
                            |:--|:--|--:|--:|--:|--:|:--|\n";

fn push_table(out: &mut String, rows: &[String]) {
    out.push_str(TABLE_HEADER);
    for row in rows {
        out.push_str(row);
        out.push('\n');
    }
}

fn row(verdict: &Verdict) -> String {
    format!(
        "| {} {} | {} | {} | {} | {} | {} | {} |",
        icon(verdict.kind),
        verdict.kind,
        escape(verdict.id.as_str()),
        text::median(verdict.old.as_ref()),
        text::median(verdict.new.as_ref()),
        text::change(verdict.ratio.as_ref()),
        text::tflops(verdict.new.as_ref()),
        escape(&text::notes(verdict)),
    )
}

fn icon(kind: VerdictKind) -> &'static str {
    match kind {
        VerdictKind::Regressed => "🔴",
        VerdictKind::Failed => "💥",
        VerdictKind::Inconclusive => "🟡",
        VerdictKind::Improved => "🟢",
        VerdictKind::Unchanged => "⚪",
        VerdictKind::New => "🆕",
        VerdictKind::Missing => "➖",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_cannot_close_the_comment() {
        assert_eq!(marker("attention"), "<!-- pawl:attention -->");
        assert_eq!(marker("flash-attn_v2"), "<!-- pawl:flash-attn_v2 -->");
        let hostile = marker("x --> <b>hi</b> <!-- y --!>");
        let inner = hostile.strip_prefix("<!-- ").unwrap().strip_suffix(" -->").unwrap();
        assert!(!inner.contains("--") && !inner.contains('<') && !inner.contains('>'), "{hostile}");
        assert_eq!(marker("a---b"), "<!-- pawl:a%2D%2D-b -->");
        assert_eq!(marker("注意"), "<!-- pawl:%E6%B3%A8%E6%84%8F -->");
    }

    #[test]
    fn largest_fitting_finds_the_boundary() {
        assert_eq!(largest_fitting(0..10, |n| n <= 6), Some(6));
        assert_eq!(largest_fitting(3..10, |n| n <= 2), None);
        assert_eq!(largest_fitting(3..10, |_| true), Some(9));
        assert_eq!(largest_fitting(0..0, |_| true), None);
    }
}
