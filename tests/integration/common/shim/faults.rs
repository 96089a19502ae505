//! AWS's faults, injected on deterministic schedules (every Nth request of a kind), and
//! counted so that a test can compare what the host reports with what was injected.
//!
//! An S3 fault on a HEAD request has no body, as S3 answers every HEAD: `ExpiredToken` on
//! a HeadObject is a bare `400` (HADOOP-18353 records this from S3; the Rust SDK then
//! has no error code, only the status).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use bytes::Bytes;
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};

use super::{Body, BoxError, Knowledge, Signer, s3_error};

/// Faults to inject, on deterministic schedules (every Nth request of a kind; 0: never).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Every Nth AssumeRole answered with STS's `Throttling` (HTTP 400, in STS's XML).
    pub sts_throttle_every: u32,
    /// Every AssumeRole answered `Throttling` for this long after the faults are injected:
    /// STS throttling that lasts, as under an account-wide request rate.
    pub sts_throttle_for: Option<std::time::Duration>,
    /// Every Nth S3 request answered with `503 SlowDown`.
    pub s3_slowdown_every: u32,
    /// Every Nth GetObject of more than 1 MiB has its connection closed after 64 KiB of
    /// body.
    pub reset_large_get_every: u32,
    /// Each account's Nth S3 request (once per account) answered `400 ExpiredToken`.
    pub expire_each_account_at: u32,
    /// AbortMultipartUpload refused (403), as for a role without
    /// `s3:AbortMultipartUpload`.
    pub refuse_abort: bool,
    /// Every GetObject with `If-Match` (a resumed read) answered `412 PreconditionFailed`,
    /// as when the object was replaced since the read began.
    pub changed_since_read: bool,
    /// Every Nth Organizations `ListTagsForResource` answered `TooManyRequestsException`.
    pub tags_throttle_every: u32,
    /// Each account's first `ListTagsForResource` answered `TooManyRequestsException`, its
    /// retry answered: a schedule of throttling whose retries succeed however the listings
    /// of different accounts interleave (every Nth listing overall can throttle one
    /// account's every attempt when others' listings fall between them).
    pub tags_throttle_first_of_each_account: bool,
    /// Every `ListTagsForResource` of this account answered `TooManyRequestsException`,
    /// however often it is retried.
    pub tags_always_throttled_for: Option<String>,
    /// The first N Organizations requests answered `500 ServiceException`, as during an
    /// outage of Organizations that ends.
    pub organizations_fail_first: u32,
    /// Every `ListTagsForResource` answered after this long, so that the listings a host
    /// sends together are in flight together and their number is observed.
    pub tags_delay: Option<std::time::Duration>,
}

/// How many faults of each kind were injected, and how many requests each schedule saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Injected {
    pub sts_throttles: u32,
    pub slowdowns: u32,
    pub resets: u32,
    pub expirations: u32,
    pub refused_aborts: u32,
    pub preconditions: u32,
    pub tag_throttles: u32,
    pub organizations_failures: u32,
    /// The most `ListTagsForResource` requests in flight at once.
    pub tag_listings_in_flight_max: u32,
    /// Listings of an organization's accounts begun (`ListRoots`, where the host's walk
    /// of the organization starts).
    pub account_listings: u32,
}

#[derive(Debug, Default)]
pub(super) struct Schedule {
    faults: Faults,
    /// When the faults were injected.
    since: Option<std::time::Instant>,
    assume_roles: u32,
    s3_requests: u32,
    large_gets: u32,
    tag_listings: u32,
    tags_listed_for: HashSet<String>,
    organizations_requests: u32,
    tag_listings_in_flight: u32,
    per_account: HashMap<String, u32>,
    expired: HashSet<String>,
    pub(super) injected: Injected,
}

impl Schedule {
    /// A schedule of `faults` counting afresh, keeping what was injected so far.
    pub(super) fn restart(&self, faults: Faults) -> Schedule {
        Schedule {
            faults,
            since: Some(std::time::Instant::now()),
            injected: self.injected,
            ..Schedule::default()
        }
    }

    /// Whether this AssumeRole is one the schedule throttles (and counts it if so).
    pub(super) fn throttles_assume_role(&mut self) -> bool {
        let lasting = self
            .faults
            .sts_throttle_for
            .zip(self.since)
            .is_some_and(|(lasts, since)| since.elapsed() < lasts);
        let throttled = nth(&mut self.assume_roles, self.faults.sts_throttle_every) || lasting;
        if throttled {
            self.injected.sts_throttles += 1;
        }
        throttled
    }

    /// Whether this ListTagsForResource of `account` is one the schedule throttles (and
    /// counts it if so).
    pub(super) fn throttles_tags_of(&mut self, account: &str) -> bool {
        let first_of_account = self.tags_listed_for.insert(account.to_owned());
        let throttled = nth(&mut self.tag_listings, self.faults.tags_throttle_every)
            || (self.faults.tags_throttle_first_of_each_account && first_of_account)
            || self.faults.tags_always_throttled_for.as_deref() == Some(account);
        if throttled {
            self.injected.tag_throttles += 1;
        }
        throttled
    }

    /// A `ListTagsForResource` goes to moto: counted in flight until [`Self::tags_listed`];
    /// how long it waits first.
    pub(super) fn tags_listing(&mut self) -> Option<std::time::Duration> {
        self.tag_listings_in_flight += 1;
        let most = &mut self.injected.tag_listings_in_flight_max;
        *most = (*most).max(self.tag_listings_in_flight);
        self.faults.tags_delay
    }

    /// A `ListTagsForResource` came back.
    pub(super) fn tags_listed(&mut self) {
        self.tag_listings_in_flight -= 1;
    }

    /// Whether this Organizations request is one the schedule fails (and counts it if
    /// so).
    pub(super) fn fails_organizations(&mut self) -> bool {
        self.organizations_requests += 1;
        let failed = self.organizations_requests <= self.faults.organizations_fail_first;
        if failed {
            self.injected.organizations_failures += 1;
        }
        failed
    }

    /// Whether this successful GetObject of a large body is one whose connection the
    /// schedule breaks (and counts it if so).
    pub(super) fn resets_large_get(&mut self) -> bool {
        let reset = nth(&mut self.large_gets, self.faults.reset_large_get_every);
        if reset {
            self.injected.resets += 1;
        }
        reset
    }
}

/// Counts one request on an every-Nth schedule: true when this one is the Nth.
fn nth(count: &mut u32, every: u32) -> bool {
    *count += 1;
    every > 0 && (*count).is_multiple_of(every)
}

/// A response body cut off after `left` bytes, the connection then broken.
pub(super) struct Cut {
    pub(super) inner: Incoming,
    pub(super) left: usize,
}

impl hyper::body::Body for Cut {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        use std::task::Poll;
        if self.left == 0 {
            return Poll::Ready(Some(Err("shim: connection reset mid-body".into())));
        }
        match std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    data.truncate(self.left);
                    self.left -= data.len();
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The fault an S3 request meets on the current schedule, if any.
pub(super) fn s3_fault_for(
    request: &Request<Incoming>,
    signer: &Signer,
    knowledge: &Mutex<Knowledge>,
) -> Option<Response<Body>> {
    let mut knowledge = knowledge.lock().unwrap();
    let account = knowledge
        .sessions
        .get(&signer.key)
        .map(|s| s.account.clone());
    let schedule = &mut knowledge.schedule;
    let faults = schedule.faults.clone();
    let s3_fault = |status, code, message| s3_error(request.method(), status, code, message);
    let query = request.uri().query().unwrap_or("");
    if faults.refuse_abort
        && request.method() == hyper::Method::DELETE
        && query.contains("uploadId=")
    {
        schedule.injected.refused_aborts += 1;
        return Some(s3_fault(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Access Denied",
        ));
    }
    if faults.changed_since_read && request.headers().contains_key("if-match") {
        schedule.injected.preconditions += 1;
        return Some(s3_fault(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        ));
    }
    if let Some(account) = account
        && faults.expire_each_account_at > 0
        && !schedule.expired.contains(&account)
    {
        let seen = schedule.per_account.entry(account.clone()).or_default();
        *seen += 1;
        if *seen == faults.expire_each_account_at {
            schedule.expired.insert(account);
            schedule.injected.expirations += 1;
            return Some(s3_fault(
                StatusCode::BAD_REQUEST,
                "ExpiredToken",
                "The provided token has expired.",
            ));
        }
    }
    if nth(&mut schedule.s3_requests, faults.s3_slowdown_every) {
        schedule.injected.slowdowns += 1;
        return Some(s3_fault(
            StatusCode::SERVICE_UNAVAILABLE,
            "SlowDown",
            "Please reduce your request rate.",
        ));
    }
    None
}
