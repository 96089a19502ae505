//! The operator's stop: the first SIGINT, SIGTERM or SIGHUP cancels the run, a second
//! exits at once.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio_util::sync::CancellationToken;

use super::stderr::Stderr;

/// The exit code of a run cut short because its stdout was closed (`… --output jsonl |
/// head`): 128 + SIGPIPE, what a shell reports for a process the closed pipe killed.
pub const STDOUT_CLOSED: u8 = 141;

/// The operator's stop: the first SIGINT, SIGTERM or SIGHUP cancels the run (no new
/// invocation starts, the running ones are cancelled and their uploads aborted, the
/// report is still written); a second one exits at once.
pub struct Stop {
    /// The exit code of the first signal, 0 until one came.
    code: Arc<AtomicU8>,
}

impl Stop {
    pub fn listen(cancel: CancellationToken) -> std::io::Result<Stop> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let mut hangup = signal(SignalKind::hangup())?;
        let code = Arc::new(AtomicU8::new(0));
        let first = code.clone();
        tokio::spawn(async move {
            let mut next = async || {
                tokio::select! {
                    _ = interrupt.recv() => ("SIGINT", 130),
                    _ = terminate.recv() => ("SIGTERM", 143),
                    _ = hangup.recv() => ("SIGHUP", 129),
                }
            };
            let (name, code) = next().await;
            first.store(code, Ordering::SeqCst);
            cancel.cancel();
            let _ = writeln!(
                Stderr,
                "{name}: stopping: no new invocation starts, running ones are cancelled and their uploads aborted; the report follows (signal again to exit at once)"
            );
            let (name, code) = next().await;
            let _ = writeln!(Stderr, "{name} again: exiting at once, without a report");
            std::process::exit(i32::from(code));
        });
        Ok(Stop { code })
    }

    /// The exit code of the signal that stopped the run, if one did.
    pub fn code(&self) -> Option<u8> {
        Some(self.code.load(Ordering::SeqCst)).filter(|code| *code != 0)
    }
}
