//! The HTML report of a history: one self-contained file with every case's trend, its change points,
//! the latest verdicts, and filters by bench, parameter and testbed.
//!
//! Figures are drawn in the browser from compact data (pawl-figures' `pawlChart`), lazily as cases
//! scroll into view: 200 cases × 1,000 runs stay a few megabytes and open at once. Medians travel as
//! integers in a per-case step (four significant digits or more), intervals as offsets from them.

use std::collections::{BTreeMap, HashMap};

use pawl_core::verdict::Comparison;
use pawl_figures::html::{self, Document};
use serde::Serialize;

use crate::trend::{Trend, Unit};

const PAGE_JS: &str = include_str!("../assets/history.js");
const PAGE_CSS: &str = include_str!("../assets/history.css");

/// What a page shows besides the trends.
#[derive(Clone, Debug, Default)]
pub struct PageOptions<'a> {
    pub title: String,
    /// The baseline's level of each (testbed key, case id), in ns.
    pub baseline: HashMap<(String, String), f64>,
    /// The latest verdicts (the newest run against the baseline or the run before it).
    pub latest: Option<&'a Comparison>,
    /// A change beyond this is a regression (0.02 is 2%).
    pub tolerance: f64,
    /// When the page was made (RFC 3339), and the change-point settings in words.
    pub generated_at: String,
    pub method: String,
}

#[derive(Serialize)]
struct PageData<'a> {
    title: &'a str,
    generated_at: &'a str,
    method: &'a str,
    tolerance: f64,
    latest_label: Option<String>,
    runs: Vec<RunData>,
    cases: Vec<CaseData>,
}

#[derive(Serialize)]
struct RunData {
    /// Key (12 digits), start time, commit (12 digits), branch.
    k: String,
    t: String,
    c: String,
    b: String,
}

#[derive(Serialize)]
struct CaseData {
    id: String,
    suite: String,
    bench: String,
    params: BTreeMap<String, String>,
    testbed: String,
    unit: &'static str,
    /// Value of one integer step, in `unit`.
    q: f64,
    /// Run indices (into `runs`) as differences from the previous point.
    r: Vec<u32>,
    /// Medians, and the distances to the interval's ends, in steps.
    m: Vec<i64>,
    l: Vec<i64>,
    h: Vec<i64>,
    changes: Vec<ChangeData>,
    baseline: Option<f64>,
    verdict: Option<String>,
    reason: Option<String>,
    /// Status of the newest run of this case (`ok`, `failed`, …).
    last_status: String,
}

#[derive(Serialize)]
struct ChangeData {
    /// Run index (into `runs`) of the first run at the new level.
    at: usize,
    rel: f64,
    before: f64,
    after: f64,
    p: f64,
    regression: bool,
}

/// The page for `trends`.
pub fn render(trends: &[Trend], options: &PageOptions) -> String {
    // Every run any trend has, in time order, once.
    let mut run_index: HashMap<&str, usize> = HashMap::new();
    let mut runs_in_order: Vec<(i64, &str, &crate::store::CasePoint)> = Vec::new();
    for trend in trends {
        for point in &trend.points {
            if !run_index.contains_key(point.run_key.as_str()) {
                run_index.insert(&point.run_key, 0);
                runs_in_order.push((point.started_us, &point.run_key, point));
            }
        }
    }
    runs_in_order.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut runs = Vec::with_capacity(runs_in_order.len());
    for (i, (_, key, point)) in runs_in_order.iter().enumerate() {
        run_index.insert(key, i);
        let git = point.git.as_ref();
        runs.push(RunData {
            k: key.chars().take(12).collect(),
            t: point.started_at.clone(),
            c: git
                .map(|g| g.commit.chars().take(12).collect::<String>() + if g.dirty { "+" } else { "" })
                .unwrap_or_default(),
            b: git.and_then(|g| g.branch.clone()).unwrap_or_default(),
        });
    }
    let verdicts: HashMap<&str, &pawl_core::verdict::Verdict> =
        options.latest.map(|c| c.verdicts.iter().map(|v| (v.id.as_str(), v)).collect()).unwrap_or_default();
    let cases = trends
        .iter()
        .map(|trend| case_data(trend, &run_index, options, verdicts.get(trend.case_id.as_str()).copied()))
        .collect();
    let data = PageData {
        title: &options.title,
        generated_at: &options.generated_at,
        method: &options.method,
        tolerance: options.tolerance,
        latest_label: options.latest.map(|c| format!("{} against {}", c.new_label, c.old_label)),
        runs,
        cases,
    };
    let mut doc = Document::new(&options.title);
    doc.style(html::CHART_CSS).style(PAGE_CSS);
    doc.markup(&format!(
        "<header><h1>{}</h1><p id=\"summary\"></p></header>\n\
         <section id=\"filters\" aria-label=\"filters\"></section>\n\
         <p id=\"shown\"></p>\n<section id=\"cases\"></section>\n",
        html::escape(&options.title)
    ));
    doc.data("pawl-history", &data);
    doc.script(html::CHART_JS).script(PAGE_JS);
    doc.render()
}

fn case_data(
    trend: &Trend,
    run_index: &HashMap<&str, usize>,
    options: &PageOptions,
    verdict: Option<&pawl_core::verdict::Verdict>,
) -> CaseData {
    let measured = trend.measured();
    let medians: Vec<f64> = measured.iter().filter_map(|p| p.median_ns).collect();
    let unit = Unit::for_values(&medians);
    // A step of 1/1000 of the smallest median's leading power of ten: at least four significant digits.
    let smallest = medians.iter().copied().fold(f64::INFINITY, f64::min);
    let q = if smallest.is_finite() && smallest > 0.0 {
        10f64.powi(unit.of(smallest).log10().floor() as i32 - 3)
    } else {
        1.0
    };
    let steps = |ns: f64| (unit.of(ns) / q).round() as i64;
    let (mut r, mut m, mut l, mut h) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut previous = 0usize;
    for point in &measured {
        let index = run_index.get(point.run_key.as_str()).copied().unwrap_or(0);
        r.push((index - previous.min(index)) as u32);
        previous = index;
        let median = steps(point.median_ns.unwrap_or(f64::NAN));
        m.push(median);
        l.push(point.ci_low_ns.map_or(0, |v| median - steps(v)));
        h.push(point.ci_high_ns.map_or(0, |v| steps(v) - median));
    }
    let changes = trend
        .changes
        .iter()
        .map(|c| ChangeData {
            at: run_index.get(c.run_key.as_str()).copied().unwrap_or(0),
            rel: c.change.rel_change,
            before: unit.of(c.change.before.point),
            after: unit.of(c.change.after.point),
            p: c.change.p_value,
            regression: c.is_regression(options.tolerance),
        })
        .collect();
    CaseData {
        id: trend.case_id.to_string(),
        suite: trend.suite.clone(),
        bench: trend.bench.clone(),
        params: trend.params.iter().map(|(k, v)| (k.to_owned(), v.to_string())).collect(),
        testbed: trend.testbed.clone(),
        unit: unit.name,
        q,
        r,
        m,
        l,
        h,
        changes,
        baseline: options
            .baseline
            .get(&(trend.testbed.clone(), trend.case_id.to_string()))
            .map(|&ns| unit.of(ns)),
        verdict: verdict.map(|v| v.kind.to_string()),
        reason: verdict.map(pawl_core::report::words::reason),
        last_status: trend.points.last().map_or("ok", |p| p.status.as_str()).to_owned(),
    }
}
