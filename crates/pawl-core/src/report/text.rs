//! Numbers and phrases in the words every renderer shares, so that the terminal, the PR comment and the
//! annotations never disagree on how a value reads.

use super::Cost;
use crate::verdict::{CompareMode, Comparison, Estimate, SideSummary, Verdict, VerdictKind};

/// The verdicts most urgent first, whatever order the comparison holds them in; a stable sort, so the
/// comparison's order within a kind (by case id) is kept.
pub fn by_urgency(comparison: &Comparison) -> Vec<&Verdict> {
    let mut verdicts: Vec<&Verdict> = comparison.verdicts.iter().collect();
    verdicts.sort_by_key(|verdict| verdict.kind);
    verdicts
}

/// What a cell shows when there is no value (a failed case has no new median, a new case no old one).
pub const NONE: &str = "—";

/// A value to three significant figures for magnitudes in [1, 1000): `5.12`, `51.2`, `512`.
///
/// The cut-offs sit where rounding would carry into the next digit, so 9.996 reads `10.0`, not `10.00`.
fn three_figures_from_one(x: f64) -> String {
    let magnitude = x.abs();
    let decimals = if magnitude >= 99.95 {
        0
    } else if magnitude >= 9.995 {
        1
    } else {
        2
    };
    format!("{x:.decimals$}")
}

/// A duration given in nanoseconds, in the unit that keeps it between 1 and 1000: `812 ns`, `1.23 µs`,
/// `45.6 ms`, `2.50 s`.
pub fn duration(ns: f64) -> String {
    if !ns.is_finite() || ns < 0.0 {
        return NONE.to_owned();
    }
    // Thresholds a hair below 1000 so that 999.7 ns reads `1.00 µs` rather than `1000 ns`.
    const UNITS: [(f64, &str); 3] = [(1e9, "s"), (1e6, "ms"), (1e3, "µs")];
    for (scale, unit) in UNITS {
        if ns >= scale * 0.9995 {
            return format!("{} {unit}", three_figures_from_one(ns / scale));
        }
    }
    format!("{} ns", three_figures_from_one(ns))
}

/// A rate (TFLOP/s, GB/s) to three significant figures: `1.23e-4`, `0.0123`, `1.23`, `123`; whole
/// numbers from 1000 up (`1234`), where a fourth figure costs nothing to show.
pub fn three_figures(x: f64) -> String {
    if !x.is_finite() {
        return NONE.to_owned();
    }
    let magnitude = x.abs();
    if magnitude == 0.0 || magnitude >= 0.9995 {
        return if magnitude >= 999.5 { format!("{x:.0}") } else { three_figures_from_one(x) };
    }
    // Far below 1, leading zeros would outnumber the figures: 8.53e-5.
    if magnitude < 0.000_999_5 {
        return format!("{x:.2e}");
    }
    // Below 1: as many decimals as put three figures after the leading zeros, 0.00123 → `0.00123`.
    let decimals = (2 - magnitude.log10().floor() as i32).clamp(0, 12) as usize;
    let text = format!("{x:.decimals$}");
    // Rounding may carry into one more figure (0.09996 → `0.1000`): drop the extra digit.
    if text.trim_start_matches(['-', '0', '.']).len() > 3 { format!("{x:.0$}", decimals - 1) } else { text }
}

/// The median of one side, or [`NONE`].
pub fn median(side: Option<&SideSummary>) -> String {
    side.map_or_else(|| NONE.to_owned(), |side| duration(side.median_ns.point))
}

/// TFLOP/s of the new side, or [`NONE`].
pub fn tflops(side: Option<&SideSummary>) -> String {
    match side.and_then(|side| side.tflops) {
        Some(tflops) if tflops.is_finite() => three_figures(tflops),
        _ => NONE.to_owned(),
    }
}

/// A fraction as a percentage with at most two decimals: 0.02 → `2%`, 0.995 → `99.5%`.
pub fn percent(fraction: f64) -> String {
    let text = format!("{:.2}", fraction * 100.0);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// A signed change in percent with one decimal, never `-0.0`.
fn signed_change(ratio: f64) -> String {
    let text = format!("{:+.1}", (ratio - 1.0) * 100.0);
    if text == "-0.0" { "+0.0".to_owned() } else { text }
}

/// The change in time from a ratio new/old with its interval: `+4.1% [+3.2, +5.0]`. Positive is slower.
pub fn change(ratio: Option<&Estimate>) -> String {
    match ratio {
        Some(r) if r.point.is_finite() && r.low.is_finite() && r.high.is_finite() => {
            format!("{}% [{}, {}]", signed_change(r.point), signed_change(r.low), signed_change(r.high))
        }
        _ => NONE.to_owned(),
    }
}

/// What the notes column shows: for a failed case the reason (the numbers cannot say what went wrong),
/// then the verdict's notes.
pub fn notes(verdict: &Verdict) -> String {
    let reason = (verdict.kind == VerdictKind::Failed).then(|| super::words::reason(verdict));
    reason.into_iter().chain(super::words::notes(verdict)).collect::<Vec<_>>().join("; ")
}

/// The longest a failed case's reason runs in a terminal table before it is cut with `…`.
const SHORT_REASON_CHARS: usize = 60;

/// The notes column of a terminal table: each note in a few words, a failed case's reason on one
/// shortened line. The full text is in [`notes`] (`--verbose`, JSON, markdown).
pub fn short_notes(verdict: &Verdict) -> String {
    let reason = (verdict.kind == VerdictKind::Failed).then(|| {
        let reason = super::words::reason(verdict);
        shorten(reason.lines().next().unwrap_or_default(), SHORT_REASON_CHARS)
    });
    reason
        .into_iter()
        .chain(verdict.notes.iter().map(super::words::short_note))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `text` cut to at most `max` characters, ending in `…` where it was cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// Where the thresholds came from, when the comparison says: `thresholds from suite file pawl.toml`.
pub fn thresholds_from(comparison: &Comparison) -> Option<String> {
    comparison.thresholds_from.as_deref().map(|from| format!("thresholds from {from}"))
}

/// How the old side was obtained, in words.
pub fn mode(mode: &CompareMode) -> String {
    let allowance = |drift: f64, drift_ns: f64| {
        if drift_ns > 0.0 {
            format!("drift allowance {} (at least {drift_ns} ns) between processes", percent(drift))
        } else {
            format!("drift allowance {} between processes", percent(drift))
        }
    };
    match mode {
        CompareMode::Runs { drift, drift_ns } => format!("two runs, {}", allowance(*drift, *drift_ns)),
        CompareMode::Baseline { drift, drift_ns } => {
            format!("against the stored baseline, {}", allowance(*drift, *drift_ns))
        }
        CompareMode::Paired => "paired A/B, interleaved in one process (no drift allowance)".to_owned(),
    }
}

/// What measuring cost, on one line: `GPU time 93 s, $0.06 at $2.50/h`.
pub fn cost(cost: &Cost) -> String {
    let seconds = cost.gpu_seconds;
    let time = if seconds < 99.5 {
        format!("{seconds:.0} s")
    } else if seconds < 5970.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    };
    let what = if cost.on_gpu { "GPU time" } else { "measuring time (no GPU)" };
    match (cost.amount(), cost.price_per_hour) {
        (Some(amount), Some(price)) => {
            let amount =
                if amount > 0.0 && amount < 0.005 { "< $0.01".to_owned() } else { format!("${amount:.2}") };
            format!("{what} {time}, {amount} at ${price:.2}/h")
        }
        _ => format!("{what} {time}"),
    }
}

/// The settings that produced the verdicts, on one line. `multiple_comparisons` comes from outside
/// this module, so the caller says how to make it safe for its format.
pub fn settings(comparison: &Comparison, safe: impl Fn(&str) -> String) -> String {
    let control = match comparison.multiple_comparisons.trim() {
        "" => "none".to_owned(),
        control => safe(control),
    };
    format!(
        "tolerance {}, confidence {}, mode: {}, multiple comparisons: {control}",
        percent(comparison.tolerance),
        percent(comparison.confidence),
        mode(&comparison.mode),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_a_unit_and_three_figures() {
        let cases = [
            (0.5, "0.50 ns"),
            (812.0, "812 ns"),
            (999.4, "999 ns"),
            (999.7, "1.00 µs"),
            (1_234.0, "1.23 µs"),
            (45_600.0, "45.6 µs"),
            (9_996.0, "10.0 µs"),
            (123_456.0, "123 µs"),
            (1_500_000.0, "1.50 ms"),
            (2.5e9, "2.50 s"),
            (4.2e12, "4200 s"),
            (f64::NAN, NONE),
            (-1.0, NONE),
        ];
        for (ns, want) in cases {
            assert_eq!(duration(ns), want, "{ns} ns");
        }
    }

    #[test]
    fn rates_keep_three_significant_figures() {
        let cases = [
            (0.0, "0.00"),
            (0.000_123_4, "1.23e-4"),
            (0.001_234, "0.00123"),
            (0.012_34, "0.0123"),
            (0.099_96, "0.100"),
            (0.5, "0.500"),
            (0.999_6, "1.00"),
            (2.71, "2.71"),
            (27.14, "27.1"),
            (271.6, "272"),
            (999.6, "1000"),
            (3141.59, "3142"),
            (f64::NAN, NONE),
        ];
        for (x, want) in cases {
            assert_eq!(three_figures(x), want, "{x}");
        }
    }

    #[test]
    fn shortening_cuts_with_an_ellipsis() {
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(shorten("a reason far too long", 10), "a reason…");
        assert_eq!(shorten("żółw żółw żółw", 6), "żółw…");
    }

    #[test]
    fn changes_are_signed_percentages_with_their_interval() {
        let estimate = |point, low, high| Estimate { point, low, high, confidence: 0.99 };
        assert_eq!(change(Some(&estimate(1.041, 1.032, 1.050))), "+4.1% [+3.2, +5.0]");
        assert_eq!(change(Some(&estimate(0.5, 0.45, 0.55))), "-50.0% [-55.0, -45.0]");
        assert_eq!(change(Some(&estimate(0.99996, 0.999, 1.001))), "+0.0% [-0.1, +0.1]");
        assert_eq!(change(Some(&estimate(f64::INFINITY, 1.0, 2.0))), NONE);
        assert_eq!(change(None), NONE);
    }

    #[test]
    fn costs_read_as_time_and_money() {
        let cost =
            |gpu_seconds, price_per_hour| super::cost(&Cost { gpu_seconds, price_per_hour, on_gpu: true });
        assert_eq!(cost(93.2, Some(2.5)), "GPU time 93 s, $0.06 at $2.50/h");
        assert_eq!(cost(754.0, None), "GPU time 12.6 min");
        assert_eq!(cost(7200.0, Some(30.0)), "GPU time 2.0 h, $60.00 at $30.00/h");
        assert_eq!(cost(3.0, Some(1.0)), "GPU time 3 s, < $0.01 at $1.00/h");
        let machine = Cost { gpu_seconds: 12.0, price_per_hour: None, on_gpu: false };
        assert_eq!(super::cost(&machine), "measuring time (no GPU) 12 s");
    }

    #[test]
    fn percentages_drop_useless_decimals() {
        assert_eq!(percent(0.02), "2%");
        assert_eq!(percent(0.99), "99%");
        assert_eq!(percent(0.995), "99.5%");
        assert_eq!(percent(0.0125), "1.25%");
        assert_eq!(percent(0.0), "0%");
    }
}
