//! pawl's process supervisor: one way to run a child process that speaks JSON lines (a benchmark
//! harness, the CUDA worker) or writes a report (Nsight Compute), without letting it hang, flood or
//! outlive pawl. Unix only.
//!
//! - **Its own process group.** [`Command::spawn`] starts the child as the leader of a new process
//!   group, and everything it starts stays in that group unless it leaves on purpose (`setsid`). A
//!   timeout ([`Child::kill`]), a drop of the [`Child`], and an interrupt of the parent (see
//!   [`install_interrupt_handler`]) send SIGKILL to the whole group, so no grandchild is left running.
//! - **Lines, checked one by one.** Standard output arrives as [`Event`]s: a line that is not UTF-8
//!   ([`Event::NotUtf8`]) or longer than the limit ([`Event::TooLong`], 16 MiB by default) costs only
//!   that line, and memory stays bounded.
//! - **The process's end ends the wait.** When the child exits, what it wrote is delivered and then
//!   [`Event::Exited`] comes, even while a process it left in the background holds the pipe open
//!   (after a short grace, 200 ms by default).
//! - **Never blocked.** [`Child::recv`] waits until a deadline at most; [`Child::send_line`] queues the
//!   line for a writer thread, so a child that does not read cannot stall the parent.
//!
//! The crate never prints: it returns events and errors, and the caller decides what to say.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, Instant};
//! use pawl_supervise::{Command, DEFAULT_STDERR_TAIL, Event, Stderr, Stdin};
//!
//! let mut child = Command::new(["sh", "-c", "read case; echo \"answer to $case\"; echo oops >&2; exit 3"])
//!     .stdin(Stdin::Piped)
//!     .stderr(Stderr::Tail(DEFAULT_STDERR_TAIL))
//!     .spawn()?;
//! child.send_line("copy/N=4")?;
//! child.close_stdin();
//! let deadline = Instant::now() + Duration::from_secs(10);
//! let mut lines = Vec::new();
//! loop {
//!     match child.recv(deadline) {
//!         Event::Line { text, .. } => lines.push(text),
//!         Event::NotUtf8 { .. } | Event::TooLong { .. } => { /* report it; later lines still come */ }
//!         Event::Exited(exit) => {
//!             assert_eq!(exit.code(), Some(3));
//!             assert_eq!(exit.stderr_tail, "oops");
//!             break;
//!         }
//!         Event::Deadline => {
//!             child.kill(); // the whole group
//!             break;
//!         }
//!     }
//! }
//! assert_eq!(lines, ["answer to copy/N=4"]);
//! # Ok::<(), pawl_supervise::Error>(())
//! ```

#![forbid(unsafe_code)]
#![cfg(unix)]

mod child;
mod command;
mod error;
mod group;
mod lines;
mod tail;

pub use child::{Child, Event, Exit};
pub use command::{
    Command, DEFAULT_EXIT_GRACE, DEFAULT_MAX_LINE, DEFAULT_STDERR_TAIL, Stderr, Stdin, Stdout,
};
pub use error::Error;
pub use group::install_interrupt_handler;
pub use lines::preview;

/// The instant `timeout` from now, or one far in the future when that cannot be represented (a
/// timeout of `1e19` seconds must not panic).
pub fn deadline_after(timeout: std::time::Duration) -> std::time::Instant {
    const FAR: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);
    let now = std::time::Instant::now();
    now.checked_add(timeout).or_else(|| now.checked_add(FAR)).unwrap_or(now)
}
