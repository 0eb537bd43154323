//! A child's standard output split into lines, each checked on its own: a line that is not UTF-8 or
//! longer than the limit is reported and skipped, and the lines after it still arrive.
//!
//! Memory stays bounded by the limit: a line that passes it is not kept, and the rest of it is read
//! and thrown away up to its newline.

use std::io::{BufRead, BufReader, ErrorKind, Read};

use crate::Event;

/// Bytes read from the pipe at a time.
const READ_BUFFER: usize = 64 * 1024;
/// Characters of a bad line shown in its event.
const PREVIEW_CHARS: usize = 100;

/// An iterator over the lines of `R`, as [`Event::Line`], [`Event::NotUtf8`] or [`Event::TooLong`].
/// It ends at the end of the stream, or at a read error other than an interruption.
pub(crate) struct LineReader<R> {
    input: BufReader<R>,
    max_line: usize,
    /// Lines seen so far, good or bad: the next line's number is one more.
    number: u64,
    line: Vec<u8>,
    /// Inside a line already reported as too long: skip up to its newline.
    skipping: bool,
}

impl<R: Read> LineReader<R> {
    pub(crate) fn new(input: R, max_line: usize) -> LineReader<R> {
        LineReader {
            input: BufReader::with_capacity(READ_BUFFER, input),
            max_line,
            number: 0,
            line: Vec::new(),
            skipping: false,
        }
    }

    /// The event for the complete line in `self.line`, which is emptied.
    fn complete(&mut self) -> Event {
        self.number += 1;
        let mut bytes = std::mem::take(&mut self.line);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        match String::from_utf8(bytes) {
            Ok(text) => Event::Line { number: self.number, text },
            Err(err) => {
                let offset = err.utf8_error().valid_up_to();
                let bytes = err.into_bytes();
                Event::NotUtf8 { number: self.number, offset, byte: bytes[offset], preview: preview(&bytes) }
            }
        }
    }

    fn too_long(&mut self) -> Event {
        self.number += 1;
        self.line = Vec::new();
        Event::TooLong { number: self.number, limit: self.max_line }
    }
}

impl<R: Read> Iterator for LineReader<R> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(chunk) => chunk,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(_) => &[],
            };
            if chunk.is_empty() {
                // The end of the output: a last line without a newline still counts.
                let pending = !self.line.is_empty() && !self.skipping;
                self.skipping = false;
                return pending.then(|| self.complete());
            }
            match chunk.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    let was_skipping = std::mem::replace(&mut self.skipping, false);
                    let fits = self.line.len() + end <= self.max_line;
                    if !was_skipping && fits {
                        self.line.extend_from_slice(&chunk[..end]);
                    }
                    self.input.consume(end + 1);
                    match (was_skipping, fits) {
                        (true, _) => continue,
                        (false, true) => return Some(self.complete()),
                        (false, false) => return Some(self.too_long()),
                    }
                }
                None => {
                    let len = chunk.len();
                    let overflows = !self.skipping && self.line.len() + len > self.max_line;
                    if !self.skipping && !overflows {
                        self.line.extend_from_slice(chunk);
                    }
                    self.input.consume(len);
                    if overflows {
                        self.skipping = true;
                        return Some(self.too_long());
                    }
                }
            }
        }
    }
}

/// The start of `bytes` as text that is safe to print: at most 100 characters, bytes that are not
/// UTF-8 replaced by `�`, control characters (terminal escapes included) written as escapes, and `…`
/// where it was cut.
pub fn preview(bytes: &[u8]) -> String {
    // Four bytes per character at most: enough bytes for the characters shown, and one more to know.
    let head = &bytes[..bytes.len().min(4 * (PREVIEW_CHARS + 1))];
    let text = String::from_utf8_lossy(head);
    let mut shown = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == PREVIEW_CHARS {
            shown.push('…');
            return shown;
        }
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    if head.len() < bytes.len() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(input: &[u8], max_line: usize) -> Vec<Event> {
        LineReader::new(input, max_line).collect()
    }

    fn line(number: u64, text: &str) -> Event {
        Event::Line { number, text: text.to_owned() }
    }

    #[test]
    fn splits_lines_and_keeps_a_last_line_without_newline() {
        assert_eq!(events(b"a\r\n\nb", 10), [line(1, "a"), line(2, ""), line(3, "b")]);
        assert_eq!(events(b"", 10), []);
    }

    #[test]
    fn a_line_that_is_not_utf8_costs_only_that_line() {
        let got = events(b"ok\nbad \xff here\nnext\n", 100);
        assert_eq!(got[0], line(1, "ok"));
        assert_eq!(
            got[1],
            Event::NotUtf8 { number: 2, offset: 4, byte: 0xff, preview: "bad \u{fffd} here".to_owned() }
        );
        assert_eq!(got[2], line(3, "next"));
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn a_line_over_the_limit_is_skipped_to_its_newline() {
        let mut input = b"first\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 300_000));
        input.extend(b"\nlast\n");
        let got = events(&input, 1000);
        assert_eq!(got, [line(1, "first"), Event::TooLong { number: 2, limit: 1000 }, line(3, "last")]);
        // The limit is inclusive; one byte more is too long, found inside one read as well.
        assert_eq!(
            events(b"abc\nabcd\nab\n", 3),
            [line(1, "abc"), Event::TooLong { number: 2, limit: 3 }, line(3, "ab")]
        );
        // An unterminated too-long line at the end is reported once.
        assert_eq!(events(b"abcdef", 3), [Event::TooLong { number: 1, limit: 3 }]);
    }

    #[test]
    fn previews_are_short_and_printable() {
        assert_eq!(preview(b"\x1b[31mred\n"), "\\u{1b}[31mred\\n");
        let long = "é".repeat(500);
        let shown = preview(long.as_bytes());
        assert_eq!(shown.chars().count(), PREVIEW_CHARS + 1);
        assert!(shown.ends_with('…'));
        assert_eq!(preview(b"short"), "short");
    }
}
