//! Compiling a plugin (and adapting a wasip1 module) under a time budget, on a thread of
//! its own.
//!
//! Neither can be interrupted: past its budget its thread is abandoned and runs on
//! until wasmtime returns, a core busy all the while. In a long-lived process (a Lambda
//! environment loads plugin after plugin) abandoned compiles would pile up, so at most
//! one per core is alive in the process: a compile that would start beside that many
//! waits, within its own budget, for one of them to end, and is otherwise refused.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Why a compile gave no answer.
#[derive(Debug)]
pub(super) enum Unfinished {
    /// The budget ran out; the compile goes on, abandoned.
    TimedOut,
    /// As many abandoned compiles as cores were still running for the whole budget.
    Busy { abandoned: usize },
    /// No thread could be started.
    NoThread(std::io::Error),
}

/// The abandoned compiles of this process still running, and a signal when one ends.
struct Abandoned {
    count: Mutex<usize>,
    ended: Condvar,
}

static ABANDONED: Abandoned = Abandoned {
    count: Mutex::new(0),
    ended: Condvar::new(),
};

impl Abandoned {
    fn lock(&self) -> MutexGuard<'_, usize> {
        // The count is a plain integer, consistent whatever a panicking holder did.
        self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How many abandoned compiles may run at once: one per core.
fn abandoned_limit() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get())
}

/// Runs `work` (a compile, an adaptation) within `budget`: its answer, or why there is
/// none.
pub(super) fn within<T: Send + 'static>(
    budget: Duration,
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<Result<T, String>, Unfinished> {
    let limit = abandoned_limit();
    let (count, _) = ABANDONED
        .ended
        .wait_timeout_while(ABANDONED.lock(), budget, |count| *count >= limit)
        .unwrap_or_else(PoisonError::into_inner);
    if *count >= limit {
        return Err(Unfinished::Busy { abandoned: *count });
    }
    drop(count);

    let abandoned = Arc::new(AtomicBool::new(false));
    let (done, compiled) = sync_channel(1);
    std::thread::Builder::new()
        .name("xacct-compile".into())
        .spawn({
            let abandoned = abandoned.clone();
            move || {
                let result = catch_unwind(AssertUnwindSafe(work))
                    .unwrap_or_else(|_| Err("the compiler panicked".to_owned()));
                // Under the lock, so that the waiter either finds this result or has
                // counted this compile as abandoned, never neither.
                let mut count = ABANDONED.lock();
                // Nobody listens any more when the budget ran out.
                let _ = done.send(result);
                if abandoned.load(Ordering::Relaxed) {
                    *count -= 1;
                    ABANDONED.ended.notify_all();
                }
            }
        })
        .map_err(Unfinished::NoThread)?;
    match compiled.recv_timeout(budget) {
        Ok(result) => Ok(result),
        // The thread sends before it ends, even when the work panics.
        Err(RecvTimeoutError::Disconnected) => {
            Ok(Err("the compile thread ended without an answer".to_owned()))
        }
        Err(RecvTimeoutError::Timeout) => {
            let mut count = ABANDONED.lock();
            // It may have ended between the timeout and the lock.
            if let Ok(result) = compiled.try_recv() {
                return Ok(result);
            }
            abandoned.store(true, Ordering::Relaxed);
            *count += 1;
            Err(Unfinished::TimedOut)
        }
    }
}
