//! The seam a provider (AWS, in `xacct-aws`) plugs into: the S3 [`Backend`] a plugin's
//! run reaches its accounts through, and what else the provider adds to a run —
//! accounts listed when it starts, each account prepared before a plugin runs against
//! it (on AWS: its role assumed), and what the report says of the provider (credential
//! requests, what its faults cost, uploads it could not clean up). The pipeline and the
//! report know a provider only through this; the core names no provider's types.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use crate::bindings::Account;
use crate::capability::grant::Grant;
use crate::capability::s3::backend::Backend;
use crate::config::accounts::AccountConfig;

/// A provider's failure, as the operator reads it (already made safe to print).
pub type ProviderError = Box<dyn std::error::Error + Send + Sync>;

/// Who a run is for: a plugin (which a provider names in what it does, e.g. AWS session
/// names and tags), the exact component, and the grant that bounds it.
#[derive(Debug, Clone)]
pub struct RunIdentity {
    pub plugin: String,
    /// The sha256 of the plugin's component (absent when it could not be loaded).
    pub sha256: Option<String>,
    pub grant: Option<Arc<Grant>>,
}

/// Where plugins' accounts are.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Accounts listed when a run starts (an AWS Organization's), once per run, before
    /// anything is selected; none by default.
    async fn discover(&self) -> Result<Vec<AccountConfig>, ProviderError> {
        Ok(Vec::new())
    }

    /// What one plugin's run reaches its accounts through.
    fn open_run(&self, run: &RunIdentity) -> Arc<dyn ProviderRun>;
}

/// One plugin's run on a provider.
#[async_trait]
pub trait ProviderRun: Send + Sync {
    /// The S3 the run's invocations call.
    fn backend(&self) -> Arc<dyn Backend>;

    /// Obtains what serving `account` needs before a plugin runs against it (on AWS:
    /// assumed-role credentials), so that a failure is the account's error up front.
    async fn prepare_account(&self, _account: &Account) -> Result<(), ProviderError> {
        Ok(())
    }

    /// The partition the ARNs of the run's resources name (`arn:PARTITION:s3:::bucket`),
    /// as a refusal's report names them: `aws` unless the provider knows better (on AWS:
    /// the home identity's, `aws-cn` in China, `aws-us-gov` in GovCloud).
    fn arn_partition(&self) -> &'static str {
        "aws"
    }

    /// What the report says of the provider, as of now.
    fn report(&self) -> ProviderReport {
        ProviderReport::default()
    }
}

/// What a provider adds to a report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderReport {
    /// Credential requests (on AWS, AssumeRole calls) made so far, per account.
    pub assume_role_calls: BTreeMap<String, u64>,
    /// What the provider's faults cost, per account that had any.
    pub call_stats: BTreeMap<String, CallStats>,
    /// Multipart uploads left open because their abort was refused.
    pub orphaned_uploads: Vec<OrphanedUpload>,
}

/// What a provider's faults cost one account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CallStats {
    /// Attempts past each call's first.
    pub retries: u64,
    /// Answers that asked to slow down (HTTP 429 or 503, or a throttling error code).
    pub throttled: u64,
    /// Credentials obtained again because the provider declared them expired or invalid.
    pub refreshes: u64,
    /// Object bodies read on from where a broken connection left them.
    pub resumes: u64,
}

impl CallStats {
    pub fn add(&mut self, other: CallStats) {
        self.retries += other.retries;
        self.throttled += other.throttled;
        self.refreshes += other.refreshes;
        self.resumes += other.resumes;
    }
}

/// A multipart upload that could not be aborted: it holds storage (and is billed) until
/// someone aborts it or a lifecycle rule (`AbortIncompleteMultipartUpload`) does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrphanedUpload {
    pub account: String,
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    /// Why the abort failed.
    pub reason: String,
}

/// A provider that adds nothing to its backend: the local backend, or an embedder's.
pub struct BackendProvider(pub Arc<dyn Backend>);

impl Provider for BackendProvider {
    fn open_run(&self, _run: &RunIdentity) -> Arc<dyn ProviderRun> {
        Arc::new(BackendRun(self.0.clone()))
    }
}

struct BackendRun(Arc<dyn Backend>);

impl ProviderRun for BackendRun {
    fn backend(&self) -> Arc<dyn Backend> {
        self.0.clone()
    }
}
