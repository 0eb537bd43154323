//! The JUnit XML report, for CI test-report views (GitLab, Jenkins, Azure, GitHub test-report actions).
//!
//! One `<testsuite>` named for the suite, inside the usual `<testsuites>` root, with one `<testcase>` per
//! verdict: `classname` is the bench, `name` the case id, `time` the new median in seconds. How verdicts
//! map onto JUnit's three outcomes:
//!
//! - regressed, failed: `<failure>`, the outcome that turns a CI test view red, with the reason as its
//!   message and the numbers in its body; `type` says which of the two.
//! - inconclusive, missing: `<skipped>`. Neither was decided (too noisy; not measured on the new side)
//!   and neither fails the check, which is what "skipped" means to every JUnit consumer; CI views list
//!   skipped tests in their own visible group and count, whereas passed tests are folded away, so these
//!   cases stay in view without turning the build red.
//! - improved, unchanged, new: passed, with the numbers in `<system-out>`.
//!
//! quick-xml escapes attribute values and text; characters XML 1.0 cannot carry at all (most control
//! characters) are replaced by U+FFFD first, and hidden ones shown ([`escape::xml`](super::escape::xml)).

use std::io::{self, Write};

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::escape::xml as xml_safe;
use super::{text, words};
use crate::verdict::{CompareMode, Comparison, SideSummary, Verdict, VerdictKind};

/// Writes the JUnit report, ending with a newline.
pub fn write(comparison: &Comparison, out: &mut dyn Write) -> io::Result<()> {
    let mut writer = Writer::new_with_indent(&mut *out, b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;

    let tests = comparison.verdicts.len().to_string();
    let failures = comparison.verdicts.iter().filter(|v| v.kind.fails_check()).count().to_string();
    let skipped = comparison.verdicts.iter().filter(|v| is_skipped(v.kind)).count().to_string();
    let counts = [
        ("tests", tests.as_str()),
        ("failures", failures.as_str()),
        ("errors", "0"),
        ("skipped", skipped.as_str()),
    ];
    let suite = xml_safe(&comparison.suite);
    writer
        .create_element("testsuites")
        .with_attributes([("name", "pawl")].into_iter().chain(counts))
        .write_inner_content(|writer| {
            writer
                .create_element("testsuite")
                .with_attributes([("name", suite.as_ref())].into_iter().chain(counts))
                .write_inner_content(|writer| {
                    write_properties(comparison, writer)?;
                    comparison.verdicts.iter().try_for_each(|verdict| write_case(verdict, writer))
                })?;
            Ok(())
        })?;
    drop(writer);
    out.write_all(b"\n")
}

fn is_skipped(kind: VerdictKind) -> bool {
    matches!(kind, VerdictKind::Inconclusive | VerdictKind::Missing)
}

/// The settings, so a reader of the CI view can tell how the verdicts were reached.
fn write_properties<W: Write>(comparison: &Comparison, writer: &mut Writer<W>) -> io::Result<()> {
    let mut properties = vec![
        ("old", xml_safe(&comparison.old_label).into_owned()),
        ("new", xml_safe(&comparison.new_label).into_owned()),
        ("testbed", xml_safe(&comparison.testbed).into_owned()),
        ("tolerance", comparison.tolerance.to_string()),
        ("confidence", comparison.confidence.to_string()),
    ];
    match comparison.mode {
        CompareMode::Runs { drift, drift_ns } | CompareMode::Baseline { drift, drift_ns } => {
            let kind = if matches!(comparison.mode, CompareMode::Runs { .. }) { "runs" } else { "baseline" };
            properties.push(("mode", kind.to_owned()));
            properties.push(("drift", drift.to_string()));
            properties.push(("drift_ns", drift_ns.to_string()));
        }
        CompareMode::Paired => properties.push(("mode", "paired".to_owned())),
    }
    properties.push(("multiple_comparisons", xml_safe(&comparison.multiple_comparisons).into_owned()));
    writer.create_element("properties").write_inner_content(|writer| {
        for (name, value) in &properties {
            writer
                .create_element("property")
                .with_attributes([("name", *name), ("value", value.as_str())])
                .write_empty()?;
        }
        Ok(())
    })?;
    Ok(())
}

fn write_case<W: Write>(verdict: &Verdict, writer: &mut Writer<W>) -> io::Result<()> {
    let bench = xml_safe(&verdict.bench);
    let name = xml_safe(verdict.id.as_str());
    let time = verdict.new.as_ref().map(|new| seconds(new.median_ns.point));
    let mut attributes = vec![("classname", bench.as_ref()), ("name", name.as_ref())];
    if let Some(time) = &time {
        attributes.push(("time", time));
    }
    let message = one_line(&xml_safe(&words::reason(verdict)));
    let details = xml_safe(&details(verdict)).into_owned();
    let case = writer.create_element("testcase").with_attributes(attributes);
    case.write_inner_content(|writer| {
        let outcome = if verdict.kind.fails_check() {
            Some("failure")
        } else if is_skipped(verdict.kind) {
            Some("skipped")
        } else {
            None
        };
        match outcome {
            Some(outcome) => writer
                .create_element(outcome)
                .with_attributes([("message", message.as_str()), ("type", verdict.kind.as_str())])
                .write_text_content(BytesText::new(&details))?,
            None => writer.create_element("system-out").write_text_content(BytesText::new(&details))?,
        };
        Ok(())
    })?;
    Ok(())
}

/// The reason, then the numbers behind it, one per line.
fn details(verdict: &Verdict) -> String {
    let side = |label: &str, side: &SideSummary| {
        format!(
            "{label} median: {} ({} samples, noise {})",
            text::duration(side.median_ns.point),
            side.samples,
            text::percent(side.rel_noise),
        )
    };
    let mut lines = vec![words::reason(verdict)];
    lines.extend(verdict.old.as_ref().map(|old| side("old", old)));
    lines.extend(verdict.new.as_ref().map(|new| side("new", new)));
    if verdict.ratio.is_some() {
        lines.push(format!("change in time: {}", text::change(verdict.ratio.as_ref())));
    }
    match (verdict.p_value, verdict.q_value) {
        (Some(p), Some(q)) => lines.push(format!("p = {p:.3e}, adjusted q = {q:.3e}")),
        (Some(p), None) => lines.push(format!("p = {p:.3e}")),
        _ => {}
    }
    lines.extend(words::notes(verdict).into_iter().map(|note| format!("note: {note}")));
    lines.join("\n")
}

/// Seconds with nanosecond resolution, as JUnit's `time` attribute wants them.
fn seconds(ns: f64) -> String {
    if ns.is_finite() && ns >= 0.0 { format!("{:.9}", ns / 1e9) } else { "0".to_owned() }
}

/// An attribute value on one line: parsers turn line breaks in attributes into spaces anyway, so say so.
fn one_line(s: &str) -> String {
    s.split(['\n', '\r', '\t']).filter(|part| !part.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_have_nanosecond_resolution() {
        assert_eq!(seconds(1_234.0), "0.000001234");
        assert_eq!(seconds(2.5e9), "2.500000000");
        assert_eq!(seconds(f64::NAN), "0");
    }
}
