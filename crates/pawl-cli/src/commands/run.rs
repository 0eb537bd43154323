//! `pawl run`: measure a suite and write a run file.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use comfy_table::{Table, presets};
use pawl_core::run::{CaseStatus, Run};

use super::{Outcome, load_suite};
use crate::cli::RunArgs;
use crate::measure;

pub fn run(args: &RunArgs) -> Result<Outcome> {
    let suite = load_suite(&args.suite)?;
    let run = measure::measure(&suite, &args.measure, &args.output)?;
    let mut out = std::io::stdout().lock();
    write!(out, "{}", summary_table(&run, std::io::stdout().is_terminal()))?;
    writeln!(out, "run file: {}", args.output.display())?;
    let failed = run.cases.iter().any(|c| matches!(c.status, CaseStatus::Failed | CaseStatus::Wrong | CaseStatus::Timeout));
    Ok(Outcome::from_failed(failed))
}

/// One line per case: status, median with its interval, samples, throughput.
pub fn summary_table(run: &Run, terminal: bool) -> String {
    let mut table = Table::new();
    table.load_preset(if terminal { presets::UTF8_FULL_CONDENSED } else { presets::ASCII_MARKDOWN });
    table.set_header(["case", "status", "median", "99% CI", "n", "TFLOP/s", "GB/s", "note"]);
    for case in &run.cases {
        let (median, ci, tflops, gbps) = match &case.stats {
            Some(s) => {
                let half = (s.ci_high_ns - s.ci_low_ns) / 2.0 / s.median_ns * 100.0;
                let per_s = 1e9 / s.median_ns;
                (
                    format_ns(s.median_ns),
                    format!("±{half:.2}%"),
                    case.flops.map(|f| format!("{:.1}", f * per_s / 1e12)).unwrap_or_default(),
                    case.bytes.map(|b| format!("{:.0}", b * per_s / 1e9)).unwrap_or_default(),
                )
            }
            None => Default::default(),
        };
        let note = match (&case.error, case.throttled_samples) {
            (Some(error), _) if !error.is_empty() => first_line(error),
            (_, n) if n > 0 => format!("{n} samples throttled"),
            _ => String::new(),
        };
        table.add_row([
            case.id.to_string(),
            case.status.as_str().to_owned(),
            median,
            ci,
            case.samples_ns.len().to_string(),
            tflops,
            gbps,
            note,
        ]);
    }
    format!("{table}\n")
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > 80 { format!("{}…", line.chars().take(79).collect::<String>()) } else { line.to_owned() }
}

/// A duration in nanoseconds with a readable unit.
pub fn format_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.3} ms", ns / 1e6)
    } else {
        format!("{:.3} s", ns / 1e9)
    }
}
