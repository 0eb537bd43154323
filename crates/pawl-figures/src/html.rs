//! Self-contained HTML documents: one file with its styles, scripts, data and figures inline, and a
//! Content-Security-Policy that lets it load nothing from anywhere, so that it opens offline (a CI
//! artifact) exactly as it was written.
//!
//! Text goes in escaped ([`escape`]); data goes in as JSON inside `<script type="application/json">`
//! with `<` written as `\u003c`, so no string in it can close the element. [`CHART_JS`] draws
//! interactive charts from such data in the browser.

use serde::Serialize;

use crate::FigureError;
use crate::figure::Figure;
use crate::render;

/// The interactive chart script: `pawlChart(element, spec)` (see the file for the spec).
pub const CHART_JS: &str = include_str!("../assets/chart.js");
/// The styles of [`CHART_JS`]'s charts.
pub const CHART_CSS: &str = include_str!("../assets/chart.css");

const BASE_CSS: &str = "body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; \
    padding: 16px; color: #222; } h1 { font-size: 22px; } h2 { font-size: 17px; } \
    table { border-collapse: collapse; } td, th { padding: 2px 8px; text-align: left; } \
    figure { margin: 12px 0; } figure svg { max-width: 100%; height: auto; }";

/// `text` with `& < > " '` escaped, safe in element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// An HTML document, built in order and written as one string.
///
/// # Example
///
/// ```
/// use pawl_figures::html::Document;
///
/// let mut doc = Document::new("pawl <history>");
/// doc.heading(1, "3 cases").paragraph("a < b").data("runs", &vec![1, 2, 3]);
/// let page = doc.render();
/// assert!(page.contains("<title>pawl &lt;history&gt;</title>"));
/// assert!(page.contains("<p>a &lt; b</p>"));
/// assert!(page.contains(r#"<script type="application/json" id="runs">[1,2,3]</script>"#));
/// ```
#[derive(Clone, Debug)]
pub struct Document {
    title: String,
    styles: Vec<String>,
    body: String,
    scripts: Vec<String>,
}

impl Document {
    pub fn new(title: impl Into<String>) -> Document {
        Document {
            title: title.into(),
            styles: vec![BASE_CSS.to_owned()],
            body: String::new(),
            scripts: Vec::new(),
        }
    }

    /// Adds a style sheet (trusted CSS, written by pawl).
    pub fn style(&mut self, css: &str) -> &mut Document {
        self.styles.push(css.to_owned());
        self
    }

    /// Adds a script, run after the body has loaded (trusted JavaScript, written by pawl).
    pub fn script(&mut self, js: &str) -> &mut Document {
        self.scripts.push(js.to_owned());
        self
    }

    pub fn heading(&mut self, level: u8, text: &str) -> &mut Document {
        let level = level.clamp(1, 6);
        self.body.push_str(&format!("<h{level}>{}</h{level}>\n", escape(text)));
        self
    }

    pub fn paragraph(&mut self, text: &str) -> &mut Document {
        self.body.push_str(&format!("<p>{}</p>\n", escape(text)));
        self
    }

    /// Adds markup as it is: only for markup pawl built itself, with every piece of data escaped.
    pub fn markup(&mut self, html: &str) -> &mut Document {
        self.body.push_str(html);
        self
    }

    /// Adds a figure, drawn as inline SVG, with an escaped caption.
    pub fn figure(&mut self, figure: &Figure, caption: &str) -> Result<&mut Document, FigureError> {
        let svg = render::svg(figure)?;
        // The SVG backend writes an XML prolog-free <svg> element: inline as it is.
        self.body.push_str(&format!("<figure>{svg}<figcaption>{}</figcaption></figure>\n", escape(caption)));
        Ok(self)
    }

    /// Adds data for the scripts: `JSON.parse(document.getElementById(id).textContent)`.
    pub fn data<T: Serialize + ?Sized>(&mut self, id: &str, value: &T) -> &mut Document {
        let json = serde_json::to_string(value).expect("pawl's data always serializes");
        self.body.push_str(&format!(
            "<script type=\"application/json\" id=\"{}\">{}</script>\n",
            escape(id),
            json.replace('<', "\\u003c")
        ));
        self
    }

    /// The whole document.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(self.body.len() + 4096);
        out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        // Nothing may be fetched: styles and scripts are inline, images are data.
        out.push_str(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
             style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n",
        );
        out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        out.push_str(&format!("<title>{}</title>\n<style>\n", escape(&self.title)));
        for css in &self.styles {
            out.push_str(css);
            out.push('\n');
        }
        out.push_str("</style>\n</head>\n<body>\n");
        out.push_str(&self.body);
        for js in &self.scripts {
            out.push_str("<script>\n");
            out.push_str(js);
            out.push_str("\n</script>\n");
        }
        out.push_str("</body>\n</html>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figure::{Axis, Color, Mark};

    #[test]
    fn data_and_text_cannot_break_out() {
        let mut doc = Document::new("t");
        doc.heading(2, "<script>alert(1)</script>").data("d", &["</script><script>alert(1)</script>"]);
        let page = doc.render();
        assert!(!page.contains("<script>alert(1)"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("\\u003c/script>\\u003cscript>"));
        assert!(page.contains("default-src 'none'"));
    }

    #[test]
    fn figures_go_in_as_svg() {
        let mut figure = Figure::new("trend", Axis::new("run"), Axis::new("µs"));
        figure.marks.push(Mark::Line {
            name: Some("level".into()),
            points: vec![(0.0, 1.0), (1.0, 2.0)],
            color: Color::RED,
            width: 2,
            dashed: false,
        });
        let mut doc = Document::new("t");
        doc.figure(&figure, "a & b").unwrap();
        let page = doc.render();
        assert!(page.contains("<figure><svg") && page.contains("<figcaption>a &amp; b</figcaption>"));
    }
}
