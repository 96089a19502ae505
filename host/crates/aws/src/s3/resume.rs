//! Object bodies that survive a broken connection.
//!
//! Once a GetObject's body has started, the SDK cannot retry it: a connection reset in
//! the middle of a large object would end the plugin's read. This reader picks up where
//! the bytes stopped — a ranged GET from the next byte, with `If-Match` on the ETag the
//! read began with — a bounded number of times, so the plugin reads one uninterrupted,
//! byte-exact stream. If the object changed meanwhile, S3 refuses the ranged GET (412)
//! and the plugin gets a clear error: never bytes of two versions.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, ReadBuf};

use crate::session::Session;
use xacct_core::capability::s3::budget::GuestReadable;

/// How often one body may be resumed.
const MAX_RESUMES: u32 = 5;

type Body = Pin<Box<dyn AsyncRead + Send>>;

enum State {
    Reading(Body),
    Reopening(BoxFuture<'static, io::Result<Body>>),
    /// The read ended in an error; it stays ended.
    Failed(io::ErrorKind),
}

/// A GetObject body that resumes after transport errors.
pub struct ResumingBody {
    state: State,
    session: Arc<Session>,
    bucket: String,
    key: String,
    /// The version read, when the read named one.
    version_id: Option<String>,
    etag: String,
    /// The next byte of the object to hand over.
    next: u64,
    /// One past the last byte to hand over.
    end: u64,
    resumes_left: u32,
}

impl ResumingBody {
    /// The body `first` of bytes `next..end` of the object `etag` at `bucket/key`.
    pub fn new(
        first: Body,
        session: Arc<Session>,
        (bucket, key): (&str, &str),
        etag: &str,
        next: u64,
        end: u64,
    ) -> Self {
        ResumingBody {
            state: State::Reading(first),
            session,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: None,
            etag: etag.to_owned(),
            next,
            end,
            resumes_left: MAX_RESUMES,
        }
    }

    /// The body of one version of the object: resumed from that version.
    pub fn of_version(mut self, version_id: Option<&str>) -> Self {
        self.version_id = version_id.map(str::to_owned);
        self
    }

    fn reopen(&mut self) -> BoxFuture<'static, io::Result<Body>> {
        self.session.counters().resumed();
        let request = self
            .session
            .s3(Some(&self.bucket))
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .set_version_id(self.version_id.clone())
            .range(format!("bytes={}-{}", self.next, self.end - 1))
            .if_match(&self.etag);
        let next = self.next;
        Box::pin(async move {
            match request.send().await {
                Ok(output) => Ok(Box::pin(output.body.into_async_read()) as Body),
                Err(err)
                    if err
                        .raw_response()
                        .is_some_and(|r| r.status().as_u16() == 412) =>
                {
                    Err(io::Error::other(GuestReadable(format!(
                        "the object changed while it was read; the bytes after byte {next} are of another version and were not read"
                    ))))
                }
                Err(err) => Err(io::Error::other(err)),
            }
        })
    }
}

impl AsyncRead for ResumingBody {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let this = &mut *self;
            match &mut this.state {
                State::Reading(body) => {
                    let before = buf.filled().len();
                    match body.as_mut().poll_read(cx, buf) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(())) => {
                            let read = (buf.filled().len() - before) as u64;
                            this.next += read;
                            // An early end of body is a broken connection too.
                            if read > 0 || this.next >= this.end {
                                return Poll::Ready(Ok(()));
                            }
                            if this.resumes_left == 0 {
                                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                            }
                        }
                        Poll::Ready(Err(err)) => {
                            if this.resumes_left == 0 || this.next >= this.end {
                                return Poll::Ready(Err(err));
                            }
                        }
                    }
                    this.resumes_left -= 1;
                    this.state = State::Reopening(this.reopen());
                }
                State::Reopening(reopening) => match reopening.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(body)) => this.state = State::Reading(body),
                    Poll::Ready(Err(err)) => {
                        this.state = State::Failed(err.kind());
                        return Poll::Ready(Err(err));
                    }
                },
                State::Failed(kind) => {
                    return Poll::Ready(Err(io::Error::new(*kind, "the read already failed")));
                }
            }
        }
    }
}
