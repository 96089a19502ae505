//! Untrusted text made inert for a terminal and for line-oriented logs.
//!
//! A plugin chooses its error message, its output and what it prints; so does whoever can
//! name a file in the plugin directory. Written raw, that text could drive the operator's
//! terminal (set the clipboard with OSC 52, clear the screen, retitle the window),
//! overwrite a log line's prefix with `\r`, or forge whole log lines and table rows with
//! `\n`. Every place that prints such text for people goes through [`inert`]; the JSON
//! outputs need not, as JSON escapes control characters itself.

use std::borrow::Cow;

/// `text` with every control character (C0, DEL and C1: Unicode's `Cc`) written as its
/// Rust escape (`\u{1b}`, `\r`, `\n`, `\t`, `\u{9b}`), so that it prints as itself, on one
/// line; every other character, printable Unicode included, is kept as it is.
///
/// Not a crate: `strip-ansi-escapes`, `anstream` and `console` remove escape sequences
/// (hiding that there were any) and keep CR, LF and TAB; tracing-subscriber's own guard
/// is private, covers only the message and also keeps CR, LF and TAB; `str::escape_debug`
/// escapes quotes and backslashes too, which would garble JSON shown in a table.
pub fn inert(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_debug());
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No control character survives: nothing for a terminal to act on, nothing that ends
    /// or rewinds a line.
    fn assert_inert(text: &str) {
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }

    #[test]
    fn osc_52_cannot_reach_the_clipboard() {
        let escaped = inert("\x1b]52;c;cm0gLXJmIH4=\x07");
        assert_eq!(escaped, r"\u{1b}]52;c;cm0gLXJmIH4=\u{7}");
        assert_inert(&escaped);
    }

    #[test]
    fn csi_cannot_clear_the_screen_or_move_the_cursor() {
        let escaped = inert("\x1b[2J\x1b[H ALL OK");
        assert_eq!(escaped, r"\u{1b}[2J\u{1b}[H ALL OK");
        assert_inert(&escaped);
    }

    #[test]
    fn cr_and_lf_cannot_rewrite_or_forge_a_line() {
        let escaped = inert("done\rINFO fake\nWARN forged\tfield");
        assert_eq!(escaped, r"done\rINFO fake\nWARN forged\tfield");
        assert_inert(&escaped);
    }

    #[test]
    fn c1_controls_and_del_are_escaped() {
        // U+009B is CSI in one character; some terminals act on it even in UTF-8.
        let escaped = inert("\u{9b}2J\u{9d}0;title\u{9c}\x7f\0");
        assert_eq!(escaped, r"\u{9b}2J\u{9d}0;title\u{9c}\u{7f}\0");
        assert_inert(&escaped);
    }

    #[test]
    fn printable_text_is_borrowed_untouched() {
        for text in [
            "",
            "plain",
            "Grüße, 日本語, emoji 🦀, \"quoted\" \\path",
            "e\u{301} (combining)",
            "\u{a0}nbsp",
        ] {
            assert!(
                matches!(inert(text), Cow::Borrowed(t) if t == text),
                "{text}"
            );
        }
    }
}
