//! The interrupt path: a parent that installed the handler is sent SIGINT (or SIGTERM) while it
//! supervises a child with a sleeping grandchild; the grandchild must die and the parent exit 130 (143).
//!
//! The parent is this test binary run again with `PAWL_SUPERVISE_HELPER` set, so that it is a real
//! process with the handler installed, as `pawl` is.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use common::{alive, eventually, group_members};
use rustix::process::{Pid, Signal, kill_process};

const HELPER: &str = "PAWL_SUPERVISE_HELPER";

/// Only in the helper process: install the handler, supervise `sh` with a sleeping grandchild, say
/// their ids, and sleep until a signal ends the process.
#[test]
fn helper_supervising_a_sleeping_grandchild() {
    if std::env::var_os(HELPER).is_none() {
        return;
    }
    pawl_supervise::install_interrupt_handler().unwrap();
    pawl_supervise::install_interrupt_handler().unwrap(); // a second call does nothing
    let mut child = pawl_supervise::Command::new(["sh", "-c", "sleep 60 & echo $!; wait"]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let pawl_supervise::Event::Line { text, .. } = child.recv(deadline) else { panic!("no pid") };
    println!("HELPER group={} grandchild={text}", child.id());
    std::thread::sleep(Duration::from_secs(60));
    panic!("the helper was not interrupted");
}

fn interrupt_helper(signal: Signal, expected_code: i32) {
    let mut helper = Process::new(std::env::current_exe().unwrap())
        .args(["--exact", "helper_supervising_a_sleeping_grandchild", "--nocapture", "--test-threads=1"])
        .env(HELPER, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(helper.stdout.take().unwrap());
    let ids = stdout
        .lines()
        .map_while(Result::ok)
        // libtest may have printed the test's name on the same line.
        .find_map(|l| l.split_once("HELPER ").map(|(_, ids)| ids.to_owned()))
        .expect("the helper says its ids");
    let field = |name: &str| -> u32 {
        ids.split_whitespace().find_map(|f| f.strip_prefix(name)).unwrap().parse().unwrap()
    };
    let (group, grandchild) = (field("group="), field("grandchild="));
    assert!(alive(grandchild));
    assert_eq!(group_members(group).len(), 2, "sh and sleep");

    let pid = Pid::from_raw(i32::try_from(helper.id()).unwrap()).unwrap();
    kill_process(pid, signal).unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = helper.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < until, "the helper did not exit after {signal:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(expected_code), "{status}");
    assert!(eventually(|| !alive(grandchild)), "the grandchild {grandchild} outlived the interrupt");
    assert!(eventually(|| group_members(group).is_empty()), "left: {:?}", group_members(group));
}

#[test]
fn sigint_kills_every_group_and_exits_130() {
    if std::env::var_os(HELPER).is_some() {
        return;
    }
    interrupt_helper(Signal::INT, 130);
}

#[test]
fn sigterm_kills_every_group_and_exits_143() {
    if std::env::var_os(HELPER).is_some() {
        return;
    }
    interrupt_helper(Signal::TERM, 143);
}
