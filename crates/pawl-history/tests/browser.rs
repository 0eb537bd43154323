//! The HTML report in a real headless Chromium (Debian's `chromium`, driven over the DevTools protocol):
//! it loads offline without a script error, shows every case, filters, draws trends with commits on
//! hover, and a report of 200 cases × 1,000 runs opens and responds. A screenshot is kept at
//! `target/ci-artifacts/history-report.png` (or under `$PAWL_ARTIFACTS`).
//!
//! Chromium comes from `$PAWL_TEST_CHROMIUM` or `chromium` on the PATH. Without it these tests fail,
//! unless `PAWL_TEST_BROWSER=skip` says to run without a browser: then they say so and pass.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::{Browser, LaunchOptions, Tab};
use pawl_core::stats::changepoint::ChangePointSettings;
use pawl_history::page::{self, PageOptions};

fn chromium() -> Option<PathBuf> {
    if std::env::var("PAWL_TEST_BROWSER").is_ok_and(|v| v == "skip") {
        let _ = writeln!(std::io::stderr(), "skipping the browser tests: PAWL_TEST_BROWSER=skip");
        return None;
    }
    if let Some(path) = std::env::var_os("PAWL_TEST_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("chromium")).find(|p| p.is_file()));
    Some(on_path.unwrap_or_else(|| {
        panic!(
            "no Chromium: install Debian's `chromium` package (or set PAWL_TEST_CHROMIUM to the browser), or set \
             PAWL_TEST_BROWSER=skip to run without a browser"
        )
    }))
}

/// A headless Chromium that reaches nothing: its own profile folder, no background traffic.
fn launch(path: &Path, profile: &Path) -> Browser {
    let options = LaunchOptions::default_builder()
        .path(Some(path.to_owned()))
        .headless(true)
        .sandbox(false)
        .user_data_dir(Some(profile.to_owned()))
        .window_size(Some((1200, 900)))
        .idle_browser_timeout(Duration::from_secs(120))
        .args(
            [
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ]
            .iter()
            .map(std::ffi::OsStr::new)
            .collect(),
        )
        .build()
        .unwrap();
    Browser::new(options).unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()))
}

/// Opens `file` in a new tab, collecting script errors, and waits for the page to say it is ready.
fn open(browser: &Browser, file: &Path) -> (Arc<Tab>, Arc<Mutex<Vec<String>>>) {
    let tab = browser.new_tab().unwrap();
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    tab.enable_runtime().unwrap();
    tab.add_event_listener(Arc::new(move |event: &Event| {
        if let Event::RuntimeExceptionThrown(e) = event {
            sink.lock().unwrap().push(format!("{:?}", e.params.exception_details));
        }
    }))
    .unwrap();
    tab.set_default_timeout(Duration::from_secs(60));
    tab.navigate_to(&format!("file://{}", file.display())).unwrap().wait_until_navigated().unwrap();
    tab.wait_for_element("body[data-ready=\"true\"]").unwrap_or_else(|e| {
        panic!("the page never became ready ({e}); script errors: {:?}", errors.lock().unwrap())
    });
    (tab, errors)
}

fn eval(tab: &Tab, js: &str) -> serde_json::Value {
    let result = tab.evaluate(js, true).unwrap_or_else(|e| panic!("{js}: {e}"));
    result.value.unwrap_or(serde_json::Value::Null)
}

/// Sets a filter control and returns how many cases are shown.
fn filter(tab: &Tab, id: &str, value: &str) -> u64 {
    let js = format!(
        "(() => {{ const e = document.getElementById({id:?}); \
         if (e.type === 'checkbox') e.checked = {value:?} === 'on'; else e.value = {value:?}; \
         e.dispatchEvent(new Event('change')); \
         return [...document.querySelectorAll('article.case')].filter(a => !a.hidden).length; }})()"
    );
    eval(tab, &js).as_u64().unwrap()
}

fn artifacts() -> PathBuf {
    std::env::var_os("PAWL_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ci-artifacts"))
}

fn report(cases: usize, runs: usize, dir: &Path) -> (PathBuf, Vec<String>) {
    let points = common::synthetic_points(cases, runs);
    let trends = pawl_history::trends(points, &ChangePointSettings::default()).unwrap();
    let ids = trends.iter().map(|t| t.case_id.to_string()).collect();
    let options = PageOptions {
        title: "pawl history: kernels".into(),
        tolerance: 0.02,
        generated_at: "2026-05-20T10:00:00Z".into(),
        method: "E-divisive means with a t-test".into(),
        ..PageOptions::default()
    };
    let path = dir.join(format!("report-{cases}x{runs}.html"));
    std::fs::write(&path, page::render(&trends, &options)).unwrap();
    (path, ids)
}

#[test]
fn the_report_loads_shows_every_case_and_filters() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (file, ids) = report(24, 60, dir.path());
    let browser = launch(&chromium, &dir.path().join("profile"));
    let (tab, errors) = open(&browser, &file);

    let shown: Vec<String> = serde_json::from_value(eval(
        &tab,
        "JSON.stringify([...document.querySelectorAll('article.case')].map(a => a.dataset.id))",
    ))
    .map(|s: String| serde_json::from_str(&s).unwrap())
    .unwrap();
    assert_eq!(shown, ids, "every case, in order");
    assert_eq!(eval(&tab, "document.getElementById('shown').textContent"), "showing 24 of 24 cases");
    assert_eq!(eval(&tab, "performance.getEntriesByType('resource').length"), 0, "nothing fetched");

    assert_eq!(filter(&tab, "filter-bench", "gemm"), 12);
    assert_eq!(filter(&tab, "filter-param-dtype", "bf16"), 6);
    assert_eq!(filter(&tab, "filter-bench", "(all)"), 12);
    assert_eq!(filter(&tab, "filter-param-dtype", "(all)"), 24);
    assert_eq!(filter(&tab, "filter-text", "n=1024,"), 4);
    assert_eq!(filter(&tab, "filter-text", ""), 24);
    assert_eq!(filter(&tab, "filter-changes", "on"), 1, "one case has a change point");

    // The changed case's trend: drawn when scrolled to, with its change point, and commits on hover.
    let hover = eval(
        &tab,
        "(() => { const card = document.querySelector('article.case:not([hidden])'); card.scrollIntoView(); \
         return new Promise(done => setTimeout(() => { const svg = card.querySelector('svg'); \
         const box = svg.getBoundingClientRect(); \
         svg.dispatchEvent(new MouseEvent('mousemove', {clientX: box.left + box.width * 0.6, clientY: box.top + 50})); \
         done(JSON.stringify({id: card.dataset.id, rules: svg.querySelectorAll('line.rule').length, \
           tip: svg.querySelector('text.hover').textContent, badge: card.querySelector('.badge.slower').textContent})); }, 300)); })()",
    );
    let hover: serde_json::Value = serde_json::from_str(hover.as_str().unwrap()).unwrap();
    assert_eq!(hover["id"], "copy/N=1024,dtype=f16");
    assert_eq!(hover["rules"], 1, "one change point drawn");
    assert!(hover["badge"].as_str().unwrap().starts_with("+8."), "{hover}");
    let tip = hover["tip"].as_str().unwrap();
    assert!(
        tip.starts_with("run ") && tip.contains(" µs") && tip.contains("0000"),
        "a commit on hover: {tip}"
    );

    // The artifact: the page filtered to the case that changed, scrolled to the top.
    eval(&tab, "window.scrollTo(0, 0)");
    let png = tab.capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true).unwrap();
    std::fs::create_dir_all(artifacts()).unwrap();
    std::fs::write(artifacts().join("history-report.png"), &png).unwrap();
    assert_eq!(filter(&tab, "filter-changes", "off"), 24);
    assert!(errors.lock().unwrap().is_empty(), "script errors: {:?}", errors.lock().unwrap());
}

#[test]
fn a_report_of_200_cases_and_1000_runs_opens_and_responds() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = report(200, 1000, dir.path());
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size < 5 << 20, "{size} bytes");
    let browser = launch(&chromium, &dir.path().join("profile"));
    let start = Instant::now();
    let (tab, errors) = open(&browser, &file);
    let opened = start.elapsed();
    assert_eq!(eval(&tab, "document.querySelectorAll('article.case').length"), 200);
    let start = Instant::now();
    assert_eq!(filter(&tab, "filter-bench", "copy"), 100);
    let filtered = start.elapsed();
    assert_eq!(eval(&tab, "document.querySelectorAll('article.case svg').length > 0"), true, "trends drawn");
    assert!(errors.lock().unwrap().is_empty(), "script errors: {:?}", errors.lock().unwrap());
    let _ = writeln!(
        std::io::stderr(),
        "200 × 1000 report: {:.1} MiB, ready in {:.2} s, filtered in {:.3} s",
        size as f64 / (1 << 20) as f64,
        opened.as_secs_f64(),
        filtered.as_secs_f64()
    );
}
