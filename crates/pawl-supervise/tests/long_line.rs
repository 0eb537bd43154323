//! A 100 MiB line, in a test binary of its own: the peak memory of the process is the measure, so no
//! other test may run beside it.

use std::time::{Duration, Instant};

use pawl_supervise::{Command, Event};

/// An event in words, short enough for a failure message whatever the line held.
fn summary(event: Event) -> String {
    match event {
        Event::Line { number, text } if text.len() > 100 => format!("line {number}: {} bytes", text.len()),
        Event::Line { number, text } => format!("line {number}: {text}"),
        other => other.to_string(),
    }
}

/// Peak resident memory of this test process, from `/proc/self/status`.
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

#[test]
fn a_100_mb_line_is_reported_as_too_long_in_bounded_memory_and_later_lines_arrive() {
    const LIMIT: usize = 1 << 20;
    let before = peak_rss_bytes();
    let started = Instant::now();
    let mut child = Command::new([
        "python3",
        "-c",
        "import sys\n\
         out = sys.stdout.buffer\n\
         out.write(b'first\\n')\n\
         chunk = b'x' * (1 << 20)\n\
         for _ in range(100): out.write(chunk)\n\
         out.write(b'\\nafter\\n')\n\
         for _ in range(100): out.write(chunk)\n",
    ])
    .max_line(LIMIT)
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut events = Vec::new();
    let exit = loop {
        match child.recv(deadline) {
            Event::Exited(exit) => break exit,
            Event::Deadline => panic!("no exit before the deadline; events so far: {events:?}"),
            event => events.push(summary(event)),
        }
    };
    let took = started.elapsed();
    assert!(exit.success(), "{exit}");
    assert_eq!(
        events,
        [
            "line 1: first",
            "output line 2 is longer than the limit of 1048576 bytes, so it was dropped",
            "line 3: after",
            // The last 100 MiB have no newline at all: still reported, once.
            "output line 4 is longer than the limit of 1048576 bytes, so it was dropped",
        ]
    );
    let grown = peak_rss_bytes().saturating_sub(before);
    // Keeping either line would take 100 MiB; the reader holds at most the limit and its buffer.
    assert!(grown < 48 << 20, "peak memory grew by {} MiB", grown >> 20);
    eprintln!(
        "200 MiB of over-long lines read in {:.2} s, peak memory +{} MiB",
        took.as_secs_f64(),
        grown >> 20
    );
}
