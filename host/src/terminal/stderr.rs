//! The one way to write to stderr while a progress bar is drawn there.

use std::io::{self, Write};
use std::sync::Mutex;

use indicatif::ProgressBar;
use xacct_core::report::text::inert;

/// The progress bar on stderr, while there is one.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Draws `bar` until [`hide_bar`]: from now on [`Stderr`] writes above it.
pub fn show_bar(bar: ProgressBar) {
    *BAR.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
}

/// Removes the progress bar, leaving nothing of it on the screen.
pub fn hide_bar() {
    if let Some(bar) = BAR.lock().unwrap_or_else(|e| e.into_inner()).take() {
        bar.finish_and_clear();
    }
}

/// Stderr for logs and messages: with a progress bar drawn, the bar is cleared, the text
/// written, and the bar drawn again below it, so no stale copy of the bar stays in the
/// scrollback. Write errors are dropped: a closed stderr must not end the run.
#[derive(Clone, Copy, Default)]
pub struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let bar = BAR.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let write = || {
            let _ = io::stderr().lock().write_all(buf);
        };
        match bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = Stderr;

    fn make_writer(&'a self) -> Stderr {
        Stderr
    }
}

/// A top-level error message as the operator reads it after `error: `: a message of
/// several lines printed as lines, each made inert (no control character reaches the
/// terminal), every line after the first indented under it, so that no line of it,
/// whatever a file or an Organizations name put there, can pass for a line of its own
/// (another `error:`, a prompt, a table row).
pub fn error_lines(message: &str) -> String {
    message
        .trim_end_matches('\n')
        .split('\n')
        .map(inert)
        .collect::<Vec<_>>()
        .join("\n  ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_of_several_lines_prints_as_indented_lines_each_inert() {
        assert_eq!(error_lines("one line"), "one line");
        assert_eq!(
            error_lines("refused: 2 reports\nshard 1: a.json\nshard 2: b.json\n"),
            "refused: 2 reports\n  shard 1: a.json\n  shard 2: b.json"
        );
        let hostile = error_lines("id \u{1b}]0;owned\u{7}\r\nerror: forged\u{9b}31m");
        assert_eq!(
            hostile,
            "id \\u{1b}]0;owned\\u{7}\\r\n  error: forged\\u{9b}31m"
        );
        for line in hostile.lines() {
            assert!(!line.chars().any(char::is_control), "{line:?}");
        }
        assert!(hostile.lines().skip(1).all(|line| line.starts_with("  ")));
    }
}
