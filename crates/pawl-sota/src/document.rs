//! The report's pages as blocks (headings, paragraphs, tables, figures, folded sections, code), written
//! once and rendered twice: as GitHub markdown (`report.md`) and as a self-contained HTML page
//! (`report.html`, through pawl-figures' [`Document`], the renderer the history report uses). All text
//! is plain and escaped by each renderer; nothing in a run file can inject markup.

use pawl_core::report::escape;
use pawl_figures::html::{self, Document};

use crate::ReportError;
use crate::figures::Named;

/// One piece of a page.
#[derive(Clone, Debug)]
pub enum Block {
    Heading(u8, String),
    Paragraph(String),
    /// Items of a bulleted list.
    List(Vec<String>),
    Table(Table),
    /// A figure by its index in the report's figure list.
    Figure(usize),
    /// A folded section: a summary line, then its blocks.
    Details(String, Vec<Block>),
    /// Preformatted text (commands).
    Code(String),
}

/// A table of plain text.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// `report.md`: figures as `figures/NAME.svg` images with their captions.
pub fn markdown(blocks: &[Block], figures: &[Named]) -> String {
    let mut out = String::new();
    for block in blocks {
        markdown_block(&mut out, block, figures);
    }
    out
}

fn markdown_block(out: &mut String, block: &Block, figures: &[Named]) {
    match block {
        Block::Heading(level, text) => {
            out.push_str(&format!(
                "{} {}\n\n",
                "#".repeat(usize::from((*level).clamp(1, 6))),
                escape::markdown(text)
            ));
        }
        Block::Paragraph(text) => out.push_str(&format!("{}\n\n", escape::markdown(text))),
        Block::List(items) => {
            for item in items {
                out.push_str(&format!("- {}\n", escape::markdown(item)));
            }
            out.push('\n');
        }
        Block::Table(table) => {
            let row = |cells: &[String]| {
                let cells: Vec<String> = cells.iter().map(|c| escape::markdown(c)).collect();
                format!("| {} |\n", cells.join(" | "))
            };
            out.push_str(&row(&table.header));
            out.push_str(&format!("|{}\n", "---|".repeat(table.header.len())));
            for r in &table.rows {
                out.push_str(&row(r));
            }
            out.push('\n');
        }
        Block::Figure(index) => {
            let figure = &figures[*index];
            // The caption doubles as the image's alternative text; the PNG sits beside the SVG.
            out.push_str(&format!(
                "![{}](figures/{}.svg)\n\n*{}* ([PNG](figures/{}.png))\n\n",
                escape::markdown(&figure.figure.title),
                figure.file,
                escape::markdown(&figure.caption),
                figure.file
            ));
        }
        Block::Details(summary, blocks) => {
            // GitHub renders markdown inside <details> when blank lines surround it.
            out.push_str(&format!("<details><summary>{}</summary>\n\n", html::escape(summary)));
            for block in blocks {
                markdown_block(out, block, figures);
            }
            out.push_str("</details>\n\n");
        }
        Block::Code(text) => {
            let fence = if text.contains("```") { "~~~~" } else { "```" };
            out.push_str(&format!("{fence}sh\n{}\n{fence}\n\n", text.trim_end()));
        }
    }
}

/// `report.html`: one self-contained page, figures inline as SVG.
pub fn html(title: &str, blocks: &[Block], figures: &[Named]) -> Result<String, ReportError> {
    let mut doc = Document::new(title);
    doc.style(
        "table { font-size: 13px; margin: 8px 0 16px; } td, th { border-bottom: 1px solid #ddd; \
         white-space: nowrap; } th { position: sticky; top: 0; background: #fff; } \
         .wide { overflow-x: auto; } details { margin: 8px 0; } pre { background: #f6f6f6; padding: 8px; \
         overflow-x: auto; } figcaption { font-size: 13px; color: #444; max-width: 900px; }",
    );
    for block in blocks {
        html_block(&mut doc, block, figures)?;
    }
    Ok(doc.render())
}

fn html_block(doc: &mut Document, block: &Block, figures: &[Named]) -> Result<(), ReportError> {
    match block {
        Block::Heading(level, text) => {
            doc.heading(*level, text);
        }
        Block::Paragraph(text) => {
            doc.paragraph(text);
        }
        Block::List(items) => {
            let items: String = items.iter().map(|i| format!("<li>{}</li>", html::escape(i))).collect();
            doc.markup(&format!("<ul>{items}</ul>\n"));
        }
        Block::Table(table) => {
            let mut markup = String::from("<div class=\"wide\"><table><thead><tr>");
            for h in &table.header {
                markup.push_str(&format!("<th>{}</th>", html::escape(h)));
            }
            markup.push_str("</tr></thead><tbody>");
            for row in &table.rows {
                markup.push_str("<tr>");
                for cell in row {
                    markup.push_str(&format!("<td>{}</td>", html::escape(cell)));
                }
                markup.push_str("</tr>");
            }
            markup.push_str("</tbody></table></div>\n");
            doc.markup(&markup);
        }
        Block::Figure(index) => {
            let figure = &figures[*index];
            doc.figure(&figure.figure, &figure.caption).map_err(ReportError::Figure)?;
        }
        Block::Details(summary, blocks) => {
            doc.markup(&format!("<details><summary>{}</summary>\n", html::escape(summary)));
            for block in blocks {
                html_block(doc, block, figures)?;
            }
            doc.markup("</details>\n");
        }
        Block::Code(text) => {
            doc.markup(&format!("<pre><code>{}</code></pre>\n", html::escape(text.trim_end())));
        }
    }
    Ok(())
}
