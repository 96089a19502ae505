//! A plugin's stdout and stderr, captured for the report and logged line by line as the
//! plugin prints them, under the invocation's span (plugin and account).
//!
//! Capture never fails the guest: past the cap, bytes are dropped and the capture is
//! marked truncated. A guest whose `println!` failed would panic, and a log line is not
//! worth an account's result.
//!
//! Lines are logged as they are completed, so both streams of an invocation come out in
//! the order the plugin wrote them, while it runs; [`CapturedOutput::finish`] logs a
//! last line that never got its newline. A line beginning `error:` or `warn:` (or
//! `warning:`, any case) is logged at that level, any other at `info`. The text is the
//! plugin's: logged [`inert`], each line is one event on one line.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::async_trait;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::report::text::inert;

/// How much of each stream is kept per invocation.
const CAPTURE_BYTES: usize = 1 << 20;

/// One captured stream; clones share the buffer.
#[derive(Clone)]
pub struct CapturedOutput {
    inner: Arc<Mutex<Captured>>,
    /// `stdout` or `stderr`, the `stream` field of its log events.
    stream: &'static str,
}

#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    truncated: bool,
    /// Where the line not yet logged starts in `bytes`.
    line_start: usize,
}

impl CapturedOutput {
    pub fn new(stream: &'static str) -> CapturedOutput {
        CapturedOutput {
            inner: Arc::default(),
            stream,
        }
    }

    fn append(&self, bytes: &[u8]) {
        let mut captured = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let room = CAPTURE_BYTES.saturating_sub(captured.bytes.len());
        if bytes.len() > room && !captured.truncated {
            captured.truncated = true;
            tracing::warn!(
                stream = self.stream,
                "the plugin printed more than 1 MiB: the rest is neither logged nor kept"
            );
        }
        captured
            .bytes
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        // Only what was kept is logged: the log is bounded like the capture.
        while let Some(end) = captured.bytes[captured.line_start..]
            .iter()
            .position(|&b| b == b'\n')
        {
            let start = captured.line_start;
            log_line(self.stream, &captured.bytes[start..start + end]);
            captured.line_start = start + end + 1;
        }
    }

    /// Logs the last line if the plugin ended it without a newline.
    pub fn finish(&self) {
        let mut captured = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let start = captured.line_start;
        log_line(self.stream, &captured.bytes[start..]);
        captured.line_start = captured.bytes.len();
    }

    /// What was captured, as text (invalid UTF-8 replaced), with a note if truncated.
    pub fn text(&self) -> String {
        let captured = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::from_utf8_lossy(&captured.bytes).into_owned();
        if captured.truncated {
            text.push_str("\n[xacct: output truncated at 1 MiB]\n");
        }
        text
    }
}

/// Logs one printed line (without its newline) at the level it asks for.
fn log_line(stream: &'static str, line: &[u8]) {
    let text = String::from_utf8_lossy(line);
    let text = text.strip_suffix('\r').unwrap_or(&text);
    if text.is_empty() {
        return;
    }
    let text = inert(text);
    match Level::of(&text) {
        Level::Error => tracing::error!(stream, "{text}"),
        Level::Warn => tracing::warn!(stream, "{text}"),
        Level::Info => tracing::info!(stream, "{text}"),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Level {
    Error,
    Warn,
    Info,
}

impl Level {
    /// The level a line's prefix asks for.
    fn of(line: &str) -> Level {
        let head = line.trim_start();
        let starts = |prefix: &str| {
            head.get(..prefix.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
        };
        if starts("error:") {
            Level::Error
        } else if starts("warn:") || starts("warning:") {
            Level::Warn
        } else {
            Level::Info
        }
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 << 10)
    }
}

#[async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_set_the_level() {
        assert_eq!(Level::of("error: disk full"), Level::Error);
        assert_eq!(Level::of("  ERROR: shouting"), Level::Error);
        assert_eq!(Level::of("warn: slow"), Level::Warn);
        assert_eq!(Level::of("Warning: slower"), Level::Warn);
        assert_eq!(Level::of("errors: 0"), Level::Info);
        assert_eq!(Level::of("é"), Level::Info);
    }

    #[test]
    fn complete_lines_are_taken_as_they_come_and_the_rest_at_the_end() {
        let output = CapturedOutput::new("stdout");
        output.append(b"one\ntw");
        assert_eq!(output.inner.lock().unwrap().line_start, 4);
        output.append(b"o\r\nthree");
        assert_eq!(output.inner.lock().unwrap().line_start, 9);
        output.finish();
        assert_eq!(output.inner.lock().unwrap().line_start, 14);
        assert_eq!(output.text(), "one\ntwo\r\nthree");
    }
}
