//! Per-invocation budgets: S3 calls, bytes read, bytes written, handles open at once,
//! and the host memory the invocation's streams and uploads hold.
//!
//! Spending past a budget records the reason and ends the invocation: the call that
//! overspent fails (a trap, or a stream error for bytes), the sandbox's epoch check traps
//! the guest at its next tick, and the report says `limit-exceeded` — even if the guest
//! swallowed the error and returned normally.
//!
//! Host memory is the one resource a plugin spends outside its own linear memory: every
//! open object stream and every unfinished upload buffers bytes on the host. Those bytes
//! are held through [`Lease`]s, released when the bytes leave the host, so that however
//! many streams and uploads a plugin opens, what the host holds for it stays within
//! [`Limits::host_buffer`]. How many streams and uploads may be open at once is bounded
//! too ([`Slot`]); reaching that bound is a typed error the plugin can recover from.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use serde::Serialize;
use tokio::io::{AsyncRead, ReadBuf};

use crate::bindings::S3Error;
use crate::config::Limits;

/// The trap that ends an invocation whose budget is spent.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BudgetExhausted(pub String);

/// What an invocation used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// S3 calls that reached the backend.
    pub s3_calls: u64,
    /// Calls the grant refused (they never reached the backend).
    pub denied_calls: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

/// An invocation's budgets and what it has spent.
pub struct Budget {
    limits: Limits,
    calls: AtomicU64,
    denied: AtomicU64,
    read: AtomicU64,
    written: AtomicU64,
    spent: AtomicBool,
    reason: Mutex<Option<String>>,
    /// Host bytes held by leases now.
    buffered: AtomicU64,
    streams: AtomicU64,
    uploads: AtomicU64,
}

/// Host memory held for the invocation; given back when dropped.
#[must_use]
pub struct Lease {
    budget: Arc<Budget>,
    bytes: u64,
}

impl Lease {
    /// Takes over what `other` holds.
    pub fn absorb(&mut self, mut other: Lease) {
        self.bytes += std::mem::take(&mut other.bytes);
    }

    /// Splits off (at most) `bytes` of this lease, to give back separately.
    pub fn split(&mut self, bytes: u64) -> Lease {
        let bytes = bytes.min(self.bytes);
        self.bytes -= bytes;
        Lease {
            budget: self.budget.clone(),
            bytes,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.budget.buffered.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// What a slot is for.
#[derive(Clone, Copy)]
pub enum SlotKind {
    /// An open object stream.
    Stream,
    /// An unfinished upload.
    Upload,
}

/// One of the invocation's open streams or unfinished uploads; the slot is free again
/// when this is dropped.
#[must_use]
pub struct Slot {
    budget: Arc<Budget>,
    kind: SlotKind,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.budget
            .counter(self.kind)
            .fetch_sub(1, Ordering::AcqRel);
    }
}

impl Budget {
    pub fn new(limits: Limits) -> Arc<Budget> {
        Arc::new(Budget {
            limits,
            calls: AtomicU64::new(0),
            denied: AtomicU64::new(0),
            read: AtomicU64::new(0),
            written: AtomicU64::new(0),
            spent: AtomicBool::new(false),
            reason: Mutex::new(None),
            buffered: AtomicU64::new(0),
            streams: AtomicU64::new(0),
            uploads: AtomicU64::new(0),
        })
    }

    fn counter(&self, kind: SlotKind) -> &AtomicU64 {
        match kind {
            SlotKind::Stream => &self.streams,
            SlotKind::Upload => &self.uploads,
        }
    }

    /// Holds one more open stream or unfinished upload, if the limit allows. The refusal
    /// is the plugin's to handle: closing one makes room for the next.
    pub fn slot(self: &Arc<Self>, kind: SlotKind) -> Result<Slot, S3Error> {
        let (limit, what, key) = match kind {
            SlotKind::Stream => (self.limits.streams, "object streams are", "streams"),
            SlotKind::Upload => (self.limits.uploads, "uploads are", "uploads"),
        };
        let counter = self.counter(kind);
        if counter.fetch_add(1, Ordering::AcqRel) >= limit {
            counter.fetch_sub(1, Ordering::AcqRel);
            return Err(S3Error::LimitExceeded(format!(
                "{limit} {what} open already (limits.{key}); drop or finish one first"
            )));
        }
        Ok(Slot {
            budget: self.clone(),
            kind,
        })
    }

    /// Holds `bytes` of host memory, if the invocation's host buffer allows them.
    fn try_lease(self: &Arc<Self>, bytes: u64) -> Option<Lease> {
        let limit = self.limits.host_buffer();
        let held = self.buffered.fetch_add(bytes, Ordering::AcqRel) + bytes;
        if held > limit {
            self.buffered.fetch_sub(bytes, Ordering::AcqRel);
            return None;
        }
        Some(Lease {
            budget: self.clone(),
            bytes,
        })
    }

    fn buffer_reason(&self) -> String {
        format!(
            "host buffer of {} MiB exhausted by open streams and unfinished uploads \
             (limits.host_buffer_mib): finish uploads and drop streams before opening more",
            self.limits.host_buffer() >> 20
        )
    }

    /// Memory for a stream about to open: a typed error the plugin can recover from by
    /// dropping other streams.
    pub fn lease_stream(self: &Arc<Self>, bytes: u64) -> Result<Lease, S3Error> {
        self.try_lease(bytes)
            .ok_or_else(|| S3Error::LimitExceeded(self.buffer_reason()))
    }

    /// Memory for bytes the guest is writing: past the budget the invocation ends, since
    /// a write has no way to hand back a typed error.
    pub fn lease_written(self: &Arc<Self>, bytes: u64) -> Result<Lease, BudgetExhausted> {
        self.try_lease(bytes)
            .ok_or_else(|| self.overrun(self.buffer_reason()))
    }

    /// An empty lease, to absorb others into.
    pub fn empty_lease(self: &Arc<Self>) -> Lease {
        Lease {
            budget: self.clone(),
            bytes: 0,
        }
    }

    /// Records the first budget overrun.
    fn overrun(&self, reason: String) -> BudgetExhausted {
        let mut first = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        let reason = first.get_or_insert(reason).clone();
        self.spent.store(true, Ordering::Release);
        BudgetExhausted(reason)
    }

    /// Cheap enough for every epoch tick.
    pub fn is_spent(&self) -> bool {
        self.spent.load(Ordering::Acquire)
    }

    /// Why the invocation overran, if it did.
    pub fn overrun_reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// One more S3 call is about to reach the backend. Once any budget is overspent the
    /// invocation is ending, and no call reaches the backend any more.
    pub fn spend_call(&self) -> Result<(), BudgetExhausted> {
        if self.is_spent() {
            return Err(BudgetExhausted(self.overrun_reason().unwrap_or_default()));
        }
        let calls = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if calls > self.limits.s3_calls {
            return Err(self.overrun(format!(
                "S3 call budget of {} calls exhausted",
                self.limits.s3_calls
            )));
        }
        Ok(())
    }

    /// One more call was refused by the grant. Refusals are bounded like calls: each
    /// costs an audit line.
    pub fn note_denied(&self) -> Result<(), BudgetExhausted> {
        let denied = self.denied.fetch_add(1, Ordering::Relaxed) + 1;
        if denied > self.limits.s3_calls {
            return Err(self.overrun(format!(
                "refused-call budget of {} calls exhausted",
                self.limits.s3_calls
            )));
        }
        Ok(())
    }

    fn spend_bytes(
        &self,
        counter: &AtomicU64,
        bytes: usize,
        limit: u64,
        what: &str,
    ) -> Result<(), BudgetExhausted> {
        let total = counter.fetch_add(bytes as u64, Ordering::Relaxed) + bytes as u64;
        if total > limit {
            return Err(self.overrun(format!("{what} budget of {limit} bytes exhausted")));
        }
        Ok(())
    }

    pub fn spend_written(&self, bytes: usize) -> Result<(), BudgetExhausted> {
        self.spend_bytes(&self.written, bytes, self.limits.write_bytes, "write")
    }

    /// A copy moves `bytes` out of its source and into its target without passing
    /// through the guest: both budgets are spent up front, before the copy runs.
    pub fn spend_copy(&self, bytes: u64) -> Result<(), BudgetExhausted> {
        let bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
        self.spend_bytes(&self.read, bytes, self.limits.read_bytes, "read")?;
        self.spend_written(bytes)
    }

    /// A handle is about to open while `open` are open already.
    pub fn admit_handle(&self, open: usize) -> Result<(), BudgetExhausted> {
        if open as u64 >= self.limits.handles {
            return Err(self.overrun(format!(
                "handle budget of {} open handles exhausted",
                self.limits.handles
            )));
        }
        Ok(())
    }

    pub fn usage(&self) -> Usage {
        Usage {
            s3_calls: self.calls.load(Ordering::Relaxed),
            denied_calls: self.denied.load(Ordering::Relaxed),
            bytes_read: self.read.load(Ordering::Relaxed),
            bytes_written: self.written.load(Ordering::Relaxed),
        }
    }
}

/// A body error the host wrote for the guest: passed on as it is, where every other
/// error is replaced by a generic one.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GuestReadable(pub String);

/// An object body as the guest reads it: counted against the read budget, its errors
/// written by the host, holding its slot and host memory until the guest drops it.
pub struct MeteredReader<R> {
    inner: R,
    budget: Arc<Budget>,
    _held: Option<(Slot, Lease)>,
}

impl<R> MeteredReader<R> {
    pub fn new(inner: R, budget: Arc<Budget>) -> Self {
        MeteredReader {
            inner,
            budget,
            _held: None,
        }
    }

    /// Keeps the stream's slot and buffer lease for as long as the stream lives.
    pub fn holding(mut self, slot: Slot, lease: Lease) -> Self {
        self._held = Some((slot, lease));
        self
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for MeteredReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        // A backend's own error text (an SDK's, a file system's) never reaches the guest.
        let polled = match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Err(err)) => {
                let message = match err
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<GuestReadable>())
                {
                    Some(GuestReadable(message)) => message.clone(),
                    None => "reading the object's body failed".to_owned(),
                };
                return Poll::Ready(Err(io::Error::new(err.kind(), message)));
            }
            polled => polled,
        };
        if let Poll::Ready(Ok(())) = polled {
            let read = buf.filled().len() - before;
            let budget = &self.budget;
            if let Err(spent) =
                budget.spend_bytes(&budget.read, read, budget.limits.read_bytes, "read")
            {
                // The bytes past the budget are not handed over.
                buf.set_filled(before);
                return Poll::Ready(Err(io::Error::other(spent.0)));
            }
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            s3_calls: 2,
            handles: 1,
            write_bytes: 10,
            ..Limits::default()
        }
    }

    #[test]
    fn overspending_records_the_first_reason() {
        let budget = Budget::new(limits());
        budget.spend_call().unwrap();
        budget.spend_call().unwrap();
        assert!(!budget.is_spent());
        let err = budget.spend_call().unwrap_err();
        assert_eq!(err.0, "S3 call budget of 2 calls exhausted");
        assert!(budget.is_spent());
        budget.spend_written(11).unwrap_err();
        assert_eq!(
            budget.overrun_reason().unwrap(),
            "S3 call budget of 2 calls exhausted"
        );
        assert_eq!(budget.usage().s3_calls, 3);
    }

    #[test]
    fn handles_are_admitted_up_to_the_budget() {
        let budget = Budget::new(limits());
        budget.admit_handle(0).unwrap();
        assert!(budget.admit_handle(1).is_err());
    }

    #[tokio::test]
    async fn a_body_error_reaches_the_guest_in_host_words() {
        use tokio::io::AsyncReadExt;
        struct Failing;
        impl AsyncRead for Failing {
            fn poll_read(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                _: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                Poll::Ready(Err(io::Error::other(
                    "hyper: connection reset; x-amz-id-2: SECRET-ISH",
                )))
            }
        }
        let mut reader = MeteredReader::new(Failing, Budget::new(Limits::default()));
        let err = reader.read_to_end(&mut Vec::new()).await.unwrap_err();
        assert_eq!(err.to_string(), "reading the object's body failed");
    }

    #[test]
    fn leases_hold_host_memory_until_dropped() {
        let budget = Budget::new(Limits {
            host_buffer_bytes: Some(10),
            ..Limits::default()
        });
        let mut held = budget.lease_written(6).unwrap();
        assert!(budget.lease_stream(5).is_err(), "6 + 5 > 10");
        let part = held.split(4);
        drop(part);
        let other = budget.lease_stream(8).unwrap();
        assert!(budget.lease_written(1).is_err());
        assert!(
            budget.is_spent(),
            "a write past the host buffer ends the invocation"
        );
        drop((held, other));
        assert_eq!(budget.buffered.load(Ordering::Acquire), 0);
    }

    #[test]
    fn slots_are_bounded_and_freed() {
        let budget = Budget::new(Limits {
            streams: 2,
            ..Limits::default()
        });
        let first = budget.slot(SlotKind::Stream).unwrap();
        let _second = budget.slot(SlotKind::Stream).unwrap();
        assert!(matches!(
            budget.slot(SlotKind::Stream),
            Err(S3Error::LimitExceeded(_))
        ));
        assert!(
            !budget.is_spent(),
            "a full slot table is the plugin's to handle"
        );
        drop(first);
        let _again = budget.slot(SlotKind::Stream).unwrap();
        let _upload = budget.slot(SlotKind::Upload).unwrap();
    }

    #[test]
    fn refusals_have_a_budget_too() {
        let budget = Budget::new(limits());
        budget.note_denied().unwrap();
        budget.note_denied().unwrap();
        assert_eq!(
            budget.note_denied().unwrap_err().0,
            "refused-call budget of 2 calls exhausted"
        );
    }

    #[tokio::test]
    async fn reads_past_the_budget_fail() {
        use tokio::io::AsyncReadExt;
        let budget = Budget::new(Limits {
            read_bytes: 5,
            ..Limits::default()
        });
        let mut reader = MeteredReader::new(&b"0123456789"[..], budget.clone());
        let mut out = Vec::new();
        assert!(reader.read_to_end(&mut out).await.is_err());
        assert_eq!(
            budget.overrun_reason().unwrap(),
            "read budget of 5 bytes exhausted"
        );
    }
}
