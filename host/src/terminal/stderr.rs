//! The one way to write to stderr while a progress bar is drawn there.

use std::io::{self, Write};
use std::sync::Mutex;

use indicatif::ProgressBar;

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
