//! The HTML report in a real headless Chromium (Debian's `chromium`, driven over the DevTools protocol
//! by the small client below: the crate that does it, headless_chrome, builds with a GPL-3.0 code
//! generator, which pawl's licence rules out):
//! it loads offline without a script error, shows every case, filters, draws trends with commits on
//! hover, and a report of 200 cases × 1,000 runs opens and responds. A screenshot is kept at
//! `target/ci-artifacts/history-report.png` (or under `$PAWL_ARTIFACTS`).
//!
//! Chromium comes from `$PAWL_TEST_CHROMIUM` or `chromium` on the PATH. Without it these tests fail,
//! unless `PAWL_TEST_BROWSER=skip` says to run without a browser: then they say so and pass.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use pawl_core::stats::changepoint::ChangePointSettings;
use pawl_history::page::{self, PageOptions};
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

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

/// A headless Chromium that reaches nothing (its own profile folder, no background traffic), with one
/// page, driven over the DevTools protocol.
struct Browser {
    child: Child,
    socket: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    /// Uncaught script errors the page reported.
    errors: Vec<String>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn launch(path: &Path, profile: &Path) -> Browser {
        let child = Command::new(path)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--window-size=1200,900",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        // Chromium writes its port and the browser's WebSocket path to this file once it listens.
        let active = profile.join("DevToolsActivePort");
        let start = Instant::now();
        let (port, ws_path) = loop {
            if let Ok(text) = std::fs::read_to_string(&active) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break (port.to_owned(), path.to_owned());
                }
            }
            assert!(start.elapsed() < Duration::from_secs(60), "Chromium never opened its DevTools port");
            std::thread::sleep(Duration::from_millis(50));
        };
        let stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        let (socket, _) = tungstenite::client(format!("ws://127.0.0.1:{port}{ws_path}"), stream).unwrap();
        let mut browser = Browser { child, socket, session: String::new(), next_id: 0, errors: Vec::new() };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}));
        let attached =
            browser.call("Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true}));
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        browser.call("Runtime.enable", json!({}));
        browser.call("Page.enable", json!({}));
        browser
    }

    /// Sends a command (to the page, once attached) and returns its result, noting script errors
    /// reported meanwhile.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        self.socket.send(Message::text(message.to_string())).unwrap();
        loop {
            let Message::Text(text) = self.socket.read().unwrap() else { continue };
            let reply: Value = serde_json::from_str(text.as_str()).unwrap();
            if reply["method"] == "Runtime.exceptionThrown" {
                self.errors.push(reply["params"]["exceptionDetails"].to_string());
            }
            if reply["id"] == id {
                assert!(reply.get("error").is_none(), "{method}: {}", reply["error"]);
                return reply["result"].clone();
            }
        }
    }

    /// Evaluates `js` in the page (awaiting a promise) and returns its value.
    fn eval(&mut self, js: &str) -> Value {
        let result = self
            .call("Runtime.evaluate", json!({"expression": js, "awaitPromise": true, "returnByValue": true}));
        assert!(result.get("exceptionDetails").is_none(), "{js}: {}", result["exceptionDetails"]);
        result["result"]["value"].clone()
    }

    /// Opens `file` and waits until the page says it is ready.
    fn open(&mut self, file: &Path) {
        self.call("Page.navigate", json!({"url": format!("file://{}", file.display())}));
        let start = Instant::now();
        while self.eval("document.body && document.body.dataset.ready === 'true'") != json!(true) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the page never became ready; script errors: {:?}",
                self.errors
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn screenshot(&mut self) -> Vec<u8> {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap()
    }
}

/// Sets a filter control and returns how many cases are shown.
fn filter(browser: &mut Browser, id: &str, value: &str) -> u64 {
    let js = format!(
        "(() => {{ const e = document.getElementById({id:?}); \
         if (e.type === 'checkbox') e.checked = {value:?} === 'on'; else e.value = {value:?}; \
         e.dispatchEvent(new Event('change')); \
         return [...document.querySelectorAll('article.case')].filter(a => !a.hidden).length; }})()"
    );
    browser.eval(&js).as_u64().unwrap()
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
    let mut browser = Browser::launch(&chromium, &dir.path().join("profile"));
    browser.open(&file);

    let shown: Vec<String> = serde_json::from_value(
        browser.eval("[...document.querySelectorAll('article.case')].map(a => a.dataset.id)"),
    )
    .unwrap();
    assert_eq!(shown, ids, "every case, in order");
    assert_eq!(browser.eval("document.getElementById('shown').textContent"), "showing 24 of 24 cases");
    assert_eq!(browser.eval("performance.getEntriesByType('resource').length"), 0, "nothing fetched");

    assert_eq!(filter(&mut browser, "filter-bench", "gemm"), 12);
    assert_eq!(filter(&mut browser, "filter-param-dtype", "bf16"), 6);
    assert_eq!(filter(&mut browser, "filter-bench", "(all)"), 12);
    assert_eq!(filter(&mut browser, "filter-param-dtype", "(all)"), 24);
    assert_eq!(filter(&mut browser, "filter-text", "n=1024,"), 4);
    assert_eq!(filter(&mut browser, "filter-text", ""), 24);
    assert_eq!(filter(&mut browser, "filter-changes", "on"), 1, "one case has a change point");

    // The changed case's trend: drawn when scrolled to, with its change point, and commits on hover.
    let hover = browser.eval("(() => { const card = document.querySelector('article.case:not([hidden])'); card.scrollIntoView(); \
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
    browser.eval("window.scrollTo(0, 0)");
    let png = browser.screenshot();
    std::fs::create_dir_all(artifacts()).unwrap();
    std::fs::write(artifacts().join("history-report.png"), &png).unwrap();
    assert_eq!(filter(&mut browser, "filter-changes", "off"), 24);
    assert!(browser.errors.is_empty(), "script errors: {:?}", browser.errors);
}

#[test]
fn a_report_of_200_cases_and_1000_runs_opens_and_responds() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = report(200, 1000, dir.path());
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size < 5 << 20, "{size} bytes");
    let mut browser = Browser::launch(&chromium, &dir.path().join("profile"));
    let start = Instant::now();
    browser.open(&file);
    let opened = start.elapsed();
    assert_eq!(browser.eval("document.querySelectorAll('article.case').length"), 200);
    let start = Instant::now();
    assert_eq!(filter(&mut browser, "filter-bench", "copy"), 100);
    let filtered = start.elapsed();
    assert_eq!(
        browser.eval("document.querySelectorAll('article.case svg').length > 0"),
        true,
        "trends drawn"
    );
    assert!(browser.errors.is_empty(), "script errors: {:?}", browser.errors);
    let _ = writeln!(
        std::io::stderr(),
        "200 × 1000 report: {:.1} MiB, ready in {:.2} s, filtered in {:.3} s",
        size as f64 / (1 << 20) as f64,
        opened.as_secs_f64(),
        filtered.as_secs_f64()
    );
}

#[test]
fn a_script_error_is_caught() {
    // The error detector itself: a page whose script throws must not pass for a clean one.
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.html");
    std::fs::write(
        &file,
        "<!DOCTYPE html><html><body><script>document.body.dataset.ready = 'true'; \
         setTimeout(() => { throw new Error('boom from the page'); }, 0);</script></body></html>",
    )
    .unwrap();
    let mut browser = Browser::launch(&chromium, &dir.path().join("profile"));
    browser.open(&file);
    browser.eval("new Promise(done => setTimeout(done, 200))");
    assert!(browser.errors.iter().any(|e| e.contains("boom from the page")), "{:?}", browser.errors);
}
