//! What AWS's faults cost an account: attempts beyond the first (retries), answers that
//! asked to slow down (throttling), credentials replaced because AWS declared them
//! expired (refreshes), and object bodies read on after a broken connection (resumes).
//! Counted by an interceptor on every client of a session, reported per account in the
//! report's JSON and summed in its summary.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
/// One account's fault costs, as the report carries them.
pub use xacct_core::provider::CallStats;

/// The live counters of one session; clients share them through [`AttemptCounter`].
#[derive(Debug, Default)]
pub struct Counters {
    calls: AtomicU64,
    attempts: AtomicU64,
    throttled: AtomicU64,
    refreshes: AtomicU64,
    resumes: AtomicU64,
    /// Calls sent again after the SDK's attempts ended throttled: the same call once more.
    resends: AtomicU64,
}

impl Counters {
    pub fn refreshed(&self) {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn resumed(&self) {
        self.resumes.fetch_add(1, Ordering::Relaxed);
    }

    /// A call sent again once the throttling budget has waited ([`crate::throttle`]): the
    /// SDK counts it as a new call, but it is another attempt of the same one, so it
    /// counts as a retry (every throttling answer is followed by one, or by a failure).
    pub fn resent(&self) {
        self.resends.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stats(&self) -> CallStats {
        let calls = self
            .calls
            .load(Ordering::Relaxed)
            .saturating_sub(self.resends.load(Ordering::Relaxed));
        CallStats {
            retries: self.attempts.load(Ordering::Relaxed).saturating_sub(calls),
            throttled: self.throttled.load(Ordering::Relaxed),
            refreshes: self.refreshes.load(Ordering::Relaxed),
            resumes: self.resumes.load(Ordering::Relaxed),
        }
    }
}

/// Counts calls, attempts and throttling answers into a session's [`Counters`].
#[derive(Debug, Clone)]
pub struct AttemptCounter(pub Arc<Counters>);

/// Whether an answer asked the caller to slow down. STS throttles with HTTP 400 and a
/// `Throttling` code in its XML, so the (small, buffered) body is looked at too.
fn is_throttling(status: u16, body: Option<&[u8]>) -> bool {
    if matches!(status, 429 | 503) {
        return true;
    }
    let Some(body) = body.filter(|_| status == 400) else {
        return false;
    };
    let body = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    [
        "<Code>Throttling</Code>",
        "<Code>ThrottlingException</Code>",
        "<Code>SlowDown</Code>",
        "<Code>RequestLimitExceeded</Code>",
    ]
    .iter()
    .any(|code| body.contains(code))
}

impl Intercept for AttemptCounter {
    fn name(&self) -> &'static str {
        "AttemptCounter"
    }

    fn read_before_execution(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.calls.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.attempts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(response) = context.response()
            && is_throttling(response.status().as_u16(), response.body().bytes())
        {
            self.0.throttled.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_is_told_by_status_or_code() {
        assert!(is_throttling(503, None));
        assert!(is_throttling(429, None));
        let sts = b"<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>";
        assert!(is_throttling(400, Some(sts)));
        assert!(!is_throttling(400, Some(b"<Code>AccessDenied</Code>")));
        assert!(!is_throttling(200, Some(sts)));
    }
}
