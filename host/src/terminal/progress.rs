//! A run's progress on the terminal: a bar on stderr when it is a terminal, and the
//! entries as JSON lines on stdout as they finish with `--output jsonl`.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;
use xacct_core::pipeline::Progress;
use xacct_core::report::Entry;

use super::stderr::show_bar;

/// The progress of a run on the terminal: a bar on stderr when it is a terminal, and the
/// entries as JSON lines on stdout as they finish with `--output jsonl`.
pub struct RunProgress {
    bar: Option<ProgressBar>,
    jsonl: bool,
    /// Ends the run when no one reads its output any more.
    cancel: CancellationToken,
    stdout_closed: AtomicBool,
}

impl RunProgress {
    /// With `jsonl`, each entry goes to stdout as it finishes; a reader that leaves
    /// cancels the run.
    pub fn new(jsonl: bool, cancel: CancellationToken) -> RunProgress {
        let bar = std::io::stderr().is_terminal().then(|| {
            // `wide_bar` and `wide_msg` shrink to the terminal: a line longer than the
            // terminal would wrap, and each redraw would leave a stale line behind.
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{wide_bar} {pos}/{len} accounts, {elapsed} {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            show_bar(bar.clone());
            bar
        });
        RunProgress {
            bar,
            jsonl,
            cancel,
            stdout_closed: AtomicBool::new(false),
        }
    }

    /// Whether the reader of stdout left before the run's end.
    pub fn stdout_closed(&self) -> bool {
        self.stdout_closed.load(Ordering::SeqCst)
    }
}

impl Progress for RunProgress {
    fn started(&self, invocations: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(invocations as u64);
        }
    }

    fn finished(&self, entry: &Entry) {
        if self.jsonl && !self.stdout_closed() {
            let line = match serde_json::to_string(entry) {
                Ok(line) => line,
                Err(err) => format!("{{\"error\": {:?}}}", err.to_string()),
            };
            let write = || {
                let mut stdout = std::io::stdout().lock();
                writeln!(stdout, "{line}").and_then(|()| stdout.flush())
            };
            let written = match &self.bar {
                Some(bar) => bar.suspend(write),
                None => write(),
            };
            // The reader is gone (`| head -1`): the rest of the run would go unread, so
            // it stops as it would for Ctrl-C, quietly.
            if written.is_err() {
                self.stdout_closed.store(true, Ordering::SeqCst);
                self.cancel.cancel();
            }
        }
        if let Some(bar) = &self.bar {
            if entry.error.is_some() {
                bar.set_message(format!("(last failure: {})", entry.account_id));
            }
            bar.inc(1);
        }
    }
}
