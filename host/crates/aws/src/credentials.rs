//! Credentials, assumed and cached: one AssumeRole call as a credentials provider
//! ([`AssumeRole`], governed process-wide), and a cache in front of any provider that
//! every client of a session shares ([`CachedCredentials`]), refreshed before expiry and
//! forgotten when AWS rejects what it holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider, future};

use crate::stats::AttemptCounter;
use crate::throttle::{ThrottleBudget, is_throttling};

/// Assumed credentials are replaced this long before they expire, so that a call never
/// starts with credentials about to lapse.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// One AssumeRole call, as a credentials provider. Written against the STS client rather
/// than `aws_config`'s `AssumeRoleProvider`, which cannot set `SourceIdentity`.
#[derive(Debug)]
pub(crate) struct AssumeRole {
    pub(crate) request: aws_sdk_sts::operation::assume_role::builders::AssumeRoleFluentBuilder,
    /// The session's counters: STS's retries and throttling are the account's too.
    pub(crate) counter: AttemptCounter,
    pub(crate) permits: Arc<tokio::sync::Semaphore>,
    /// How long throttling is waited out ([`crate::throttle`]).
    pub(crate) throttle_budget: Duration,
    /// The `SourceIdentity` to send.
    pub(crate) source_identity: SourceIdentityPlan,
}

/// Which `SourceIdentity` an AssumeRole sends.
#[derive(Debug, Clone)]
pub(crate) enum SourceIdentityPlan {
    None,
    /// This one, always.
    Sent(String),
    /// The caller's name, unless the home session already carries a source identity:
    /// it "persists when a role is used to assume another role" and "cannot be changed
    /// during the role session" ("Monitor and control actions taken with assumed roles",
    /// IAM User Guide), so it is kept by sending none. Whether it does is learned from the
    /// first AssumeRole, sent without one: its answer carries the inherited value.
    CallerUnlessInherited(Arc<CallerSourceIdentity>),
}

/// The caller's name, and whether the home session carries a source identity already.
#[derive(Debug)]
pub(crate) struct CallerSourceIdentity {
    pub(crate) name: String,
    pub(crate) inherited: std::sync::OnceLock<bool>,
}

impl SourceIdentityPlan {
    /// The value to send now; `None` while the inherited one is not known yet, or kept.
    fn to_send(&self) -> Option<String> {
        match self {
            SourceIdentityPlan::None => None,
            SourceIdentityPlan::Sent(text) => Some(text.clone()),
            SourceIdentityPlan::CallerUnlessInherited(caller) => match caller.inherited.get() {
                Some(false) => Some(caller.name.clone()),
                Some(true) | None => None,
            },
        }
    }

    /// Learns from an answer to a request sent without a source identity; true if the
    /// session it opened lacks the caller's name (so the role must be assumed again).
    fn learn(&self, answered: Option<&str>) -> bool {
        let SourceIdentityPlan::CallerUnlessInherited(caller) = self else {
            return false;
        };
        if caller.inherited.get().is_some() {
            return false;
        }
        let inherited = answered.is_some();
        let _ = caller.inherited.set(inherited);
        !inherited
    }

    pub(crate) fn is_set(&self) -> bool {
        !matches!(self, SourceIdentityPlan::None)
    }
}

impl AssumeRole {
    pub(crate) async fn assume(&self) -> provider::Result {
        let mut budget = ThrottleBudget::new(self.throttle_budget);
        let output = loop {
            let permit =
                self.permits.acquire().await.map_err(|_| {
                    CredentialsError::unhandled("the AssumeRole governor is closed")
                })?;
            let sent = self
                .request
                .clone()
                .set_source_identity(self.source_identity.to_send())
                .customize()
                .interceptor(self.counter.clone())
                .send()
                .await;
            // The governor's permit is not held while waiting out throttling.
            drop(permit);
            match sent {
                Ok(output) if self.source_identity.learn(output.source_identity()) => continue,
                Ok(output) => break output,
                Err(err) if is_throttling(&err) && budget.wait().await => {
                    self.counter.0.resent();
                    continue;
                }
                Err(err) => return Err(CredentialsError::provider_error(err)),
            }
        };
        let c = output
            .credentials()
            .ok_or_else(|| CredentialsError::unhandled("AssumeRole returned no credentials"))?;
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            SystemTime::try_from(*c.expiration()).ok(),
            "xacct-assume-role",
        ))
    }
}

impl ProvideCredentials for AssumeRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.assume())
    }
}

/// Credentials from `source`, cached until shortly before they expire.
///
/// The SDK's identity cache is private to each client; this one is shared by every
/// client of one session (its S3 clients of every region and its STS client), and counts
/// the AssumeRole calls it made.
#[derive(Debug)]
pub(crate) struct CachedCredentials {
    source: SharedCredentialsProvider,
    /// Holding this lock across the resolution is what coalesces concurrent first uses.
    current: tokio::sync::Mutex<Option<(Credentials, Instant)>>,
    /// When the held credentials were obtained: readable while a resolution holds
    /// `current`, so that a rejection is never skipped for want of that lock.
    obtained: std::sync::Mutex<Option<Instant>>,
    /// AWS rejected credentials obtained up to this instant: the next use resolves them
    /// again unless newer ones were obtained since.
    rejected_up_to: std::sync::Mutex<Option<Instant>>,
    resolutions: Arc<AtomicU64>,
}

impl CachedCredentials {
    pub(crate) fn new(source: SharedCredentialsProvider, resolutions: Arc<AtomicU64>) -> Self {
        CachedCredentials {
            source,
            current: tokio::sync::Mutex::new(None),
            obtained: std::sync::Mutex::new(None),
            rejected_up_to: std::sync::Mutex::new(None),
            resolutions,
        }
    }

    pub(crate) async fn get(&self) -> provider::Result {
        let mut current = self.current.lock().await;
        let rejected_up_to = *lock(&self.rejected_up_to);
        if let Some((credentials, _)) = current.as_ref().filter(|(c, at)| {
            rejected_up_to.is_none_or(|rejected| *at > rejected) && still_fresh(c)
        }) {
            return Ok(credentials.clone());
        }
        self.resolutions.fetch_add(1, Ordering::Relaxed);
        let credentials = self.source.provide_credentials().await?;
        let now = Instant::now();
        *current = Some((credentials.clone(), now));
        *lock(&self.obtained) = Some(now);
        Ok(credentials)
    }

    /// Forgets the credentials if they were obtained before `started` (so not already
    /// replaced by another caller's refresh); true if they were.
    /// Never waits for a resolution under way: credentials it brings are obtained after
    /// `started`, so they stay.
    pub(crate) fn forget_if_older(&self, started: Instant) -> bool {
        let older = lock(&self.obtained).is_some_and(|at| at <= started);
        if older {
            let mut rejected = lock(&self.rejected_up_to);
            *rejected = Some(rejected.map_or(started, |before| before.max(started)));
        }
        older
    }
}

/// A lock that a panic elsewhere does not poison for good: what it holds is an instant.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A [`CachedCredentials`] shared by several clients.
#[derive(Debug)]
pub(crate) struct Shared(pub(crate) Arc<CachedCredentials>);

fn still_fresh(credentials: &Credentials) -> bool {
    credentials
        .expiry()
        .is_none_or(|expiry| SystemTime::now() + REFRESH_BEFORE_EXPIRY < expiry)
}

impl ProvideCredentials for Shared {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.0.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn credentials_are_refreshed_before_they_expire() {
        let expiring = |secs| {
            Credentials::new(
                "a",
                "b",
                None,
                Some(SystemTime::now() + Duration::from_secs(secs)),
                "test",
            )
        };
        assert!(still_fresh(&expiring(3600)));
        assert!(!still_fresh(&expiring(60)));
        assert!(still_fresh(&Credentials::new("a", "b", None, None, "test")));
    }

    fn cache() -> (CachedCredentials, Arc<AtomicU64>) {
        let resolutions = Arc::new(AtomicU64::new(0));
        let source = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let cache =
            CachedCredentials::new(SharedCredentialsProvider::new(source), resolutions.clone());
        (cache, resolutions)
    }

    /// A rejection reported while another caller holds the cache (a `get()` under way)
    /// is not skipped: the next use resolves again.
    #[test]
    fn a_rejection_while_the_cache_is_held_is_not_lost() {
        let (cache, resolutions) = cache();
        block_on(cache.get()).unwrap();
        let started = Instant::now();
        let held = block_on(cache.current.lock());
        assert!(cache.forget_if_older(started));
        drop(held);
        block_on(cache.get()).unwrap();
        assert_eq!(resolutions.load(Ordering::Relaxed), 2);
        block_on(cache.get()).unwrap();
        assert_eq!(resolutions.load(Ordering::Relaxed), 2, "refreshed once");
    }

    #[test]
    fn an_inherited_source_identity_is_kept_and_a_missing_one_set() {
        let plan = || {
            SourceIdentityPlan::CallerUnlessInherited(Arc::new(CallerSourceIdentity {
                name: "jane-laptop".into(),
                inherited: std::sync::OnceLock::new(),
            }))
        };
        let inherited = plan();
        assert_eq!(inherited.to_send(), None, "the first AssumeRole asks");
        assert!(!inherited.learn(Some("jane@example.com")));
        assert_eq!(inherited.to_send(), None, "kept by sending none");
        let missing = plan();
        assert!(missing.learn(None), "assumed again with the name");
        assert_eq!(missing.to_send().as_deref(), Some("jane-laptop"));
        assert!(!missing.learn(None), "learned once");
    }

    /// Credentials obtained after the rejected call started are kept.
    #[test]
    fn newer_credentials_survive_an_older_calls_rejection() {
        let (cache, resolutions) = cache();
        let started = Instant::now();
        block_on(cache.get()).unwrap();
        assert!(!cache.forget_if_older(started));
        block_on(cache.get()).unwrap();
        assert_eq!(resolutions.load(Ordering::Relaxed), 1);
    }
}
