//! Verdicts in words: the one place that turns a verdict's structured reason and notes into sentences,
//! so that every report format says the same thing the same way.

use super::text::{duration, percent};
use crate::paired::Settled;
use crate::run::CaseStatus;
use crate::verdict::{BootstrapCause, Change, Estimate, Note, OldName, Reason, Side, Verdict};

/// Why the verdict is what it is: "4.1% slower (99% CI +3.2% to +5.0%), beyond the 2% tolerance".
pub fn reason(verdict: &Verdict) -> String {
    match &verdict.reason {
        Reason::Judged { change, significant, tolerance, confidence, drift, cases } => {
            let r = verdict.ratio.unwrap_or(Estimate {
                point: 1.0,
                low: 1.0,
                high: 1.0,
                confidence: *confidence,
            });
            judged(*change, *significant, *tolerance, *confidence, *drift, *cases, &r, verdict)
        }
        Reason::TooFewSamples { ratio, new, old, needed, confidence } => format!(
            "{}, but too few samples to judge at {}: {new} new{}; measure at least {needed} on each side",
            change_words(*ratio),
            percent(*confidence),
            old.map_or_else(String::new, |n| format!(", {n} old")),
        ),
        Reason::NotInNew { old: OldName::BaseRevision } => {
            "not in the head revision; it is in the base".to_owned()
        }
        Reason::NotInNew { old } => format!("not in the new run; it is in {}", old_name(*old)),
        Reason::NotInOld { old } => format!("new: not in {}", old_name(*old)),
        Reason::NotMeasured { status, error } => status_words(*status, error.as_deref()),
        Reason::MeasuredNow { old_status } => {
            format!("measured now; it was {} in the old run", old_status.as_str())
        }
        Reason::UnusableSamples { side: Side::New, error } => {
            format!("the new samples are unusable: {error}")
        }
        Reason::UnusableSamples { side: Side::Old, error } => {
            format!("cannot compare: the old samples are unusable: {error}")
        }
        Reason::SummaryOnly { side } => format!(
            "cannot compare: the {} side has no samples, only a summary another tool reported; an interval \
             needs the samples themselves",
            side_name(*side)
        ),
        Reason::CannotCompare { error } => format!("cannot compare: {error}"),
        Reason::IdenticalCode => "identical code: compiled kernel, launch geometry and arguments are \
                                  byte-identical in both revisions; not measured"
            .to_owned(),
    }
}

#[allow(clippy::too_many_arguments)]
fn judged(
    change: Change,
    significant: bool,
    tolerance: f64,
    confidence: f64,
    drift: f64,
    cases: usize,
    r: &Estimate,
    verdict: &Verdict,
) -> String {
    let conf = percent(confidence);
    let ci = format!("{conf} CI {} to {}", signed_percent(r.low - 1.0), signed_percent(r.high - 1.0));
    let tolerance = percent(tolerance);
    let drift = if drift > 0.0 {
        format!("; the interval includes the {} drift allowance between processes", percent(drift))
    } else {
        String::new()
    };
    let words = change_words(r.point);
    let alpha = 1.0 - confidence;
    match change {
        Change::Slower | Change::Faster => format!("{words} ({ci}), beyond the {tolerance} tolerance{drift}"),
        Change::Within if significant => {
            format!("{words}, significant at {conf} but within the {tolerance} tolerance ({ci}){drift}")
        }
        Change::Within => format!("{words}, within the {tolerance} tolerance ({ci}){drift}"),
        Change::Unsettled => {
            let interval =
                format!("interval {} to {}", signed_percent(r.low - 1.0), signed_percent(r.high - 1.0));
            match (verdict.p_value, verdict.q_value) {
                (Some(p), Some(q)) if p <= alpha => format!(
                    "{words} but not significant at {conf} after the Benjamini–Hochberg adjustment over {cases} \
                     cases (p = {}, q = {}): {interval}{drift}",
                    probability(p),
                    probability(q)
                ),
                _ => format!("{words} but not significant at {conf}: {interval}{drift}"),
            }
        }
    }
}

/// One note in words.
pub fn note(note: &Note) -> String {
    match note {
        Note::Throttled { side, throttled, samples } => format!(
            "{throttled} of {samples} {} samples were taken while the GPU reported throttling",
            side_name(*side)
        ),
        Note::Outliers { side, share, low, high } => format!(
            "{:.1}% of the {} samples are outliers by Tukey's fences ({low} low, {high} high); kept, the \
             median is robust to them",
            share * 100.0,
            side_name(*side)
        ),
        Note::FewSamples { side, samples } => format!("only {samples} {} samples", side_name(*side)),
        Note::Bootstrap { resamples, seed, because } => {
            format!(
                "interval from {resamples} bootstrap resamples (seed {seed:#018x}) because {}",
                cause(*because)
            )
        }
        Note::IgnoredBaselineInterval { confidence } => format!(
            "the baseline entry's confidence {confidence} is not a level between 0 and 1; its interval was \
             ignored"
        ),
        Note::OldStatus { status, error } => format!("old run: {}", status_words(*status, error.as_deref())),
        Note::Summary { side, summary } => {
            let figures: Vec<String> = [("median", summary.median_ns), ("mean", summary.mean_ns)]
                .into_iter()
                .filter_map(|(name, ns)| ns.map(|ns| format!("{name} {}", duration(ns))))
                .collect();
            let over = summary.samples.map_or_else(String::new, |n| format!(" over {n} samples"));
            format!("summary only ({}): {}{over}, no samples kept", side_name(*side), figures.join(", "))
        }
        Note::IdenticalCode => "identical code".to_owned(),
        Note::Paired { pairs, resamples, seed, settled, looks } => format!(
            "{pairs} interleaved pairs (A B B A), paired bootstrap of {resamples} resamples (seed {seed:#018x}); \
             {} after {looks} look{}, p × {looks} for the looks",
            match settled {
                Settled::Open => "undecided when its budget ran out".to_owned(),
                other => format!("stopped on {}", settled_words(*other)),
            },
            if *looks == 1 { "" } else { "s" },
        ),
        Note::Cycles { agree: true, cycles, .. } => format!("cycles agree: {}", interval_words(cycles)),
        Note::Cycles { agree: false, time, cycles } => format!(
            "time and cycles disagree: time {} but cycles {} — the SM clock differed between the sides (a \
             clock change, not a code change)",
            interval_words(time),
            interval_words(cycles)
        ),
    }
}

/// Every note of a verdict in words.
pub fn notes(verdict: &Verdict) -> Vec<String> {
    verdict.notes.iter().map(note).collect()
}

/// One note in a few words, for a table on a terminal; [`note`] says it in full.
pub fn short_note(note: &Note) -> String {
    match note {
        Note::Throttled { side, throttled, samples } => {
            format!("{throttled}/{samples} {} throttled", side_name(*side))
        }
        Note::Outliers { side, share, .. } => format!("{:.0}% {} outliers", share * 100.0, side_name(*side)),
        Note::FewSamples { side, samples } => format!("{samples} {} samples", side_name(*side)),
        Note::Bootstrap { because, .. } => format!("bootstrap CI: {}", short_cause(*because)),
        Note::IgnoredBaselineInterval { .. } => "baseline CI ignored".to_owned(),
        Note::OldStatus { status, .. } => format!("old: {}", status.as_str()),
        Note::Summary { side, .. } => format!("summary only ({})", side_name(*side)),
        Note::IdenticalCode => "identical code".to_owned(),
        Note::Paired { pairs, settled, .. } => match settled {
            Settled::Open => format!("{pairs} pairs, budget ran out"),
            other => format!("{pairs} pairs, stopped on {}", settled_words(*other)),
        },
        Note::Cycles { agree: true, .. } => "cycles agree".to_owned(),
        Note::Cycles { agree: false, .. } => "cycles disagree: SM clock changed".to_owned(),
    }
}

fn short_cause(cause: BootstrapCause) -> &'static str {
    match cause {
        BootstrapCause::FewSamples => "few samples",
        BootstrapCause::Ties => "tied values",
        BootstrapCause::NotSmooth => "narrow mode",
        BootstrapCause::NearBoundary => "near a boundary",
    }
}

fn cause(cause: BootstrapCause) -> &'static str {
    match cause {
        BootstrapCause::FewSamples => "a side has fewer than 30 samples",
        BootstrapCause::Ties => "the values around a median are heavily tied",
        BootstrapCause::NotSmooth => {
            "the data around a median are not smooth (the median sits in a narrow mode)"
        }
        BootstrapCause::NearBoundary => "the analytic interval lies near a decision boundary",
    }
}

fn settled_words(settled: Settled) -> &'static str {
    match settled {
        Settled::Regression => "a regression",
        Settled::Improvement => "an improvement",
        Settled::Equivalent => "equivalence",
        Settled::Open => "nothing",
    }
}

fn old_name(old: OldName) -> &'static str {
    match old {
        OldName::OldRun => "the old run",
        OldName::Baseline => "the baseline",
        OldName::BaseRevision => "the base revision",
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Old => "old",
        Side::New => "new",
    }
}

fn status_words(status: CaseStatus, error: Option<&str>) -> String {
    match error {
        Some(error) if !error.is_empty() => format!("{}: {error}", status.as_str()),
        _ => status.as_str().to_owned(),
    }
}

/// "4.1% slower (99% CI ×1.0321 to ×1.0502)".
fn interval_words(r: &Estimate) -> String {
    format!("{} ({} CI ×{:.4} to ×{:.4})", change_words(r.point), percent(r.confidence), r.low, r.high)
}

/// "4.1% slower", "3.0% faster", "no change".
pub fn change_words(ratio: f64) -> String {
    if ratio > 1.0 {
        format!("{} slower", magnitude_percent(ratio - 1.0))
    } else if ratio < 1.0 {
        format!("{} faster", magnitude_percent(1.0 - ratio))
    } else {
        "no change".to_owned()
    }
}

/// A fraction as a percentage with one decimal, two below 0.1%: "4.1%", "0.05%".
fn magnitude_percent(fraction: f64) -> String {
    let pct = fraction.abs() * 100.0;
    if pct < 0.095 { format!("{pct:.2}%") } else { format!("{pct:.1}%") }
}

/// "+3.2%", "−1.0%" (with a minus sign, not a hyphen).
pub fn signed_percent(fraction: f64) -> String {
    let sign = if fraction < 0.0 { "−" } else { "+" };
    format!("{sign}{}", magnitude_percent(fraction))
}

/// A p- or q-value: three decimals, or scientific notation below 0.001: "0.031", "1.2e-7".
fn probability(p: f64) -> String {
    if p >= 0.001 { format!("{p:.3}").trim_end_matches('0').to_owned() } else { format!("{p:.1e}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_words() {
        assert_eq!(change_words(1.041), "4.1% slower");
        assert_eq!(change_words(0.97), "3.0% faster");
        assert_eq!(change_words(1.0004), "0.04% slower");
        assert_eq!(change_words(1.0), "no change");
        assert_eq!(signed_percent(-0.01), "−1.0%");
        assert_eq!(signed_percent(0.092), "+9.2%");
        assert_eq!(probability(0.0312), "0.031");
        assert_eq!(probability(1.234e-7), "1.2e-7");
    }
}
