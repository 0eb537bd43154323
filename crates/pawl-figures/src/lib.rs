//! pawl's figures: a figure as plain data ([`Figure`]: axes and marks), drawn to SVG or PNG
//! ([`render`]), and self-contained HTML documents ([`html::Document`]) that carry their figures, data
//! and scripts inline.
//!
//! Nothing here knows about runs or histories: the history report and any later report build their
//! figures and pages from these pieces.

pub mod figure;
pub mod html;
pub mod render;

pub use figure::{Axis, Cell, Color, Figure, Label, Mark, Scale};

/// Why a figure could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    #[error("cannot draw the figure: {0}")]
    Draw(String),
    #[error(
        "a figure of {width} × {height} pixels is not one pawl draws (at most 50 megapixels, at least 1 × 1)"
    )]
    Size { width: u32, height: u32 },
}
