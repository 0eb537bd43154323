//! The report's figures, as pawl-figures data: grouped bars with intervals, the speed-up heatmap, and
//! a roofline per group drawn with the measured ceilings (solid) and the datasheet's (dashed).
//!
//! Each implementation keeps one colour in every figure (its place in the report's list).

use pawl_figures::{Axis, Cell as HeatCell, Color, Figure, Label, Mark};
use serde::Serialize;

use crate::model::{CellStatus, Group, Report, roof_at};

/// Most rows one heatmap shows; longer sweeps get several, split between groups.
const HEATMAP_ROWS: usize = 54;

/// A figure and the file name it is written under (without extension).
#[derive(Clone, Debug, Serialize)]
pub struct Named {
    pub file: String,
    pub kind: &'static str,
    pub caption: String,
    pub figure: Figure,
}

/// Every figure of the report, in the order the pages show them.
pub fn all(report: &Report) -> Vec<Named> {
    let mut out = heatmaps(report);
    for group in &report.groups {
        out.push(bars(report, group));
        if let Some(roofline) = roofline(report, group) {
            out.push(roofline);
        }
    }
    out
}

/// Grouped bars: per configuration of the group, each implementation's TFLOP/s at its median time, the
/// whisker spanning the rate at the ends of the median's bootstrap interval.
pub fn bars(report: &Report, group: &Group) -> Named {
    let shown: Vec<usize> = (0..report.implementations.len())
        .filter(|&i| group.configurations.iter().any(|&c| report.cells[c][i].time.is_some()))
        .collect();
    let slots = shown.len().max(1) as f64;
    let width = 0.8 / slots;
    let mut figure = Figure::new(
        format!("{} — median throughput, {:.0}% bootstrap interval", group.title, 100.0 * report.confidence),
        Axis::categories("configuration", group.labels.clone()),
        Axis::new("TFLOP/s (at the median time)"),
    );
    figure.width = (140 + group.configurations.len() as u32 * (shown.len() as u32 * 16 + 36)).max(820);
    figure.height = 460;
    let mut whiskers = Vec::new();
    for (slot, &i) in shown.iter().enumerate() {
        let offset = (slot as f64 - (slots - 1.0) / 2.0) * width;
        let mut bars = Vec::new();
        for (k, &c) in group.configurations.iter().enumerate() {
            if let Some(t) = &report.cells[c][i].time
                && let (Some(v), Some(lo), Some(hi)) = (t.tflops, t.tflops_low, t.tflops_high)
            {
                bars.push((k as f64 + offset, width * 0.9, v));
                whiskers.push((k as f64 + offset, lo, hi));
            }
        }
        figure.marks.push(Mark::Bars {
            name: Some(report.implementations[i].clone()),
            bars,
            color: Color::series(i),
        });
    }
    figure.marks.push(Mark::Whiskers {
        name: None,
        intervals: whiskers,
        cap: width * 0.3,
        color: Color::BLACK,
    });
    Named {
        file: format!("bars_{}", group.slug),
        kind: "bars",
        caption: format!(
            "{}: each implementation's throughput at its median time; whiskers: the rate at the ends of the \
             median's {:.0}% percentile bootstrap interval. Missing bars are cells the table below names.",
            group.title,
            100.0 * report.confidence
        ),
        figure,
    }
}

/// The speed-up heatmaps: per configuration (row) and implementation (column), the reference's median
/// over the implementation's; blue is faster than the reference, red slower.
pub fn heatmaps(report: &Report) -> Vec<Named> {
    // Chunks of whole groups, at most HEATMAP_ROWS rows unless one group is longer.
    let mut chunks: Vec<Vec<usize>> = vec![Vec::new()];
    for group in &report.groups {
        let last = chunks.last_mut().expect("one chunk");
        if !last.is_empty() && last.len() + group.configurations.len() > HEATMAP_ROWS {
            chunks.push(Vec::new());
        }
        chunks.last_mut().expect("one chunk").extend(&group.configurations);
    }
    let count = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(n, rows)| heatmap(report, &rows, n, count))
        .collect()
}

fn heatmap(report: &Report, rows: &[usize], n: usize, count: usize) -> Named {
    let names: Vec<String> = rows.iter().rev().map(|&c| report.configurations[c].label.clone()).collect();
    let columns = report.implementations.clone();
    let part = if count > 1 { format!(" ({} of {count})", n + 1) } else { String::new() };
    let mut figure = Figure::new(
        format!("speed-up over {}{part}: its median time over each implementation's", report.reference),
        Axis::categories("implementation", columns.clone()),
        Axis::categories("", names.clone()),
    );
    let longest_column = columns.iter().map(|c| c.chars().count()).max().unwrap_or(8) as u32;
    let column_px = (longest_column * 7 + 16).max(84);
    let longest_row = names.iter().map(|c| c.chars().count()).max().unwrap_or(8) as u32;
    figure.width = 60 + longest_row * 7 + columns.len() as u32 * column_px;
    figure.height = 120 + rows.len() as u32 * 20;
    let mut cells = Vec::new();
    for (row, &c) in rows.iter().rev().enumerate() {
        for (i, cell) in report.cells[c].iter().enumerate() {
            let (fill, text) = match (cell.status, cell.speedup) {
                (CellStatus::Measured, Some(s)) => (Color::diverging(s.ln() / 3f64.ln()), format!("{s:.2}×")),
                (CellStatus::Measured, None) => (Color::diverging(f64::NAN), "no ref.".to_owned()),
                (status, _) => (Color::diverging(f64::NAN), short_status(status).to_owned()),
            };
            cells.push(HeatCell { x: i as f64, y: row as f64, fill, text });
        }
    }
    figure.marks.push(Mark::Cells { name: None, cells });
    Named {
        file: format!("heatmap_{}", n + 1),
        kind: "heatmap",
        caption: format!(
            "Speed-up over {}: its median time over each implementation's at the same configuration (above 1: \
             faster than {}). Colours saturate at 3× either way; grey cells were not measured (the tables say \
             why).",
            report.reference, report.reference
        ),
        figure,
    }
}

/// A cell's status in a word or two, for tight places.
pub fn short_status(status: CellStatus) -> &'static str {
    match status {
        CellStatus::Measured => "ok",
        CellStatus::Wrong => "wrong",
        CellStatus::Failed => "failed",
        CellStatus::Timeout => "timeout",
        CellStatus::Skipped => "n/a",
        CellStatus::NotInSweep => "—",
    }
}

/// The roofline of a group: measured ceilings solid, the datasheet's dashed, every measured cell a point
/// labelled with its share of the measured roof at its intensity. `None` without ceilings or
/// intensities.
pub fn roofline(report: &Report, group: &Group) -> Option<Named> {
    let ceilings = report.ceilings.as_ref()?;
    let configs: Vec<usize> = group
        .configurations
        .iter()
        .copied()
        .filter(|&c| report.configurations[c].intensity.is_some())
        .collect();
    let first = configs.first().map(|&c| &report.configurations[c])?;
    let tensor = first.tensor_ceiling?;
    let compute = ceilings.get(tensor)?;
    let memory = ceilings.memory_roof()?;
    let intensities: Vec<f64> = configs.iter().filter_map(|&c| report.configurations[c].intensity).collect();
    let (lo, hi) = intensities.iter().fold((f64::INFINITY, 0f64), |(a, b), &x| (a.min(x), b.max(x)));
    let ridge = compute.value * 1e12 / (memory.value * 1e9);
    let (x0, x1) = ((lo.min(ridge) / 4.0).max(0.01), hi.max(ridge) * 4.0);
    let mut figure = Figure::new(
        format!("{} — roofline ({})", group.title, tensor.label()),
        Axis::log("arithmetic intensity (FLOP/byte)"),
        Axis::log("TFLOP/s"),
    );
    figure.width = 900;
    figure.height = 560;
    let roof = |bandwidth_gbps: f64, peak_tflops: f64| -> Vec<(f64, f64)> {
        let ridge = peak_tflops * 1e12 / (bandwidth_gbps * 1e9);
        let at = |x: f64| (bandwidth_gbps * 1e9 * x / 1e12).min(peak_tflops);
        let mut points = vec![(x0, at(x0))];
        if ridge > x0 && ridge < x1 {
            points.push((ridge, peak_tflops));
        }
        points.push((x1, at(x1)));
        points
    };
    figure.marks.push(Mark::Line {
        name: Some(format!(
            "measured: {} {:.0} GB/s, {:.0} TFLOP/s",
            memory.kind.label(),
            memory.value,
            compute.value
        )),
        points: roof(memory.value, compute.value),
        color: Color::BLACK,
        width: 2,
        dashed: false,
    });
    if let (Some(bw), Some(peak)) = (memory.datasheet, compute.datasheet) {
        figure.marks.push(Mark::Line {
            name: Some(format!("datasheet: {bw:.0} GB/s, {peak:.0} TFLOP/s")),
            points: roof(bw, peak),
            color: Color::GREY,
            width: 2,
            dashed: true,
        });
    }
    let mut labels = Vec::new();
    for i in 0..report.implementations.len() {
        let mut points = Vec::new();
        for &c in &configs {
            let config = &report.configurations[c];
            let (Some(t), Some(x)) = (&report.cells[c][i].time, config.intensity) else { continue };
            let Some(y) = t.tflops else { continue };
            points.push((x, y));
            if let Some(fraction) = t.roof_fraction {
                labels.push(Label {
                    x,
                    y,
                    text: format!("{:.0}%", 100.0 * fraction),
                    color: Color::series(i),
                });
            }
        }
        if !points.is_empty() {
            figure.marks.push(Mark::Points {
                name: Some(report.implementations[i].clone()),
                points,
                color: Color::series(i),
                radius: 4,
            });
        }
    }
    figure.marks.push(Mark::Labels { name: None, labels });
    Some(Named {
        file: format!("roofline_{}", group.slug),
        kind: "roofline",
        caption: format!(
            "{}: every measured cell at its arithmetic intensity (FLOPs over minimum bytes) and its throughput at \
             the median time, labelled with its share of the measured roof there. Solid: the roof of the measured \
             ceilings ({} and {}); dashed: the datasheet's.",
            group.title,
            memory.kind.label(),
            tensor.label()
        ),
        figure,
    })
}

/// The measured roof of a configuration, for tables (TFLOP/s).
pub fn roof_of(report: &Report, c: usize) -> Option<f64> {
    roof_at(report.ceilings.as_ref(), &report.configurations[c])
}
