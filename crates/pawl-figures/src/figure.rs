//! A figure as plain data: axes and marks. Build one, then draw it with [`crate::render`].

use serde::{Deserialize, Serialize};

/// A colour, as 8-bit sRGB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Color(pub u8, pub u8, pub u8);

impl Color {
    /// The colours pawl draws with (the Okabe–Ito palette, which colour-blind readers can tell apart).
    pub const BLUE: Color = Color(0, 114, 178);
    pub const ORANGE: Color = Color(230, 159, 0);
    pub const GREEN: Color = Color(0, 158, 115);
    pub const RED: Color = Color(213, 94, 0);
    pub const PURPLE: Color = Color(204, 121, 167);
    pub const GREY: Color = Color(120, 120, 120);
    pub const BLACK: Color = Color(0, 0, 0);
    pub const SKY: Color = Color(86, 180, 233);
    pub const YELLOW: Color = Color(240, 228, 66);

    /// The palette in order, for series that need a colour each (cycles after eight).
    pub fn series(index: usize) -> Color {
        const PALETTE: [Color; 8] = [
            Color::BLUE,
            Color::ORANGE,
            Color::GREEN,
            Color::RED,
            Color::PURPLE,
            Color::SKY,
            Color::GREY,
            Color(140, 86, 75),
        ];
        PALETTE[index % PALETTE.len()]
    }

    /// A diverging colour for `t` in [−1, 1]: red through white (0) to blue, for "worse" to "better";
    /// values outside are clamped, NaN is light grey. Dark enough at the ends for white text, light
    /// in the middle for black text (see [`Color::text_on`]).
    pub fn diverging(t: f64) -> Color {
        if t.is_nan() {
            return Color(225, 225, 225);
        }
        let t = t.clamp(-1.0, 1.0);
        let (end, k) = if t >= 0.0 { ((33.0, 102.0, 172.0), t) } else { ((178.0, 24.0, 43.0), -t) };
        let mix = |e: f64| (247.0 + (e - 247.0) * k).round() as u8;
        Color(mix(end.0), mix(end.1), mix(end.2))
    }

    /// Black or white, whichever reads better on this colour (relative luminance, ITU-R BT.709).
    pub fn text_on(self) -> Color {
        let luminance = 0.2126 * f64::from(self.0) + 0.7152 * f64::from(self.1) + 0.0722 * f64::from(self.2);
        if luminance > 140.0 { Color::BLACK } else { Color(255, 255, 255) }
    }

    /// `#rrggbb`, for CSS and SVG.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// How an axis maps values to positions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    #[default]
    Linear,
    /// Base-10 logarithmic: equal ratios take equal lengths. Only positive values are drawn.
    Log,
}

/// One axis.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    pub label: String,
    /// The visible range; `None` fits the data with a margin.
    pub range: Option<(f64, f64)>,
    /// Label whole numbers only (run numbers, counts): ticks between them stay blank.
    #[serde(default)]
    pub integers: bool,
    #[serde(default)]
    pub scale: Scale,
    /// Named positions: category `i` sits at `i` (grouped bars, heatmap rows and columns), each
    /// labelled with its name instead of a number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
}

impl Axis {
    pub fn new(label: impl Into<String>) -> Axis {
        Axis {
            label: label.into(),
            range: None,
            integers: false,
            scale: Scale::Linear,
            categories: Vec::new(),
        }
    }

    /// An axis of whole numbers (see [`Axis::integers`]).
    pub fn integers(label: impl Into<String>) -> Axis {
        Axis { integers: true, ..Axis::new(label) }
    }

    /// A base-10 logarithmic axis.
    pub fn log(label: impl Into<String>) -> Axis {
        Axis { scale: Scale::Log, ..Axis::new(label) }
    }

    /// An axis of named categories at 0, 1, 2 … (see [`Axis::categories`]), spanning −0.5 to n − 0.5.
    pub fn categories(label: impl Into<String>, names: Vec<String>) -> Axis {
        let n = names.len().max(1) as f64;
        Axis { range: Some((-0.5, n - 0.5)), categories: names, ..Axis::new(label) }
    }

    /// How a tick value is written on this axis.
    pub fn tick_label(&self, value: f64) -> String {
        if !self.categories.is_empty() {
            // Category names are drawn by the renderer at their positions, not at the ticks.
            return String::new();
        }
        if self.scale == Scale::Log {
            return log_tick_label(value);
        }
        if self.integers {
            if (value - value.round()).abs() < 1e-9 {
                format!("{}", value.round() as i64)
            } else {
                String::new()
            }
        } else {
            let text = format!("{value:.6}");
            let text = text.trim_end_matches('0').trim_end_matches('.');
            if text == "-0" { "0".to_owned() } else { text.to_owned() }
        }
    }
}

/// A tick of a logarithmic axis: plain digits from 0.01 to 100,000, powers of ten beyond.
fn log_tick_label(value: f64) -> String {
    if value.is_nan() || value <= 0.0 {
        return String::new();
    }
    if (0.01..1e5).contains(&value) {
        let text = format!("{value:.2}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        return text.to_owned();
    }
    let exponent = value.log10().round() as i32;
    if (value / 10f64.powi(exponent) - 1.0).abs() < 1e-6 {
        format!("1e{exponent}")
    } else {
        format!("{value:.0e}")
    }
}

/// Text beside a point, in its own colour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub x: f64,
    pub y: f64,
    pub text: String,
    pub color: Color,
}

/// One cell of a heatmap: a unit square centred on (x, y), filled, with text in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub x: f64,
    pub y: f64,
    pub fill: Color,
    pub text: String,
}

/// Something drawn in the plot area, in data coordinates. Marks with a `name` appear in the legend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mark", rename_all = "snake_case")]
pub enum Mark {
    /// Dots at (x, y).
    Points { name: Option<String>, points: Vec<(f64, f64)>, color: Color, radius: u32 },
    /// A vertical interval at each x: (x, low, high).
    Intervals { name: Option<String>, intervals: Vec<(f64, f64, f64)>, color: Color },
    /// A polyline through (x, y), solid or dashed.
    Line { name: Option<String>, points: Vec<(f64, f64)>, color: Color, width: u32, dashed: bool },
    /// A vertical rule at x across the whole plot.
    VRule { name: Option<String>, x: f64, color: Color, dashed: bool },
    /// A horizontal rule at y across the whole plot.
    HRule { name: Option<String>, y: f64, color: Color, dashed: bool },
    /// Filled bars from the bottom of the plot up to each value: (x centre, width, value).
    Bars { name: Option<String>, bars: Vec<(f64, f64, f64)>, color: Color },
    /// Vertical intervals with caps `cap` wide (in x units) at each end: (x, low, high).
    Whiskers { name: Option<String>, intervals: Vec<(f64, f64, f64)>, cap: f64, color: Color },
    /// Text beside points, written to the right of each, moved apart vertically where labels would
    /// overlap.
    Labels { name: Option<String>, labels: Vec<Label> },
    /// Heatmap cells.
    Cells { name: Option<String>, cells: Vec<Cell> },
}

impl Mark {
    pub fn name(&self) -> Option<&str> {
        match self {
            Mark::Points { name, .. }
            | Mark::Intervals { name, .. }
            | Mark::Line { name, .. }
            | Mark::VRule { name, .. }
            | Mark::HRule { name, .. }
            | Mark::Bars { name, .. }
            | Mark::Whiskers { name, .. }
            | Mark::Labels { name, .. }
            | Mark::Cells { name, .. } => name.as_deref(),
        }
    }

    pub fn color(&self) -> Color {
        match self {
            Mark::Points { color, .. }
            | Mark::Intervals { color, .. }
            | Mark::Line { color, .. }
            | Mark::VRule { color, .. }
            | Mark::HRule { color, .. }
            | Mark::Bars { color, .. }
            | Mark::Whiskers { color, .. } => *color,
            Mark::Labels { .. } => Color::BLACK,
            Mark::Cells { .. } => Color::GREY,
        }
    }

    /// The x and y values this mark needs to be seen (rules span one axis and pin only the other).
    fn extent(&self, xs: &mut Vec<f64>, ys: &mut Vec<f64>) {
        match self {
            Mark::Points { points, .. } | Mark::Line { points, .. } => {
                for &(x, y) in points {
                    xs.push(x);
                    ys.push(y);
                }
            }
            Mark::Intervals { intervals, .. } => {
                for &(x, low, high) in intervals {
                    xs.push(x);
                    ys.extend([low, high]);
                }
            }
            Mark::VRule { x, .. } => xs.push(*x),
            Mark::HRule { y, .. } => ys.push(*y),
            Mark::Bars { bars, .. } => {
                for &(x, width, value) in bars {
                    xs.extend([x - width / 2.0, x + width / 2.0]);
                    ys.push(value);
                }
            }
            Mark::Whiskers { intervals, .. } => {
                for &(x, low, high) in intervals {
                    xs.push(x);
                    ys.extend([low, high]);
                }
            }
            Mark::Labels { labels, .. } => {
                for label in labels {
                    xs.push(label.x);
                    ys.push(label.y);
                }
            }
            Mark::Cells { cells, .. } => {
                for cell in cells {
                    xs.extend([cell.x - 0.5, cell.x + 0.5]);
                    ys.extend([cell.y - 0.5, cell.y + 0.5]);
                }
            }
        }
    }
}

/// A figure: a titled plot of marks over two linear axes.
///
/// # Example
///
/// ```
/// use pawl_figures::{Axis, Color, Figure, Mark, render};
///
/// let mut figure = Figure::new("copy/N=1048576", Axis::new("run"), Axis::new("median (µs)"));
/// figure.marks.push(Mark::Points {
///     name: Some("median".into()),
///     points: vec![(1.0, 10.2), (2.0, 10.1), (3.0, 12.0)],
///     color: Color::BLUE,
///     radius: 3,
/// });
/// let svg = render::svg(&figure)?;
/// assert!(svg.starts_with("<svg"));
/// let png = render::png(&figure)?;
/// assert_eq!(&png[1..4], b"PNG");
/// # Ok::<(), pawl_figures::FigureError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub title: String,
    /// Pixels (SVG user units).
    pub width: u32,
    pub height: u32,
    pub x: Axis,
    pub y: Axis,
    pub marks: Vec<Mark>,
}

impl Figure {
    /// An empty 800 × 400 figure.
    pub fn new(title: impl Into<String>, x: Axis, y: Axis) -> Figure {
        Figure { title: title.into(), width: 800, height: 400, x, y, marks: Vec::new() }
    }

    /// The x and y ranges to draw: the axes' own, or the data's with 5% margins, and room above the
    /// data for the legend when a mark has a name. Non-finite values are left out; a figure with
    /// nothing finite spans 0 to 1.
    pub fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for mark in &self.marks {
            mark.extent(&mut xs, &mut ys);
        }
        let legend_rows = self.marks.iter().filter(|m| m.name().is_some()).count();
        if self.marks.iter().any(|m| matches!(m, Mark::Bars { .. })) && self.y.scale == Scale::Linear {
            ys.push(0.0);
        }
        if self.y.scale == Scale::Log {
            return (
                self.x_range(&xs),
                self.y.range.unwrap_or_else(|| fit_log(&ys, legend_rows, self.height)),
            );
        }
        let y = self.y.range.unwrap_or_else(|| {
            let (low, high) = fit(&ys);
            // About 18 px a legend row, out of a plot area some 300 px high.
            let room = (legend_rows as f64 * 18.0 + 12.0) / (f64::from(self.height).max(200.0) - 100.0);
            if legend_rows > 0 {
                (low, high + (high - low) * room / (1.0 - room).max(0.2))
            } else {
                (low, high)
            }
        });
        (self.x_range(&xs), y)
    }

    fn x_range(&self, xs: &[f64]) -> (f64, f64) {
        self.x
            .range
            .unwrap_or_else(|| if self.x.scale == Scale::Log { fit_log(xs, 0, self.height) } else { fit(xs) })
    }
}

/// A log axis's range: the positive values' span, widened by a fifth of a decade each side (rounded
/// out to 1, 2 or 5 × a power of ten), with room above for the legend.
fn fit_log(values: &[f64], legend_rows: usize, height: u32) -> (f64, f64) {
    let logs: Vec<f64> = values.iter().filter(|v| v.is_finite() && **v > 0.0).map(|v| v.log10()).collect();
    let (low, high) =
        logs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    if low > high {
        return (1.0, 10.0);
    }
    let (low, mut high) = (low - 0.2, high + 0.2);
    if legend_rows > 0 {
        let room = (legend_rows as f64 * 18.0 + 12.0) / (f64::from(height).max(200.0) - 100.0);
        high += (high - low) * room / (1.0 - room).max(0.2);
    }
    (nice_below(10f64.powf(low)), nice_above(10f64.powf(high)))
}

/// The largest 1, 2 or 5 × 10ᵏ at or below `v` (> 0).
fn nice_below(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [5.0, 2.0, 1.0].into_iter().map(|m| m * p).find(|n| *n <= v * (1.0 + 1e-12)).unwrap_or(p)
}

/// The smallest 1, 2 or 5 × 10ᵏ at or above `v` (> 0).
fn nice_above(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * p).find(|n| *n >= v * (1.0 - 1e-12)).unwrap_or(10.0 * p)
}

fn fit(values: &[f64]) -> (f64, f64) {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (low, high) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if low > high {
        return (0.0, 1.0);
    }
    let span = high - low;
    let margin = if span > 0.0 { span * 0.05 } else { low.abs().max(1.0) * 0.05 };
    (low - margin, high + margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_fit_the_data_with_a_margin() {
        let mut figure = Figure::new("t", Axis::new("x"), Axis::new("y"));
        assert_eq!(figure.ranges(), ((0.0, 1.0), (0.0, 1.0)));
        figure.marks.push(Mark::Intervals {
            name: None,
            intervals: vec![(0.0, 9.0, 11.0), (10.0, 8.0, 12.0)],
            color: Color::BLUE,
        });
        figure.marks.push(Mark::HRule { name: None, y: 20.0, color: Color::GREY, dashed: true });
        figure.marks.push(Mark::Points {
            name: None,
            points: vec![(5.0, f64::NAN)],
            color: Color::RED,
            radius: 2,
        });
        let ((x0, x1), (y0, y1)) = figure.ranges();
        assert_eq!((x0, x1), (-0.5, 10.5));
        assert_eq!((y0, y1), (7.4, 20.6), "no legend, no room for one");
        figure.marks.push(Mark::HRule {
            name: Some("baseline".into()),
            y: 10.0,
            color: Color::GREY,
            dashed: true,
        });
        let with_legend = figure.ranges().1.1;
        assert!(with_legend > 20.6 + 1.0, "room above the data for the legend: {with_legend}");
        figure.marks.pop();
        figure.y.range = Some((0.0, 30.0));
        assert_eq!(figure.ranges().1, (0.0, 30.0));
        let single = fit(&[5.0]);
        assert!(single.0 < 5.0 && single.1 > 5.0);
        assert_eq!(Color::BLUE.hex(), "#0072b2");
        assert_eq!(Axis::integers("run").tick_label(3.0), "3");
        assert_eq!(Axis::integers("run").tick_label(3.5), "");
        assert_eq!(Axis::new("µs").tick_label(12.5), "12.5");
        assert_eq!(Axis::new("µs").tick_label(-0.0), "0");
    }

    #[test]
    fn log_axes_fit_decades_and_label_ticks() {
        let mut figure = Figure::new("roofline", Axis::log("FLOP/byte"), Axis::log("TFLOP/s"));
        figure.marks.push(Mark::Points {
            name: None,
            points: vec![(64.0, 30.0), (8192.0, 600.0), (-1.0, 0.0)],
            color: Color::BLUE,
            radius: 3,
        });
        let ((x0, x1), (y0, y1)) = figure.ranges();
        assert_eq!((x0, x1), (20.0, 20000.0), "non-positive values are left out");
        assert_eq!((y0, y1), (10.0, 1000.0));
        assert_eq!(Axis::log("x").tick_label(1000.0), "1000");
        assert_eq!(Axis::log("x").tick_label(0.05), "0.05");
        assert_eq!(Axis::log("x").tick_label(1e6), "1e6");
        assert_eq!(Axis::log("x").tick_label(-1.0), "");
        let bars = Axis::categories("config", vec!["a".into(), "b".into()]);
        assert_eq!(bars.range, Some((-0.5, 1.5)));
        assert_eq!(bars.tick_label(1.0), "", "category names are drawn at their positions");
    }

    #[test]
    fn bars_start_from_zero_and_colours_diverge() {
        let mut figure = Figure::new("bars", Axis::categories("c", vec!["a".into()]), Axis::new("TFLOP/s"));
        figure.marks.push(Mark::Bars { name: None, bars: vec![(0.0, 0.4, 300.0)], color: Color::BLUE });
        let (_, (y0, y1)) = figure.ranges();
        assert!(y0 < 0.0 && y1 > 300.0, "{y0} {y1}");
        assert_eq!(Color::diverging(0.0), Color(247, 247, 247));
        assert_eq!(Color::diverging(1.0), Color(33, 102, 172));
        assert_eq!(Color::diverging(-5.0), Color(178, 24, 43));
        assert_eq!(Color::diverging(f64::NAN), Color(225, 225, 225));
        assert_eq!(Color::diverging(1.0).text_on(), Color(255, 255, 255));
        assert_eq!(Color::diverging(0.1).text_on(), Color::BLACK);
        assert_ne!(Color::series(0), Color::series(1));
        assert_eq!(Color::series(8), Color::series(0));
    }
}
