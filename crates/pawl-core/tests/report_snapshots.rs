//! Each format rendered from one hand-built comparison with every verdict kind, against a stored
//! baseline, with a case name full of characters that markdown, HTML, XML and workflow commands treat
//! specially. Review a changed snapshot as you would review the report itself.

mod report_support;

use pawl_core::report::{self, Format, ReportOptions};
use pawl_core::verdict::{CompareMode, Comparison};

fn rendered(format: Format, comparison: &Comparison, opts: &ReportOptions) -> String {
    let mut out = Vec::new();
    report::render(format, comparison, opts, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn human() {
    let text = rendered(Format::Human, &report_support::all_kinds(), &ReportOptions::default());
    insta::assert_snapshot!(text);
}

#[test]
fn human_in_colour() {
    let opts = ReportOptions { color: true, ..ReportOptions::default() };
    let text = rendered(Format::Human, &report_support::all_kinds(), &opts);
    // Escape characters made visible, so the snapshot shows where colour starts and stops.
    insta::assert_snapshot!(text.replace('\u{1b}', "␛"));
}

#[test]
fn human_settings_line_names_the_mode() {
    let mut comparison = report_support::all_kinds();
    let mut lines = Vec::new();
    for mode in [
        CompareMode::Runs { drift: 0.01, drift_ns: 250.0 },
        CompareMode::Paired,
        CompareMode::Baseline { drift: 0.015, drift_ns: 0.0 },
    ] {
        comparison.mode = mode;
        let text = rendered(Format::Human, &comparison, &ReportOptions::default());
        lines.push(text.lines().last().unwrap().to_owned());
    }
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn markdown() {
    let opts = ReportOptions {
        extra_markdown: vec!["### Profiles\n\nNsight Compute reports are attached.\n".to_owned()],
        ..ReportOptions::default()
    };
    insta::assert_snapshot!(rendered(Format::Markdown, &report_support::all_kinds(), &opts));
}

#[test]
fn json() {
    insta::assert_snapshot!(rendered(Format::Json, &report_support::all_kinds(), &ReportOptions::default()));
}

#[test]
fn junit() {
    insta::assert_snapshot!(rendered(Format::Junit, &report_support::all_kinds(), &ReportOptions::default()));
}

#[test]
fn github() {
    insta::assert_snapshot!(rendered(
        Format::Github,
        &report_support::all_kinds(),
        &ReportOptions::default()
    ));
}

#[test]
fn empty_comparison() {
    let mut comparison = report_support::all_kinds();
    comparison.verdicts.clear();
    let opts = ReportOptions::default();
    let all: Vec<String> = report::Format::ALL
        .into_iter()
        .map(|format| format!("--- {format}\n{}", rendered(format, &comparison, &opts)))
        .collect();
    insta::assert_snapshot!(all.join("\n"));
}
