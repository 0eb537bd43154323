//! `pawl run`: measure a suite and write a run file.

use std::io::Write;

use anyhow::Result;
use comfy_table::{LineStyle, Table, TableStyle};
use pawl_core::report::escape;
use pawl_core::report::text::duration;
use pawl_core::run::{CaseStatus, Run};

use super::{Outcome, load_suite};
use crate::cli::{RunArgs, ShardArg};
use crate::measure;

pub fn run(args: &RunArgs) -> Result<Outcome> {
    let suite = load_suite(&args.suite)?;
    let shard = args.shard.map(ShardArg::resolve).transpose()?;
    let run = measure::measure(&suite, &args.measure, &args.gpus, shard, &args.output)?;
    let mut out = std::io::stdout().lock();
    for line in summary_table(&run).lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    writeln!(out, "run file: {}", args.output.display())?;
    super::history::record(&suite, &run, pawl_history::Origin::Run, args.no_history)?;
    let failed = run
        .cases
        .iter()
        .any(|c| matches!(c.status, CaseStatus::Failed | CaseStatus::Wrong | CaseStatus::Timeout));
    Ok(Outcome::from_failed(failed))
}

/// One line per case: status, median with its interval, samples, throughput.
pub fn summary_table(run: &Run) -> String {
    let mut table = Table::new();
    table
        .force_no_tty()
        .load_style(TableStyle::new().header_separator(LineStyle::none().fill('─').junction('─')));
    table.set_header(["case", "status", "median", "99% CI", "n", "TFLOP/s", "GB/s", "note"]);
    for case in &run.cases {
        let (median, ci, tflops, gbps) = match (&case.stats, &case.summary) {
            (Some(s), _) => {
                let half = (s.ci_high_ns - s.ci_low_ns) / 2.0 / s.median_ns * 100.0;
                let per_s = 1e9 / s.median_ns;
                (
                    duration(s.median_ns),
                    format!("±{half:.2}%"),
                    case.flops.map(|f| format!("{:.1}", f * per_s / 1e12)).unwrap_or_default(),
                    case.bytes.map(|b| format!("{:.0}", b * per_s / 1e9)).unwrap_or_default(),
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
        let note = match (&case.error, case.throttled_samples, &case.summary) {
            (Some(error), _, _) if !error.is_empty() => escape::terminal(&first_line(error)).into_owned(),
            (_, n, _) if n > 0 => format!("{n} samples throttled"),
            (_, _, Some(summary)) if summary.median_ns.is_none() => {
                "summary only (mean), no samples".to_owned()
            }
            (_, _, Some(_)) => "summary only, no samples".to_owned(),
            _ => String::new(),
        };
        table.add_row([
            escape::terminal(case.id.as_str()).into_owned(),
            case.status.as_str().to_owned(),
            median,
            ci,
            case.samples_ns.len().to_string(),
            tflops,
            gbps,
            note,
        ]);
    }
    table.to_string()
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > 80 {
        format!("{}…", line.chars().take(79).collect::<String>())
    } else {
        line.to_owned()
    }
}
