//! Text from outside pawl, made safe for each place pawl writes it: one function per sink.
//!
//! Suite, bench and case names, parameter values, harness error text and API servers' messages come
//! from whoever wrote the suite, the pull request or the server. Written as they are, they could break
//! a table, ping people, inject HTML, send escape sequences to a terminal, or be read by a CI runner
//! as a workflow command. Every renderer passes such text through the function of its sink:
//!
//! | sink | function | what it neutralises |
//! |---|---|---|
//! | markdown (PR comment, job summary) | [`markdown`] | markup, HTML, tables, mentions and references, autolinks, math |
//! | JUnit XML | [`xml`] | characters XML cannot carry |
//! | GitHub workflow commands | [`workflow_data`], [`workflow_property`] | line breaks, `%`, property separators |
//! | terminal and CI log | [`terminal`], [`terminal_lines`] | control characters, workflow commands |
//!
//! Every sink also shows [hidden characters](is_hidden) (bidirectional overrides, zero-width
//! characters) as `\u{202e}`, so that no name can read as another or hide part of itself.

use std::borrow::Cow;

/// Characters that are invisible or reorder the text around them: bidirectional controls (they can
/// make `copy/N=1` display as another id), zero-width and other invisible format characters, and
/// the line and paragraph separators. Control characters (C0, DEL, C1) are handled by each sink.
pub fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// `\u{202e}`: how every sink shows a hidden or control character.
fn push_code(out: &mut String, c: char) {
    out.extend(c.escape_unicode());
}

/// A zero-width space as an HTML entity. Put after `@` it stops a mention (`@&#8203;user` renders as
/// `@user` but pings nobody), after `#` or `!` an issue or merge-request reference, and inside `://`
/// or `www.` an autolink; it is pawl's own, never taken from the input.
const BREAK: &str = "&#8203;";

/// Escapes text for markdown (GitHub's and GitLab's): a backslash before every character that could
/// start emphasis, code, a link, HTML, an entity, math or a table cell; line breaks and other control
/// characters as spaces; hidden characters shown as `\u{…}`; mentions (`@user`, `@org/team`), issue
/// and merge-request references (`#12`, `!12`) and autolinks (`https://…`, `www.…`) broken with an
/// invisible [`BREAK`], so that nothing in a case name pings anybody or links anywhere.
pub fn markdown(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        if c.is_control() {
            out.push(' ');
            continue;
        }
        if is_hidden(c) {
            push_code(&mut out, c);
            continue;
        }
        // `www.` opens an autolink: break it before the dot.
        if c == '.' && i >= 3 && chars[i - 3..i].iter().all(|w| w.eq_ignore_ascii_case(&'w')) {
            out.push_str(BREAK);
        }
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '!' | '#' | '$') {
            out.push('\\');
        }
        out.push(c);
        let word_follows = next.is_some_and(|n| n.is_alphanumeric() || n == '_' || n == '-');
        if (matches!(c, '@' | '#' | '!') && word_follows) || (c == ':' && next == Some('/')) {
            out.push_str(BREAK);
        }
    }
    out
}

/// `s` for an XML document (JUnit): characters XML 1.0 forbids even as references (controls other
/// than tab and line breaks, U+FFFE, U+FFFF) replaced by U+FFFD, hidden characters shown as `\u{…}`.
/// The XML writer escapes `<`, `&` and quotes itself.
pub fn xml(s: &str) -> Cow<'_, str> {
    let forbidden =
        |c: char| (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}');
    if !s.contains(|c| forbidden(c) || is_hidden(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if forbidden(c) {
            out.push(char::REPLACEMENT_CHARACTER);
        } else if is_hidden(c) {
            push_code(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Escapes the message of a GitHub workflow command (`::error title=…::MESSAGE`) as the Actions
/// runner unescapes it: `%`, CR and LF. Without a line break of its own, text cannot start a command.
/// Other control and hidden characters are shown as `\u{…}`.
pub fn workflow_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if c.is_control() || is_hidden(c) => push_code(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a workflow command's property value (`title=…`): as [`workflow_data`], and also `:` and
/// `,`, which end a property.
pub fn workflow_property(s: &str) -> String {
    workflow_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Text for one line of a terminal or a CI log: control and hidden characters shown as `\n`,
/// `\u{1b}`, `\u{202e}` (so text can neither break the line nor move the cursor), and the openings
/// of workflow commands broken so that no CI runner reads one out of it.
///
/// The GitHub Actions runner takes a line (stdout or stderr) as a command when it starts with `::`
/// after white space, or when it holds `##[` anywhere (the older syntax); GitLab's runner reads
/// section markers that need an escape character. So a `::` with only white space before it in the
/// text is shown as `\u{3a}:` (the text may be printed at the start of a line, or after a table's
/// padding), and `#` before `#[` as `\u{23}` wherever it is. A `::` inside a name (`ns::kernel`)
/// stays as it is: whatever precedes it on the line keeps the runner from reading a command.
pub fn terminal(s: &str) -> Cow<'_, str> {
    let chars: Vec<char> = s.chars().collect();
    let opens_command = |i: usize| match chars[i] {
        ':' => chars.get(i + 1) == Some(&':') && chars[..i].iter().all(|c| c.is_whitespace()),
        '#' => chars.get(i + 1) == Some(&'#') && chars.get(i + 2) == Some(&'['),
        _ => false,
    };
    let unsafe_at = |i: usize| chars[i].is_control() || is_hidden(chars[i]) || opens_command(i);
    if !(0..chars.len()).any(unsafe_at) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else if is_hidden(c) || opens_command(i) {
            push_code(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text of several lines for a terminal or a CI log (an error with its causes, a file's content):
/// each line made safe by [`terminal`], the line breaks kept.
pub fn terminal_lines(s: &str) -> String {
    s.split('\n').map(terminal).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_neutralises_markup_and_html() {
        assert_eq!(markdown("a|b*c_d`e"), "a\\|b\\*c\\_d\\`e");
        assert_eq!(markdown("<script>"), "\\<script\\>");
        assert_eq!(markdown("[x](y)"), "\\[x\\](y)");
        assert_eq!(markdown("one\ntwo\r"), "one two ");
        assert_eq!(markdown("$x$ and $$y$$"), "\\$x\\$ and \\$\\$y\\$\\$");
        // A backslash of the user's own cannot cancel the escape that follows it.
        assert_eq!(markdown("\\|"), "\\\\\\|");
    }

    #[test]
    fn markdown_pings_nobody_and_links_nowhere() {
        assert_eq!(markdown("@alice"), "@&#8203;alice");
        assert_eq!(markdown("cc @org/team"), "cc @&#8203;org/team");
        assert_eq!(markdown("fixes #12, !7"), "fixes \\#&#8203;12, \\!&#8203;7");
        assert_eq!(markdown("https://evil.example/x"), "https:&#8203;//evil.example/x");
        assert_eq!(markdown("see WWW.evil.example"), "see WWW&#8203;.evil.example");
        assert_eq!(markdown("a@b.example"), "a@&#8203;b.example");
        // What is not a mention or a link is left alone.
        assert_eq!(markdown("B=32, S=1.5 @ 2 GHz"), "B=32, S=1.5 @ 2 GHz");
    }

    #[test]
    fn every_sink_shows_hidden_characters() {
        let hostile = "copy\u{202E}1=N\u{200B}x";
        assert_eq!(markdown(hostile), "copy\\u{202e}1=N\\u{200b}x");
        assert_eq!(xml(hostile), "copy\\u{202e}1=N\\u{200b}x");
        assert_eq!(workflow_data(hostile), "copy\\u{202e}1=N\\u{200b}x");
        assert_eq!(terminal(hostile), "copy\\u{202e}1=N\\u{200b}x");
        for c in ['\u{2028}', '\u{2066}', '\u{FEFF}', '\u{E0041}', '\u{061C}'] {
            assert!(is_hidden(c), "{c:?}");
        }
        for c in ['a', 'é', '注', '🔴', '\u{FE0F}', ' '] {
            assert!(!is_hidden(c), "{c:?}");
        }
    }

    #[test]
    fn xml_replaces_what_it_cannot_carry() {
        assert_eq!(xml("a\u{1}b\u{FFFF}\tc\n"), "a\u{FFFD}b\u{FFFD}\tc\n");
        assert!(matches!(xml("a<b&c"), Cow::Borrowed(_)));
    }

    #[test]
    fn workflow_escapes_follow_the_runner() {
        assert_eq!(workflow_data("100% done\r\nnext"), "100%25 done%0D%0Anext");
        assert_eq!(workflow_data("\u{1b}[31m"), "\\u{1b}[31m");
        assert_eq!(workflow_property("flash_fwd/B=32,S=512: 5%"), "flash_fwd/B=32%2CS=512%3A 5%25");
    }

    #[test]
    fn terminal_text_cannot_break_lines_or_hold_a_workflow_command() {
        assert_eq!(terminal("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        assert!(matches!(terminal("flash_fwd/S=512"), Cow::Borrowed(_)));
        assert_eq!(terminal("::set-env name=X::1"), "\\u{3a}:set-env name=X::1");
        assert_eq!(terminal(":::"), "\\u{3a}::");
        assert!(matches!(terminal("ns::flash_fwd/S=512"), Cow::Borrowed(_)), "a C++ name is left alone");
        assert_eq!(terminal("x ##[add-mask]y"), "x \\u{23}#[add-mask]y");
        assert_eq!(terminal("###[z"), "#\\u{23}#[z");
        for hostile in
            ["::warning::x", " ::error::y", "\t::debug::z", "a ##[set-output name=a;]b", "::::", "#####[["]
        {
            let safe = terminal(hostile);
            assert!(!safe.trim_start().starts_with("::") && !safe.contains("##["), "{hostile} -> {safe}");
        }
        assert_eq!(terminal_lines("error: x\n  ::warning::y\r"), "error: x\n  \\u{3a}:warning::y\\r");
    }
}
