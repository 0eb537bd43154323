//! Properties of each report format that must hold whatever the input: escaping, size limits, caps,
//! well-formedness and round trips.

mod report_support;

use pawl_core::report::{self, Format, ReportOptions};
use pawl_core::run::CaseStatus;
use pawl_core::verdict::{Comparison, Note, VerdictKind};
use report_support::{HOSTILE, all_kinds, many};

fn rendered(format: Format, comparison: &Comparison, opts: &ReportOptions) -> String {
    let mut out = Vec::new();
    report::render(format, comparison, opts, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// 10,000 verdicts, mostly unchanged, with every kind present: 50 regressed, 50 failed, 50 inconclusive,
/// 150 improved, 9,500 unchanged, 100 new, 100 missing.
fn big_sweep() -> Comparison {
    use VerdictKind::*;
    let mut pattern =
        vec![Regressed, Failed, Inconclusive, Improved, Improved, Improved, New, New, Missing, Missing];
    pattern.resize(200, Unchanged);
    many(10_000, &pattern)
}

mod markdown {
    use super::*;

    /// How many `c` in `line` are not backslash-escaped, reading escapes left to right.
    fn unescaped(line: &str, wanted: char) -> usize {
        let mut count = 0;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                chars.next();
            } else if c == wanted {
                count += 1;
            }
        }
        count
    }

    /// The cells of a table row, split at unescaped pipes (the first and last are empty).
    fn split_cells(row: &str) -> Vec<String> {
        let mut cells = vec![String::new()];
        let mut chars = row.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    let cell = cells.last_mut().unwrap();
                    cell.push(c);
                    cell.extend(chars.next());
                }
                '|' => cells.push(String::new()),
                c => cells.last_mut().unwrap().push(c),
            }
        }
        cells
    }

    fn table_rows(text: &str) -> Vec<&str> {
        text.lines().filter(|line| line.starts_with("| ") && !line.starts_with("| verdict |")).collect()
    }

    #[test]
    fn opens_with_the_marker_then_a_one_line_summary() {
        let text = report::markdown(&all_kinds(), &ReportOptions::default());
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(report::marker("attention").as_str()));
        let summary = lines.next().unwrap();
        assert!(summary.starts_with("❌ 1 regressed, 1 failed, 1 inconclusive"), "{summary}");
        assert!(summary.contains("suite **attention** on NVIDIA H100"), "{summary}");
        assert_eq!(lines.next(), Some(""), "the summary is one line");
    }

    #[test]
    fn summary_icon_follows_the_most_urgent_verdict() {
        let mut comparison = all_kinds();
        comparison.verdicts.retain(|v| !v.kind.fails_check());
        assert!(
            report::markdown(&comparison, &ReportOptions::default())
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("⚠️")
        );
        comparison.verdicts.retain(|v| matches!(v.kind, VerdictKind::Improved | VerdictKind::Unchanged));
        assert!(
            report::markdown(&comparison, &ReportOptions::default())
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("✅")
        );
    }

    #[test]
    fn user_text_cannot_break_a_table_or_inject_html() {
        let mut comparison = all_kinds();
        comparison.suite = "<img src=x onerror=alert(1)> | **bold**".to_owned();
        comparison.new_label = "[click](javascript:alert(1))\n# heading".to_owned();
        let text = report::markdown(&comparison, &ReportOptions::default());
        let rows = table_rows(&text);
        assert_eq!(rows.len(), 7);
        for row in rows {
            assert_eq!(unescaped(row, '|'), 8, "a row has exactly 7 cells: {row}");
            // The case and notes cells hold user text; the others only numbers and our own words.
            let cells = split_cells(row);
            for cell in [cells[2].as_str(), cells[7].as_str()] {
                for special in ['<', '>', '[', ']', '`', '*', '_', '&'] {
                    assert_eq!(unescaped(cell, special), 0, "unescaped {special} in {row}");
                }
            }
        }
        for line in text.lines().skip(1).filter(|line| !line.starts_with('|')) {
            let own_tags = ["<details>", "</details>", "<summary>", "</summary>", "<sub>", "</sub>"];
            let stripped = own_tags.iter().fold(line.to_owned(), |line, tag| line.replace(tag, ""));
            assert_eq!(unescaped(&stripped, '<'), 0, "raw HTML in {line}");
            assert_eq!(unescaped(&stripped, '['), 0, "a link in {line}");
        }
        assert!(text.contains("\\<script\\>alert(1)\\</script\\>"));
        assert!(text.contains("suite **\\<img src=x onerror=alert(1)\\> \\| \\*\\*bold\\*\\***"));
        assert!(!text.contains("\n# heading"), "a newline in a label cannot start a block");
    }

    #[test]
    fn sections_come_most_urgent_first_with_the_rest_folded() {
        let text = report::markdown(&all_kinds(), &ReportOptions::default());
        let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("{needle} missing"));
        assert!(at("### Regressions and failures") < at("🔴 regressed"));
        assert!(at("💥 failed") < at("### Other changes"));
        assert!(at("### Other changes") < at("🟡 inconclusive"));
        assert!(at("🟢 improved") < at("<details>"));
        assert!(at("<summary>1 unchanged, 1 new, 1 missing</summary>") < at("⚪ unchanged"));
        assert!(at("➖ missing") < at("</details>"));
        assert!(at("</details>") < at("<sub>tolerance 2%, confidence 99%"));
        assert!(!text.contains("Truncated"));
    }

    #[test]
    fn extra_sections_come_last_as_they_are() {
        let extra = "### Profiles\n\n| kernel | *time* |\n|--|--|\n".to_owned();
        let opts = ReportOptions { extra_markdown: vec![extra.clone()], ..ReportOptions::default() };
        let text = report::markdown(&all_kinds(), &opts);
        assert!(text.ends_with(extra.trim_end()), "{text}");
    }

    #[test]
    fn ten_thousand_verdicts_fit_under_the_limit_least_urgent_dropped_first() {
        let comparison = big_sweep();
        let opts = ReportOptions {
            artifact_hint: Some("the `pawl-report` artifact of this run".to_owned()),
            ..ReportOptions::default()
        };
        let text = report::markdown(&comparison, &opts);
        let chars = text.chars().count();
        assert!(chars <= 65_536, "{chars} characters");
        assert!(chars > 60_000, "the space is used: {chars} characters");

        let rows = table_rows(&text);
        let hidden = 10_000 - rows.len();
        assert!(
            text.contains(&format!("comment limit, leaving out {hidden} of 10000 cases.")),
            "the note counts what is left out"
        );
        assert!(text.contains("The full report: the `pawl-report` artifact of this run."));
        let shown = |kind: &str| rows.iter().filter(|row| row.contains(&format!(" {kind} |"))).count();
        assert_eq!(shown("regressed"), 50);
        assert_eq!(shown("failed"), 50);
        assert_eq!(shown("inconclusive"), 50);
        assert_eq!(shown("improved"), 150);
        assert!(shown("unchanged") > 0);
        assert_eq!(shown("new") + shown("missing"), 0);
    }

    #[test]
    fn counts_characters_not_bytes() {
        let mut comparison = big_sweep();
        for verdict in &mut comparison.verdicts {
            let error = Some("注意力機構のカーネル".to_owned());
            verdict.notes.push(Note::OldStatus { status: CaseStatus::Skipped, error });
        }
        let text = report::markdown(&comparison, &ReportOptions::default());
        let chars = text.chars().count();
        assert!(chars <= 65_536 && chars > 60_000, "{chars} characters");
        assert!(text.len() > 65_536, "measured in bytes it would have been cut shorter");
    }

    #[test]
    fn extra_sections_give_way_before_regressions() {
        let comparison = many(800, &[VerdictKind::Regressed]);
        let opts = ReportOptions { extra_markdown: vec!["x".repeat(30_000)], ..ReportOptions::default() };
        let text = report::markdown(&comparison, &opts);
        assert!(text.chars().count() <= 65_536);
        assert!(!text.contains("xxxx"));
        let hidden = 800 - table_rows(&text).len();
        assert!(hidden > 0);
        assert!(text.contains(&format!("leaving out {hidden} of 800 cases and 1 extra section.")), "{text}");
    }

    #[test]
    fn unurgent_rows_give_way_before_extra_sections() {
        let opts = ReportOptions { extra_markdown: vec!["x".repeat(63_500)], ..ReportOptions::default() };
        let text = report::markdown(&all_kinds(), &opts);
        assert!(text.chars().count() <= 65_536);
        assert!(text.contains(&"x".repeat(63_500)));
        assert!(text.contains("🔴 regressed") && text.contains("💥 failed"));
        assert!(!text.contains("⚪ unchanged"));
        assert!(text.contains("of 7 cases."));
    }

    #[test]
    fn a_small_limit_is_kept_too() {
        let opts = ReportOptions { max_markdown_chars: 3_000, ..ReportOptions::default() };
        let text = report::markdown(&big_sweep(), &opts);
        assert!(text.chars().count() <= 3_000);
        assert!(text.starts_with("<!-- pawl:sweep -->\n❌ 50 regressed, 50 failed"));
        assert!(text.contains("🔴 regressed"));
    }

    #[test]
    fn rendered_markdown_ends_with_one_newline() {
        let text = rendered(Format::Markdown, &all_kinds(), &ReportOptions::default());
        assert!(text.ends_with("false discovery rate 1%</sub>\n"), "{text}");
    }
}

mod junit {
    use quick_xml::XmlVersion;
    use quick_xml::events::Event;

    use super::*;

    /// Parses `xml`, failing on any well-formedness error, and returns (element, attributes) in order.
    fn parse(xml: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut elements = Vec::new();
        let mut depth = 0_i32;
        loop {
            let event = reader.read_event().unwrap_or_else(|e| panic!("not well-formed: {e}\n{xml}"));
            let start = match event {
                Event::Start(start) => {
                    depth += 1;
                    start
                }
                Event::Empty(start) => start,
                Event::End(_) => {
                    depth -= 1;
                    continue;
                }
                Event::Eof => break,
                _ => continue,
            };
            let name = start.name().as_ref().to_owned();
            let attributes = start
                .attributes()
                .map(|attribute| {
                    let attribute = attribute.unwrap();
                    let key = attribute.key.as_ref().to_owned();
                    (key, attribute.normalized_value(XmlVersion::Implicit1_0).unwrap().into_owned())
                })
                .collect();
            elements.push((name, attributes));
        }
        assert_eq!(depth, 0, "every element is closed");
        elements
    }

    fn attribute<'a>(element: &'a (String, Vec<(String, String)>), key: &str) -> Option<&'a str> {
        element.1.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn is_well_formed_and_names_every_case_exactly() {
        let mut comparison = all_kinds();
        comparison.suite = "attn <&> \"quoted\" 'single'".to_owned();
        comparison.verdicts[4].id = pawl_core::case::CaseId::from_raw("ctrl\u{1}char\u{1b}[0m");
        let elements = parse(&rendered(Format::Junit, &comparison, &ReportOptions::default()));
        let suite = elements.iter().find(|e| e.0 == "testsuite").unwrap();
        assert_eq!(attribute(suite, "name"), Some("attn <&> \"quoted\" 'single'"));
        assert_eq!(attribute(suite, "tests"), Some("7"));
        assert_eq!(attribute(suite, "failures"), Some("2"));
        assert_eq!(attribute(suite, "skipped"), Some("2"));

        let names: Vec<&str> =
            elements.iter().filter(|e| e.0 == "testcase").filter_map(|e| attribute(e, "name")).collect();
        assert_eq!(names.len(), 7);
        assert_eq!(names[1], format!("weird/name={HOSTILE}"));
        assert_eq!(names[4], "ctrl\u{FFFD}char\u{FFFD}[0m");

        let outcomes: Vec<(&str, Option<&str>)> = elements
            .iter()
            .filter(|e| e.0 == "failure" || e.0 == "skipped")
            .map(|e| (e.0.as_str(), attribute(e, "type")))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("failure", Some("regressed")),
                ("failure", Some("failed")),
                ("skipped", Some("inconclusive")),
                ("skipped", Some("missing")),
            ]
        );
        let failed = elements.iter().find(|e| attribute(e, "type") == Some("failed")).unwrap();
        assert_eq!(
            attribute(failed, "message"),
            Some("failed: CUDA error: an illegal memory access was encountered at launch 3 | see log")
        );
    }

    #[test]
    fn times_are_the_new_medians_in_seconds() {
        let elements = parse(&rendered(Format::Junit, &all_kinds(), &ReportOptions::default()));
        let times: Vec<Option<&str>> =
            elements.iter().filter(|e| e.0 == "testcase").map(|e| attribute(e, "time")).collect();
        assert_eq!(times[0], Some("0.001280430"));
        assert_eq!(times[1], None, "a failed case has no new median");
    }
}

mod json {
    use super::*;

    #[test]
    fn reads_back_as_the_same_comparison() {
        let comparison = all_kinds();
        let text = rendered(Format::Json, &comparison, &ReportOptions::default());
        let back: Comparison = serde_json::from_str(&text).unwrap();
        assert_eq!(back, comparison);
    }

    #[test]
    fn is_byte_stable() {
        let comparison = big_sweep();
        let first = rendered(Format::Json, &comparison, &ReportOptions::default());
        let again = rendered(Format::Json, &comparison.clone(), &ReportOptions::default());
        assert_eq!(first, again);
        let back: Comparison = serde_json::from_str(&first).unwrap();
        assert_eq!(rendered(Format::Json, &back, &ReportOptions::default()), first);
    }

    #[test]
    fn summary_counts_every_kind() {
        let text = rendered(Format::Json, &big_sweep(), &ReportOptions::default());
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let summary = &value["summary"];
        assert_eq!(value["schema"], "pawl-report/1");
        assert_eq!(summary["total"], 10_000);
        assert_eq!(summary["regressed"], 50);
        assert_eq!(summary["unchanged"], 9_500);
        assert_eq!(summary["missing"], 100);
        assert_eq!(summary["fails_check"], true);

        let mut calm = all_kinds();
        calm.verdicts.retain(|v| !v.kind.fails_check());
        let value: serde_json::Value =
            serde_json::from_str(&rendered(Format::Json, &calm, &ReportOptions::default())).unwrap();
        assert_eq!(value["summary"]["fails_check"], false);
        assert_eq!(value["summary"]["regressed"], 0);
    }
}

mod github {
    use super::*;

    fn annotations<'a>(text: &'a str, level: &str) -> Vec<&'a str> {
        let prefix = format!("::{level} ");
        text.lines().filter(|line| line.starts_with(&prefix)).collect()
    }

    #[test]
    fn at_most_ten_annotations_per_level() {
        use VerdictKind::*;
        let mut pattern = vec![Regressed; 25];
        pattern.extend([Failed; 3]);
        pattern.extend([Inconclusive; 12]);
        pattern.extend([Improved; 4]);
        pattern.extend([Unchanged; 6]);
        let text = rendered(Format::Github, &many(50, &pattern), &ReportOptions::default());

        let errors = annotations(&text, "error");
        assert_eq!(errors.len(), 10);
        assert!(errors[..9].iter().all(|line| line.starts_with("::error title=regressed%3A gemm/")));
        assert!(
            errors[9].starts_with("::error title=19 more regressed or failed cases::19 more"),
            "{}",
            errors[9]
        );
        let warnings = annotations(&text, "warning");
        assert_eq!(warnings.len(), 10);
        assert!(warnings[9].starts_with("::warning title=3 more inconclusive cases::"));
        assert_eq!(annotations(&text, "notice").len(), 4);
        assert_eq!(text.lines().count(), 25, "24 annotations and the summary line");
        assert!(text.ends_with(
            "pawl: suite sweep: 25 regressed, 3 failed, 12 inconclusive, 4 improved, 6 unchanged\n"
        ));
    }

    #[test]
    fn ten_of_a_level_are_all_shown() {
        let text = rendered(Format::Github, &many(10, &[VerdictKind::Improved]), &ReportOptions::default());
        let notices = annotations(&text, "notice");
        assert_eq!(notices.len(), 10);
        assert!(notices.iter().all(|line| line.starts_with("::notice title=improved%3A")));
    }

    #[test]
    fn user_text_cannot_start_a_command_of_its_own() {
        let mut comparison = all_kinds();
        comparison.verdicts[1].reason = crate::report_support::failed("boom\n::error::forged\r\n100%");
        let text = rendered(Format::Github, &comparison, &ReportOptions::default());
        assert!(text.lines().all(|line| line.starts_with("::") || line.starts_with("pawl: ")));
        let failed = annotations(&text, "error")[1];
        assert!(failed.ends_with("::failed: boom%0A::error::forged%0D%0A100%25"), "{failed}");
        assert!(failed.starts_with("::error title=failed%3A weird/name=a|b*c_d`e<script>"), "{failed}");
        assert!(failed.contains("%250A%3A -->::"), "% and : in the title are escaped: {failed}");
    }

    #[test]
    fn step_summary_appends_the_markdown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        std::fs::write(&path, "earlier step output\n").unwrap();
        let comparison = all_kinds();
        let opts = ReportOptions::default();
        report::append_step_summary(&comparison, &opts, &path).unwrap();
        report::append_step_summary(&comparison, &opts, &path).unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        let markdown = report::markdown(&comparison, &opts);
        assert_eq!(written, format!("earlier step output\n\n{markdown}\n\n{markdown}\n"));
    }

    #[test]
    fn step_summary_starts_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.md");
        report::append_step_summary(&all_kinds(), &ReportOptions::default(), &path).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().starts_with("<!-- pawl:attention -->\n"));
    }
}

mod human {
    use super::*;

    #[test]
    fn colour_only_when_asked() {
        let plain = rendered(Format::Human, &all_kinds(), &ReportOptions::default());
        assert!(!plain.contains('\u{1b}'));
        let opts = ReportOptions { color: true, ..ReportOptions::default() };
        let coloured = rendered(Format::Human, &all_kinds(), &opts);
        assert!(coloured.contains("\u{1b}[38;5;9mregressed"), "{coloured}");
        assert!(coloured.contains("\u{1b}[38;5;10mimproved"));
    }

    #[test]
    fn most_urgent_first_whatever_the_input_order() {
        let mut comparison = all_kinds();
        comparison.verdicts.reverse();
        let text = rendered(Format::Human, &comparison, &ReportOptions::default());
        let kinds: Vec<&str> = text.lines().filter_map(|line| line.split_whitespace().next()).collect();
        let order: Vec<&str> = VerdictKind::ALL.iter().map(|kind| kind.as_str()).collect();
        let listed: Vec<&str> = kinds.into_iter().filter(|word| order.contains(word)).collect();
        assert_eq!(listed, order);
    }

    #[test]
    fn one_line_per_case_even_with_line_breaks_in_names() {
        let mut comparison = all_kinds();
        comparison.verdicts[4].id = pawl_core::case::CaseId::from_raw("two\nlines\u{1b}[2J");
        let text = rendered(Format::Human, &comparison, &ReportOptions::default());
        // Long cells wrap within the table's width, but a line break inside a name never breaks a row.
        assert!(text.lines().any(|line| line.contains(" two\\nlines\\u{1b}[2J ")), "{text}");
        assert!(!text.lines().any(|line| line.starts_with("lines")), "{text}");
        assert!(!text.contains('\u{1b}'));
    }
}

/// Names a pull request could carry to ping people, forge text or inject workflow commands, through
/// every format.
mod hostile_names {
    use super::*;
    use pawl_core::case::CaseId;

    const MENTION: &str = "flash/by=@alice cc @org/team fixes #12";
    const BIDI: &str = "copy/N=1\u{202E}8=N\u{200B}";
    const LINK: &str = "copy/see=https://evil.example/x www.evil.example $x^2$";
    const COMMAND: &str = "::set-env name=LD_PRELOAD::/tmp/x.so";
    const OLD_COMMAND: &str = "copy/x ##[add-mask]secret";

    fn hostile() -> Comparison {
        let mut comparison = all_kinds();
        comparison.suite = "suite @owner ::warning::s".to_owned();
        for (verdict, name) in comparison.verdicts.iter_mut().zip([MENTION, BIDI, LINK, COMMAND, OLD_COMMAND])
        {
            verdict.id = CaseId::from_raw(name);
            verdict.bench = name.to_owned();
            let note = Some(format!("{name}\n::error::from a note"));
            verdict.notes.push(Note::OldStatus { status: CaseStatus::Failed, error: note });
            verdict.reason = crate::report_support::failed(&format!("{name}\n##[error]from a reason"));
        }
        comparison
    }

    #[test]
    fn markdown_pings_nobody_links_nowhere_and_hides_nothing() {
        let text = report::markdown(&hostile(), &ReportOptions::default());
        // The marker is an HTML comment, which renders as nothing: no mention or link can live there.
        let (marker, text) = text.split_once('\n').unwrap();
        assert!(marker.starts_with("<!-- pawl:") && marker.ends_with(" -->"), "{marker}");
        for raw in ["@alice", "@org", "@owner", "#12", "https://", "www.evil", "\u{202E}", "\u{200B}"] {
            assert!(!text.contains(raw), "`{raw}` reached the markdown: {text}");
        }
        assert!(text.contains("\\u{202e}"), "the override is shown, not obeyed");
        assert!(!text.replace("\\$", "").contains('$'), "every dollar is escaped: math is defused");
    }

    #[test]
    fn junit_shows_hidden_characters() {
        let text = rendered(Format::Junit, &hostile(), &ReportOptions::default());
        assert!(!text.contains('\u{202E}') && !text.contains('\u{200B}'), "{text}");
        assert!(text.contains("\\u{202e}"));
    }

    #[test]
    fn annotations_are_the_only_workflow_commands() {
        let text = rendered(Format::Github, &hostile(), &ReportOptions::default());
        let (annotations, summary): (Vec<&str>, Vec<&str>) =
            text.lines().partition(|line| line.starts_with("::"));
        assert_eq!(annotations.len(), 4, "{text}");
        for line in annotations {
            // The runner reads the command up to the first `::` after the opening one: that must be
            // the separator pawl wrote, so the title holds none of its own.
            let (command, _message) = line[2..].split_once("::").unwrap();
            let (level, title) = command.split_once(' ').unwrap();
            assert!(["error", "warning", "notice"].contains(&level), "{line}");
            assert!(title.starts_with("title=") && !title.contains(','), "{line}");
            assert!(!line.contains('\u{202E}'), "{line}");
        }
        // The summary line is log text: the suite name must not make it a command (the runner reads
        // one only at the start of a line, after white space).
        assert_eq!(summary.len(), 1);
        assert!(summary[0].starts_with("pawl: ") && !summary[0].contains("##["), "{}", summary[0]);
    }

    #[test]
    fn the_terminal_report_holds_no_workflow_command_or_hidden_character() {
        let text = rendered(Format::Human, &hostile(), &ReportOptions::default());
        for line in text.lines() {
            assert!(!line.trim_start().starts_with("::") && !line.contains("##["), "{line}");
            assert!(!line.contains('\u{202E}') && !line.contains('\u{200B}'), "{line}");
        }
    }
}
