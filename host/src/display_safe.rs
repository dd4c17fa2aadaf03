//! Showing text that came from a plugin, a report or an image's programs on a terminal: control
//! characters (C0, DEL, C1) and the Unicode controls that reorder or hide text (bidirectional
//! overrides and isolates, zero-width marks) are written as visible escapes, so such text cannot
//! move the cursor, recolour the screen, or forge a line or a table row. JSON output is not
//! passed through here: it keeps the text exact, escaped by JSON's own rules.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether newlines stay as they are (multi-line output of a step) or are escaped too (a value
/// shown on one line: a name, a message, a table cell).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lines {
    /// `\n` (and `\t`) are kept; every other control is escaped.
    Keep,
    /// Every control, `\n` and `\t` included, is escaped.
    Escape,
}

/// `text` with every control character written as an escape (`\x1b`, `\u{202e}`).
pub fn escape_controls(text: &str, lines: Lines) -> Cow<'_, str> {
    let escaped =
        |c: char| is_hidden_control(c) && !(lines == Lines::Keep && matches!(c, '\n' | '\t'));
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !escaped(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// One line of untrusted text: every control escaped, newlines included.
pub fn one_line(text: &str) -> Cow<'_, str> {
    escape_controls(text, Lines::Escape)
}

/// Characters a terminal acts on instead of showing, or that change how the text around them
/// reads.
fn is_hidden_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}' // zero-width space/joiners, LRM, RLM
                | '\u{2028}'..='\u{2029}' // line and paragraph separators
                | '\u{202a}'..='\u{202e}' // bidirectional embeddings and overrides
                | '\u{2066}'..='\u{2069}' // bidirectional isolates
                | '\u{feff}' // zero-width no-break space
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_escapes() {
        assert_eq!(one_line("plain text ✓"), "plain text ✓");
        assert!(matches!(one_line("plain"), Cow::Borrowed(_)));
        assert_eq!(one_line("red \x1b[31mX\x1b[0m"), "red \\x1b[31mX\\x1b[0m");
        assert_eq!(one_line("a\nforged row"), "a\\x0aforged row");
        assert_eq!(one_line("csi \u{9b}2J"), "csi \\u{9b}2J");
        assert_eq!(one_line("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(one_line("bell\x07 del\x7f"), "bell\\x07 del\\x7f");
        assert_eq!(
            escape_controls("line one\n\tline two\r\x1b[2K", Lines::Keep),
            "line one\n\tline two\\x0d\\x1b[2K"
        );
    }
}
