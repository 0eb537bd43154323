//! The profile targets file (`profile_targets.txt`): the ids of the cases to profile, one a line, as
//! `pawl check` writes it and `pawl profile` reads it.
//!
//! An id goes in only when it reads back as it is (not blank, no surrounding white space, not taken
//! for a `#` comment) and prints as it is: no control or hidden character, and nothing a CI runner
//! would read as a workflow command (see [`escape::terminal`]), since a CI step may well `cat` the
//! file into its log. An id that does not qualify is left out, and the caller says so.

use std::path::Path;

use crate::case::CaseId;
use crate::files::FileError;
use crate::report::escape;

/// Whether `id` can be written as one line of a targets file and read back the same.
pub fn fits(id: &CaseId) -> bool {
    let id = id.as_str();
    !id.is_empty() && id.trim() == id && !id.starts_with('#') && escape::terminal(id) == id
}

/// The file's text for `ids`, one a line, and the ids left out because they do not [`fit`](fits).
pub fn render(ids: &[CaseId]) -> (String, Vec<&CaseId>) {
    let (kept, left_out): (Vec<&CaseId>, Vec<&CaseId>) = ids.iter().partition(|id| fits(id));
    let text = kept.iter().map(|id| format!("{id}\n")).collect();
    (text, left_out)
}

/// The ids of a targets file's text; blank lines and `#` comments are skipped. `path` names the
/// file in errors: a line holding what no written file holds is refused, quoted escaped.
pub fn parse(text: &str, path: &Path) -> Result<Vec<CaseId>, FileError> {
    let mut ids = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let id = CaseId::from_raw(line);
        if !fits(&id) {
            return Err(FileError::Invalid {
                path: path.to_owned(),
                message: format!(
                    "line {}: `{}` holds control characters or a workflow command, which no case id \
                     `pawl check` writes here does; write one case id a line",
                    index + 1,
                    escape::terminal(line)
                ),
            });
        }
        ids.push(id);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<CaseId> {
        names.iter().map(|n| CaseId::from_raw(*n)).collect()
    }

    #[test]
    fn safe_ids_round_trip_and_unsafe_ones_are_left_out() {
        let all = ids(&[
            "copy/N=1",
            "two\nlines",
            " padded",
            "#comment",
            "a::b",
            "x##[y",
            "bidi\u{202E}",
            "flash/S=2",
        ]);
        let (text, left_out) = render(&all);
        // `a::b` prints as it is (a `::` inside a line is no workflow command), so it is kept.
        assert_eq!(text, "copy/N=1\na::b\nflash/S=2\n");
        assert_eq!(left_out.len(), 5);
        assert_eq!(parse(&text, Path::new("t.txt")).unwrap(), ids(&["copy/N=1", "a::b", "flash/S=2"]));
    }

    #[test]
    fn a_line_no_writer_writes_is_refused_with_its_number() {
        let err = parse("# ids\ncopy/N=1\n\nx\u{1b}[2J\n", Path::new("t.txt")).unwrap_err().to_string();
        assert!(err.starts_with("t.txt: line 4: `x\\u{1b}[2J`"), "{err}");
    }
}
