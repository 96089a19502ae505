//! The operator's terminal: how wide it is, whether it takes colour, and the one way to
//! write to stderr while a progress bar is drawn there.

use std::io::{self, Write};
use std::sync::Mutex;

use indicatif::ProgressBar;

/// `--color`: whether the text outputs are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether a stream that is (or is not) a terminal gets colour.
    pub fn colour(self, terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            // https://no-color.org: set and not empty.
            ColorChoice::Auto => {
                terminal && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
            }
        }
    }
}

/// The width to fit stdout's text to: the terminal's, else an exported `COLUMNS`, else
/// none (a file or a pipe: lines are not wrapped).
pub fn stdout_width() -> Option<usize> {
    terminal_size::terminal_size_of(io::stdout())
        .map(|(width, _)| usize::from(width.0))
        .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
        .filter(|width| *width > 0)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_follows_the_choice_and_the_terminal() {
        assert!(ColorChoice::Always.colour(false));
        assert!(!ColorChoice::Never.colour(true));
        assert!(!ColorChoice::Auto.colour(false));
    }
}
