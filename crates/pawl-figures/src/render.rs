//! Drawing a [`Figure`] with plotters: to SVG text, or to PNG bytes.
//!
//! Text is laid out with the Roboto font this crate carries (plotters' `ab_glyph` feature), so a PNG
//! needs no system font library and looks the same on every machine; SVG names the font family and lets
//! the viewer draw it.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::Color as _;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::FigureError;
use crate::figure::{Axis, Color, Figure, Label, Mark, Scale};

const FONT: &[u8] = include_bytes!("../fonts/Roboto-Regular.ttf");
const FAMILY: &str = "sans-serif";
/// Pixels a character of 12 px text takes, about (Roboto's average advance is near 0.55 em).
const CHAR_PX: u32 = 7;
/// The least vertical distance between two point labels, in pixels.
const LABEL_GAP_PX: i32 = 12;

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

/// Pixels the labels of a category axis need: the longest name's width (x axis: a row of text).
fn category_room(axis: &Axis, horizontal: bool) -> u32 {
    let longest = axis.categories.iter().map(|c| c.chars().count() as u32).max().unwrap_or(0);
    if horizontal { 24 + 16 } else { 16 + longest * CHAR_PX }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, figure: &Figure) -> Result<(), FigureError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(draw_error)?;
    let ((x0, x1), (y0, y1)) = figure.ranges();
    let x_area = if figure.x.categories.is_empty() { 40 } else { category_room(&figure.x, true) };
    let y_area = if figure.y.categories.is_empty() { 64 } else { category_room(&figure.y, false) };
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(&figure.title, (FAMILY, 16))
        .margin(12)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area);
    // One drawing routine over the four combinations of linear and logarithmic axes.
    let log = |low: f64, high: f64| (low.max(f64::MIN_POSITIVE)..high).log_scale();
    match (figure.x.scale, figure.y.scale) {
        (Scale::Linear, Scale::Linear) => plot(root, &mut builder, figure, x0..x1, y0..y1),
        (Scale::Log, Scale::Linear) => plot(root, &mut builder, figure, log(x0, x1), y0..y1),
        (Scale::Linear, Scale::Log) => plot(root, &mut builder, figure, x0..x1, log(y0, y1)),
        (Scale::Log, Scale::Log) => plot(root, &mut builder, figure, log(x0, x1), log(y0, y1)),
    }
}

fn plot<DB, XS, YS>(
    root: &DrawingArea<DB, Shift>,
    builder: &mut ChartBuilder<'_, '_, DB>,
    figure: &Figure,
    x_spec: XS,
    y_spec: YS,
) -> Result<(), FigureError>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    XS: AsRangedCoord<Value = f64>,
    YS: AsRangedCoord<Value = f64>,
    XS::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    YS::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut chart = builder.build_cartesian_2d(x_spec, y_spec).map_err(draw_error)?;
    let ((x0, x1), (y0, y1)) = figure.ranges();
    let cells = figure.marks.iter().any(|m| matches!(m, Mark::Cells { .. }));
    {
        let x_ticks = |v: &f64| figure.x.tick_label(*v);
        let y_ticks = |v: &f64| figure.y.tick_label(*v);
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(figure.x.label.as_str())
            .y_desc(figure.y.label.as_str())
            .x_label_formatter(&x_ticks)
            .y_label_formatter(&y_ticks)
            .label_style((FAMILY, 12))
            .axis_desc_style((FAMILY, 13))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215));
        if !figure.x.categories.is_empty() {
            mesh.disable_x_mesh().x_labels(0);
        }
        if !figure.y.categories.is_empty() {
            mesh.disable_y_mesh().y_labels(0);
        }
        if cells {
            mesh.disable_mesh();
        }
        mesh.draw().map_err(draw_error)?;
    }
    let mut legend = false;
    for mark in &figure.marks {
        let color = rgb(mark.color());
        let annotation = match mark {
            Mark::Points { points, radius, .. } => chart
                .draw_series(
                    points
                        .iter()
                        .filter(|p| drawable(figure, **p))
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
                let points: Vec<(f64, f64)> =
                    points.iter().copied().filter(|p| drawable(figure, *p)).collect();
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
            Mark::Bars { bars, .. } => {
                // A bar stands on the bottom of the plot (zero on a linear axis that shows it).
                let base = if figure.y.scale == Scale::Linear && y0 <= 0.0 && 0.0 <= y1 { 0.0 } else { y0 };
                chart
                    .draw_series(bars.iter().filter(|b| b.2.is_finite()).map(|&(x, width, value)| {
                        Rectangle::new([(x - width / 2.0, base), (x + width / 2.0, value)], color.filled())
                    }))
                    .map_err(draw_error)?
            }
            Mark::Whiskers { intervals, cap, .. } => {
                let half = cap / 2.0;
                let style = color.stroke_width(1);
                chart
                    .draw_series(
                        intervals
                            .iter()
                            .filter(|i| drawable(figure, (i.0, i.1)) && drawable(figure, (i.0, i.2)))
                            .flat_map(|&(x, low, high)| {
                                [
                                    PathElement::new(vec![(x, low), (x, high)], style),
                                    PathElement::new(vec![(x - half, low), (x + half, low)], style),
                                    PathElement::new(vec![(x - half, high), (x + half, high)], style),
                                ]
                            }),
                    )
                    .map_err(draw_error)?
            }
            Mark::Labels { labels, .. } => {
                let placed = place_labels(labels, |p| chart.backend_coord(&p), |p| drawable(figure, p));
                for (px, py, label) in placed {
                    let ink = rgb(label.color);
                    let style = TextStyle::from((FAMILY, 11).into_font())
                        .color(&ink)
                        .pos(Pos::new(HPos::Left, VPos::Center));
                    root.draw(&Text::new(label.text.as_str(), (px, py), style)).map_err(draw_error)?;
                }
                continue;
            }
            Mark::Cells { cells, .. } => {
                chart
                    .draw_series(cells.iter().map(|c| {
                        Rectangle::new([(c.x - 0.5, c.y - 0.5), (c.x + 0.5, c.y + 0.5)], rgb(c.fill).filled())
                    }))
                    .map_err(draw_error)?;
                for c in cells.iter().filter(|c| !c.text.is_empty()) {
                    let (px, py) = chart.backend_coord(&(c.x, c.y));
                    let ink = rgb(c.fill.text_on());
                    let style = TextStyle::from((FAMILY, 11).into_font())
                        .color(&ink)
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    root.draw(&Text::new(c.text.as_str(), (px, py), style)).map_err(draw_error)?;
                }
                continue;
            }
        };
        if let Some(name) = mark.name() {
            legend = true;
            annotation
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(3)));
        }
    }
    draw_categories(root, &chart, figure, (x0, y0))?;
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

/// Whether a point can be drawn: finite, and positive on a logarithmic axis.
fn drawable(figure: &Figure, (x, y): (f64, f64)) -> bool {
    let fits = |v: f64, axis: &Axis| v.is_finite() && (axis.scale == Scale::Linear || v > 0.0);
    fits(x, &figure.x) && fits(y, &figure.y)
}

/// The names of category axes, at their positions: below the plot for x, left of it for y.
fn draw_categories<DB, X, Y>(
    root: &DrawingArea<DB, Shift>,
    chart: &ChartContext<'_, DB, Cartesian2d<X, Y>>,
    figure: &Figure,
    (x0, y0): (f64, f64),
) -> Result<(), FigureError>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let style = TextStyle::from((FAMILY, 12).into_font()).color(&BLACK);
    for (i, name) in figure.x.categories.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(i as f64, y0));
        let at = style.pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(name.as_str(), (px, py + 6), at)).map_err(draw_error)?;
    }
    for (i, name) in figure.y.categories.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(x0, i as f64));
        let at = style.pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(name.as_str(), (px - 6, py), at)).map_err(draw_error)?;
    }
    Ok(())
}

/// Pixel positions for point labels, to the right of their points, nudged apart: labels whose points
/// lie within 60 pixels of each other horizontally form a column, sorted by height, each at least
/// [`LABEL_GAP_PX`] below the one above it.
fn place_labels(
    labels: &[Label],
    to_pixels: impl Fn((f64, f64)) -> (i32, i32),
    drawable: impl Fn((f64, f64)) -> bool,
) -> Vec<(i32, i32, &Label)> {
    let mut placed: Vec<(i32, i32, &Label)> = labels
        .iter()
        .filter(|l| drawable((l.x, l.y)))
        .map(|l| {
            let (px, py) = to_pixels((l.x, l.y));
            (px + 7, py, l)
        })
        .collect();
    placed.sort_by_key(|(px, py, _)| (*px, *py));
    let mut columns: Vec<Vec<usize>> = Vec::new();
    for i in 0..placed.len() {
        match columns.last_mut() {
            Some(column) if placed[i].0 - placed[column[0]].0 <= 60 => column.push(i),
            _ => columns.push(vec![i]),
        }
    }
    for column in columns {
        let mut order = column.clone();
        order.sort_by_key(|&i| placed[i].1);
        let mut floor = i32::MIN;
        for i in order {
            let y = placed[i].1.max(floor);
            placed[i].1 = y;
            floor = y + LABEL_GAP_PX;
        }
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_in_a_column_are_pushed_apart() {
        let label = |x: f64, y: f64, text: &str| Label { x, y, text: text.into(), color: Color::BLACK };
        let labels = vec![label(1.0, 10.0, "a"), label(1.0, 11.0, "b"), label(5.0, 10.0, "c")];
        let placed = place_labels(&labels, |(x, y)| ((x * 100.0) as i32, (y * 2.0) as i32), |_| true);
        let y = |t: &str| placed.iter().find(|p| p.2.text == t).unwrap().1;
        assert!(y("b") - y("a") >= LABEL_GAP_PX, "{placed:?}");
        assert_eq!(y("c"), 20, "another column keeps its place");
        let none = place_labels(&labels, |_| (0, 0), |_| false);
        assert!(none.is_empty());
    }
}
