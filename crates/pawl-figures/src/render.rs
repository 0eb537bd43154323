//! Drawing a [`Figure`] with plotters: to SVG text, or to PNG bytes.
//!
//! Text is laid out with the Roboto font this crate carries (plotters' `ab_glyph` feature), so a PNG
//! needs no system font library and looks the same on every machine; SVG names the font family and lets
//! the viewer draw it.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::Color as _;

use crate::FigureError;
use crate::figure::{Color, Figure, Mark};

const FONT: &[u8] = include_bytes!("../fonts/Roboto-Regular.ttf");
const FAMILY: &str = "sans-serif";

/// Registers the font with plotters once per process.
fn font() -> Result<(), FigureError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok =
        *REGISTERED.get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok { Ok(()) } else { Err(FigureError::Draw("the bundled font does not load".to_owned())) }
}

/// The figure as an SVG document.
pub fn svg(figure: &Figure) -> Result<String, FigureError> {
    font()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (figure.width, figure.height)).into_drawing_area();
        draw(&root, figure)?;
        root.present().map_err(draw_error)?;
    }
    Ok(out)
}

/// The figure as a PNG image (8-bit RGB).
pub fn png(figure: &Figure) -> Result<Vec<u8>, FigureError> {
    font()?;
    let (w, h) = (figure.width, figure.height);
    if w == 0 || h == 0 || u64::from(w) * u64::from(h) > 50_000_000 {
        return Err(FigureError::Size { width: w, height: h });
    }
    let mut pixels = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        draw(&root, figure)?;
        root.present().map_err(draw_error)?;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| FigureError::Draw(e.to_string()))?;
    writer.write_image_data(&pixels).map_err(|e| FigureError::Draw(e.to_string()))?;
    writer.finish().map_err(|e| FigureError::Draw(e.to_string()))?;
    Ok(out)
}

fn draw_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> FigureError {
    FigureError::Draw(e.to_string())
}

fn rgb(c: Color) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, figure: &Figure) -> Result<(), FigureError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(draw_error)?;
    let ((x0, x1), (y0, y1)) = figure.ranges();
    let mut chart = ChartBuilder::on(root)
        .caption(&figure.title, (FAMILY, 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc(figure.x.label.as_str())
        .y_desc(figure.y.label.as_str())
        .x_label_formatter(&|v| figure.x.tick_label(*v))
        .y_label_formatter(&|v| figure.y.tick_label(*v))
        .label_style((FAMILY, 12))
        .axis_desc_style((FAMILY, 13))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(draw_error)?;
    let mut legend = false;
    for mark in &figure.marks {
        let color = rgb(mark.color());
        let annotation = match mark {
            Mark::Points { points, radius, .. } => chart
                .draw_series(
                    points
                        .iter()
                        .filter(|p| p.1.is_finite())
                        .map(|&p| Circle::new(p, *radius, color.filled())),
                )
                .map_err(draw_error)?,
            Mark::Intervals { intervals, .. } => chart
                .draw_series(intervals.iter().filter(|i| i.1.is_finite() && i.2.is_finite()).map(
                    |&(x, low, high)| {
                        PathElement::new(vec![(x, low), (x, high)], color.mix(0.6).stroke_width(1))
                    },
                ))
                .map_err(draw_error)?,
            Mark::Line { points, width, dashed, .. } => {
                let style = color.stroke_width(*width);
                let points: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.1.is_finite()).collect();
                if *dashed {
                    chart.draw_series(DashedLineSeries::new(points, 6, 4, style)).map_err(draw_error)?
                } else {
                    chart.draw_series(LineSeries::new(points, style)).map_err(draw_error)?
                }
            }
            Mark::VRule { x, dashed, .. } => {
                let points = vec![(*x, y0), (*x, y1)];
                let style = color.stroke_width(2);
                if *dashed {
                    chart.draw_series(DashedLineSeries::new(points, 6, 4, style)).map_err(draw_error)?
                } else {
                    chart.draw_series(LineSeries::new(points, style)).map_err(draw_error)?
                }
            }
            Mark::HRule { y, dashed, .. } => {
                let points = vec![(x0, *y), (x1, *y)];
                let style = color.stroke_width(2);
                if *dashed {
                    chart.draw_series(DashedLineSeries::new(points, 6, 4, style)).map_err(draw_error)?
                } else {
                    chart.draw_series(LineSeries::new(points, style)).map_err(draw_error)?
                }
            }
        };
        if let Some(name) = mark.name() {
            legend = true;
            annotation
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(3)));
        }
    }
    if legend {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FAMILY, 12))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(draw_error)?;
    }
    Ok(())
}
