//! Stage 3 of the pipeline: **credentials**. The home identity (from the standard AWS
//! chain) assumes each target account's role; the resulting sessions — credentials and
//! the S3 and STS clients built on them — live here, shared by every invocation of the
//! process, and never leave the host.
//!
//! One AssumeRole per (role, external id, session name) per credential lifetime:
//! [`RoleCredentials`] caches the assumed credentials, refreshes them before they expire,
//! and makes concurrent first uses wait for a single STS call.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::identity::IdentityCache;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider, future};

use crate::bindings::S3Error;
use crate::capability::aws::sdk_error;
use crate::capability::aws::PinnedToAccount;
use crate::config::{AccountConfig, AwsConfig};
use crate::policy::Grant;

/// Assumed credentials are replaced this long before they expire, so that a call never
/// starts with credentials about to lapse.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// The home identity and every session opened from it.
pub struct Sessions {
    home: SdkConfig,
    /// Path-style S3 addressing: needed by S3-compatible endpoints on a bare host:port.
    path_style: bool,
    accounts: HashMap<String, AccountConfig>,
    open: Mutex<HashMap<SessionKey, Arc<Session>>>,
}

/// What makes two sessions distinct: a different role, external id, session name (which
/// names the plugin), session policy or session tags never shares credentials.
#[derive(Clone, PartialEq, Eq, Hash)]
struct SessionKey {
    role_arn: String,
    external_id: Option<String>,
    session_name: String,
    policy: Option<String>,
    tags: Vec<(String, String)>,
}

/// Who a session is for: a plugin (named in the session name and tags) and the grant
/// whose session policy bounds it.
#[derive(Debug, Clone)]
pub struct SessionSpec {
    pub plugin: String,
    /// The sha256 of the plugin's component, carried as a session tag.
    pub sha256: Option<String>,
    /// The plugin's grant: each account's session is assumed with its session policy.
    pub grant: Option<Arc<Grant>>,
}

impl SessionSpec {
    /// A session for the host's own use (`xacct check`), bounded by the role alone.
    pub fn host(purpose: &str) -> SessionSpec {
        SessionSpec {
            plugin: purpose.to_owned(),
            sha256: None,
            grant: None,
        }
    }

    fn tags(&self) -> Vec<(String, String)> {
        let mut tags = vec![("xacct-plugin".to_owned(), self.plugin.clone())];
        if let Some(sha256) = &self.sha256 {
            tags.push(("xacct-sha256".to_owned(), sha256.clone()));
        }
        tags
    }
}

/// An assumed role in one account.
pub struct Session {
    pub account_id: String,
    pub role_arn: String,
    credentials: SharedCredentialsProvider,
    assume_role_calls: Arc<AtomicU64>,
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
}

impl Sessions {
    /// Loads the home identity. `home_credentials` replaces the standard chain (for
    /// embedding xacct); `None` uses env, profile, SSO, web identity, ECS or IMDS.
    pub async fn load(
        aws: &AwsConfig,
        accounts: &[AccountConfig],
        home_credentials: Option<SharedCredentialsProvider>,
    ) -> Sessions {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).region(Region::new(aws.region.clone()));
        if let Some(profile) = &aws.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &aws.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(credentials) = home_credentials {
            loader = loader.credentials_provider(credentials);
        }
        let home = loader.load().await;
        Sessions {
            path_style: home.endpoint_url().is_some(),
            home,
            accounts: accounts.iter().map(|a| (a.id.clone(), a.clone())).collect(),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The session of `account_id` for `spec`, opened on first use. No STS call happens
    /// here: credentials are assumed on the first request that needs them.
    pub async fn session(
        &self,
        account_id: &str,
        spec: &SessionSpec,
    ) -> Result<Arc<Session>, S3Error> {
        let account = self
            .accounts
            .get(account_id)
            .ok_or_else(|| S3Error::Other(format!("account {account_id} is not configured")))?;
        let role_arn = account.role_arn.clone().ok_or_else(|| {
            S3Error::Other(format!("account {account_id} has no role configured"))
        })?;
        let key = SessionKey {
            role_arn,
            external_id: account.external_id.clone(),
            session_name: session_name(&spec.plugin),
            policy: spec
                .grant
                .as_ref()
                .map(|grant| grant.session_policy(account_id).to_string()),
            tags: spec.tags(),
        };
        if let Some(session) = self
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(session.clone());
        }
        let session = Arc::new(self.open_session(account, &key).await);
        // Two first uses may race to build a session; both keep the first one stored, and
        // the loser never assumed anything.
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        Ok(open.entry(key).or_insert(session).clone())
    }

    async fn open_session(&self, account: &AccountConfig, key: &SessionKey) -> Session {
        let mut role = AssumeRoleProvider::builder(&key.role_arn)
            .session_name(&key.session_name)
            .configure(&self.home);
        if let Some(external_id) = &key.external_id {
            role = role.external_id(external_id);
        }
        if let Some(duration) = account.session_duration {
            role = role.session_length(duration);
        }
        if let Some(policy) = &key.policy {
            role = role.policy(policy);
        }
        role = role.tags(key.tags.clone());
        let assume_role_calls = Arc::new(AtomicU64::new(0));
        let credentials = SharedCredentialsProvider::new(RoleCredentials {
            provider: role.build().await,
            current: tokio::sync::Mutex::new(None),
            calls: assume_role_calls.clone(),
        });
        let region = Region::new(account.region.clone());
        let s3 = aws_sdk_s3::config::Builder::from(&self.home)
            .region(region.clone())
            .timeout_config(s3_timeouts())
            .credentials_provider(credentials.clone())
            .identity_cache(IdentityCache::no_cache())
            .force_path_style(self.path_style)
            .interceptor(PinnedToAccount::new(&account.id))
            .build();
        let sts = aws_sdk_sts::config::Builder::from(&self.home)
            .region(region)
            .credentials_provider(credentials.clone())
            .identity_cache(IdentityCache::no_cache())
            .build();
        Session {
            account_id: account.id.clone(),
            role_arn: key.role_arn.clone(),
            credentials,
            assume_role_calls,
            s3: aws_sdk_s3::Client::from_conf(s3),
            sts: aws_sdk_sts::Client::from_conf(sts),
        }
    }

    /// AssumeRole calls made so far, per account id (every configured account listed).
    pub fn assume_role_calls(&self) -> BTreeMap<String, u64> {
        let mut calls: BTreeMap<String, u64> =
            self.accounts.keys().map(|id| (id.clone(), 0)).collect();
        for session in self.open.lock().unwrap_or_else(|e| e.into_inner()).values() {
            *calls.entry(session.account_id.clone()).or_default() +=
                session.assume_role_calls.load(Ordering::Relaxed);
        }
        calls
    }
}

impl Sessions {
    /// The home identity's ARN, as STS reports it.
    pub async fn home_caller_arn(&self) -> Result<String, S3Error> {
        let what = "GetCallerIdentity of the home identity";
        let output = aws_sdk_sts::Client::new(&self.home)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| sdk_error(&e, what))?;
        output
            .arn()
            .map(str::to_owned)
            .ok_or_else(|| S3Error::Other(format!("{what}: no ARN returned")))
    }
}

impl Session {
    /// Assumes the role and asks STS who xacct now is: the assumed-role ARN.
    pub async fn caller_arn(&self) -> Result<String, S3Error> {
        self.ensure_credentials().await?;
        let what = format!("GetCallerIdentity as {}", self.role_arn);
        let output = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| sdk_error(&e, &what))?;
        output
            .arn()
            .map(str::to_owned)
            .ok_or_else(|| S3Error::Other(format!("{what}: no ARN returned")))
    }

    /// Makes sure the role can be assumed (a cached result costs nothing). The error is
    /// written by the host from the failure's kind and HTTP status.
    pub async fn ensure_credentials(&self) -> Result<(), S3Error> {
        match self.credentials.provide_credentials().await {
            Ok(_) => Ok(()),
            Err(err) => Err(credentials_error(
                &err,
                &format!("AssumeRole into {}", self.role_arn),
            )),
        }
    }
}

/// Bounds on every S3 request: a stalled call fails (and an unfinished multipart upload
/// is aborted) instead of holding an invocation, or its cleanup, forever.
fn s3_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(Duration::from_secs(120))
        .build()
}

/// `xacct-<plugin>`, as RoleSessionName allows (`[\w+=,.@-]`, 2 to 64 characters), so that
/// CloudTrail shows which plugin acted.
pub fn session_name(plugin: &str) -> String {
    let cleaned: String = plugin
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut name = format!("xacct-{cleaned}");
    name.truncate(64);
    name
}

/// Describes a failure to obtain credentials, naming what failed but nothing it returned.
pub fn credentials_error(err: &CredentialsError, what: &str) -> S3Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = source {
        if let Some(sts) = cause.downcast_ref::<aws_sdk_sts::error::SdkError<aws_sdk_sts::operation::assume_role::AssumeRoleError>>() {
            return sdk_error(sts, what);
        }
        source = cause.source();
    }
    match err {
        CredentialsError::CredentialsNotLoaded(_) => {
            S3Error::AccessDenied(crate::bindings::AccessDenied {
                by: crate::bindings::DeniedBy::Backend,
                message: format!(
                    "{what}: the home identity has no credentials (looked in the environment, profiles, SSO, web identity, ECS and IMDS)"
                ),
            })
        }
        CredentialsError::ProviderTimedOut(_) => S3Error::Unavailable(format!("{what}: timed out")),
        CredentialsError::InvalidConfiguration(_) => S3Error::InvalidInput(format!(
            "{what}: refused as misconfigured (check the role ARN, region and session policy)"
        )),
        _ => S3Error::Other(format!("{what}: failed")),
    }
}

/// Assumed credentials of one session, cached.
///
/// Written by hand rather than relying on the SDK's identity cache because that cache is
/// private to each client: the host needs the *same* cached credentials for the S3
/// client, the STS client of `xacct check`, and the check it runs before invoking a
/// plugin, plus a count of the AssumeRole calls it made. The STS call itself is
/// `aws_config`'s `AssumeRoleProvider`.
#[derive(Debug)]
struct RoleCredentials {
    provider: AssumeRoleProvider,
    /// Holding this lock across the STS call is what coalesces concurrent first uses.
    current: tokio::sync::Mutex<Option<Credentials>>,
    calls: Arc<AtomicU64>,
}

impl RoleCredentials {
    async fn get(&self) -> provider::Result {
        let mut current = self.current.lock().await;
        if let Some(credentials) = current.as_ref().filter(|c| still_fresh(c)) {
            return Ok(credentials.clone());
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let credentials = self.provider.provide_credentials().await?;
        *current = Some(credentials.clone());
        Ok(credentials)
    }
}

fn still_fresh(credentials: &Credentials) -> bool {
    credentials
        .expiry()
        .is_none_or(|expiry| SystemTime::now() + REFRESH_BEFORE_EXPIRY < expiry)
}

impl ProvideCredentials for RoleCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_identify_the_plugin_within_sts_limits() {
        assert_eq!(session_name("hello"), "xacct-hello");
        assert_eq!(session_name("a b/c"), "xacct-a-b-c");
        assert_eq!(session_name(&"x".repeat(100)).len(), 64);
    }

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
