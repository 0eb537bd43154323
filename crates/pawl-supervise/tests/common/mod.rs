//! Process checks shared by the tests: which processes of a group are still alive, read from `/proc`.

use std::time::{Duration, Instant};

/// The live processes (zombies do not count: the dead wait there for a parent to reap them) whose
/// process group is `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Some((state, pgrp)) = stat(pid) else { continue };
        if pgrp == pgid && !matches!(state, 'Z' | 'X') {
            members.push(pid);
        }
    }
    members
}

/// Whether process `pid` is alive (not gone, not a zombie).
pub fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(state, _)| !matches!(state, 'Z' | 'X'))
}

/// State and process group of `pid`, from `/proc/PID/stat` (`pid (comm) state ppid pgrp …`).
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// Waits (up to 10 s: SIGKILL is delivered at once, but a loaded machine may take a moment to tear the
/// processes down) until `check` holds; returns whether it did.
pub fn eventually(check: impl Fn() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}
