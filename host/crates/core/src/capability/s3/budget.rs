//! The S3 capability's budgets: object bytes read and written, and the host memory the
//! invocation's streams and uploads hold. An overrun is recorded in the invocation's
//! [`Budget`], which ends the invocation.
//!
//! Host memory is the one resource a plugin spends outside its own linear memory: every
//! open object stream and every unfinished upload buffers bytes on the host. Those bytes
//! are held through [`Lease`]s, released when the bytes leave the host, so that however
//! many streams and uploads a plugin opens, what the host holds for it stays within
//! [`Limits::host_buffer`](crate::config::limits::Limits::host_buffer). How many streams
//! and uploads may be open at once is bounded too ([`Slot`]); reaching that bound is a
//! typed error the plugin can recover from.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use crate::bindings::S3Error;
use crate::capability::budget::{Budget, BudgetExhausted};
use crate::config::limits::BudgetLimits;

/// An invocation's S3 budgets and what it has spent of them.
pub struct S3Budget {
    invocation: Arc<Budget>,
    limits: BudgetLimits,
    host_buffer: u64,
    read: AtomicU64,
    written: AtomicU64,
    /// Host bytes held by leases now.
    buffered: AtomicU64,
    streams: AtomicU64,
    uploads: AtomicU64,
}

/// Host memory held for the invocation; given back when dropped.
#[must_use]
pub struct Lease {
    budget: Arc<S3Budget>,
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
    budget: Arc<S3Budget>,
    kind: SlotKind,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.budget
            .counter(self.kind)
            .fetch_sub(1, Ordering::AcqRel);
    }
}

impl S3Budget {
    /// The S3 budgets of `limits`, holding at most `host_buffer` bytes of host memory;
    /// overruns end `invocation`.
    pub fn new(invocation: Arc<Budget>, limits: BudgetLimits, host_buffer: u64) -> Arc<S3Budget> {
        Arc::new(S3Budget {
            invocation,
            limits,
            host_buffer,
            read: AtomicU64::new(0),
            written: AtomicU64::new(0),
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
        let held = self.buffered.fetch_add(bytes, Ordering::AcqRel) + bytes;
        if held > self.host_buffer {
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
            self.host_buffer >> 20
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
            .ok_or_else(|| self.invocation.overrun(self.buffer_reason()))
    }

    /// An empty lease, to absorb others into.
    pub fn empty_lease(self: &Arc<Self>) -> Lease {
        Lease {
            budget: self.clone(),
            bytes: 0,
        }
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
            return Err(self
                .invocation
                .overrun(format!("{what} budget of {limit} bytes exhausted")));
        }
        Ok(())
    }

    fn spend_read(&self, bytes: usize) -> Result<(), BudgetExhausted> {
        self.spend_bytes(&self.read, bytes, self.limits.read_bytes, "read")
    }

    pub fn spend_written(&self, bytes: usize) -> Result<(), BudgetExhausted> {
        self.spend_bytes(&self.written, bytes, self.limits.write_bytes, "write")
    }

    /// A copy moves `bytes` out of its source and into its target without passing
    /// through the guest: both budgets are spent up front, before the copy runs.
    pub fn spend_copy(&self, bytes: u64) -> Result<(), BudgetExhausted> {
        let bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
        self.spend_read(bytes)?;
        self.spend_written(bytes)
    }

    /// Object bytes read and written so far.
    pub fn transferred(&self) -> (u64, u64) {
        (
            self.read.load(Ordering::Relaxed),
            self.written.load(Ordering::Relaxed),
        )
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
    budget: Arc<S3Budget>,
    _held: Option<(Slot, Lease)>,
}

impl<R> MeteredReader<R> {
    pub fn new(inner: R, budget: Arc<S3Budget>) -> Self {
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
            if let Err(spent) = self.budget.spend_read(read) {
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

    /// The S3 budgets of `limits` with a host buffer of `host_buffer` bytes, and the
    /// invocation's budget they record overruns in.
    fn budgets(limits: BudgetLimits, host_buffer: u64) -> (Arc<Budget>, Arc<S3Budget>) {
        let invocation = Arc::new(Budget::new(&limits));
        let s3 = S3Budget::new(invocation.clone(), limits, host_buffer);
        (invocation, s3)
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
        let (_, s3) = budgets(BudgetLimits::default(), 16 << 20);
        let mut reader = MeteredReader::new(Failing, s3);
        let err = reader.read_to_end(&mut Vec::new()).await.unwrap_err();
        assert_eq!(err.to_string(), "reading the object's body failed");
    }

    #[test]
    fn leases_hold_host_memory_until_dropped() {
        let (invocation, budget) = budgets(BudgetLimits::default(), 10);
        let mut held = budget.lease_written(6).unwrap();
        assert!(budget.lease_stream(5).is_err(), "6 + 5 > 10");
        let part = held.split(4);
        drop(part);
        let other = budget.lease_stream(8).unwrap();
        assert!(budget.lease_written(1).is_err());
        assert!(
            invocation.is_spent(),
            "a write past the host buffer ends the invocation"
        );
        drop((held, other));
        assert_eq!(budget.buffered.load(Ordering::Acquire), 0);
    }

    #[test]
    fn slots_are_bounded_and_freed() {
        let limits = BudgetLimits {
            streams: 2,
            ..BudgetLimits::default()
        };
        let (invocation, budget) = budgets(limits, 16 << 20);
        let first = budget.slot(SlotKind::Stream).unwrap();
        let _second = budget.slot(SlotKind::Stream).unwrap();
        assert!(matches!(
            budget.slot(SlotKind::Stream),
            Err(S3Error::LimitExceeded(_))
        ));
        assert!(
            !invocation.is_spent(),
            "a full slot table is the plugin's to handle"
        );
        drop(first);
        let _again = budget.slot(SlotKind::Stream).unwrap();
        let _upload = budget.slot(SlotKind::Upload).unwrap();
    }

    #[tokio::test]
    async fn reads_past_the_budget_fail() {
        use tokio::io::AsyncReadExt;
        let limits = BudgetLimits {
            read_bytes: 5,
            ..BudgetLimits::default()
        };
        let (invocation, budget) = budgets(limits, 16 << 20);
        let mut reader = MeteredReader::new(&b"0123456789"[..], budget);
        let mut out = Vec::new();
        assert!(reader.read_to_end(&mut out).await.is_err());
        assert_eq!(
            invocation.overrun_reason().unwrap(),
            "read budget of 5 bytes exhausted"
        );
    }

    #[test]
    fn a_write_past_the_budget_ends_the_invocation() {
        let limits = BudgetLimits {
            write_bytes: 10,
            ..BudgetLimits::default()
        };
        let (invocation, budget) = budgets(limits, 16 << 20);
        budget.spend_written(10).unwrap();
        assert_eq!(
            budget.spend_written(1).unwrap_err().0,
            "write budget of 10 bytes exhausted"
        );
        assert!(invocation.is_spent());
        assert_eq!(budget.transferred(), (0, 11));
    }
}
