//! [`Child`]: a started process, the lines it writes as [`Event`]s, and its end.
//!
//! Threads do the blocking work, so the parent never waits past its deadline: one reads standard
//! output into lines, one waits for the process to exit, one writes queued lines to standard input,
//! and one keeps the tail of standard error when it is captured. They report to the [`Child`] through
//! one channel, which [`Child::recv`] reads with a deadline.

use std::fmt;
use std::io::Write;
use std::process::{ChildStdin, ExitStatus};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};

use crate::lines::LineReader;
use crate::tail::Tail;
use crate::{Error, group};

/// Messages waiting in the channel before the reading thread waits for the parent: this bounds the
/// parent's memory when the child writes faster than the parent reads.
const CHANNEL_CAPACITY: usize = 256;
/// How long, after the child's group was killed, to wait for its standard error to close.
const STDERR_DRAIN: Duration = Duration::from_secs(1);

/// What [`Child::recv`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A line of standard output, without its newline (or `\r\n`). Lines are numbered from 1, bad
    /// ones included.
    Line { number: u64, text: String },
    /// A line that is not UTF-8: it is lost, the next lines still come. `byte` at `offset` is the
    /// first that is not; `preview` shows the line's start (see [`preview`](crate::preview)).
    NotUtf8 { number: u64, offset: usize, byte: u8, preview: String },
    /// A line longer than `limit` bytes: it is skipped up to its newline, the next lines still come.
    /// Reported as soon as the limit is passed.
    TooLong { number: u64, limit: usize },
    /// The child exited (or was killed). Lines it wrote before are delivered first; every later call
    /// returns this again.
    Exited(Exit),
    /// The deadline passed while the child was still running. Nothing is killed: call
    /// [`Child::kill`] to stop it, or [`Child::recv`] again with a later deadline.
    Deadline,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Line { text, .. } => f.write_str(&crate::preview(text.as_bytes())),
            Event::NotUtf8 { number, offset, byte, preview } => write!(
                f,
                "output line {number} is not UTF-8 (byte {byte:#04x} at offset {offset}), so it was dropped: \
                 `{preview}`"
            ),
            Event::TooLong { number, limit } => {
                write!(f, "output line {number} is longer than the limit of {limit} bytes, so it was dropped")
            }
            Event::Exited(exit) => write!(f, "the process ended ({exit})"),
            Event::Deadline => f.write_str("the deadline passed"),
        }
    }
}

/// How a child ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The exit status; `None` only if it could not be read (something else reaped the process).
    pub status: Option<ExitStatus>,
    /// The last bytes of standard error (lossy UTF-8, trimmed) under [`Stderr::Tail`](crate::Stderr);
    /// empty otherwise.
    pub stderr_tail: String,
}

impl Exit {
    /// Whether the child exited with status 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// The exit code, when the child exited rather than being ended by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
}

impl fmt::Display for Exit {
    /// The status in words: `exit status: 3`, `signal: 9 (SIGKILL)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "{status}"),
            None => f.write_str("status unknown"),
        }
    }
}

/// What the threads tell the [`Child`].
enum Message {
    Output(Event),
    StdoutClosed,
    /// The process exited; it is not reaped yet, so its group id stays reserved.
    Exited,
}

/// A child process in a process group of its own, started by [`Command::spawn`](crate::Command).
///
/// Dropping it before it ended kills its whole group.
#[derive(Debug)]
pub struct Child {
    /// `None` once it was reaped.
    process: Option<std::process::Child>,
    /// The process's id, which is also its group's id.
    pgid: Pid,
    command: String,
    stdin: StdinState,
    messages: Receiver<Message>,
    stderr: Option<Tail>,
    exit_grace: Duration,
    /// When the exit was seen.
    exited_at: Option<Instant>,
    stdout_open: bool,
    exit: Option<Exit>,
}

#[derive(Debug)]
enum StdinState {
    NotPiped,
    Open(Sender<Vec<u8>>),
    Closed,
}

impl Child {
    pub(crate) fn start(
        mut process: std::process::Child,
        command: String,
        max_line: usize,
        exit_grace: Duration,
        stderr_tail: Option<usize>,
    ) -> Child {
        let pgid = Pid::from_child(&process);
        let (tx, messages) = mpsc::sync_channel(CHANNEL_CAPACITY);
        let stdout_open = match process.stdout.take() {
            Some(stdout) => {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for event in LineReader::new(stdout, max_line) {
                        if tx.send(Message::Output(event)).is_err() {
                            return;
                        }
                    }
                    let _ = tx.send(Message::StdoutClosed);
                });
                true
            }
            None => false,
        };
        spawn_exit_watch(pgid, tx);
        let stdin = match process.stdin.take() {
            Some(stdin) => StdinState::Open(spawn_writer(stdin)),
            None => StdinState::NotPiped,
        };
        let stderr = match (process.stderr.take(), stderr_tail) {
            (Some(stderr), Some(limit)) => Some(Tail::spawn(stderr, limit)),
            _ => None,
        };
        Child {
            process: Some(process),
            pgid,
            command,
            stdin,
            messages,
            stderr,
            exit_grace,
            exited_at: None,
            stdout_open,
            exit: None,
        }
    }

    /// The child's process id, which is also the id of its process group.
    pub fn id(&self) -> u32 {
        self.pgid.as_raw_nonzero().get().unsigned_abs()
    }

    /// The command line, for messages.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Queues `line` (which should hold no newline of its own) and a newline for the child's standard
    /// input. Never blocks: a thread writes the queue, so a child that does not read cannot stall the
    /// parent. Fails once the pipe is closed (by [`Child::close_stdin`], or because the child stopped
    /// reading it or ended).
    pub fn send_line(&mut self, line: &str) -> Result<(), Error> {
        let command = || self.command.clone();
        let sender = match &self.stdin {
            StdinState::Open(sender) => sender,
            StdinState::NotPiped => return Err(Error::StdinNotPiped { command: command() }),
            StdinState::Closed => return Err(Error::StdinClosed { command: command() }),
        };
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        sender.send(bytes).map_err(|_| Error::StdinClosed { command: command() })
    }

    /// Closes standard input once the lines queued so far are written, so the child reads end of file.
    pub fn close_stdin(&mut self) {
        if let StdinState::Open(_) = self.stdin {
            self.stdin = StdinState::Closed;
        }
    }

    /// The next event, waiting until `deadline` at most.
    ///
    /// The end of the process, not the end of its standard output, ends the wait: once the child has
    /// exited, the lines still in the pipe are delivered, then [`Event::Exited`] comes as soon as its
    /// output closes or has been quiet for the exit grace ([`Command::exit_grace`](crate::Command),
    /// 200 ms by default), even if a process it left behind holds the pipe open; that leftover is
    /// killed with the group before `Exited` is returned. Output after the exit is taken until the
    /// later of `deadline` and one grace after the exit was seen, so a leftover that writes without
    /// pause cannot hold the wait either.
    pub fn recv(&mut self, deadline: Instant) -> Event {
        loop {
            if let Some(exit) = &self.exit {
                return Event::Exited(exit.clone());
            }
            let now = Instant::now();
            let wait = match self.exited_at {
                Some(_) if !self.stdout_open => {
                    self.finish();
                    continue;
                }
                Some(at) => {
                    // A process left behind may write on: its output is taken while it keeps coming
                    // within the grace, but never past the later of the deadline and one grace.
                    let cutoff = deadline.max(at.checked_add(self.exit_grace).unwrap_or(at));
                    if now >= cutoff {
                        self.finish();
                        continue;
                    }
                    self.exit_grace.min(cutoff - now)
                }
                None => deadline.saturating_duration_since(now),
            };
            match self.messages.recv_timeout(wait) {
                Ok(Message::Output(event)) => return event,
                Ok(Message::StdoutClosed) => self.stdout_open = false,
                Ok(Message::Exited) => self.exited_at = Some(Instant::now()),
                Err(RecvTimeoutError::Timeout) if self.exited_at.is_some() => {
                    self.finish();
                }
                Err(RecvTimeoutError::Timeout) => return Event::Deadline,
                // Every thread is done, which they are only after the exit and the end of output.
                Err(RecvTimeoutError::Disconnected) => {
                    self.exited_at.get_or_insert_with(Instant::now);
                    self.stdout_open = false;
                }
            }
        }
    }

    /// Waits until the child ends or `deadline` passes, discarding its lines (for children whose
    /// output goes to [`Stdout::File`](crate::Stdout) or [`Stdout::Null`](crate::Stdout)). `None`
    /// when the deadline passed; the child is then still running.
    pub fn wait(&mut self, deadline: Instant) -> Option<Exit> {
        loop {
            match self.recv(deadline) {
                Event::Exited(exit) => return Some(exit),
                Event::Deadline => return None,
                Event::Line { .. } | Event::NotUtf8 { .. } | Event::TooLong { .. } => {}
            }
        }
    }

    /// Kills the child's whole process group (SIGKILL), reaps the child and returns how it ended. Lines
    /// not yet received are dropped. If it had already ended, returns that.
    pub fn kill(&mut self) -> Exit {
        self.finish()
    }

    /// Ends the child for good: kills its group (the leader is not reaped yet, so the id is still its
    /// group's), reaps it, and keeps the [`Exit`].
    fn finish(&mut self) -> Exit {
        if let Some(exit) = &self.exit {
            return exit.clone();
        }
        group::kill(self.pgid);
        self.stdin = StdinState::Closed;
        let status = self.process.take().and_then(|mut p| p.wait().ok());
        let stderr_tail = self.stderr.take().map(|t| t.text(STDERR_DRAIN)).unwrap_or_default();
        self.exit.insert(Exit { status, stderr_tail }).clone()
    }
}

impl Drop for Child {
    /// Kills the group of a child that has not ended, and reaps it from a thread of its own, so that
    /// a process slow to die (in the middle of a driver call) cannot hold up the parent.
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            group::kill(self.pgid);
            std::thread::spawn(move || process.wait());
        }
    }
}

/// Reports [`Message::Exited`] when the process exits, leaving it unreaped (`WNOWAIT`), so its pid
/// and group id cannot be reused before [`Child::finish`] has killed the group.
fn spawn_exit_watch(pid: Pid, tx: SyncSender<Message>) {
    std::thread::spawn(move || {
        // Any other answer means it exited, or is no longer a child (reaped by a drop): it is over.
        while let Err(Errno::INTR) = waitid(WaitId::Pid(pid), WaitIdOptions::EXITED | WaitIdOptions::NOWAIT) {
        }
        let _ = tx.send(Message::Exited);
    });
}

/// A thread that writes queued lines to the child's standard input, and closes it when the queue's
/// sender is dropped. It stops at the first failed write (the child closed its end).
fn spawn_writer(mut stdin: ChildStdin) -> Sender<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        for bytes in rx {
            if stdin.write_all(&bytes).and_then(|()| stdin.flush()).is_err() {
                return;
            }
        }
    });
    tx
}
