//! What the report says, section by section, as [`Block`]s: summary, measured ceilings, the results
//! table with winners, the figures with their numbers, the power of the sweep, what was not measured,
//! and how to reproduce it all.

use pawl_core::ceilings::CeilingKind;
use pawl_core::report::text::duration;

use crate::document::{Block, Table};
use crate::figures::{Named, short_status};
use crate::model::{CellStatus, Checked, Report, Timing};

/// Every section, in order; `figures` are the report's figures (blocks refer to them by index).
pub fn blocks(report: &Report, figures: &[Named], report_command: &str) -> Vec<Block> {
    let mut out = vec![Block::Heading(1, report.title.clone())];
    out.extend(summary(report));
    out.extend(ceilings(report));
    out.extend(results(report));
    out.extend(figure_sections(report, figures));
    out.extend(power(report));
    out.extend(not_measured(report));
    out.extend(reproducibility(report, report_command));
    out
}

fn percent(confidence: f64) -> String {
    format!("{:.0}%", 100.0 * confidence)
}

/// A median with its interval in the median's unit: `235 µs [234, 236]`.
pub fn time_with_interval(t: &Timing) -> String {
    let text = duration(t.median_ns);
    let unit = text.rsplit(' ').next().unwrap_or("ns");
    let scale = match unit {
        "s" => 1e9,
        "ms" => 1e6,
        "µs" => 1e3,
        _ => 1.0,
    };
    let figures = |v: f64| {
        let digits = (3 - 1 - (t.median_ns / scale).abs().log10().floor() as i32).clamp(0, 6) as usize;
        format!("{:.digits$}", v / scale)
    };
    format!("{text} [{}, {}]", figures(t.low_ns), figures(t.high_ns))
}

fn check_mark(checked: Option<Checked>) -> &'static str {
    match checked {
        Some(Checked::Passed) => "✓",
        Some(Checked::Wrong) => "✗",
        Some(Checked::Unchecked) => "unchecked",
        None => "",
    }
}

fn gpu_name(report: &Report) -> String {
    report.environment.gpu.as_ref().map_or_else(|| "no GPU recorded".to_owned(), |g| g.name.clone())
}

fn summary(report: &Report) -> Vec<Block> {
    let (measured, possible) = report.counts();
    let least = report.cells.iter().flatten().filter_map(|c| c.time.as_ref().map(|t| t.n)).min();
    let mut wins = vec![0usize; report.implementations.len()];
    let mut ties = 0;
    for d in &report.decisions {
        match (d.winner, d.tied.is_empty()) {
            (Some(w), _) => wins[w] += 1,
            (None, false) => ties += 1,
            _ => {}
        }
    }
    let mut winners: Vec<(usize, usize)> = wins.iter().copied().enumerate().filter(|(_, n)| *n > 0).collect();
    winners.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let winners_text = if winners.is_empty() {
        "no configuration has a winner".to_owned()
    } else {
        winners
            .iter()
            .map(|(i, n)| format!("{} in {n}", report.implementations[*i]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    vec![
        Block::Paragraph(format!(
            "{} configurations × {} implementations on {}: {measured} of {possible} cells measured{}. Every \
             interval is the {} percentile bootstrap interval of a median ({} resamples, seed {}). A configuration \
             names a winner only where the fastest implementation's interval lies entirely below every other's; \
             elsewhere it is a tie between the fastest and every implementation whose interval reaches it.",
            report.configurations.len(),
            report.implementations.len(),
            gpu_name(report),
            least.map_or(String::new(), |n| format!(", each from at least {n} samples")),
            percent(report.confidence),
            report.bootstrap_resamples,
            report.bootstrap_seed,
        )),
        Block::List(vec![
            format!("Winners: {winners_text}."),
            format!("Ties: {ties} configurations."),
            format!(
                "Speed-ups are against {} (its median time over each implementation's).",
                report.reference
            ),
            "Correctness: ✓ the output matched the reference within the tolerances before timing (pawl's check \
             for pawl's kernels, the adapter's for the others); ✗ it did not (never timed); unchecked: no \
             reference ran."
                .to_owned(),
        ]),
    ]
}

fn ceilings(report: &Report) -> Vec<Block> {
    let mut out = vec![Block::Heading(2, "Measured ceilings".to_owned())];
    let Some(ceilings) = &report.ceilings else {
        out.push(Block::Paragraph(
            "No ceilings were measured on this GPU before the runs (pawl ceilings), so the report has no \
             rooflines and no shares of a roof."
                .to_owned(),
        ));
        return out;
    };
    out.push(Block::Paragraph(format!(
        "Measured by pawl ceilings on {} (driver {}) at {}; each the rate at the median time of its samples, \
         with the rate at the ends of the median's interval. Datasheet: {}.",
        ceilings.gpu_name,
        ceilings.driver_version,
        ceilings.measured_at,
        ceilings.datasheet.as_deref().unwrap_or("none known for this GPU")
    )));
    let mut table = Table {
        header: ["ceiling", "measured", "interval", "datasheet", "measured / datasheet", "samples", "how"]
            .map(String::from)
            .to_vec(),
        rows: Vec::new(),
    };
    for kind in CeilingKind::ALL {
        let Some(c) = ceilings.get(kind) else { continue };
        table.rows.push(vec![
            kind.label().to_owned(),
            format!("{:.0} {}", c.value, kind.unit()),
            format!("[{:.0}, {:.0}] ({})", c.low, c.high, percent(c.confidence)),
            c.datasheet.map_or("—".to_owned(), |d| format!("{d:.0} {}", kind.unit())),
            c.ratio().map_or("—".to_owned(), |r| format!("{:.1}%", 100.0 * r)),
            c.samples.to_string(),
            c.method.clone(),
        ]);
    }
    out.push(Block::Table(table));
    out
}

fn winner_text(report: &Report, c: usize) -> String {
    let d = &report.decisions[c];
    match (d.winner, d.tied.is_empty(), d.fastest) {
        (Some(w), _, _) => report.implementations[w].clone(),
        (None, false, _) => {
            let names: Vec<&str> = d.tied.iter().map(|&i| report.implementations[i].as_str()).collect();
            format!("tie: {}", names.join(", "))
        }
        (None, true, Some(f)) => format!("{} (alone)", report.implementations[f]),
        (None, true, None) => "—".to_owned(),
    }
}

fn results(report: &Report) -> Vec<Block> {
    let mut header = vec!["configuration".to_owned()];
    header.extend(report.implementations.iter().cloned());
    header.push("winner".to_owned());
    let mut table = Table { header, rows: Vec::new() };
    for (c, config) in report.configurations.iter().enumerate() {
        let mut row = vec![config.label.clone()];
        for cell in &report.cells[c] {
            row.push(match &cell.time {
                Some(t) => format!("{} {}", time_with_interval(t), check_mark(cell.checked)),
                None => short_status(cell.status).to_owned(),
            });
        }
        row.push(winner_text(report, c));
        table.rows.push(row);
    }
    vec![
        Block::Heading(2, "Results".to_owned()),
        Block::Paragraph(format!(
            "Median time per launch with its {} bootstrap interval, then the check mark. n/a: the implementation \
             cannot run the configuration; failed, wrong, timeout: see Not measured; —: not in any run file.",
            percent(report.confidence)
        )),
        Block::Table(table),
    ]
}

fn figure_sections(report: &Report, figures: &[Named]) -> Vec<Block> {
    let mut out = vec![Block::Heading(2, format!("Speed-up over {}", report.reference))];
    for (index, figure) in figures.iter().enumerate().filter(|(_, f)| f.kind == "heatmap") {
        let _ = figure;
        out.push(Block::Figure(index));
    }
    out.push(Block::Heading(2, "By configuration group".to_owned()));
    out.push(Block::Paragraph(
        "Configurations that differ only in sequence length (and, in a grid of fixed tokens, the batch that goes \
         with it) are drawn together: throughput bars with intervals, and a roofline. The table under each group \
         holds the figures' numbers."
            .to_owned(),
    ));
    for (g, group) in report.groups.iter().enumerate() {
        out.push(Block::Heading(3, group.title.clone()));
        for (index, figure) in figures.iter().enumerate() {
            if figure.kind != "heatmap" && figure.file.ends_with(&group.slug) {
                out.push(Block::Figure(index));
            }
        }
        let _ = g;
        let mut table = Table {
            header: [
                "configuration",
                "implementation",
                "median",
                "TFLOP/s [interval]",
                "% of measured roof",
                "n",
                "check",
            ]
            .map(String::from)
            .to_vec(),
            rows: Vec::new(),
        };
        for (&c, label) in group.configurations.iter().zip(&group.labels) {
            for (i, cell) in report.cells[c].iter().enumerate() {
                let row = match &cell.time {
                    Some(t) => vec![
                        label.clone(),
                        report.implementations[i].clone(),
                        time_with_interval(t),
                        match (t.tflops, t.tflops_low, t.tflops_high) {
                            (Some(v), Some(lo), Some(hi)) => format!("{v:.1} [{lo:.1}, {hi:.1}]"),
                            _ => "—".to_owned(),
                        },
                        t.roof_fraction.map_or("—".to_owned(), |f| format!("{:.1}%", 100.0 * f)),
                        t.n.to_string(),
                        check_mark(cell.checked).to_owned(),
                    ],
                    None if cell.status == CellStatus::NotInSweep => continue,
                    None => vec![
                        label.clone(),
                        report.implementations[i].clone(),
                        cell.status.as_str().to_owned(),
                        "—".to_owned(),
                        "—".to_owned(),
                        "0".to_owned(),
                        check_mark(cell.checked).to_owned(),
                    ],
                };
                table.rows.push(row);
            }
        }
        out.push(Block::Details("The figures' numbers".to_owned(), vec![Block::Table(table)]));
    }
    out
}

fn power(report: &Report) -> Vec<Block> {
    let mut table = Table {
        header: [
            "configuration",
            "fastest",
            "runner-up",
            "runner-up / fastest",
            "detectable change",
            "decided",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    for (c, config) in report.configurations.iter().enumerate() {
        let d = &report.decisions[c];
        let (Some(f), Some(r)) = (d.fastest, d.runner_up) else { continue };
        table.rows.push(vec![
            config.label.clone(),
            report.implementations[f].clone(),
            report.implementations[r].clone(),
            d.margin.map_or("—".to_owned(), |m| format!("{m:.3}×")),
            d.detectable_change.map_or("—".to_owned(), |x| format!("{:.2}%", 100.0 * x)),
            winner_text(report, c),
        ]);
    }
    vec![
        Block::Heading(2, "Power: the smallest difference this sweep could detect".to_owned()),
        Block::Paragraph(format!(
            "Per configuration, the smallest true difference between the two fastest implementations that the \
             winner rule (two {} intervals that do not overlap) would detect with {} probability, from each \
             median's standard error on the log scale (its interval's width over 2·z): Δ = z·(se₁ + se₂) + \
             z_power·√(se₁² + se₂²), the minimum detectable effect of Bloom (1995). A margin below it is no \
             evidence of equality: the sweep was too noisy or too short to tell.",
            percent(report.confidence),
            percent(report.power)
        )),
        Block::Table(table),
    ]
}

fn not_measured(report: &Report) -> Vec<Block> {
    let mut table = Table {
        header: ["configuration", "implementation", "status", "why"].map(String::from).to_vec(),
        rows: Vec::new(),
    };
    for (c, config) in report.configurations.iter().enumerate() {
        for (i, cell) in report.cells[c].iter().enumerate() {
            if cell.status == CellStatus::Measured {
                continue;
            }
            table.rows.push(vec![
                config.label.clone(),
                report.implementations[i].clone(),
                cell.status.as_str().to_owned(),
                cell.reason
                    .clone()
                    .unwrap_or_default()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect(),
            ]);
        }
    }
    let mut out = vec![Block::Heading(2, "Not measured".to_owned())];
    if table.rows.is_empty() {
        out.push(Block::Paragraph("Every implementation was measured at every configuration.".to_owned()));
    } else {
        out.push(Block::Paragraph(format!(
            "{} cells have no time, each with the reason the run file gives.",
            table.rows.len()
        )));
        out.push(Block::Table(table));
    }
    out
}

fn reproducibility(report: &Report, report_command: &str) -> Vec<Block> {
    let env = &report.environment;
    let mut items = Vec::new();
    match &env.gpu {
        Some(gpu) => {
            items.push(format!(
                "GPU: {} ({} SMs, {:.0} MiB L2, compute capability {}), driver {}, CUDA {}, NVRTC {}",
                gpu.name,
                gpu.sm_count,
                gpu.l2_bytes as f64 / (1u64 << 20) as f64,
                gpu.compute_capability,
                gpu.driver_version,
                gpu.cuda_version,
                gpu.nvrtc_version.as_deref().unwrap_or("not used")
            ));
        }
        None => items.push("GPU: none recorded in the run files".to_owned()),
    }
    if !env.throttle_reasons_seen.is_empty() {
        items
            .push(format!("Throttle reasons seen during the runs: {}", env.throttle_reasons_seen.join(", ")));
    }
    for (name, version) in &report.software {
        items.push(format!("{name}: {version}"));
    }
    items.push(format!("pawl {}", env.pawl_version));
    for source in &report.sources {
        let git = source.git.as_ref().map_or("no git state".to_owned(), |g| {
            format!("commit {}{}", g.commit, if g.dirty { " (uncommitted changes)" } else { "" })
        });
        items.push(format!(
            "{}: suite {}, {} cases, measured {}{}, {git}; inputs from seed {}, {}–{} samples a case, {} timing",
            source.file,
            source.suite,
            source.cases,
            source.timestamp,
            source.measure_seconds.map_or(String::new(), |s| format!(" in {s:.0} s")),
            source.seed,
            source.min_samples,
            source.max_samples,
            source.timing
        ));
    }
    items.push(format!(
        "Bootstrap: {} resamples from seed {}; the same run files and seed give the same report, figure for figure",
        report.bootstrap_resamples, report.bootstrap_seed
    ));
    let mut commands = report.commands.join("\n");
    if !commands.is_empty() {
        commands.push('\n');
    }
    commands.push_str(report_command);
    vec![
        Block::Heading(2, "Reproducibility".to_owned()),
        Block::List(items),
        Block::Paragraph("The commands that made the run files and this report:".to_owned()),
        Block::Code(commands),
    ]
}
