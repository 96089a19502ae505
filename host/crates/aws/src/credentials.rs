//! Credentials, assumed and cached: one AssumeRole call as a credentials provider
//! ([`AssumeRole`], governed process-wide), and a cache in front of any provider that
//! every client of a session shares ([`CachedCredentials`]), refreshed before expiry and
//! forgotten when AWS rejects what it holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider, future};

use crate::stats::AttemptCounter;

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
}

impl AssumeRole {
    pub(crate) async fn assume(&self) -> provider::Result {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| CredentialsError::unhandled("the AssumeRole governor is closed"))?;
        let output = self
            .request
            .clone()
            .customize()
            .interceptor(self.counter.clone())
            .send()
            .await
            .map_err(CredentialsError::provider_error)?;
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
    /// Set when AWS rejected the credentials: the next use resolves them again.
    forgotten: AtomicBool,
    resolutions: Arc<AtomicU64>,
}

impl CachedCredentials {
    pub(crate) fn new(source: SharedCredentialsProvider, resolutions: Arc<AtomicU64>) -> Self {
        CachedCredentials {
            source,
            current: tokio::sync::Mutex::new(None),
            forgotten: AtomicBool::new(false),
            resolutions,
        }
    }

    pub(crate) async fn get(&self) -> provider::Result {
        let mut current = self.current.lock().await;
        let forgotten = self.forgotten.swap(false, Ordering::AcqRel);
        if let Some((credentials, _)) = current
            .as_ref()
            .filter(|(c, _)| !forgotten && still_fresh(c))
        {
            return Ok(credentials.clone());
        }
        self.resolutions.fetch_add(1, Ordering::Relaxed);
        let credentials = self.source.provide_credentials().await?;
        *current = Some((credentials.clone(), Instant::now()));
        Ok(credentials)
    }

    /// Forgets the credentials if they were obtained before `started` (so not already
    /// replaced by another caller's refresh); true if they were.
    pub(crate) fn forget_if_older(&self, started: Instant) -> bool {
        let Ok(current) = self.current.try_lock() else {
            // A refresh is under way: its credentials are newer than the call's.
            return false;
        };
        let older = current.as_ref().is_some_and(|(_, at)| *at <= started);
        if older {
            self.forgotten.store(true, Ordering::Release);
        }
        older
    }
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
}
