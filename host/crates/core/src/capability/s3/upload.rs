//! Puts that stream: the guest writes an object's bytes to a `wasi:io` output-stream,
//! which feeds a bounded channel read by the backend's put running as its own task.
//!
//! The channel bounds how much of an object is in flight on the host (a few chunks),
//! so an object larger than both the guest's and the host's memory streams through.
//! The put commits only when the guest calls `upload.finish`; every other ending — the
//! upload dropped, the invocation timed out or trapped — drops the commit sender, and
//! the backend discards what it received. The put runs as a task of the invocation's
//! [`InFlight`] set, which the invocation waits for, so a process never exits with a
//! multipart upload left open.
//!
//! Every chunk the guest writes holds a [`Lease`] of the invocation's host buffer until
//! the backend has sent its bytes on, and every unfinished upload holds a [`Slot`]: a
//! plugin that opens uploads and never finishes them spends its own budget, not the
//! host's memory.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use wasmtime_wasi::async_trait;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

use super::budget::{Lease, S3Budget, Slot};
use crate::bindings::S3Error;
use crate::bindings::s3::PutResult;
use crate::capability::inflight::InFlight;

/// The most bytes the guest may hand over in one write.
const CHUNK_BYTES: usize = 1 << 20;
/// Chunks buffered between the guest and the backend.
const CHANNEL_CHUNKS: usize = 4;

/// The body of a put as the backend sees it: chunks as the guest writes them, then a
/// verdict — committed by `upload.finish`, or abandoned because the upload was dropped,
/// the invocation ended, or the guest trapped.
pub struct PutBody {
    chunks: mpsc::Receiver<Chunk>,
    commit: oneshot::Receiver<()>,
}

/// Bytes the guest wrote, with the share of the invocation's host buffer they hold: keep
/// the lease until the bytes have left the host (sent, written to disk, or dropped).
pub struct Chunk {
    pub bytes: Bytes,
    pub lease: Lease,
}

impl PutBody {
    /// The next chunk, or `None` once the guest's stream is closed.
    pub async fn next_chunk(&mut self) -> Option<Chunk> {
        self.chunks.recv().await
    }

    /// Waits for the verdict after the last chunk: true only if the guest finished the
    /// upload.
    pub async fn committed(self) -> bool {
        self.commit.await.is_ok()
    }
}

/// The error a backend returns for a put whose upload was abandoned.
pub fn aborted() -> S3Error {
    S3Error::Other("the upload was aborted before it finished; nothing was stored".into())
}

/// A put in progress: the host side of an `upload` resource.
pub struct Upload {
    /// The stream the guest writes to, until it takes it with `upload.body`.
    body: Option<BodySink>,
    /// Sent by `finish`; dropped (= abort) otherwise.
    commit: Option<oneshot::Sender<()>>,
    result: oneshot::Receiver<Result<PutResult, S3Error>>,
}

impl Upload {
    /// Starts a put: `start` receives the body and runs as a task of `tasks` that holds
    /// `slot` until it ends; the bytes written count against `budget`.
    pub fn start<F>(
        tasks: &InFlight,
        budget: Arc<S3Budget>,
        slot: Slot,
        start: impl FnOnce(PutBody) -> F,
    ) -> Upload
    where
        F: Future<Output = Result<PutResult, S3Error>> + Send + 'static,
    {
        let (chunks_tx, chunks_rx) = mpsc::channel(CHANNEL_CHUNKS);
        let (commit_tx, commit_rx) = oneshot::channel();
        let put = start(PutBody {
            chunks: chunks_rx,
            commit: commit_rx,
        });
        let result = tasks.spawn(async move {
            let result = put.await;
            drop(slot);
            result
        });
        Upload {
            body: Some(BodySink {
                chunks: chunks_tx,
                budget,
            }),
            commit: Some(commit_tx),
            result,
        }
    }

    /// The body stream, once.
    pub fn take_body(&mut self) -> Option<BodySink> {
        self.body.take()
    }

    /// Abandons the put now (the backend discards what it received).
    pub fn abort(&mut self) {
        self.body = None;
        self.commit = None;
    }

    /// Commits the put and waits for the backend's answer. The body stream must be
    /// closed already, so the backend has seen the last chunk.
    pub async fn finish(mut self) -> Result<PutResult, S3Error> {
        // A body never taken is an empty object.
        self.body = None;
        if let Some(commit) = self.commit.take() {
            // If the backend already gave up, its own error is the answer below.
            let _ = commit.send(());
        }
        (&mut self.result).await.unwrap_or_else(|_| Err(aborted()))
    }
}

/// The `wasi:io` output-stream of an upload.
pub struct BodySink {
    chunks: mpsc::Sender<Chunk>,
    budget: Arc<S3Budget>,
}

impl OutputStream for BodySink {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        // check-write never permits more: a larger write would let one upload pin as much
        // host memory as the guest has.
        if bytes.len() > CHUNK_BYTES {
            return Err(StreamError::trap("write larger than check-write permitted"));
        }
        if let Err(spent) = self.budget.spend_written(bytes.len()) {
            return Err(StreamError::Trap(wasmtime::Error::new(spent)));
        }
        let lease = match self.budget.lease_written(bytes.len() as u64) {
            Ok(lease) => lease,
            Err(spent) => return Err(StreamError::Trap(wasmtime::Error::new(spent))),
        };
        self.chunks
            .try_send(Chunk { bytes, lease })
            .map_err(|err| match err {
                mpsc::error::TrySendError::Closed(_) => StreamError::Closed,
                mpsc::error::TrySendError::Full(_) => {
                    StreamError::trap("write called without a check-write permit")
                }
            })
    }

    fn flush(&mut self) -> StreamResult<()> {
        // Bytes handed to `write` are already with the backend's task.
        if self.chunks.is_closed() {
            Err(StreamError::Closed)
        } else {
            Ok(())
        }
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        if self.chunks.is_closed() {
            // The backend stopped (an error); `upload.finish` reports why.
            Err(StreamError::Closed)
        } else if self.chunks.capacity() > 0 {
            Ok(CHUNK_BYTES)
        } else {
            Ok(0)
        }
    }
}

#[async_trait]
impl Pollable for BodySink {
    async fn ready(&mut self) {
        // Waiting for a slot then releasing it is enough: this sink is the channel's
        // only sender, so the slot is still free when the guest writes.
        let _ = self.chunks.reserve().await;
    }
}
