//! Reports: a [`Comparison`] rendered for a reader, one module per format.
//!
//! Text from outside pawl goes through the escaping function of its sink ([`escape`]).
//!
//! Every renderer writes to a `&mut dyn Write`, so the CLI can send it to stdout or a file and tests can
//! print into a `Vec<u8>`. Renderers only present verdicts; `compare` decides them.
//!
//! | format | for | module |
//! |---|---|---|
//! | `human` | a terminal: a table, a summary line and the settings | [`human`] |
//! | `json` | machines: the comparison as it is, with counts | [`json`] |
//! | `markdown` | a PR comment or job summary, sized to fit GitHub's limit | [`markdown`](mod@markdown) |
//! | `junit` | CI test reports: one test case per benchmark case | [`junit`] |
//! | `github` | GitHub Actions annotations (workflow commands) | [`github`] |
//!
//! [`tuning`] renders what `pawl tune` found (`suggestions.md`).
//!
//! # Example
//!
//! ```
//! use pawl_core::report::{self, Format, ReportOptions};
//! use pawl_core::verdict::{CompareMode, Comparison};
//!
//! let comparison = Comparison {
//!     suite: "attention".into(),
//!     old_label: "main".into(),
//!     new_label: "HEAD".into(),
//!     mode: CompareMode::Runs { drift: 0.01, drift_ns: 250.0 },
//!     tolerance: 0.02,
//!     confidence: 0.99,
//!     multiple_comparisons: "Benjamini–Hochberg".into(),
//!     testbed: "NVIDIA H100".into(),
//!     thresholds_from: None,
//!     verdicts: vec![],
//! };
//! let mut out = Vec::new();
//! report::render(Format::Human, &comparison, &ReportOptions::default(), &mut out).unwrap();
//! assert!(String::from_utf8(out).unwrap().contains("no cases"));
//! ```

pub mod escape;
pub mod github;
pub mod human;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod text;
pub mod tuning;
pub mod words;

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use github::append_step_summary;
pub use markdown::{markdown, marker};

use crate::verdict::Comparison;

/// A report format, as named by `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Human,
    Json,
    Markdown,
    Junit,
    Github,
}

impl Format {
    pub const ALL: [Format; 5] =
        [Format::Human, Format::Json, Format::Markdown, Format::Junit, Format::Github];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Json => "json",
            Format::Markdown => "markdown",
            Format::Junit => "junit",
            Format::Github => "github",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A format name that is not one of [`Format::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown report format `{given}`: use one of human, json, markdown, junit, github")]
pub struct UnknownFormat {
    pub given: String,
}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|format| format.as_str() == s)
            .ok_or_else(|| UnknownFormat { given: s.to_owned() })
    }
}

/// Settings shared by the renderers; each uses the ones that apply to it.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportOptions {
    /// Colour the human table with ANSI escapes. The CLI decides (`NO_COLOR`, whether stdout is a
    /// terminal); renderers never look at the terminal themselves.
    pub color: bool,
    /// Upper bound on the markdown report's length in characters (GitHub's comment limit by default).
    pub max_markdown_chars: usize,
    /// Where the full report is, for the note of a truncated markdown report. It is markdown written by
    /// the CLI (for example a link to the run's artifacts) and is inserted as it is.
    pub artifact_hint: Option<String>,
    /// Markdown sections appended to the markdown report (a profiling summary, for example), inserted
    /// as they are.
    pub extra_markdown: Vec<String>,
    /// What measuring the new side cost, shown under the markdown report and carried by the JSON one.
    pub cost: Option<Cost>,
    /// The human table's notes are a few words each; with this, every case's reason and notes follow
    /// the table in full (`--verbose`). The other formats always say everything.
    pub full_notes: bool,
}

/// What measuring cost: the GPU's time (wall-clock seconds of the measuring step, which holds the
/// GPU), and with a price per hour of the GPU machine, the money, in US dollars as clouds list it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Cost {
    pub gpu_seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_hour: Option<f64>,
    /// False when no GPU was measured on (`command` benches only): the seconds are the machine's,
    /// and the report says "measuring time" rather than "GPU time".
    #[serde(default = "on_a_gpu", skip_serializing_if = "Clone::clone")]
    pub on_gpu: bool,
}

fn on_a_gpu() -> bool {
    true
}

impl Cost {
    /// The price of `gpu_seconds` at `price_per_hour`, when a price is known.
    pub fn amount(&self) -> Option<f64> {
        self.price_per_hour.map(|price| price * self.gpu_seconds / 3600.0)
    }
}

impl ReportOptions {
    /// GitHub's limit on the body of an issue or pull-request comment, in characters.
    pub const GITHUB_COMMENT_LIMIT: usize = 65_536;
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            color: false,
            max_markdown_chars: Self::GITHUB_COMMENT_LIMIT,
            artifact_hint: None,
            extra_markdown: Vec::new(),
            cost: None,
            full_notes: false,
        }
    }
}

/// Writes `comparison` to `out` in `format`.
pub fn render(
    format: Format,
    comparison: &Comparison,
    opts: &ReportOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Human => human::write(comparison, opts, out),
        Format::Json => json::write(comparison, opts.cost.as_ref(), out),
        Format::Markdown => {
            out.write_all(markdown(comparison, opts).as_bytes())?;
            out.write_all(b"\n")
        }
        Format::Junit => junit::write(comparison, out),
        Format::Github => github::write(comparison, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for format in Format::ALL {
            assert_eq!(format.to_string().parse::<Format>().unwrap(), format);
        }
    }

    #[test]
    fn unknown_format_is_quoted_with_the_choices() {
        let err = "xml".parse::<Format>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown report format `xml`: use one of human, json, markdown, junit, github"
        );
    }
}
