//! Figures drawn for real: the SVG carries every mark and label, the PNG decodes to the right size and
//! has ink where the marks are.

use pawl_figures::{Axis, Color, Figure, Mark, render};

fn trend() -> Figure {
    let mut figure = Figure::new("copy/N=1048576 <&>", Axis::new("run"), Axis::new("median (µs)"));
    let points: Vec<(f64, f64)> = (0..40).map(|i| (i as f64, if i < 20 { 10.0 } else { 11.0 })).collect();
    figure.marks.push(Mark::Intervals {
        name: None,
        intervals: points.iter().map(|&(x, y)| (x, y - 0.1, y + 0.1)).collect(),
        color: Color::BLUE,
    });
    figure.marks.push(Mark::Points { name: Some("median".into()), points, color: Color::BLUE, radius: 3 });
    figure.marks.push(Mark::Line {
        name: Some("level".into()),
        points: vec![(0.0, 10.0), (19.0, 10.0)],
        color: Color::ORANGE,
        width: 2,
        dashed: false,
    });
    figure.marks.push(Mark::VRule {
        name: Some("change +10%".into()),
        x: 19.5,
        color: Color::RED,
        dashed: false,
    });
    figure.marks.push(Mark::HRule {
        name: Some("baseline".into()),
        y: 10.05,
        color: Color::GREY,
        dashed: true,
    });
    figure
}

#[test]
fn svg_has_the_marks_and_escaped_text() {
    let svg = render::svg(&trend()).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("copy/N=1048576 &lt;&amp;&gt;"), "the title is escaped");
    for text in ["median (µs)", "run", "median", "level", "change +10%", "baseline"] {
        assert!(svg.contains(text), "`{text}` missing");
    }
    assert!(svg.matches("<circle").count() >= 40, "one dot per run");
    assert!(svg.contains("#E69F00") || svg.contains("#e69f00"), "the level's colour");
}

#[test]
fn png_decodes_with_ink_on_it() {
    let figure = trend();
    let bytes = render::png(&figure).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (figure.width, figure.height));
    let blue = pixels.chunks(3).filter(|p| p == &[0, 114, 178]).count();
    let red = pixels.chunks(3).filter(|p| p == &[213, 94, 0]).count();
    assert!(blue > 200 && red > 100, "blue {blue}, red {red} pixels");
    let dark = pixels.chunks(3).filter(|p| p.iter().all(|&c| c < 80)).count();
    assert!(dark > 500, "text and axes are drawn ({dark} dark pixels)");
}

#[test]
fn impossible_sizes_are_errors() {
    let mut figure = trend();
    figure.width = 0;
    assert!(render::png(&figure).unwrap_err().to_string().contains("0 × 400"));
}
