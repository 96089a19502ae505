//! The pipeline end to end: config → plan → credentials → sandbox → capability → report.
//!
//! This is the one place that knows the order of the stages; each stage lives in its own
//! module and knows nothing of the others' internals.

use std::sync::Arc;

use aws_credential_types::provider::SharedCredentialsProvider;
use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::capability::aws::AwsBackend;
use crate::capability::local::LocalBackend;
use crate::capability::{Backend, Capability, error_message};
use crate::config::{BackendConfig, Config};
use crate::credentials::{SessionSpec, Sessions};
use crate::plan::{Mode, Plan, Scope};
use crate::policy::Grant;
use crate::report::{Entry, Report};
use crate::sandbox::{Failure, LoadError, Outcome, Sandbox, plugin_file};

/// What to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub plugin: String,
    /// JSON text handed to the plugin's `run`.
    pub input: String,
    pub mode: Mode,
}

/// Why a run could not start at all (as opposed to an account failing).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Plugin(#[from] LoadError),
    #[error("{}: local.root: the directory {} does not exist; fix: create it or point local.root (or --local-root) at your data", config.display(), root.display())]
    MissingLocalRoot {
        config: std::path::PathBuf,
        root: std::path::PathBuf,
    },
}

/// The S3 service the config names, connected once per process: every run of the
/// process shares it, and with it the AWS sessions and their cached credentials.
pub enum Service {
    Local(Arc<LocalBackend>),
    Aws(Arc<Sessions>),
    /// A backend supplied by an embedder.
    Custom(Arc<dyn Backend>),
}

impl Service {
    /// Connects to the configured backend. `home_credentials` replaces the standard AWS
    /// credential chain (for embedding); the CLI passes `None`.
    pub async fn connect(
        config: &Config,
        home_credentials: Option<SharedCredentialsProvider>,
    ) -> Result<Service, RunError> {
        match &config.backend {
            BackendConfig::Local { root } => {
                if !root.is_dir() {
                    return Err(RunError::MissingLocalRoot {
                        config: config.path.clone(),
                        root: root.clone(),
                    });
                }
                Ok(Service::Local(Arc::new(LocalBackend::new(root))))
            }
            BackendConfig::Aws(aws) => Ok(Service::Aws(Arc::new(
                Sessions::load(aws, &config.accounts, home_credentials).await,
            ))),
        }
    }

    /// The backend that serves `plugin`. On AWS its sessions are named after it, tagged
    /// with its sha256, and bounded by its grant's session policy.
    pub fn backend_for(
        &self,
        plugin: &str,
        sha256: Option<&str>,
        grant: Option<&Grant>,
    ) -> Arc<dyn Backend> {
        match self {
            Service::Local(local) => local.clone(),
            Service::Custom(backend) => backend.clone(),
            Service::Aws(sessions) => {
                let spec = SessionSpec {
                    plugin: plugin.to_owned(),
                    sha256: sha256.map(str::to_owned),
                    policy: grant.map(|grant| grant.session_policy().to_string()),
                };
                Arc::new(AwsBackend::new(sessions.clone(), spec))
            }
        }
    }
}

/// Runs a plugin over its planned accounts: one invocation per scope, at most
/// `config.concurrency` at a time, and reports every one of them.
pub async fn run(
    config: &Config,
    sandbox: &Arc<Sandbox>,
    service: &Service,
    request: &RunRequest,
) -> Result<Report, RunError> {
    let plan = Plan::new(config, &request.plugin, request.mode);
    let grant = Arc::new(
        config
            .grant_for(&request.plugin)
            .cloned()
            .unwrap_or_else(|| Grant::none(&request.plugin)),
    );
    let path = plugin_file(&config.plugins_dir, &request.plugin)?;
    // A plugin that fails to load is every planned account's error, not the run's: the
    // report still says which accounts did not get their run.
    let plugin = match sandbox.load(&request.plugin, &path) {
        Ok(plugin) => Ok(Arc::new(plugin)),
        Err(err) => Err(Failure::Load(err.to_string())),
    };
    let sha256 = plugin.as_ref().ok().map(|p| p.sha256.clone());
    let backend = service.backend_for(&request.plugin, sha256.as_deref(), Some(&grant));

    // Credentials: an account whose role cannot be assumed is that account's error, and
    // the plugin runs against the others. (A plugin that did not load needs none.)
    let prepared: Vec<_> = futures::stream::iter(&plan.accounts)
        .map(|account| async {
            match &plugin {
                Ok(_) => backend.prepare_account(account).await,
                Err(_) => Ok(()),
            }
        })
        .buffered(config.concurrency)
        .collect()
        .await;
    let mut unprepared = Vec::new();
    let mut ready = Vec::new();
    for (account, prepared) in plan.accounts.iter().zip(prepared) {
        match prepared {
            Ok(()) => ready.push(account.clone()),
            Err(err) => {
                let failure = Failure::Credentials(error_message(&err));
                let outcome = Outcome::failed(failure);
                let scope = vec![(account.id.clone(), account.alias.clone())];
                unprepared.push(Entry::new(Mode::PerAccount, scope, outcome));
            }
        }
    }
    let ready = Plan {
        accounts: ready,
        ..plan.clone()
    };

    let permits = Arc::new(Semaphore::new(config.concurrency));
    let mut tasks = JoinSet::new();
    for (index, scope) in ready.scopes().into_iter().enumerate() {
        let (sandbox, plugin, backend, permits, grant) = (
            sandbox.clone(),
            plugin.clone(),
            backend.clone(),
            permits.clone(),
            grant.clone(),
        );
        let (input, limits) = (request.input.clone(), plan.limits);
        let span = tracing::info_span!("invocation", plugin = %plan.plugin, account = %scope_label(&scope));
        tasks.spawn(
            async move {
                let _permit = permits
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                let outcome = match &plugin {
                    Ok(plugin) => {
                        let capability = Capability::new(backend, scope.clone(), grant, limits);
                        sandbox.invoke(plugin, capability, limits, &input).await
                    }
                    Err(failure) => Outcome::failed(failure.clone()),
                };
                log_outcome(&outcome);
                (index, scope, outcome)
            }
            .instrument(span),
        );
    }
    let mut finished = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        finished.push(joined.expect("invocation tasks do not panic"));
    }
    finished.sort_by_key(|(index, _, _)| *index);
    let mut entries: Vec<Entry> = finished
        .into_iter()
        .map(|(_, scope, outcome)| {
            let accounts = scope
                .iter()
                .map(|a| (a.id.clone(), a.alias.clone()))
                .collect();
            Entry::new(plan.mode, accounts, outcome)
        })
        .collect();
    entries.extend(unprepared);
    // Config order, whatever stage an entry ended in (an all-accounts entry first).
    let position = |entry: &Entry| plan.accounts.iter().position(|a| a.id == entry.account_id);
    entries.sort_by_key(position);
    Ok(Report {
        assume_role_calls: backend.assume_role_calls(),
        notes: plan.note.clone().into_iter().collect(),
        plugin: plan.plugin,
        sha256,
        mode: match plan.mode {
            Mode::PerAccount => "per-account",
            Mode::AllAccounts => "all-accounts",
        },
        entries,
    })
}

fn scope_label(scope: &Scope) -> String {
    match &scope[..] {
        [account] => account.id.clone(),
        accounts => format!("{} accounts", accounts.len()),
    }
}

/// Puts what the plugin printed and how it ended into the host's log, under the
/// invocation's span (plugin and account fields).
fn log_outcome(outcome: &Outcome) {
    for line in outcome.stdout.lines().filter(|l| !l.is_empty()) {
        tracing::info!(stream = "stdout", "{line}");
    }
    for line in outcome.stderr.lines().filter(|l| !l.is_empty()) {
        tracing::info!(stream = "stderr", "{line}");
    }
    match &outcome.result {
        Ok(_) => tracing::debug!(ms = outcome.duration.as_millis() as u64, "ok"),
        Err(failure) => tracing::warn!(kind = failure.kind(), "{failure}"),
    }
}
