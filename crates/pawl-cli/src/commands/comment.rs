//! `pawl comment`: one sticky comment per suite on a pull request (GitHub) or merge request
//! (GitLab).
//!
//! The comment is found by the hidden marker on its first line (`<!-- pawl:SUITE -->`) **and** by its
//! author, which must be the account pawl writes as: a comment somebody else wrote with the marker
//! in it is left alone (and named in the log), so nobody can plant text for pawl to keep up to date.
//! It is updated when it exists and created when it does not, so a change carries one comment per
//! suite however often CI runs. A token that may not write (pull requests from forks get a read-only
//! one) is not an error: the body goes to the job summary instead, with a warning, and the command
//! exits 0.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use pawl_core::report::markdown::{self, marker};
use pawl_core::report::{Cost, ReportOptions, escape, json};
use pawl_core::verdict::Comparison;

use super::Outcome;
use crate::cli::CommentArgs;
use crate::forge::{Forge, ForgeError, ForgeKind};
use crate::log;

pub fn run(args: &CommentArgs) -> Result<Outcome> {
    let kind = ForgeKind::detect(args.forge);
    let limit = kind.limit();
    let (marker, body) = match &args.from_check {
        Some(report) => {
            let extra = super::check::read_extra_markdown(&args.extra_markdown)?;
            from_check(report, extra, args.artifact_hint.clone(), limit)?
        }
        None => {
            let path = args.body.as_deref().context("give --body FILE or --from-check REPORT.json")?;
            from_body(path, args.suite.as_deref())?
        }
    };
    let body = fit(body, limit, args.artifact_hint.as_deref());

    let forge = match kind.client(args.author.as_deref()) {
        Ok(forge) => forge,
        Err(err) if err.is_refused() => return fall_back(kind, &body, &err),
        Err(err) => return Err(err.into()),
    };
    match upsert(forge.as_ref(), args.pr, &marker, &body) {
        Ok(done) => {
            crate::log::info(format_args!("comment: {done}"));
            Ok(Outcome::Pass)
        }
        // No right to write, or no forge to write to: the report goes to the job summary all the same.
        Err(err) if err.is_refused() || err.is_unavailable() => fall_back(kind, &body, &err),
        Err(err) => Err(err.into()),
    }
}

/// Updates pawl's own comment that starts with `marker`, or creates one; says which it did.
fn upsert(forge: &dyn Forge, number: u64, marker: &str, body: &str) -> Result<String, ForgeError> {
    let me = forge.identity()?;
    let notes = forge.notes(number)?;
    let mut ours = None;
    for note in notes.iter().filter(|n| !n.system && n.body.trim_start().starts_with(marker)) {
        if !note.author.is(&me) {
            crate::log::info(format_args!(
                "comment: ignoring comment {} by {}: it carries the marker, but pawl writes as {}",
                note.id,
                escape::terminal(&note.author.login),
                escape::terminal(&me.login)
            ));
        } else if ours.is_none() {
            ours = Some(note);
        }
    }
    let (verb, note) = match ours {
        Some(note) if note.body == body => ("unchanged", note.clone()),
        Some(note) => match forge.update(number, note.id, body) {
            Ok(updated) => ("updated", updated),
            // The comment is pawl's but may not be edited (locked, or the token's rights changed):
            // the report still gets posted.
            Err(err) if err.is_refused() => {
                log::warn(
                    "pawl comment",
                    &format!("cannot update comment {}: {err}; posting a new one", note.id),
                );
                ("created", forge.create(number, body)?)
            }
            Err(err) => return Err(err),
        },
        None => ("created", forge.create(number, body)?),
    };
    let at = note
        .url
        .map(|url| escape::terminal(&url).into_owned())
        .unwrap_or_else(|| format!("comment {}", note.id));
    Ok(format!("{verb} {at} on #{number} as {}", escape::terminal(&me.login)))
}

/// The markdown report re-rendered from `pawl check --json`'s report, with extra sections appended and
/// the whole sized by the renderer (which leaves out the least urgent rows first).
fn from_check(
    report: &Path,
    extra_markdown: Vec<String>,
    artifact_hint: Option<String>,
    limit: usize,
) -> Result<(String, String)> {
    let text =
        std::fs::read_to_string(report).with_context(|| format!("cannot read {}", report.display()))?;
    #[derive(serde::Deserialize)]
    struct Header {
        schema: Option<String>,
        #[serde(default)]
        cost: Option<Cost>,
    }
    let header: Header = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!("{}:{}:{}: not valid JSON: {e}", report.display(), e.line(), e.column())
    })?;
    let expected_major = json::SCHEMA.split('/').next().unwrap_or(json::SCHEMA);
    match header.schema.as_deref() {
        Some(schema) if schema == json::SCHEMA => {}
        Some(schema) => bail!(
            "{}: a `{schema}` file; --from-check reads the JSON report of `pawl check --json` (\"{}\"), \
             from the same pawl version",
            report.display(),
            json::SCHEMA
        ),
        None => bail!(
            "{}: no `schema` field; --from-check reads the JSON report of `pawl check --json` (`{expected_major}/…`)",
            report.display()
        ),
    }
    let comparison: Comparison = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a pawl report: {e}", report.display()))?;
    let opts = ReportOptions {
        extra_markdown,
        artifact_hint,
        max_markdown_chars: limit,
        cost: header.cost,
        ..ReportOptions::default()
    };
    Ok((marker(&comparison.suite), markdown::markdown(&comparison, &opts)))
}

/// A markdown file as the body. Its first line is the marker `pawl check --markdown` writes; a body
/// without one gets the marker of `--suite`.
fn from_body(path: &Path, suite: Option<&str>) -> Result<(String, String)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default().trim();
    let found = (first.starts_with("<!-- pawl:") && first.ends_with("-->")).then(|| first.to_owned());
    match (found, suite) {
        (Some(found), None) => Ok((found, text)),
        (Some(found), Some(suite)) if found == marker(suite) => Ok((found, text)),
        (Some(found), Some(suite)) => bail!(
            "{} starts with the marker {found}, not the one of suite `{suite}` ({}); drop --suite or fix the file",
            path.display(),
            marker(suite)
        ),
        (None, Some(suite)) => {
            let marker = marker(suite);
            let body = format!("{marker}\n{text}");
            Ok((marker, body))
        }
        (None, None) => bail!(
            "{} does not start with a pawl marker (`<!-- pawl:SUITE -->`) by which to find the comment to \
             update; pass --suite NAME, or use the file `pawl check --markdown` writes",
            path.display()
        ),
    }
}

/// `body` shortened at a line break to fit under `limit` characters (less 1%, as the forge may count
/// differently), with a note saying so and where the full report is.
fn fit(body: String, limit: usize, artifact_hint: Option<&str>) -> String {
    let budget = limit - limit / 100;
    let length = body.chars().count();
    if length <= budget {
        return body;
    }
    let note = format!(
        "\n\n---\n*This comment was shortened from {length} to fit the limit of {limit} characters. {}*\n",
        artifact_hint.unwrap_or("The full report is in the job's artifacts.")
    );
    let keep = budget.saturating_sub(note.chars().count());
    let cut = body.char_indices().nth(keep).map_or(body.len(), |(at, _)| at);
    let cut = body[..cut].rfind('\n').unwrap_or(cut);
    eprintln!("warning: the comment is {length} characters long; shortened to fit the limit of {limit}");
    format!("{}{note}", &body[..cut])
}

/// Puts the body in the job summary (or on standard output where there is none) and warns.
fn fall_back(kind: ForgeKind, body: &str, why: &ForgeError) -> Result<Outcome> {
    let cause = if why.is_refused() {
        " (pull requests from forks get a read-only token; docs/ci.md says how to comment on them safely)"
    } else {
        " (the next run of the job posts it, once the forge answers)"
    };
    let warning = format!(
        "cannot write the {}: {why}. The report goes to the job summary or the log instead{cause}.",
        kind.noun()
    );
    log::warn("pawl comment", &warning);
    match std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        Some(path) => {
            let path = Path::new(&path);
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open $GITHUB_STEP_SUMMARY ({})", path.display()))?;
            writeln!(file, "{body}")
                .with_context(|| format!("cannot append to $GITHUB_STEP_SUMMARY ({})", path.display()))?;
            crate::log::info(format_args!("comment: appended to the job summary instead"));
        }
        None => {
            crate::log::info(format_args!(
                "comment: no $GITHUB_STEP_SUMMARY either; the body follows on standard output"
            ));
            println!("{}", escape::terminal_lines(body));
        }
    }
    Ok(Outcome::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_body_is_cut_at_a_line_break_under_the_limit() {
        let body: String = (0..2000).map(|i| format!("| row {i} | 🔴 regressed |\n")).collect();
        let fitted = fit(body.clone(), 10_000, Some("See [the artifacts](https://example.com)."));
        assert!(fitted.chars().count() <= 9_900, "{} characters", fitted.chars().count());
        assert!(fitted.contains("shortened from"));
        assert!(fitted.ends_with("See [the artifacts](https://example.com).*\n"));
        let kept = fitted.split("\n\n---\n").next().unwrap();
        assert!(body.starts_with(kept) && kept.ends_with("regressed |"), "cut inside a line");
        let short = "<!-- pawl:s -->\nall good\n".to_owned();
        assert_eq!(fit(short.clone(), 10_000, None), short);
    }
}
