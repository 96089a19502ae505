//! Throttling is a signal to wait, not a failure ("Retry behavior", AWS SDKs and Tools
//! Reference Guide). The SDK retries a throttled call within `max_attempts` (five by
//! default: about 15 s of backoff at most), an attempt count that suits 5xx answers; an
//! account-wide request rate can throttle longer. So a call still throttled after the
//! SDK's attempts is sent again after a jittered, doubling wait, for as long as its time
//! budget (`[aws] throttle_budget_secs`, 60 s by default) lasts; any other failure is
//! returned as it is.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The first wait, and the longest (the SDK's own cap).
const FIRST_WAIT: Duration = Duration::from_secs(1);
const LONGEST_WAIT: Duration = Duration::from_secs(20);

/// Whether AWS throttled the call: one of the SDK's throttling codes, or HTTP 429.
pub fn is_throttling<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    let SdkError::ServiceError(context) = err else {
        return false;
    };
    context.raw().status().as_u16() == 429
        || context.err().code().is_some_and(|code| {
            aws_runtime::retries::classifiers::THROTTLING_ERRORS.contains(&code)
        })
}

/// The waiting left to one call.
pub struct ThrottleBudget {
    deadline: Instant,
    next_wait: Duration,
}

impl ThrottleBudget {
    /// A call's budget, starting now.
    pub fn new(budget: Duration) -> ThrottleBudget {
        ThrottleBudget {
            deadline: Instant::now() + budget,
            next_wait: FIRST_WAIT,
        }
    }

    /// Waits before the call is sent again, if the budget allows: a random time up to the
    /// current backoff ("full jitter"), which doubles each time. False when the budget is
    /// spent (the call should fail with what it got).
    pub async fn wait(&mut self) -> bool {
        let wait = jittered(self.next_wait);
        if Instant::now() + wait > self.deadline {
            return false;
        }
        self.next_wait = (self.next_wait * 2).min(LONGEST_WAIT);
        tokio::time::sleep(wait).await;
        true
    }
}

/// A random duration between a tenth of `up_to` and `up_to`.
fn jittered(up_to: Duration) -> Duration {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0);
    let fraction = (hasher.finish() % 1000) as f64 / 1000.0;
    up_to.mul_f64(0.1 + 0.9 * fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_jittered_within_the_backoff() {
        let waits: Vec<Duration> = (0..50).map(|_| jittered(Duration::from_secs(4))).collect();
        assert!(
            waits
                .iter()
                .all(|w| *w >= Duration::from_millis(400) && *w <= Duration::from_secs(4))
        );
        assert!(waits.iter().any(|w| *w != waits[0]), "not all the same");
    }

    #[test]
    fn a_spent_budget_does_not_wait() {
        let mut budget = ThrottleBudget::new(Duration::ZERO);
        assert!(!futures::executor::block_on(budget.wait()));
    }
}
