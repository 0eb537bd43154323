//! pawl's SOTA report (`pawl report RUN… -o DIR`): implementations compared across configurations,
//! from run files alone (no GPU).
//!
//! [`model`] computes everything once — medians with seeded bootstrap intervals, winners and ties,
//! the power of the sweep, shares of the measured roofline; [`figures`] draws grouped bars, speed-up
//! heatmaps and rooflines as pawl-figures data; [`sections`] says it in blocks that [`document`]
//! renders as GitHub markdown and as one self-contained HTML page; [`write`] puts it all in a folder.

pub mod document;
pub mod figures;
pub mod model;
pub mod sections;

use std::path::{Path, PathBuf};

use pawl_core::files::{self, FileError};
use serde::Serialize;

pub use model::{Options, Report};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The run files or options cannot make a report (the message says which and why).
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Figure(#[from] pawl_figures::FigureError),
    #[error(transparent)]
    File(#[from] FileError),
}

/// What [`write`] wrote.
#[derive(Clone, Debug)]
pub struct Written {
    pub markdown: PathBuf,
    pub html: PathBuf,
    pub json: PathBuf,
    /// Every figure, SVG and PNG.
    pub figures: Vec<PathBuf>,
}

/// `report.json`: the comparison and every figure's data.
#[derive(Serialize)]
struct JsonReport<'a> {
    #[serde(flatten)]
    report: &'a Report,
    figures: &'a [figures::Named],
    command: &'a str,
}

/// Writes the report into `dir` (created if needed): `report.md`, `report.html`, `report.json` and
/// `figures/NAME.svg` and `.png` for every figure. `command` is the command that made it, shown under
/// Reproducibility. Each file is written atomically; a failure leaves no half-written file.
pub fn write(report: &Report, dir: &Path, command: &str) -> Result<Written, ReportError> {
    let figures = figures::all(report);
    let blocks = sections::blocks(report, &figures, command);
    let markdown = document::markdown(&blocks, &figures);
    let html = document::html(&report.title, &blocks, &figures)?;
    let figures_dir = dir.join("figures");
    std::fs::create_dir_all(&figures_dir)
        .map_err(|source| FileError::Write { path: figures_dir.clone(), source })?;
    let mut written = Vec::new();
    for named in &figures {
        let svg = figures_dir.join(format!("{}.svg", named.file));
        files::write_atomic(&svg, pawl_figures::render::svg(&named.figure)?.as_bytes())?;
        let png = figures_dir.join(format!("{}.png", named.file));
        files::write_atomic(&png, &pawl_figures::render::png(&named.figure)?)?;
        written.extend([svg, png]);
    }
    let json = JsonReport { report, figures: &figures, command };
    let paths = Written {
        markdown: dir.join("report.md"),
        html: dir.join("report.html"),
        json: dir.join("report.json"),
        figures: written,
    };
    files::write_json_atomic(&paths.json, &json)?;
    files::write_atomic(&paths.html, html.as_bytes())?;
    files::write_atomic(&paths.markdown, markdown.as_bytes())?;
    Ok(paths)
}
