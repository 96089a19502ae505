//! The pipeline end to end: config → plan → credentials → sandbox → capability → report.
//!
//! This is the one place that knows the order of the stages; each stage lives in its own
//! module and knows nothing of the others' internals. The credentials stage is the
//! provider's ([`crate::provider`]): on AWS, `xacct-aws` assumes each account's role.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::audit::AuditLog;
use crate::capability::gate::RunContext;
use crate::capability::grant::Grant;
use crate::capability::invocation::Capability;
use crate::capability::s3::local::LocalBackend;
use crate::config::Config;
use crate::plan::{Mode, Plan, Scope, Selection, input_sha256, plan_hash};
use crate::provider::{BackendProvider, Provider, ProviderError, RunIdentity};
use crate::report::text::inert;
use crate::report::{Entry, Report};
use crate::sandbox::{Failure, LoadError, LoadedPlugin, Outcome, Sandbox, plugin_file};
use crate::shard::{Shard, ShardStamp};

/// What to run, and how.
#[derive(Clone)]
pub struct RunRequest {
    pub plugin: String,
    /// JSON text handed to the plugin's `run`.
    pub input: String,
    pub mode: Mode,
    /// The operator's choice among the accounts the grant covers.
    pub selection: Selection,
    /// Replaces the plugin's time limit for this run.
    pub timeout: Option<Duration>,
    /// Plan mutations instead of executing them.
    pub dry_run: bool,
    /// Where every S3 call is recorded.
    pub audit: Option<Arc<AuditLog>>,
    /// Ends the run: in-flight invocations stop cleanly, waiting ones are skipped.
    pub cancel: CancellationToken,
    /// Only this shard of the selected accounts (per-account mode).
    pub shard: Option<Shard>,
    /// The plan this run must be (a shard of a plan made elsewhere): the hash of what it
    /// plans here — plugin build, input, mode, dry run, accounts — must be this one, or
    /// nothing runs ([`RunError::ForeignPlan`]).
    pub expected_plan_hash: Option<String>,
}

impl RunRequest {
    /// A plain run: every account, no dry run, no audit log.
    pub fn new(plugin: &str, input: &str, mode: Mode) -> RunRequest {
        RunRequest {
            plugin: plugin.to_owned(),
            input: input.to_owned(),
            mode,
            selection: Selection::default(),
            timeout: None,
            dry_run: false,
            audit: None,
            cancel: CancellationToken::new(),
            shard: None,
            expected_plan_hash: None,
        }
    }
}

/// Why a run could not start at all (as opposed to an account failing).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The accounts a provider lists could not be listed.
    #[error("{0}")]
    Discovery(ProviderError),
    #[error(transparent)]
    Plugin(#[from] LoadError),
    /// The config names what the listed accounts made ambiguous.
    #[error(transparent)]
    Config(#[from] crate::config::file::ConfigError),
    /// The run is not the plan it was asked to be.
    #[error(
        "this run's plan (plan_hash {actual}) is not the plan it was given ({expected}): another plugin build, input or account set than when the plan was made; nothing ran; fix: plan the run again"
    )]
    ForeignPlan { expected: String, actual: String },
    #[error("{}: local.root: the directory {} does not exist; fix: create it or point local.root (or --local-root) at your data", config.display(), root.display())]
    MissingLocalRoot {
        config: std::path::PathBuf,
        root: std::path::PathBuf,
    },
}

/// The local backend at the config's root, as a provider.
pub fn local_provider(config: &Config) -> Result<BackendProvider, RunError> {
    if !config.local_root.is_dir() {
        return Err(RunError::MissingLocalRoot {
            config: config.path.clone(),
            root: config.local_root.clone(),
        });
    }
    Ok(BackendProvider(Arc::new(LocalBackend::new(
        &config.local_root,
    ))))
}

/// Adds the accounts `provider` lists to `config` — once per run, before anything is
/// selected or planned.
pub async fn discover(config: &mut Config, provider: &dyn Provider) -> Result<(), RunError> {
    let listed = provider.discover().await.map_err(RunError::Discovery)?;
    if !listed.is_empty() {
        config.add_listed(listed)?;
    }
    Ok(())
}

/// Sets the operator's grant beside what the plugin declares, once the accounts are
/// known (those a provider listed included): each way it is wider is a warning, or, with
/// `strict_grants`, the refusal of the plugin.
fn check_declared(config: &Config, grant: &Grant, plugin: &LoadedPlugin) -> Result<(), Failure> {
    let Some(declared) = &plugin.provenance.declared else {
        return Ok(());
    };
    let excess = grant.excess(&declared.grant, &config.accounts);
    if excess.is_empty() {
        return Ok(());
    }
    let wider: Vec<String> = excess.iter().map(ToString::to_string).collect();
    let trust = config.trust_for(&plugin.name);
    if trust.strict_grants {
        return Err(Failure::Load(format!(
            "{} grants more than the plugin declares ({}), and {}.strict_grants is true; fix: narrow the grant (xacct grant suggest {} prints what the plugin declares)",
            grant.key,
            wider.join("; "),
            trust.key,
            plugin.name
        )));
    }
    for wider in wider {
        tracing::warn!(
            "{} grants more than the plugin declares: {}",
            grant.key,
            inert(&wider)
        );
    }
    Ok(())
}

/// Follows a run as it goes (progress bars, streamed output).
pub trait Progress: Send + Sync {
    /// The run will make `invocations` invocations.
    fn started(&self, _invocations: usize) {}
    /// An entry of the report is final.
    fn finished(&self, _entry: &Entry) {}
}

/// No one is watching.
impl Progress for () {}

/// The plan of a request: its accounts and its limits, with the request's overrides.
pub fn plan(config: &Config, request: &RunRequest) -> Plan {
    let mut plan = Plan::new(config, &request.plugin, request.mode, &request.selection);
    if let Some(timeout) = request.timeout {
        plan.limits.guest.time = timeout;
    }
    if let Some(shard) = request.shard {
        plan.shard(shard);
    }
    plan
}

/// Runs a plugin over its planned accounts: one invocation per scope, at most
/// `config.concurrency` at a time, and reports every one of them.
pub async fn run(
    config: &Config,
    sandbox: &Arc<Sandbox>,
    provider: &dyn Provider,
    request: &RunRequest,
    progress: &dyn Progress,
) -> Result<Report, RunError> {
    let started = Instant::now();
    let started_at = crate::audit::timestamp();
    let since_start = move || started.elapsed().as_millis() as u64;
    let plan = plan(config, request);
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
        Ok(plugin) => check_declared(config, &grant, &plugin).map(|()| Arc::new(plugin)),
        Err(err) => Err(Failure::Load(err.to_string())),
    };
    let sha256 = plugin.as_ref().ok().map(|p| p.sha256.clone());
    let plan_hash = plan_hash(
        sha256.as_deref(),
        &request.input,
        plan.mode,
        request.dry_run,
        &plan.selected,
    );
    if let Some(expected) = request.expected_plan_hash.as_ref()
        && *expected != plan_hash
    {
        return Err(RunError::ForeignPlan {
            expected: inert(expected).into_owned(),
            actual: plan_hash,
        });
    }
    let signer = plugin
        .as_ref()
        .ok()
        .and_then(|p| (p.provenance.signer.as_ref()).map(|signer| signer.fingerprint.clone()));
    let run = provider.open_run(&RunIdentity {
        plugin: request.plugin.clone(),
        sha256: sha256.clone(),
        grant: Some(grant.clone()),
    });
    let backend = run.backend();
    let context = Arc::new(RunContext {
        plugin: request.plugin.clone(),
        sha256: sha256.clone().unwrap_or_default(),
        signer: signer.clone(),
        dry_run: request.dry_run,
        audit: request.audit.clone(),
        arn_partition: run.arn_partition(),
    });
    progress.started(match plan.mode {
        Mode::PerAccount => plan.accounts.len(),
        Mode::AllAccounts => usize::from(!plan.accounts.is_empty()),
    });

    // Credentials: an account whose role cannot be assumed is that account's error, and
    // the plugin runs against the others. (A plugin that did not load needs none.)
    // A stopped run assumes no more roles: the accounts not yet prepared are skipped.
    let prepared: Vec<_> = futures::stream::iter(&plan.accounts)
        .map(|account| async {
            if request.cancel.is_cancelled() {
                return None;
            }
            Some(match &plugin {
                Ok(_) => run.prepare_account(account).await,
                Err(_) => Ok(()),
            })
        })
        .buffered(config.concurrency)
        .collect()
        .await;
    let mut entries = Vec::new();
    let mut ready = Vec::new();
    for (account, prepared) in plan.accounts.iter().zip(prepared) {
        match prepared {
            Some(Ok(())) => ready.push(account.clone()),
            None => {
                let entry = Entry::skipped(
                    Mode::PerAccount,
                    std::slice::from_ref(account),
                    since_start(),
                );
                progress.finished(&entry);
                entries.push(entry);
            }
            Some(Err(err)) => {
                let outcome = Outcome::failed(Failure::Credentials(err.to_string()));
                let entry = Entry::new(
                    Mode::PerAccount,
                    std::slice::from_ref(account),
                    since_start(),
                    outcome,
                );
                progress.finished(&entry);
                entries.push(entry);
            }
        }
    }
    let ready = Plan {
        accounts: ready,
        ..plan.clone()
    };

    let permits = Arc::new(Semaphore::new(config.concurrency));
    let mut tasks = JoinSet::new();
    // Which scope each task runs, to report a task that failed in the host (a bug) as
    // that scope's error rather than losing every other account's result.
    let mut task_scopes = HashMap::new();
    for scope in ready.scopes() {
        let (sandbox, plugin, backend, permits, grant, context) = (
            sandbox.clone(),
            plugin.clone(),
            backend.clone(),
            permits.clone(),
            grant.clone(),
            context.clone(),
        );
        let (input, limits, cancel) = (request.input.clone(), plan.limits, request.cancel.clone());
        let span = tracing::info_span!("invocation", plugin = %plan.plugin, account = %scope_label(&scope));
        let task_scope = scope.clone();
        let task = tasks.spawn(
            async move {
                // Cancelled before its turn: the invocation never starts. A slot and the
                // cancellation can be ready together (a cancelled invocation frees its
                // slot as the stop arrives), so the cancellation wins the race and is
                // checked again once the slot is held.
                let permit = tokio::select! {
                    biased;
                    () = cancel.cancelled() => return (scope, None),
                    permit = permits.acquire_owned() => permit.expect("the semaphore is never closed"),
                };
                if cancel.is_cancelled() {
                    return (scope, None);
                }
                let start_ms = since_start();
                let outcome = match &plugin {
                    Ok(plugin) => {
                        let capability = Capability::new(backend, scope.clone(), grant, &limits, context);
                        sandbox.invoke(plugin, capability, limits.guest, &input, &cancel).await
                    }
                    Err(failure) => Outcome::failed(failure.clone()),
                };
                drop(permit);
                log_outcome(&outcome);
                (scope, Some((start_ms, outcome)))
            }
            .instrument(span),
        );
        task_scopes.insert(task.id(), task_scope);
    }
    while let Some(joined) = tasks.join_next_with_id().await {
        let (scope, outcome) = match joined {
            Ok((_, ended)) => ended,
            Err(failed) => {
                tracing::error!("an invocation failed in the host: {failed}");
                let failure = Failure::Host("the host failed while running this invocation".into());
                (
                    task_scopes[&failed.id()].clone(),
                    Some((since_start(), Outcome::failed(failure))),
                )
            }
        };
        let entry = match outcome {
            Some((start_ms, outcome)) => Entry::new(plan.mode, &scope, start_ms, outcome),
            None => Entry::skipped(plan.mode, &scope, since_start()),
        };
        progress.finished(&entry);
        entries.push(entry);
    }
    // Config order, whatever stage an entry ended in (an all-accounts entry first).
    let positions: HashMap<&str, usize> = plan
        .accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.as_str(), i))
        .collect();
    entries.sort_by_key(|entry| positions.get(entry.account_id.as_str()).copied());
    let shard = plan.shard.map(|shard| ShardStamp {
        index: shard.number(),
        count: shard.count,
        planned: plan.selected.len(),
        accounts: plan.selected.clone(),
        input_sha256: input_sha256(&request.input),
    });
    let provided = run.report();
    let mut notes: Vec<String> = plan.note.clone().into_iter().collect();
    if !provided.orphaned_uploads.is_empty() {
        notes.push(format!(
            "{} multipart upload(s) could not be aborted and remain open (orphaned_uploads names bucket, key and upload id): abort them, or add a lifecycle rule AbortIncompleteMultipartUpload to the bucket",
            provided.orphaned_uploads.len()
        ));
    }
    Ok(Report {
        assume_role_calls: provided.assume_role_calls,
        call_stats: provided.call_stats,
        orphaned_uploads: provided.orphaned_uploads,
        notes,
        plugin: plan.plugin,
        sha256,
        signer,
        mode: plan.mode.name(),
        dry_run: request.dry_run,
        started_at,
        duration_ms: since_start(),
        plan_hash,
        shard,
        entries,
    })
}

fn scope_label(scope: &Scope) -> String {
    match &scope[..] {
        [account] => account.id.clone(),
        accounts => format!("{} accounts", accounts.len()),
    }
}

/// Puts how the invocation ended into the host's log, under its span (plugin and account
/// fields), after what it printed (logged as it printed it). The plugin chose the failure's
/// text: made [`inert`], it is one event on one line, and cannot forge another plugin's or
/// account's line or drive the operator's terminal.
fn log_outcome(outcome: &Outcome) {
    match &outcome.result {
        Ok(_) => tracing::debug!(ms = outcome.duration.as_millis() as u64, "ok"),
        // The operator asked for it, and the report's recap lists them.
        Err(Failure::Cancelled) => tracing::debug!(kind = "cancelled", "cancelled"),
        Err(failure) => tracing::warn!(kind = failure.kind(), "{}", inert(&failure.to_string())),
    }
}
