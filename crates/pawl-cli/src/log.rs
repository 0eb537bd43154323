//! What pawl tells the reader of its log on standard error, and how much: `--quiet` keeps warnings and
//! errors only, `--verbose` adds the details a table leaves out.
//!
//! Text from outside pawl in a message (case ids, harness errors, API servers' messages) is made
//! safe for each sink: [`escape::terminal`] on standard error, [`escape::workflow_data`] in the
//! annotation.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use pawl_core::report::escape;

/// How much pawl says on standard error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Warnings and errors only: no progress, no notes on what was done.
    Quiet = 0,
    Normal = 1,
    /// Also the full notes of every case and what pawl looked at.
    Verbose = 2,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Normal as u8);
static STDOUT_CARRIES_A_FILE: AtomicBool = AtomicBool::new(false);

/// Standard output carries a file (`-o -`): annotations go to standard error, which the GitHub Actions
/// runner reads for workflow commands as well.
pub fn stdout_carries_a_file() {
    STDOUT_CARRIES_A_FILE.store(true, Ordering::Relaxed);
}

pub fn stdout_is_free() -> bool {
    !STDOUT_CARRIES_A_FILE.load(Ordering::Relaxed)
}

/// Sets the level for the rest of the process (once, from the command line).
pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn level() -> Level {
    match LEVEL.load(Ordering::Relaxed) {
        0 => Level::Quiet,
        1 => Level::Normal,
        _ => Level::Verbose,
    }
}

pub fn quiet() -> bool {
    level() == Level::Quiet
}

pub fn verbose() -> bool {
    level() == Level::Verbose
}

/// Prints a line about what pawl is doing or did, unless `--quiet`. The caller makes outside text safe.
pub fn info(message: impl std::fmt::Display) {
    if !quiet() {
        eprintln!("{message}");
    }
}

/// Prints `warning: MESSAGE` on standard error and, under GitHub Actions, a `::warning` annotation
/// titled `title` on standard output (where the runner reads workflow commands; standard error where
/// standard output carries a file). Never silenced.
pub fn warn(title: &str, message: &str) {
    eprintln!("warning: {}", escape::terminal(message));
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        let annotation = format!(
            "::warning title={}::{}",
            escape::workflow_property(title),
            escape::workflow_data(message)
        );
        if stdout_is_free() { println!("{annotation}") } else { eprintln!("{annotation}") }
    }
}
