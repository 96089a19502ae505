//! The pipeline's **credentials** stage. The home identity (from the standard AWS
//! chain) assumes each target account's role; the resulting sessions — credentials and
//! the S3 clients built on them — live here, shared by every invocation of the process,
//! and never leave the host.
//!
//! - The home identity is resolved once per credential lifetime for the whole process:
//!   every AssumeRole goes through one STS client, whose identity cache holds the home
//!   credentials, so a `credential_process` runs once and a chained profile costs one STS
//!   call, whatever the number of accounts. It is checked
//!   once (`GetCallerIdentity`) before anything fans out, so a broken home identity is
//!   one clear failure, not one misleading error per account.
//! - One AssumeRole per (role, external id, session name, session policy) per credential
//!   lifetime, coalesced across concurrent first uses and refreshed before expiry.
//! - A session's S3 clients are per region (a bucket is served by its own region), all
//!   sharing the session's credentials and the process's HTTP connection pool.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sts::types::Tag;
use aws_smithy_runtime::client::retries::RetryPartition;
use xacct_core::capability::grant::Grant;
use xacct_core::provider::{CallStats, RunIdentity};

use crate::config::{AccountRole, AwsConfig, OrganizationConfig, RetryMode, SourceIdentity};
use crate::credentials::{
    AssumeRole, CachedCredentials, CallerSourceIdentity, Shared, SourceIdentityPlan,
};
use crate::error::{AwsError, Service};
use crate::partition::Partition;
use crate::pin::PinnedToAccount;
use crate::policy::{policy_text, session_policy};
use crate::s3control::endpoint::KeepEndpointHost;
use crate::stats::{AttemptCounter, Counters};

mod names;

pub use names::session_name;
use names::source_identity_of;

/// AssumeRole calls in flight at once, for the whole process: at a concurrency of 64
/// the first uses of 64 accounts would otherwise hit STS in the same instant, and STS
/// throttles per caller.
const ASSUME_ROLE_AT_ONCE: usize = 8;

/// How long a session opened by role chaining may last.
const CHAINED_SESSION_LIMIT: Duration = Duration::from_secs(3600);

/// The home identity and every session opened from it.
pub struct Sessions {
    home: SdkConfig,
    /// The one STS client every AssumeRole goes through (home credentials, home region).
    sts: aws_sdk_sts::Client,
    /// Who the home identity is, as STS said at start-up.
    home_arn: String,
    /// The home identity's partition, which every ARN of a session policy names.
    partition: &'static Partition,
    /// The home identity is a role session: every AssumeRole is role chaining, whose
    /// sessions last at most an hour.
    chained: bool,
    /// Path-style S3 addressing: needed by S3-compatible endpoints on a bare host:port.
    path_style: bool,
    session_tags: bool,
    /// Copies of objects larger than this are multipart copies.
    multipart_copy_threshold: u64,
    /// How long a throttled call is sent again ([`crate::throttle`]).
    throttle_budget: Duration,
    /// How S3 clients retry.
    s3_retry: RetryConfig,
    /// The `SourceIdentity` set on every AssumeRole.
    source_identity: SourceIdentityPlan,
    /// The process-wide AssumeRole governor.
    assume_role_permits: Arc<tokio::sync::Semaphore>,
    /// The accounts sessions may be opened in: the config's, and those listed from the
    /// organization once the run has listed them.
    accounts: std::sync::RwLock<HashMap<String, Target>>,
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

/// An account sessions may open in: its region, and how its role is assumed.
#[derive(Debug, Clone)]
pub struct Target {
    pub id: String,
    pub region: String,
    pub role: AccountRole,
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

impl From<&RunIdentity> for SessionSpec {
    fn from(run: &RunIdentity) -> SessionSpec {
        SessionSpec {
            plugin: run.plugin.clone(),
            sha256: run.sha256.clone(),
            grant: run.grant.clone(),
        }
    }
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

    /// The session's key in `account_id`: its policy is built here, once per account a
    /// run reaches, not per call.
    fn key(
        &self,
        account_id: &str,
        role: &AccountRole,
        tagged: bool,
        partition: &Partition,
    ) -> SessionKey {
        SessionKey {
            role_arn: role.role_arn.clone(),
            external_id: role.external_id.clone(),
            session_name: session_name(&self.plugin),
            policy: self
                .grant
                .as_ref()
                .map(|grant| policy_text(&session_policy(grant, account_id, partition))),
            tags: if tagged { self.tags() } else { Vec::new() },
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
    credentials: Arc<CachedCredentials>,
    /// AssumeRole calls made for this session.
    assume_role_calls: Arc<AtomicU64>,
    /// Retries, throttling and refreshes of every client of the session.
    counters: Arc<Counters>,
    /// What the AssumeRole asked for beyond the role itself, to explain a refusal.
    extras: Vec<&'static str>,
    /// The config key of the grant whose session policy bounds the session.
    grant_key: Option<String>,
    /// How long a throttled call is sent again.
    pub throttle_budget: Duration,
    /// The account's S3 client configuration; clients for other regions derive from it.
    s3_config: aws_sdk_s3::Config,
    account_region: String,
    clients: Mutex<HashMap<String, aws_sdk_s3::Client>>,
    /// Buckets whose region S3 told us, and that region.
    bucket_regions: Mutex<HashMap<String, String>>,
    sts: aws_sdk_sts::Client,
    /// S3 Control, for the account's own settings.
    s3control: aws_sdk_s3control::Client,
}

/// The home identity cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("the home identity cannot be used: {0}")]
pub struct HomeIdentityError(pub AwsError);

impl Sessions {
    /// Loads the home identity and checks it with STS. `home_credentials` replaces the
    /// standard chain (for embedding xacct); `None` uses env, profile, SSO, web identity,
    /// ECS or IMDS. `aws.region` must be resolved (see [`crate::home_region`]).
    pub async fn connect(
        aws: &AwsConfig,
        accounts: Vec<Target>,
        home_credentials: Option<SharedCredentialsProvider>,
    ) -> Result<Sessions, HomeIdentityError> {
        // One HTTP client (one connection pool, one TLS configuration) for every client of
        // the process: each SDK client would otherwise build its own, and a run has one S3
        // client per account and region.
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if let Some(region) = &aws.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &aws.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &aws.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(credentials) = home_credentials {
            loader = loader.credentials_provider(credentials);
        }
        // STS (every AssumeRole, through one client) retries in standard mode: the
        // AssumeRole governor already paces it, and adaptive mode's rate limiter, shared
        // by every call of the client, would slow every account's first use to a crawl
        // after a few throttles.
        let home = loader
            .retry_config(RetryConfig::standard().with_max_attempts(aws.max_attempts))
            .load()
            .await;
        // Every client built from `home` (STS for every AssumeRole, Organizations for the
        // listing) caches its identity on its own; one cache in front of the chain makes
        // them share a single resolution of the home credentials.
        let home = match home.credentials_provider() {
            Some(chain) => {
                let cached = CachedCredentials::new(chain, Arc::new(AtomicU64::new(0)));
                home.into_builder()
                    .credentials_provider(SharedCredentialsProvider::new(Shared(Arc::new(cached))))
                    .build()
            }
            None => home,
        };
        let s3_retry = match aws.retry_mode {
            RetryMode::Standard => RetryConfig::standard(),
            RetryMode::Adaptive => RetryConfig::adaptive(),
        }
        .with_max_attempts(aws.max_attempts);
        // The only client that uses the home identity: its identity cache is the one
        // resolution of the home credentials for the whole process.
        // Its own retry quota: the SDK's default partition is per service, shared by every
        // STS client of the process (a test binary's, an embedder's), so one caller's
        // throttling could spend another's retries.
        static SESSIONS: AtomicU64 = AtomicU64::new(0);
        let partition = format!("sts-home-{}", SESSIONS.fetch_add(1, Ordering::Relaxed));
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&home)
                .retry_partition(RetryPartition::new(partition))
                .build(),
        );
        let what = "GetCallerIdentity";
        let caller = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|err| {
                let err = AwsError::from_sdk(Service::Sts, what, &err);
                HomeIdentityError(match &aws.profile {
                    // The SDK ignores `mfa_serial`: such a profile's role refuses it.
                    Some(profile) => err.with_fix(format!(
                        "check profile {profile:?}; a profile that needs MFA (mfa_serial) is not supported: \
                         get session credentials first (README, \"Running against AWS\")"
                    )),
                    None => err,
                })
            })?;
        let home_arn = caller.arn().unwrap_or_default().to_owned();
        let chained = is_role_session(&home_arn);
        if chained && accounts.iter().any(|a| exceeds_chaining_limit(&a.role)) {
            tracing::warn!(
                "the home identity {home_arn} is a role session, so every AssumeRole is role chaining, \
                 which STS caps at 1 hour: session_duration above 3600 s is lowered to 3600 s"
            );
        }
        let source_identity = match &aws.source_identity {
            None => SourceIdentityPlan::None,
            Some(SourceIdentity::Fixed(text)) => SourceIdentityPlan::Sent(text.clone()),
            Some(SourceIdentity::Caller) if chained => {
                SourceIdentityPlan::CallerUnlessInherited(Arc::new(CallerSourceIdentity {
                    name: source_identity_of(&home_arn),
                    inherited: std::sync::OnceLock::new(),
                }))
            }
            Some(SourceIdentity::Caller) => SourceIdentityPlan::Sent(source_identity_of(&home_arn)),
        };
        Ok(Sessions {
            partition: Partition::of_home(Some(&home_arn), aws.region.as_deref()),
            chained,
            path_style: home.endpoint_url().is_some(),
            sts,
            home,
            home_arn,
            session_tags: aws.session_tags,
            multipart_copy_threshold: aws.multipart_copy_threshold,
            throttle_budget: aws.throttle_budget,
            s3_retry,
            source_identity,
            assume_role_permits: Arc::new(tokio::sync::Semaphore::new(ASSUME_ROLE_AT_ONCE)),
            accounts: std::sync::RwLock::new(
                accounts.into_iter().map(|a| (a.id.clone(), a)).collect(),
            ),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Lists the organization's accounts (through `organization.via_role` if set), and
    /// opens sessions in them from now on.
    pub async fn list_organization(
        &self,
        organization: &OrganizationConfig,
    ) -> Result<Vec<xacct_core::config::accounts::AccountConfig>, AwsError> {
        let mut config = aws_sdk_organizations::config::Builder::from(&self.home);
        if let Some(role) = &organization.via_role {
            let what = format!("AssumeRole into {role}");
            let assumed = AssumeRole {
                request: self
                    .sts
                    .assume_role()
                    .role_arn(role)
                    .role_session_name("xacct-organization"),
                counter: AttemptCounter(Arc::new(Counters::default())),
                permits: self.assume_role_permits.clone(),
                throttle_budget: self.throttle_budget,
                source_identity: SourceIdentityPlan::None,
            }
            .assume()
            .await
            .map_err(|err| AwsError::from_credentials(&what, &err))?;
            config = config.credentials_provider(assumed);
        }
        let client = aws_sdk_organizations::Client::from_conf(config.build());
        let region = self
            .home
            .region()
            .map(ToString::to_string)
            .unwrap_or_default();
        let listed = crate::organizations::list_accounts(&client, organization, &region).await?;
        Ok(listed)
    }

    /// Lets sessions open in `accounts` too (accounts listed after start-up); an account
    /// known already keeps what it has.
    pub fn add_accounts(&self, accounts: Vec<Target>) {
        let mut known = self.accounts.write().unwrap_or_else(|e| e.into_inner());
        for account in accounts {
            known.entry(account.id.clone()).or_insert(account);
        }
    }

    /// Copies of objects larger than this are multipart copies (UploadPartCopy).
    pub fn multipart_copy_threshold(&self) -> u64 {
        self.multipart_copy_threshold
    }

    /// How long a throttled call is sent again.
    pub fn throttle_budget(&self) -> Duration {
        self.throttle_budget
    }

    /// The home identity's partition (`aws`, `aws-cn`, `aws-us-gov`, …): every account
    /// it reaches is in it, since a role can be assumed only within its partition.
    pub fn partition(&self) -> &'static Partition {
        self.partition
    }

    /// The home identity's ARN, as STS reported it at start-up.
    pub fn home_arn(&self) -> &str {
        &self.home_arn
    }

    /// An S3 client of the home identity, for the host's own objects in the home account
    /// ([`crate::home_objects`]): never a plugin's.
    pub fn home_s3(&self) -> aws_sdk_s3::Client {
        let config =
            aws_sdk_s3::config::Builder::from(&self.home).force_path_style(self.path_style);
        aws_sdk_s3::Client::from_conf(config.build())
    }

    /// The session of `account_id` for `spec`, opened on first use. No STS call happens
    /// here: credentials are assumed on the first request that needs them.
    pub fn session(&self, account_id: &str, spec: &SessionSpec) -> Result<Arc<Session>, AwsError> {
        let unknown = |problem: &str| AwsError {
            what: format!("opening a session in {account_id}"),
            service: Service::Sts,
            code: None,
            status: None,
            request_id: None,
            message: Some(problem.to_owned()),
            fix: None,
        };
        let accounts = self.accounts.read().unwrap_or_else(|e| e.into_inner());
        let account = accounts
            .get(account_id)
            .ok_or_else(|| unknown("the account is not configured"))?;
        let key = spec.key(account_id, &account.role, self.session_tags, self.partition);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        Ok(open
            .entry(key)
            .or_insert_with_key(|key| Arc::new(self.open_session(account, key, spec)))
            .clone())
    }

    /// The `DurationSeconds` of `role`'s sessions: as configured, within role chaining's
    /// hour when the home is a role session ("if you assume a role using role chaining and
    /// provide a DurationSeconds parameter value greater than one hour, the operation
    /// fails", AssumeRole, STS API Reference).
    fn session_duration(&self, role: &AccountRole) -> Option<i32> {
        let seconds = role.session_duration?.as_secs();
        let seconds = if self.chained {
            seconds.min(CHAINED_SESSION_LIMIT.as_secs())
        } else {
            seconds
        };
        Some(i32::try_from(seconds).unwrap_or(i32::MAX))
    }

    fn open_session(&self, account: &Target, key: &SessionKey, spec: &SessionSpec) -> Session {
        let mut extras = Vec::new();
        if !key.tags.is_empty() {
            extras.push("sts:TagSession");
        }
        if self.source_identity.is_set() {
            extras.push("sts:SetSourceIdentity");
        }
        let mut request = self
            .sts
            .assume_role()
            .role_arn(&key.role_arn)
            .role_session_name(&key.session_name)
            .set_external_id(key.external_id.clone())
            .set_policy(key.policy.clone())
            .set_duration_seconds(self.session_duration(&account.role));
        for (name, value) in &key.tags {
            request = request.tags(
                Tag::builder()
                    .key(name)
                    .value(value)
                    .build()
                    .expect("key and value are set"),
            );
        }
        let assume_role_calls = Arc::new(AtomicU64::new(0));
        let counters = Arc::new(Counters::default());
        let credentials = Arc::new(CachedCredentials::new(
            SharedCredentialsProvider::new(AssumeRole {
                request,
                counter: AttemptCounter(counters.clone()),
                permits: self.assume_role_permits.clone(),
                throttle_budget: self.throttle_budget,
                source_identity: self.source_identity.clone(),
            }),
            assume_role_calls.clone(),
        ));
        let provider = SharedCredentialsProvider::new(Shared(credentials.clone()));
        let account_region = account.region.clone();
        let s3_config = aws_sdk_s3::config::Builder::from(&self.home)
            .region(Region::new(account_region.clone()))
            .timeout_config(s3_timeouts())
            .credentials_provider(provider.clone())
            .identity_cache(IdentityCache::no_cache())
            .force_path_style(self.path_style)
            .interceptor(PinnedToAccount::new(&account.id))
            .interceptor(AttemptCounter(counters.clone()))
            // S3 throttles per account and bucket: one account's SlowDown must not slow
            // the clients of every other account (the SDK's default partition is per
            // service, so per process).
            .retry_partition(RetryPartition::new(format!("s3-{}", account.id)))
            .retry_config(self.s3_retry.clone())
            .build();
        let mut s3control = aws_sdk_s3control::config::Builder::from(&self.home)
            .region(Region::new(account_region.clone()))
            .timeout_config(s3_timeouts())
            .credentials_provider(provider.clone())
            .identity_cache(IdentityCache::no_cache())
            .interceptor(AttemptCounter(counters.clone()))
            .retry_partition(RetryPartition::new(format!("s3control-{}", account.id)))
            .retry_config(self.s3_retry.clone());
        if self.home.endpoint_url().is_some() {
            s3control = s3control.interceptor(KeepEndpointHost::new(&account.id));
        }
        let sts = aws_sdk_sts::config::Builder::from(&self.home)
            .region(Region::new(account_region.clone()))
            .credentials_provider(provider.clone())
            .identity_cache(IdentityCache::no_cache())
            .build();
        Session {
            account_id: account.id.clone(),
            role_arn: key.role_arn.clone(),
            credentials,
            assume_role_calls,
            counters,
            extras,
            grant_key: spec.grant.as_ref().map(|grant| grant.key.clone()),
            throttle_budget: self.throttle_budget,
            s3_config,
            account_region,
            clients: Mutex::new(HashMap::new()),
            bucket_regions: Mutex::new(HashMap::new()),
            sts: aws_sdk_sts::Client::from_conf(sts),
            s3control: aws_sdk_s3control::Client::from_conf(s3control.build()),
        }
    }

    /// Retries, throttling and credential refreshes so far, per account id (only accounts
    /// that had any).
    pub fn call_stats(&self) -> BTreeMap<String, CallStats> {
        let mut stats: BTreeMap<String, CallStats> = BTreeMap::new();
        for session in self.open.lock().unwrap_or_else(|e| e.into_inner()).values() {
            let session_stats = session.counters.stats();
            if session_stats != CallStats::default() {
                stats
                    .entry(session.account_id.clone())
                    .or_default()
                    .add(session_stats);
            }
        }
        stats
    }

    /// AssumeRole calls made so far, per account id (every configured account listed).
    pub fn assume_role_calls(&self) -> BTreeMap<String, u64> {
        let mut calls: BTreeMap<String, u64> = self
            .accounts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .map(|id| (id.clone(), 0))
            .collect();
        for session in self.open.lock().unwrap_or_else(|e| e.into_inner()).values() {
            *calls.entry(session.account_id.clone()).or_default() +=
                session.assume_role_calls.load(Ordering::Relaxed);
        }
        calls
    }
}

impl Session {
    /// Assumes the role and asks STS who xacct now is: the assumed-role ARN.
    pub async fn caller_arn(&self) -> Result<String, AwsError> {
        self.ensure_credentials().await?;
        let what = format!("GetCallerIdentity as {}", self.role_arn);
        let output = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(Service::Sts, &what, &e))?;
        Ok(output.arn().unwrap_or_default().to_owned())
    }

    /// Makes sure the role can be assumed (a cached result costs nothing). A refusal
    /// names what the trust policy must allow beyond `sts:AssumeRole`.
    pub async fn ensure_credentials(&self) -> Result<(), AwsError> {
        let what = format!("AssumeRole into {}", self.role_arn);
        match self.credentials.get().await {
            Ok(_) => Ok(()),
            Err(err) => {
                let err = AwsError::from_credentials(&what, &err);
                if err.code.as_deref() == Some("PackedPolicyTooLarge") {
                    let grant = self.grant_key.as_deref().unwrap_or("the plugin's grant");
                    return Err(err.with_fix(format!(
                        "STS packs the session policy of {grant} with the session tags: shrink {grant}.s3 \
                         (merge rules with bucket globs, drop prefixes) or set session_tags = false in [aws]"
                    )));
                }
                if is_chaining_refusal(&err) {
                    return Err(err.with_fix(
                        "the home identity is a role session and role chaining caps sessions at 1 hour: \
                         lower session_duration to 3600 or less",
                    ));
                }
                if err.is_refusal() && !self.extras.is_empty() {
                    let extras = self.extras.join(" and ");
                    return Err(err.with_fix(format!(
                        "the role's trust policy must allow {extras} for the home principal besides sts:AssumeRole \
                         (`xacct iam` prints it), or turn them off in [aws] (session_tags = false, no source_identity)"
                    )));
                }
                Err(err)
            }
        }
    }

    /// AWS declared the credentials of a call started at `started` expired or invalid:
    /// unless they were replaced since, the next call assumes the role again (once, for
    /// every concurrent caller).
    pub fn credentials_rejected(&self, started: Instant) {
        if self.credentials.forget_if_older(started) {
            self.counters.refreshed();
        }
    }

    /// The session's fault counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The S3 client for requests on `bucket` (its region, once known), or for requests
    /// on no bucket (the account's region).
    pub fn s3(&self, bucket: Option<&str>) -> aws_sdk_s3::Client {
        let region = bucket
            .and_then(|bucket| self.bucket_region(bucket))
            .unwrap_or_else(|| self.account_region.clone());
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry(region)
            .or_insert_with_key(|region| {
                let config = self
                    .s3_config
                    .to_builder()
                    .region(Region::new(region.clone()))
                    .build();
                aws_sdk_s3::Client::from_conf(config)
            })
            .clone()
    }

    /// The S3 Control client of the account's region.
    pub fn s3control(&self) -> &aws_sdk_s3control::Client {
        &self.s3control
    }

    /// The region S3 said `bucket` is in, if it said.
    pub fn bucket_region(&self, bucket: &str) -> Option<String> {
        self.bucket_regions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(bucket)
            .cloned()
    }

    /// Remembers where `bucket` is, for every later request of the session.
    pub fn learn_bucket_region(&self, bucket: &str, region: &str) {
        self.bucket_regions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(bucket.to_owned(), region.to_owned());
    }
}

/// Whether a caller ARN is a role session (`arn:P:sts::A:assumed-role/ROLE/SESSION`):
/// Identity Center, a chained profile, ECS, Lambda or EC2 credentials.
fn is_role_session(caller_arn: &str) -> bool {
    caller_arn
        .splitn(6, ':')
        .nth(5)
        .is_some_and(|resource| resource.starts_with("assumed-role/"))
}

fn exceeds_chaining_limit(role: &AccountRole) -> bool {
    role.session_duration
        .is_some_and(|duration| duration > CHAINED_SESSION_LIMIT)
}

/// STS's refusal of a chained session longer than an hour (`ValidationError`, "… exceeds
/// the 1 hour session limit for roles assumed by role chaining").
fn is_chaining_refusal(err: &AwsError) -> bool {
    err.code.as_deref() == Some("ValidationError")
        && err
            .message
            .as_deref()
            .is_some_and(|message| message.contains("role chaining"))
}

/// Bounds on every S3 request: a stalled call fails (and an unfinished multipart upload
/// is aborted) instead of holding an invocation, or its cleanup, forever.
fn s3_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(Duration::from_secs(120))
        .build()
}

#[cfg(test)]
mod tests;
