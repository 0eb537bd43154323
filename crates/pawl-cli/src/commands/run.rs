//! `pawl run`: measure a suite and write a run file.

use std::io::Write;

use anyhow::Result;
use comfy_table::{ColumnConstraint, ContentArrangement, LineStyle, Table, TableStyle};
use pawl_core::report::escape;
use pawl_core::report::human::wrap_id;
use pawl_core::report::text::{duration, shorten, three_figures};
use pawl_core::run::{CaseResult, CaseStatus, Run};

use super::{Outcome, load_suite};
use crate::cli::{RunArgs, ShardArg};
use crate::{log, measure, output};

pub fn run(args: &RunArgs) -> Result<Outcome> {
    let suite = load_suite(&args.suite)?;
    let shard = args.shard.map(ShardArg::resolve).transpose()?;
    let run = measure::measure(&suite, &args.measure, &args.gpus, shard, &args.output)?;
    // With `-o -` the run file is standard output: the table goes to standard error.
    let mut out: Box<dyn Write> = if output::is_stdout(&args.output) {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    if !(output::is_stdout(&args.output) && log::quiet()) {
        for line in summary_table(&run).lines() {
            writeln!(out, "{}", line.trim_end())?;
        }
        if log::verbose() {
            for note in full_notes(&run) {
                writeln!(out, "note: {note}")?;
            }
        }
        if let Some(described) = described(&run) {
            writeln!(out, "{described}")?;
        }
    }
    if !output::is_stdout(&args.output) {
        writeln!(out, "run file: {}", args.output.display())?;
    }
    out.flush()?;
    super::history::record(&suite, &run, pawl_history::Origin::Run, args.no_history)?;
    let failed = run
        .cases
        .iter()
        .any(|c| matches!(c.status, CaseStatus::Failed | CaseStatus::Wrong | CaseStatus::Timeout));
    Ok(Outcome::from_failed(failed))
}

/// One line per case: status, median with its interval, samples, throughput; within the width of the
/// comparison table, with the notes shortened (`--verbose` prints them in full after it).
pub fn summary_table(run: &Run) -> String {
    let mut table = Table::new();
    table
        .force_no_tty()
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(pawl_core::report::human::WIDTH)
        .load_style(TableStyle::new().header_separator(LineStyle::none().fill('─').junction('─')));
    table.set_header(HEADER);
    // Statuses and numbers never wrap; case ids are broken between params to fit (below), notes wrap.
    for index in 0..7 {
        if let Some(column) = table.column_mut(index) {
            column.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
    let mut rows = Vec::new();
    for case in &run.cases {
        let (median, ci, tflops, gbps) = match (&case.stats, &case.summary) {
            (Some(s), _) => {
                let half = (s.ci_high_ns - s.ci_low_ns) / 2.0 / s.median_ns * 100.0;
                let per_s = 1e9 / s.median_ns;
                (
                    duration(s.median_ns),
                    format!("±{half:.2}%"),
                    case.flops.map(|f| three_figures(f * per_s / 1e12)).unwrap_or_default(),
                    case.bytes.map(|b| three_figures(b * per_s / 1e9)).unwrap_or_default(),
                )
            }
            // A tool's summary in place of samples: its central figure, no interval.
            (None, Some(summary)) => (
                summary.center_ns().map(duration).unwrap_or_default(),
                String::new(),
                String::new(),
                String::new(),
            ),
            (None, None) => Default::default(),
        };
        rows.push([
            escape::terminal(case.id.as_str()).into_owned(),
            case.status.as_str().to_owned(),
            median,
            ci,
            case.samples_ns.len().to_string(),
            tflops,
            gbps,
            shorten(&escape::terminal(&note(case)), NOTE_CHARS),
        ]);
    }
    // The case column takes what the other columns leave of the width, ids broken between params.
    let width = |index: usize| {
        rows.iter().map(|row| row[index].chars().count()).max().unwrap_or(0).max(HEADER[index].len())
    };
    let notes = width(HEADER.len() - 1).min(NOTE_MIN) + 3;
    let others: usize = (1..HEADER.len() - 1).map(|index| width(index) + 3).sum::<usize>() + notes;
    let id_width = width(0)
        .min(usize::from(pawl_core::report::human::WIDTH).saturating_sub(others + 3).max(HEADER[0].len()));
    for mut row in rows {
        row[0] = wrap_id(&row[0], id_width);
        table.add_row(row);
    }
    table.to_string()
}

/// The longest a note runs in the summary table.
const NOTE_CHARS: usize = 48;
/// The notes column is never narrower than this; case ids wrap before it does.
const NOTE_MIN: usize = 16;
const HEADER: [&str; 8] = ["case", "status", "median", "99% CI", "n", "TFLOP/s", "GB/s", "note"];

/// What the summary table says about a case besides its numbers, in full (first line of an error).
fn note(case: &CaseResult) -> String {
    match (&case.error, case.throttled_samples, &case.summary) {
        // A case that is ok may carry a note of the engine's (`note: stopped at …`): the column says note.
        (Some(error), _, _) if !error.is_empty() => {
            let line = error.lines().next().unwrap_or_default();
            line.strip_prefix("note: ").unwrap_or(line).to_owned()
        }
        (_, n, _) if n > 0 => format!("{n} samples throttled"),
        (_, _, Some(summary)) if summary.median_ns.is_none() => "summary only (mean), no samples".to_owned(),
        (_, _, Some(_)) => "summary only, no samples".to_owned(),
        _ => String::new(),
    }
}

/// Every case whose note the table shortened, in full (`--verbose`).
pub fn full_notes(run: &Run) -> Vec<String> {
    run.cases
        .iter()
        .filter_map(|case| {
            let full = case.error.as_deref().filter(|e| !e.is_empty())?;
            Some(format!("{}: {}", escape::terminal(case.id.as_str()), escape::terminal_lines(full)))
        })
        .collect()
}

/// What kind of run this was, for the line under the table: command benches without a GPU are timed by
/// their harnesses on this host's CPU, not on a GPU.
pub fn described(run: &Run) -> Option<String> {
    run.env.gpu.is_none().then(|| {
        format!("{} cases of command benches, timed by their harnesses (no NVIDIA GPU seen)", run.cases.len())
    })
}
