//! Calls that outlive the guest's wait for them.
//!
//! A backend call cannot be taken back once it is sent: a copy, a delete or a put that
//! the guest stops waiting for (its time limit struck, it trapped, the run was
//! cancelled) may still land. So every call runs as a task of the invocation's
//! [`InFlight`] set, which records its real outcome in the audit log when it ends, and
//! the invocation is over only once every task has ended: the report never says
//! `time-limit` while a write it started lands unrecorded.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The backend tasks of one invocation.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Mutex<Vec<JoinHandle<()>>>>);

impl InFlight {
    /// Runs `call` to its end whatever happens to the receiver.
    pub fn spawn<F>(&self, call: F) -> oneshot::Receiver<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (result_tx, result_rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            let _ = result_tx.send(call.await);
        });
        let mut tasks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Ended tasks need no waiting for; dropping their handles keeps the set small
        // however many calls an invocation makes.
        tasks.retain(|task| !task.is_finished());
        tasks.push(task);
        result_rx
    }

    /// Waits (at most `grace`) until every call has ended, committed or cleaned up.
    pub async fn settle(&self, grace: Duration) {
        let tasks = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        if tasks.is_empty() {
            return;
        }
        if tokio::time::timeout(grace, futures::future::join_all(tasks))
            .await
            .is_err()
        {
            tracing::warn!("a call of the invocation was still running when it ended");
        }
    }
}
