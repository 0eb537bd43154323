//! Warnings for the reader of a log, and for GitHub Actions' annotations.
//!
//! Text from outside pawl in a message (case ids, harness errors, API servers' messages) is made
//! safe for each sink: [`escape::terminal`] on standard error, [`escape::workflow_data`] in the
//! annotation.

use pawl_core::report::escape;

/// Prints `warning: MESSAGE` on standard error and, under GitHub Actions, a `::warning` annotation
/// titled `title` on standard output (where the runner reads workflow commands).
pub fn warn(title: &str, message: &str) {
    eprintln!("warning: {}", escape::terminal(message));
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        println!("::warning title={}::{}", escape::workflow_property(title), escape::workflow_data(message));
    }
}
