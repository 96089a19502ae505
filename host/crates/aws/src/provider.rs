//! AWS as the core's provider: each run reaches its accounts through the home identity's
//! sessions ([`Sessions`]), prepares an account by assuming its role, and reports the
//! AssumeRole calls, what AWS's faults cost, and the uploads S3 refused to abort; with
//! `[organization]`, a run's accounts are listed from AWS Organizations first.

use std::sync::Arc;

use async_trait::async_trait;
use xacct_core::bindings::Account;
use xacct_core::capability::s3::backend::Backend;
use xacct_core::config::Config as CoreConfig;
use xacct_core::config::accounts::AccountConfig;
use xacct_core::provider::{Provider, ProviderError, ProviderReport, ProviderRun, RunIdentity};

use crate::config::{AwsConfig, AwsSettings, OrganizationConfig};
use crate::error::AwsError;
use crate::s3::AwsBackend;
use crate::session::{HomeIdentityError, SessionSpec, Sessions, Target};

/// The AWS provider of a process: its sessions, shared by every run.
pub struct AwsProvider {
    sessions: Arc<Sessions>,
    organization: Option<OrganizationConfig>,
    settings: AwsSettings,
}

/// The accounts of an organization could not be listed.
#[derive(Debug, thiserror::Error)]
#[error("cannot list the organization's accounts: {0}")]
pub struct DiscoveryError(pub AwsError);

impl AwsProvider {
    /// Connects the home identity of `aws` (its region resolved:
    /// [`crate::home_region::resolve_home_region`]) for the accounts of `core` and `settings`;
    /// `home_credentials` replaces the standard credential chain (for embedding).
    pub async fn connect(
        aws: &AwsConfig,
        core: &CoreConfig,
        settings: &AwsSettings,
        home_credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    ) -> Result<AwsProvider, HomeIdentityError> {
        let sessions = Sessions::connect(aws, targets(core, settings), home_credentials).await?;
        Ok(AwsProvider {
            sessions: Arc::new(sessions),
            organization: settings.organization.clone(),
            settings: settings.clone(),
        })
    }

    pub fn sessions(&self) -> &Arc<Sessions> {
        &self.sessions
    }

    /// With `[organization]`: its accounts, with their tags if the config reads them or
    /// `with_tags` (a selection by tag), and sessions may open in them from now on.
    pub async fn list_organization(
        &self,
        with_tags: bool,
    ) -> Result<Vec<AccountConfig>, DiscoveryError> {
        let Some(organization) = &self.organization else {
            return Ok(Vec::new());
        };
        let mut organization = organization.clone();
        organization.list_tags |= with_tags;
        let listed = self
            .sessions
            .list_organization(&organization)
            .await
            .map_err(DiscoveryError)?;
        self.adopt(&listed);
        Ok(listed)
    }

    /// Lets sessions open in `accounts`, listed elsewhere (a Step Functions run's plan):
    /// what [`Provider::discover`] does with the accounts it lists, without listing.
    pub fn adopt(&self, accounts: &[AccountConfig]) {
        self.sessions.add_accounts(
            accounts
                .iter()
                .filter_map(|account| target(account, &self.settings))
                .collect(),
        );
    }
}

/// The accounts sessions may open in: those with a role.
pub fn targets(core: &CoreConfig, settings: &AwsSettings) -> Vec<Target> {
    core.accounts
        .iter()
        .filter_map(|account| target(account, settings))
        .collect()
}

fn target(account: &AccountConfig, settings: &AwsSettings) -> Option<Target> {
    Some(Target {
        id: account.id.clone(),
        region: account.region.clone(),
        role: settings.role_of(&account.id)?,
    })
}

#[async_trait]
impl Provider for AwsProvider {
    async fn discover(&self) -> Result<Vec<AccountConfig>, ProviderError> {
        Ok(self.list_organization(false).await?)
    }

    fn open_run(&self, run: &RunIdentity) -> Arc<dyn ProviderRun> {
        Arc::new(AwsRun {
            backend: Arc::new(AwsBackend::new(
                self.sessions.clone(),
                SessionSpec::from(run),
            )),
            sessions: self.sessions.clone(),
        })
    }
}

/// One plugin's run on AWS.
struct AwsRun {
    backend: Arc<AwsBackend>,
    sessions: Arc<Sessions>,
}

#[async_trait]
impl ProviderRun for AwsRun {
    fn backend(&self) -> Arc<dyn Backend> {
        self.backend.clone()
    }

    async fn prepare_account(&self, account: &Account) -> Result<(), ProviderError> {
        self.backend
            .resolve(&account.id)?
            .ensure_credentials()
            .await
            .map_err(ProviderError::from)
    }

    fn arn_partition(&self) -> &'static str {
        self.sessions.partition().id
    }

    fn report(&self) -> ProviderReport {
        ProviderReport {
            assume_role_calls: self.sessions.assume_role_calls(),
            call_stats: self.sessions.call_stats(),
            orphaned_uploads: self.backend.orphaned_uploads(),
        }
    }
}
