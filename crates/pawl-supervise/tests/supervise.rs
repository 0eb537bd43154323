//! Misbehaving children, run for real (`sh`, `python3`): bad lines, huge lines, leftover grandchildren,
//! hangs, and children that never read. Each test checks that nothing is lost, the problem is named, and
//! no process of the child's group is left running.

mod common;

use std::time::{Duration, Instant};

use common::{alive, eventually, group_members};
use pawl_supervise::{Command, Error, Event, Exit, Stderr, Stdin, Stdout};

fn sh(script: &str) -> Command {
    Command::new(["sh", "-c", script])
}

fn python(code: &str) -> Command {
    Command::new(["python3", "-c", code])
}

fn in_seconds(s: u64) -> Instant {
    Instant::now() + Duration::from_secs(s)
}

/// Every event up to and including the end, failing the test at the deadline.
fn all_events(child: &mut pawl_supervise::Child, deadline: Instant) -> (Vec<Event>, Exit) {
    let mut events = Vec::new();
    loop {
        match child.recv(deadline) {
            Event::Exited(exit) => return (events, exit),
            Event::Deadline => panic!("no exit before the deadline; events so far: {events:?}"),
            event => events.push(event),
        }
    }
}

fn line(number: u64, text: &str) -> Event {
    Event::Line { number, text: text.to_owned() }
}

#[test]
fn a_line_that_is_not_utf8_is_reported_and_the_later_lines_still_arrive() {
    let mut child = python(
        r#"import sys; sys.stdout.buffer.write(b'{"case": "a"}\n{"case": "\xff\xfe"}\n{"case": "c"}\nlast')"#,
    )
    .spawn()
    .unwrap();
    let (events, exit) = all_events(&mut child, in_seconds(30));
    assert!(exit.success(), "{exit}");
    assert_eq!(events[0], line(1, r#"{"case": "a"}"#));
    let Event::NotUtf8 { number: 2, offset: 10, byte: 0xff, preview } = &events[1] else {
        panic!("expected line 2 reported as not UTF-8: {events:?}")
    };
    assert_eq!(preview, "{\"case\": \"\u{fffd}\u{fffd}\"}");
    assert!(events[1].to_string().contains("line 2 is not UTF-8 (byte 0xff at offset 10)"), "{}", events[1]);
    assert_eq!(events[2..], [line(3, r#"{"case": "c"}"#), line(4, "last")]);
}

#[test]
fn garbage_lines_arrive_as_they_were_written() {
    let mut child = python(
        r#"import sys; sys.stdout.buffer.write(b'\x00\x01 nul\n{not json\n\n\t \r\n\x1b[2J escape\n' + 'ünïcode ✓'.encode() + b'\n{"case": "ok"}\n')"#,
    )
    .spawn()
    .unwrap();
    let (events, exit) = all_events(&mut child, in_seconds(30));
    assert!(exit.success(), "{exit}");
    assert_eq!(
        events,
        [
            line(1, "\0\u{1} nul"),
            line(2, "{not json"),
            line(3, ""),
            line(4, "\t "),
            line(5, "\u{1b}[2J escape"),
            line(6, "ünïcode ✓"),
            line(7, r#"{"case": "ok"}"#),
        ]
    );
    // Shown to a user, control characters are escaped: a line cannot drive the terminal.
    assert_eq!(events[4].to_string(), "\\u{1b}[2J escape");
}

#[test]
fn every_line_written_before_the_exit_is_delivered() {
    let mut child = python("for i in range(20000): print(i)").spawn().unwrap();
    let (events, exit) = all_events(&mut child, in_seconds(60));
    assert!(exit.success(), "{exit}");
    assert_eq!(events.len(), 20000);
    assert_eq!(events[19999], line(20000, "19999"));
}

#[test]
fn the_wait_ends_when_the_child_exits_although_a_grandchild_holds_its_output() {
    let started = Instant::now();
    let mut child = sh("sleep 60 & echo \"grandchild $!\"; exit 4").spawn().unwrap();
    let pgid = child.id();
    let (events, exit) = all_events(&mut child, in_seconds(30));
    let took = started.elapsed();
    assert_eq!(exit.code(), Some(4));
    let [Event::Line { number: 1, text }] = &events[..] else { panic!("{events:?}") };
    let grandchild: u32 = text.strip_prefix("grandchild ").unwrap().parse().unwrap();
    // The grace is 200 ms; the deadline was 30 s away.
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(eventually(|| !alive(grandchild)), "the grandchild {grandchild} still runs");
    assert!(eventually(|| group_members(pgid).is_empty()), "left in the group: {:?}", group_members(pgid));
    // Asked again, it says the same.
    assert_eq!(child.recv(Instant::now()), Event::Exited(exit));
}

#[test]
fn a_grandchild_that_writes_without_pause_cannot_hold_the_wait() {
    let started = Instant::now();
    let mut child = sh("yes flood & sleep 0.2; exit 0").spawn().unwrap();
    let pgid = child.id();
    let deadline = in_seconds(2);
    let mut floods = 0u64;
    let exit = loop {
        match child.recv(deadline) {
            Event::Line { text, .. } => {
                assert_eq!(text, "flood");
                floods += 1;
            }
            Event::Exited(exit) => break exit,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(exit.success(), "{exit}");
    assert!(floods > 0);
    // Output after the exit is taken until the later of the deadline and one grace.
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
    assert!(eventually(|| group_members(pgid).is_empty()), "left in the group: {:?}", group_members(pgid));
}

#[test]
fn a_timeout_kills_the_grandchildren_too() {
    let mut child = sh("sleep 60 & sleep 60 & echo started; wait").spawn().unwrap();
    let pgid = child.id();
    assert_eq!(child.recv(in_seconds(30)), line(1, "started"));
    assert_eq!(group_members(pgid).len(), 3, "sh and two sleeps: {:?}", group_members(pgid));
    let started = Instant::now();
    assert_eq!(child.recv(Instant::now() + Duration::from_millis(300)), Event::Deadline);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let exit = child.kill();
    assert_eq!(exit.to_string(), "signal: 9 (SIGKILL)");
    assert!(eventually(|| group_members(pgid).is_empty()), "left in the group: {:?}", group_members(pgid));
    assert_eq!(child.recv(Instant::now()), Event::Exited(exit));
}

#[test]
fn dropping_the_child_kills_its_group() {
    let mut child = sh("sleep 60 & echo started; sleep 60").spawn().unwrap();
    let pgid = child.id();
    assert_eq!(child.recv(in_seconds(30)), line(1, "started"));
    // sh, the background sleep, and the one it waits for once it has forked.
    assert!(group_members(pgid).len() >= 2, "{:?}", group_members(pgid));
    drop(child);
    assert!(eventually(|| group_members(pgid).is_empty()), "left in the group: {:?}", group_members(pgid));
}

#[test]
fn a_child_that_never_reads_cannot_block_the_parent() {
    let mut child = sh("echo ready; sleep 60").stdin(Stdin::Piped).spawn().unwrap();
    let pgid = child.id();
    assert_eq!(child.recv(in_seconds(30)), line(1, "ready"));
    let megabyte = "x".repeat(1 << 20);
    let started = Instant::now();
    for _ in 0..64 {
        child.send_line(&megabyte).unwrap();
    }
    child.close_stdin();
    let deadline = Instant::now() + Duration::from_secs(1);
    assert_eq!(child.recv(deadline), Event::Deadline);
    // The pipe holds 64 KiB: writing 64 MiB would block for good. The sends only queue.
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    let err = child.send_line("more").unwrap_err();
    assert!(matches!(err, Error::StdinClosed { .. }), "{err}");
    drop(child);
    assert!(eventually(|| group_members(pgid).is_empty()), "left in the group: {:?}", group_members(pgid));
}

#[test]
fn lines_sent_are_read_by_the_child() {
    let mut child =
        sh("while read -r line; do echo \"got $line\"; done; echo end").stdin(Stdin::Piped).spawn().unwrap();
    child.send_line("one").unwrap();
    child.send_line("two").unwrap();
    child.close_stdin();
    let (events, exit) = all_events(&mut child, in_seconds(30));
    assert!(exit.success());
    assert_eq!(events, [line(1, "got one"), line(2, "got two"), line(3, "end")]);
}

#[test]
fn the_stderr_tail_is_bounded_and_comes_with_the_exit() {
    let mut child = python(
        "import sys\nsys.stderr.write('noise ' * 10000)\nsys.stderr.write('\\nlast words\\n')\nsys.exit(7)",
    )
    .stderr(Stderr::Tail(64))
    .spawn()
    .unwrap();
    let (events, exit) = all_events(&mut child, in_seconds(30));
    assert!(events.is_empty());
    assert_eq!(exit.code(), Some(7));
    assert!(exit.stderr_tail.ends_with("noise \nlast words"), "{:?}", exit.stderr_tail);
    assert!(exit.stderr_tail.len() <= 64);
}

#[test]
fn a_child_writing_to_files_is_waited_for_with_a_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::fs::File::create(dir.path().join("out.csv")).unwrap();
    let err = std::fs::File::create(dir.path().join("err.log")).unwrap();
    let mut child = sh("echo a,b; echo warning >&2; cat")
        .current_dir(dir.path())
        .env("PAWL_TEST_VALUE", "v")
        .stdout(Stdout::File(out))
        .stderr(Stderr::File(err))
        .spawn()
        .unwrap();
    // `cat` reads the null input and ends at once.
    let exit = child.wait(in_seconds(30)).expect("it ends");
    assert!(exit.success());
    assert_eq!(std::fs::read_to_string(dir.path().join("out.csv")).unwrap(), "a,b\n");
    assert_eq!(std::fs::read_to_string(dir.path().join("err.log")).unwrap(), "warning\n");

    let mut child = sh("echo \"$PAWL_TEST_VALUE $(pwd)\"; sleep 60")
        .current_dir(dir.path())
        .env("PAWL_TEST_VALUE", "v")
        .spawn()
        .unwrap();
    let here = dir.path().canonicalize().unwrap();
    assert_eq!(child.recv(in_seconds(30)), line(1, &format!("v {}", here.display())));
    assert_eq!(child.wait(Instant::now() + Duration::from_millis(200)), None);
    assert!(!child.kill().success());
}

#[test]
fn a_command_that_cannot_start_is_an_error_naming_it() {
    let err = Command::new(["./no-such-harness", "--flag"]).current_dir("/tmp").spawn().unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("cannot start `./no-such-harness --flag` in /tmp: "), "{text}");
    let err = Command::new(Vec::<String>::new()).spawn().unwrap_err();
    assert!(matches!(err, Error::EmptyCommand));
    let mut child = sh("true").spawn().unwrap();
    assert!(matches!(child.send_line("x"), Err(Error::StdinNotPiped { .. })));
}
