//! What can go wrong when supervising a child.

use std::path::PathBuf;

/// An error of this crate. What a child does wrong (bad lines, exiting, hanging) is not an error but
/// an [`Event`](crate::Event).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no command to run: the argument list is empty")]
    EmptyCommand,
    #[error("cannot start `{command}`{}: {source}", in_dir(.dir))]
    Spawn {
        /// The command line, its arguments joined by spaces.
        command: String,
        dir: Option<PathBuf>,
        source: std::io::Error,
    },
    #[error("cannot send to `{command}`: its standard input is not piped (`Stdin::Piped`)")]
    StdinNotPiped { command: String },
    #[error("cannot send to `{command}`: its standard input is closed (it stopped reading, or it ended)")]
    StdinClosed { command: String },
    #[error("cannot install the handler of SIGINT, SIGTERM and SIGHUP: {source}")]
    Signals { source: std::io::Error },
}

fn in_dir(dir: &Option<PathBuf>) -> String {
    dir.as_ref().map(|d| format!(" in {}", d.display())).unwrap_or_default()
}
