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

    /// `#rrggbb`, for CSS and SVG.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
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
}

impl Axis {
    pub fn new(label: impl Into<String>) -> Axis {
        Axis { label: label.into(), range: None, integers: false }
    }

    /// An axis of whole numbers (see [`Axis::integers`]).
    pub fn integers(label: impl Into<String>) -> Axis {
        Axis { integers: true, ..Axis::new(label) }
    }

    /// How a tick value is written on this axis.
    pub fn tick_label(&self, value: f64) -> String {
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
}

impl Mark {
    pub fn name(&self) -> Option<&str> {
        match self {
            Mark::Points { name, .. }
            | Mark::Intervals { name, .. }
            | Mark::Line { name, .. }
            | Mark::VRule { name, .. }
            | Mark::HRule { name, .. } => name.as_deref(),
        }
    }

    pub fn color(&self) -> Color {
        match self {
            Mark::Points { color, .. }
            | Mark::Intervals { color, .. }
            | Mark::Line { color, .. }
            | Mark::VRule { color, .. }
            | Mark::HRule { color, .. } => *color,
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
        (self.x.range.unwrap_or_else(|| fit(&xs)), y)
    }
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
}
