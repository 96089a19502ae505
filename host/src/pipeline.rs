//! The run API of the command line, the Lambda runtime and embedders: the service a
//! config names (the local backend, AWS, or an embedder's backend), connected once per
//! process, and the core's pipeline run on it.

use std::sync::Arc;

use async_trait::async_trait;
use aws_credential_types::provider::SharedCredentialsProvider;
use xacct_aws::{AwsProvider, HomeIdentityError};
use xacct_core::capability::Backend;
use xacct_core::capability::grant::Grant;
use xacct_core::config::accounts::AccountConfig;
pub use xacct_core::pipeline::{Progress, RunRequest, plan};
use xacct_core::provider::{BackendProvider, Provider, ProviderError, ProviderRun, RunIdentity};
use xacct_core::report::Report;
use xacct_core::sandbox::Sandbox;

use crate::config::{Backend as Served, Config};

/// Why a run could not start at all (as opposed to an account failing).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Core(#[from] xacct_core::pipeline::RunError),
    /// The home identity is broken: no account could run.
    #[error(transparent)]
    HomeIdentity(#[from] HomeIdentityError),
}

/// The service the config names, connected once per process: every run of the process
/// shares it, and with it the AWS sessions and their cached credentials.
pub enum Service {
    Local(BackendProvider),
    Aws(Arc<AwsProvider>),
    /// A backend supplied by an embedder.
    Custom(Arc<dyn Backend>),
}

impl Service {
    /// Connects to the configured backend. `home_credentials` replaces the standard AWS
    /// credential chain (for embedding); the command line passes `None`.
    pub async fn connect(
        config: &Config,
        home_credentials: Option<SharedCredentialsProvider>,
    ) -> Result<Service, RunError> {
        match (config.backend, config.aws()) {
            (Served::Aws, Some(aws)) => Ok(Service::Aws(Arc::new(
                AwsProvider::connect(aws, &config.core, &config.aws, home_credentials).await?,
            ))),
            _ => Ok(Service::Local(xacct_core::pipeline::local_provider(
                &config.core,
            )?)),
        }
    }

    /// With `[organization]`: lists the organization's accounts into `config` — once per
    /// run, before anything is selected or planned. Without it, nothing happens.
    pub async fn discover(&self, config: &mut Config) -> Result<(), RunError> {
        Ok(xacct_core::pipeline::discover(&mut config.core, self).await?)
    }

    /// Like [`Service::discover`], the accounts' tags listed too when `with_tags` (a
    /// selection by tag that the config alone does not foresee).
    pub async fn discover_with_tags(
        &self,
        config: &mut Config,
        with_tags: bool,
    ) -> Result<(), RunError> {
        let Service::Aws(aws) = self else {
            return Ok(());
        };
        let listed = aws
            .list_organization(with_tags)
            .await
            .map_err(|err| xacct_core::pipeline::RunError::Discovery(err.into()))?;
        if !listed.is_empty() {
            config
                .core
                .add_listed(listed)
                .map_err(xacct_core::pipeline::RunError::from)?;
        }
        Ok(())
    }

    /// Runs on `accounts`, listed elsewhere (a Step Functions run's plan), instead of the
    /// configured and listed ones: they replace `config`'s, and AWS sessions may open in
    /// them.
    pub fn adopt(&self, config: &mut Config, accounts: Vec<AccountConfig>) {
        if let Service::Aws(aws) = self {
            aws.adopt(&accounts);
        }
        config.core.accounts = accounts;
    }

    /// The host's own objects in the home account; `None` off AWS.
    pub fn home_objects(&self) -> Option<xacct_aws::home_objects::HomeObjects> {
        match self {
            Service::Aws(aws) => Some(xacct_aws::home_objects::HomeObjects::new(aws.sessions())),
            Service::Local(_) | Service::Custom(_) => None,
        }
    }

    /// The backend that serves `plugin`. On AWS its sessions are named after it, tagged
    /// with its sha256, and bounded by its grant's session policy.
    pub fn backend_for(
        &self,
        plugin: &str,
        sha256: Option<&str>,
        grant: Option<Arc<Grant>>,
    ) -> Arc<dyn Backend> {
        self.open_run(&RunIdentity {
            plugin: plugin.to_owned(),
            sha256: sha256.map(str::to_owned),
            grant,
        })
        .backend()
    }
}

#[async_trait]
impl Provider for Service {
    async fn discover(&self) -> Result<Vec<AccountConfig>, ProviderError> {
        match self {
            Service::Aws(aws) => aws.discover().await,
            Service::Local(_) | Service::Custom(_) => Ok(Vec::new()),
        }
    }

    fn open_run(&self, run: &RunIdentity) -> Arc<dyn ProviderRun> {
        match self {
            Service::Local(local) => local.open_run(run),
            Service::Aws(aws) => aws.open_run(run),
            Service::Custom(backend) => BackendProvider(backend.clone()).open_run(run),
        }
    }
}

/// Connects the service `config` names and lists its accounts (with `[organization]`):
/// what a process does once before it selects accounts and runs plugins.
pub async fn connect(config: &mut Config) -> Result<Service, RunError> {
    let service = Service::connect(config, None).await?;
    service.discover(config).await?;
    Ok(service)
}

/// Runs a plugin over its planned accounts: one invocation per scope, at most
/// `config.concurrency` at a time, and reports every one of them.
pub async fn run(
    config: &Config,
    sandbox: &Arc<Sandbox>,
    service: &Service,
    request: &RunRequest,
    progress: &dyn Progress,
) -> Result<Report, RunError> {
    Ok(xacct_core::pipeline::run(&config.core, sandbox, service, request, progress).await?)
}
