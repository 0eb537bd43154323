//! [`Command`]: what to start and how its standard streams are connected.

use std::ffi::OsString;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::{Child, Error, group};

/// The default longest line of output, in bytes (16 MiB): far above any sensible JSON line, far below
/// what would hurt the parent's memory.
pub const DEFAULT_MAX_LINE: usize = 16 * 1024 * 1024;
/// The default time given to output still in the pipe after the child exited (see
/// [`Command::exit_grace`]).
pub const DEFAULT_EXIT_GRACE: Duration = Duration::from_millis(200);
/// A sensible size for [`Stderr::Tail`]: 4 KiB of standard error, enough for a crash message.
pub const DEFAULT_STDERR_TAIL: usize = 4096;

/// Where the child's standard input comes from.
#[derive(Debug, Default)]
pub enum Stdin {
    /// Nothing: the child reads end of file at once.
    #[default]
    Null,
    /// A pipe fed by [`Child::send_line`] and closed by [`Child::close_stdin`].
    Piped,
}

/// Where the child's standard output goes.
#[derive(Debug, Default)]
pub enum Stdout {
    /// A pipe read line by line into [`Event`](crate::Event)s.
    #[default]
    Lines,
    /// Nowhere.
    Null,
    /// Into a file (for output that is not lines, such as a tool's CSV report).
    File(File),
}

/// Where the child's standard error goes.
#[derive(Debug, Default)]
pub enum Stderr {
    /// The parent's standard error, so the user sees it as it comes.
    #[default]
    Inherit,
    /// Nowhere.
    Null,
    /// Into a file.
    File(File),
    /// Captured: the last this many bytes are kept and returned in [`Exit::stderr_tail`](crate::Exit).
    Tail(usize),
}

/// A child process to start: an argument list, and optionally a working folder, extra environment
/// variables and the connection of each standard stream. [`Command::spawn`] starts it in a process
/// group of its own.
#[derive(Debug)]
#[must_use]
pub struct Command {
    argv: Vec<OsString>,
    dir: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    stdin: Stdin,
    stdout: Stdout,
    stderr: Stderr,
    max_line: usize,
    exit_grace: Duration,
}

impl Command {
    /// The program (`argv[0]`, looked up on `PATH` when it has no `/`) and its arguments. Defaults:
    /// the parent's folder and environment, [`Stdin::Null`], [`Stdout::Lines`], [`Stderr::Inherit`],
    /// [`DEFAULT_MAX_LINE`], [`DEFAULT_EXIT_GRACE`].
    pub fn new<I, S>(argv: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Command {
            argv: argv.into_iter().map(Into::into).collect(),
            dir: None,
            env: Vec::new(),
            stdin: Stdin::default(),
            stdout: Stdout::default(),
            stderr: Stderr::default(),
            max_line: DEFAULT_MAX_LINE,
            exit_grace: DEFAULT_EXIT_GRACE,
        }
    }

    /// The folder the child starts in.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Command {
        self.dir = Some(dir.into());
        self
    }

    /// Sets one environment variable for the child, over what it inherits.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Command {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn stdin(mut self, stdin: Stdin) -> Command {
        self.stdin = stdin;
        self
    }

    pub fn stdout(mut self, stdout: Stdout) -> Command {
        self.stdout = stdout;
        self
    }

    pub fn stderr(mut self, stderr: Stderr) -> Command {
        self.stderr = stderr;
        self
    }

    /// The longest line of output, in bytes without its newline; a longer one is reported as
    /// [`Event::TooLong`](crate::Event::TooLong) and skipped. At least 1.
    pub fn max_line(mut self, bytes: usize) -> Command {
        self.max_line = bytes.max(1);
        self
    }

    /// How long output may still come after the child exited, when something else (a process it
    /// started in the background) keeps its standard output open. Output already in the pipe is read
    /// at once; the grace ends when the output has been quiet this long, and then the child's group is
    /// killed and [`Event::Exited`](crate::Event::Exited) comes.
    pub fn exit_grace(mut self, grace: Duration) -> Command {
        self.exit_grace = grace;
        self
    }

    /// The command line for messages: the arguments joined by spaces.
    pub fn display(&self) -> String {
        self.argv.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
    }

    /// Starts the child in a process group of its own and registers the group, so that a timeout, a
    /// drop of the [`Child`] or an interrupt (see
    /// [`install_interrupt_handler`](crate::install_interrupt_handler)) kills everything it started.
    pub fn spawn(self) -> Result<Child, Error> {
        let display = self.display();
        let Some((program, args)) = self.argv.split_first() else { return Err(Error::EmptyCommand) };
        let mut command = std::process::Command::new(program);
        command.args(args).envs(self.env).process_group(0);
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        command.stdin(match self.stdin {
            Stdin::Null => Stdio::null(),
            Stdin::Piped => Stdio::piped(),
        });
        command.stdout(match self.stdout {
            Stdout::Lines => Stdio::piped(),
            Stdout::Null => Stdio::null(),
            Stdout::File(file) => file.into(),
        });
        let tail = match self.stderr {
            Stderr::Tail(limit) => {
                command.stderr(Stdio::piped());
                Some(limit)
            }
            Stderr::Inherit => {
                command.stderr(Stdio::inherit());
                None
            }
            Stderr::Null => {
                command.stderr(Stdio::null());
                None
            }
            Stderr::File(file) => {
                command.stderr(file);
                None
            }
        };
        // Locked from before the fork until the group is registered: an interrupt in between waits,
        // then kills this group too.
        let mut live = group::live();
        let process = command.spawn().map_err(|source| Error::Spawn {
            command: display.clone(),
            dir: self.dir.clone(),
            source,
        })?;
        live.push(rustix::process::Pid::from_child(&process));
        drop(live);
        Ok(Child::start(process, display, self.max_line, self.exit_grace, tail))
    }
}
