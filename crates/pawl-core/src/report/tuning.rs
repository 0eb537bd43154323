//! `suggestions.md`: what a `pawl tune` found, a summary first, then each case — the suggestion and its
//! speed-up over the default with the interval, the tie set, the runners-up, and every rejected
//! configuration with its reason.
//!
//! Everything from users or harnesses (case ids, reasons) is escaped for markdown.

use std::fmt::Write as _;

use super::escape::markdown as escape;
use super::text::{duration, percent};
use crate::paired::Settled;
use crate::run::CaseStatus;
use crate::tune::decide::Basis;
use crate::tune::record::{TunedCase, Tuning};
use crate::tune::search::SearchResult;
use crate::tune::space::Space;
use crate::verdict::Estimate;

/// Runners-up listed per case.
const RUNNERS_UP: usize = 5;
/// Configurations listed per rejection reason.
const PER_REASON: usize = 6;

/// The markdown of `tuning`.
pub fn suggestions(tuning: &Tuning) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# pawl tune: {}\n", escape(&tuning.suite));
    let faster = tuning.cases.iter().filter(|c| c.decision.basis == Basis::Faster).count();
    let tied = tuning.cases.iter().filter(|c| c.decision.basis == Basis::DefaultTied).count();
    let failed =
        tuning.cases.iter().filter(|c| matches!(c.decision.basis, Basis::DefaultFailed { .. })).count();
    let open = tuning.cases.len() - faster - tied - failed;
    let best =
        tuning.cases.iter().filter_map(|c| c.decision.speedup).map(|s| s.point).fold(f64::NAN, f64::max);
    let _ = writeln!(
        out,
        "{} case{} tuned in {} of a {} budget ({}): **{faster} faster**{}, {tied} where the default is within noise \
         of the fastest, {failed} whose default failed, {open} not compared.\n",
        tuning.cases.len(),
        plural(tuning.cases.len()),
        seconds(tuning.spent_s),
        seconds(tuning.search.budget_s),
        escape(&tuning.source),
        if best.is_finite() { format!(" (up to ×{best:.3})") } else { String::new() },
    );
    let _ =
        writeln!(out, "| case | suggestion | speed-up over the default | tie set | measured | rejected |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for case in &tuning.cases {
        let result = case.result();
        let d = &case.decision;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} of {} | {} |",
            escape(case.id.as_str()),
            escape(&changes(&case.space, d.suggested)),
            speedup(d.speedup.as_ref(), &d.basis),
            d.ties.len(),
            result.measured().len(),
            case.space.len(),
            rejected(&result, &case.space).len(),
        );
    }
    let _ = writeln!(
        out,
        "\nA speed-up is the default's median time over the suggestion's, from interleaved pairs (A B B A) of \
         the two measured in one process, with its {} interval (Bonferroni over the finalists); a change is \
         suggested only when the interval says faster by more than the {} tolerance. The tie set holds the \
         configurations not told apart from the fastest; when the default is among them it stays. \
         `suggestions.patch` changes the suite for the faster cases; `tuning.json` has every measurement.",
        d_confidence(tuning),
        percent(tuning.search.tolerance),
    );
    for case in &tuning.cases {
        case_section(&mut out, case);
    }
    out
}

fn d_confidence(tuning: &Tuning) -> String {
    percent(tuning.search.confidence)
}

fn case_section(out: &mut String, case: &TunedCase) {
    let result = case.result();
    let (space, d) = (&case.space, &case.decision);
    let _ = writeln!(out, "\n## {}\n", escape(case.id.as_str()));
    let median = |c: usize| crate::tune::search::median(&result.samples(c));
    let time = |c: usize| median(c).map_or("—".to_owned(), duration);
    let _ = writeln!(
        out,
        "- default: `{}` ({})",
        escape(&space.configs[space.default].to_id_string()),
        time(space.default)
    );
    let why = match &d.basis {
        Basis::Faster => format!("faster: {}", speedup(d.speedup.as_ref(), &d.basis)),
        Basis::DefaultTied => "the default stays: it is within noise of the fastest".to_owned(),
        Basis::NoComparison => "the default stays: no configuration could be compared with it".to_owned(),
        Basis::DefaultFailed { reason } => {
            format!(
                "the default failed ({}); the fastest verified configuration, no interval",
                escape(reason)
            )
        }
        Basis::NothingTimed => "nothing could be timed".to_owned(),
    };
    let _ = writeln!(out, "- suggestion: `{}` — {why}", escape(&space.configs[d.suggested].to_id_string()));
    if d.ties.len() > 1 {
        let ties: Vec<String> = d.ties.iter().map(|&t| format!("`{}`", escape(&changes(space, t)))).collect();
        let _ = writeln!(out, "- tie set (not told apart from the fastest): {}", ties.join(", "));
    }
    let measured = result.measured();
    let _ = writeln!(
        out,
        "- searched: {} of {} configurations ({} ruled out by constraints{}), {} visits, {} of a {} budget",
        measured.len(),
        space.len(),
        space.excluded,
        if space.invalid.is_empty() {
            String::new()
        } else {
            format!(", {} whose constraints failed", space.invalid.len())
        },
        result.visits.len(),
        seconds(case.spent_s),
        seconds(case.budget_s),
    );
    if let Some(a) = &case.against_exhaustive {
        let _ = writeln!(
            out,
            "- against the exhaustive recording: its best is `{}` ({}); the suggestion's recorded median is {} ({} \
             of the best's speed), found in {} of the {} measuring every configuration took",
            escape(&space.configs[a.best].to_id_string()),
            duration(a.best_ns),
            duration(a.found_ns),
            percent(a.best_ns / a.found_ns),
            percent(case.spent_s / a.exhaustive_s),
            seconds(a.exhaustive_s),
        );
    }

    if !d.compared.is_empty() {
        let _ = writeln!(out, "\nCompared with the default, interleaved in one process:\n");
        let _ = writeln!(out, "| configuration | time vs default | verdict |");
        let _ = writeln!(out, "|---|---|---|");
        for c in &d.compared {
            let verdict = match (c.settled, &c.note) {
                (_, Some(note)) if c.ratio.is_none() => escape(note),
                (Some(s), _) => settled_words(s).to_owned(),
                _ => "—".to_owned(),
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {verdict} |",
                escape(&changes(space, c.config)),
                ratio(c.ratio.as_ref())
            );
        }
    }

    let mut screened: Vec<(usize, f64)> =
        measured.iter().filter_map(|&c| median(c).map(|m| (c, m))).collect();
    screened.sort_by(|a, b| a.1.total_cmp(&b.1));
    if !screened.is_empty() {
        let _ =
            writeln!(out, "\nFastest measured (median of every sample taken; screening samples are few):\n");
        let _ = writeln!(out, "| configuration | median | samples |");
        let _ = writeln!(out, "|---|---|---|");
        for &(c, m) in screened.iter().take(RUNNERS_UP + 1) {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                escape(&changes(space, c)),
                duration(m),
                result.samples(c).len()
            );
        }
    }

    let rejected = rejected(&result, space);
    if !rejected.is_empty() {
        let _ = writeln!(out, "\nRejected (never timed, never suggested):\n");
        let mut reasons: Vec<(CaseStatus, String, Vec<usize>)> = Vec::new();
        for (c, status, reason) in rejected {
            let short: String = reason.lines().next().unwrap_or("").chars().take(160).collect();
            match reasons.iter_mut().find(|(s, r, _)| *s == status && *r == short) {
                Some((_, _, configs)) => configs.push(c),
                None => reasons.push((status, short, vec![c])),
            }
        }
        for (status, reason, configs) in reasons {
            let shown: Vec<String> = configs
                .iter()
                .take(PER_REASON)
                .map(|&c| format!("`{}`", escape(&space.configs[c].to_id_string())))
                .collect();
            let more = configs.len().saturating_sub(PER_REASON);
            let _ = writeln!(
                out,
                "- {} ({}): {}{}",
                status.as_str(),
                escape(&reason),
                shown.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            );
        }
    }
    for invalid in space.invalid.iter().take(PER_REASON) {
        let _ = writeln!(
            out,
            "- left out (`{}`): {}",
            escape(&invalid.tune.to_id_string()),
            escape(&invalid.reason)
        );
    }
}

/// Every rejected configuration with its status and reason, in configuration order.
fn rejected<'r>(result: &'r SearchResult, space: &Space) -> Vec<(usize, CaseStatus, &'r str)> {
    (0..space.len()).filter_map(|c| result.rejection(c).map(|(s, r)| (c, s, r))).collect()
}

/// A configuration as its changes from the default (`BLOCK_N=128,NUM_STAGES=3`), or `default`.
fn changes(space: &Space, config: usize) -> String {
    let default = &space.configs[space.default];
    let changed: Vec<String> = space.configs[config]
        .iter()
        .filter(|(name, value)| default.get(name) != Some(value))
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    if changed.is_empty() { "default".to_owned() } else { changed.join(",") }
}

fn speedup(speedup: Option<&Estimate>, basis: &Basis) -> String {
    match (speedup, basis) {
        (Some(s), _) => format!("×{:.3} [{:.3}, {:.3}]", s.point, s.low, s.high),
        (None, Basis::DefaultTied) => "— (tie)".to_owned(),
        (None, Basis::DefaultFailed { .. }) => "— (default failed)".to_owned(),
        _ => "—".to_owned(),
    }
}

fn ratio(ratio: Option<&Estimate>) -> String {
    ratio.map_or("—".to_owned(), |r| format!("×{:.3} [{:.3}, {:.3}]", r.point, r.low, r.high))
}

fn settled_words(s: Settled) -> &'static str {
    match s {
        Settled::Improvement => "faster",
        Settled::Regression => "slower",
        Settled::Equivalent => "equivalent",
        Settled::Open => "not told apart",
    }
}

fn seconds(s: f64) -> String {
    if s >= 120.0 { format!("{:.1} min", s / 60.0) } else { format!("{s:.1} s") }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
