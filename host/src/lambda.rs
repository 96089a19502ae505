//! The host as an AWS Lambda function — the classic deployment, a Lambda in the home
//! account, with the plugins kept away from its credentials — on a custom runtime
//! (`lambda_runtime`, the `xacct-lambda` binary as `bootstrap`).
//!
//! Everything comes from the deployment package (`$LAMBDA_TASK_ROOT`): the config
//! (`xacct.toml`, or `$XACCT_CONFIG`), the plugin directory it names, and plugins compiled
//! ahead of time. The home identity is the function's execution role (the SDK's standard
//! chain). The config, the compiled plugins and the AWS sessions with their cached
//! credentials are set up once per execution environment and serve every invocation it
//! gets.
//!
//! An event runs a plugin — `{"plugin": "inventory", "input": {…}, "shard": "3/16"}`,
//! optionally with `accounts`, `tags`, `exclude`, `all_accounts`, `dry_run` — and the
//! response is its report, the JSON `xacct run --output json` prints; or it merges the
//! reports of a run's shards — `{"reports": [report, …]}` — into the run's report, as
//! `xacct report merge` does (the last step of the Step Functions state machine in
//! `deploy/`).
//!
//! The state machine runs a plan made once ([`plan`]): `{"plan": {…}}` lists the
//! organization, selects the accounts and answers the plan for the Map's shards; a shard
//! (`{"shard": "3/16", "from_plan": {…}}`) runs the accounts its plan names, listing
//! nothing; `{"merge": {"from_plan": {…}, "results": {…}}}` merges the shards' results as
//! the Map's `ResultWriter` exported them to S3 ([`results`]), failed shards included.
//! A plugin event not from a plan lists the organization once per execution
//! environment, on its first such event.

mod plan;
mod results;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Deserialize;
use serde_json::Value;

use xacct_aws::home_region::resolve_home_region;
use xacct_core::audit::AuditLog;
use xacct_core::plan::Selection;
use xacct_core::report::private;
use xacct_core::sandbox::{CacheLocation, LoadOptions, Sandbox};
use xacct_core::shard::{Shard, merge};

use crate::config::{Config, DEFAULT_FILE, ENV_VAR};
use crate::pipeline::{self, Service};
use crate::request::Ask;

/// One invocation's event.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// The plugin to run (its file name in the plugin directory, without `.wasm`).
    pub plugin: Option<String>,
    /// Handed to the plugin's `run`; `{}` by default.
    #[serde(default)]
    pub input: Option<Value>,
    /// `K/N`: only shard K of N (counted from 1) of the selected accounts.
    pub shard: Option<String>,
    #[serde(default)]
    pub all_accounts: bool,
    #[serde(default)]
    pub dry_run: bool,
    /// Only these accounts (ids or aliases).
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Only accounts carrying all these tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Merge these shards' reports instead of running anything.
    pub reports: Option<Vec<Value>>,
    /// Plan a Step Functions run: list the organization once, answer the shards' plan.
    pub plan: Option<plan::PlanAsk>,
    /// Run shard `shard` of this plan (made by a `plan` event).
    pub from_plan: Option<plan::PlanRef>,
    /// Merge a Step Functions run's results from S3.
    pub merge: Option<results::MergeAsk>,
}

/// What one execution environment keeps between invocations.
pub struct Deployment {
    /// The packaged config: its own accounts, none listed.
    config: Config,
    /// The config with the organization's accounts, listed on the first plugin event
    /// not from a plan (a failed listing is that event's error, and tried again).
    listed: tokio::sync::OnceCell<Config>,
    sandbox: Arc<Sandbox>,
    service: Service,
    /// One JSON line per S3 call, as the CLI's `--audit` writes it, to the function's log
    /// stream (standard output, which Lambda collects).
    audit: Arc<AuditLog>,
}

impl Deployment {
    /// Loads the packaged config, connects the home identity and prepares the sandbox,
    /// with the packaged compiled plugins copied to `scratch` (Lambda's `/tmp`). No
    /// organization is listed yet: a shard of a plan runs the accounts its plan names.
    pub async fn open(task_root: &Path, scratch: &Path) -> Result<Deployment, Error> {
        let path = match std::env::var_os(ENV_VAR) {
            Some(path) => task_root.join(path),
            None => task_root.join(DEFAULT_FILE),
        };
        let mut config = Config::load(&path)?;
        resolve_home_region(&mut config.core, &mut config.aws, None).await?;
        let service = Service::connect(&config, None).await?;
        let mut options = LoadOptions::for_config(&config);
        options.cache = Some(seed_compile_cache(task_root, scratch)?);
        let sandbox = Arc::new(Sandbox::with_options(options, config.concurrency as u32)?);
        Ok(Deployment {
            config,
            listed: tokio::sync::OnceCell::new(),
            sandbox,
            service,
            audit: Arc::new(AuditLog::stdout()?),
        })
    }

    /// Answers one event: a report (or a plan, or a merged run's report).
    pub async fn handle(&self, event: Event) -> Result<Value, Error> {
        let objects = self.service.home_objects();
        if let Some(ask) = event.plan {
            // Once per Map run: the organization as it is now, its tags only if the grant
            // or the selection reads them (tags are one request per account).
            let mut config = self.config.clone();
            self.service
                .discover_with_tags(&mut config, !ask.tags.is_empty())
                .await?;
            return Ok(plan::make(ask, &config, &self.sandbox, objects.as_ref()).await?);
        }
        if let Some(ask) = event.merge {
            let objects = objects.ok_or(
                "a merge of a Step Functions run reads S3: the config's backend must be AWS",
            )?;
            let plan = plan::load(&ask.from_plan, Some(&objects)).await?;
            return Ok(results::merge_results(&plan, &ask.results, &objects).await?);
        }
        if let Some(from_plan) = event.from_plan {
            let plan = plan::load(&from_plan, objects.as_ref()).await?;
            let shard = event
                .shard
                .as_deref()
                .map(Shard::parse)
                .transpose()?
                .ok_or(
                    "a shard of a plan names its shard: {\"shard\": \"K/N\", \"from_plan\": {…}}",
                )?;
            if shard.count != plan.shards {
                return Err(format!("shard {shard} of a plan of {} shards", plan.shards).into());
            }
            let mut config = self.config.clone();
            self.service.adopt(
                &mut config,
                plan.accounts
                    .iter()
                    .map(plan::PlannedAccount::config)
                    .collect(),
            );
            let mut request = Ask {
                plugin: plan.plugin.clone(),
                input: plan.input.clone(),
                shard: Some(shard),
                dry_run: plan.dry_run,
                ..Ask::default()
            }
            .into_request()?;
            request.expected_plan_hash = Some(plan.plan_hash.clone());
            request.audit = Some(self.audit.clone());
            let report =
                pipeline::run(&config, &self.sandbox, &self.service, &request, &()).await?;
            let report = serde_json::to_value(&report)?;
            return Ok(results::shard_output(report, &plan, shard, objects.as_ref()).await?);
        }
        if let Some(reports) = event.reports {
            let named: Vec<(String, Value)> = reports
                .into_iter()
                .enumerate()
                .map(|(i, report)| (format!("reports[{i}]"), report))
                .collect();
            return Ok(merge(&named)?);
        }
        let plugin = event
            .plugin
            .ok_or("the event names no plugin: {\"plugin\": \"NAME\", \"input\": {…}} runs one, {\"reports\": […]} merges shards' reports")?;
        let input = event
            .input
            .unwrap_or_else(|| Value::Object(Default::default()));
        let selection = Selection {
            accounts: event.accounts,
            tags: event.tags.into_iter().collect(),
            exclude: event.exclude,
        };
        let config = self
            .listed
            .get_or_try_init(|| async {
                // Later events may select accounts by tag.
                let mut config = self.config.clone();
                self.service
                    .discover_with_tags(&mut config, true)
                    .await
                    .map(|()| config)
            })
            .await?;
        selection
            .validate(config)
            .map_err(|problem| format!("accounts/exclude: {problem}"))?;
        let ask = Ask {
            plugin,
            input: input.to_string(),
            all_accounts: event.all_accounts,
            selection,
            shard: event.shard.as_deref().map(Shard::parse).transpose()?,
            dry_run: event.dry_run,
            timeout: None,
        };
        let mut request = ask.into_request()?;
        request.audit = Some(self.audit.clone());
        let report = pipeline::run(config, &self.sandbox, &self.service, &request, &()).await?;
        Ok(serde_json::to_value(&report)?)
    }
}

/// The compile cache in `scratch`, holding the plugins compiled into the package: the
/// package's `xacct-cache/xacct/` and its key `xacct-state/xacct/cache.key` (what
/// `XDG_CACHE_HOME=xacct-cache XDG_STATE_HOME=xacct-state xacct plugins` leaves there).
/// The package's files belong to another user than the function's, so the cache would
/// refuse them in place: they are copied, owner-only, as the package is as trusted as
/// the binary it holds. Without them, plugins compile on an environment's first use.
fn seed_compile_cache(task_root: &Path, scratch: &Path) -> std::io::Result<CacheLocation> {
    let location = CacheLocation {
        dir: scratch.join("xacct-cache"),
        key_file: scratch.join("xacct-state/cache.key"),
    };
    private::create_dir(&location.dir)?;
    private::create_dir(&scratch.join("xacct-state"))?;
    let key = task_root.join("xacct-state/xacct/cache.key");
    if key.is_file() && !location.key_file.exists() {
        private::write(&location.key_file, &std::fs::read(&key)?)?;
        let entries = std::fs::read_dir(task_root.join("xacct-cache/xacct"));
        for entry in entries.into_iter().flatten().flatten() {
            if entry.file_type()?.is_file() {
                let to = location.dir.join(entry.file_name());
                private::write(&to, &std::fs::read(entry.path())?)?;
            }
        }
    }
    Ok(location)
}

/// Serves invocations from the Runtime API (`AWS_LAMBDA_RUNTIME_API`) until the
/// environment is shut down. A deployment that cannot open (an Organizations outage, say)
/// is that invocation's error, with the reason, and is opened again for the next one: an
/// environment serves many invocations ("Understanding the Lambda execution environment
/// lifecycle", Lambda Developer Guide), so a failure kept would fail them all.
pub async fn serve() -> Result<(), Error> {
    let task_root = PathBuf::from(std::env::var_os("LAMBDA_TASK_ROOT").unwrap_or(".".into()));
    // Private to this environment: created fresh (0700, a name no one can predict) in
    // the temporary directory, never a fixed path another process could have planted a
    // link at; removed when the environment shuts down.
    let scratch_dir = tempfile::Builder::new()
        .prefix("xacct-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .map_err(|err| Error::from(format!("cannot create a private scratch directory: {err}")))?;
    let scratch = scratch_dir.path().to_owned();
    let opened = match Deployment::open(&task_root, &scratch).await {
        Ok(deployment) => Some(Arc::new(deployment)),
        Err(err) => {
            tracing::error!(
                "the deployment could not start (the next invocation tries again): {err}"
            );
            None
        }
    };
    let slot = Arc::new(tokio::sync::Mutex::new(opened));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| {
        let (slot, task_root, scratch) = (slot.clone(), task_root.clone(), scratch.clone());
        async move {
            let deployment = {
                let mut slot = slot.lock().await;
                match &*slot {
                    Some(deployment) => deployment.clone(),
                    None => {
                        let deployment = Arc::new(
                            Deployment::open(&task_root, &scratch)
                                .await
                                .map_err(|err| {
                                    Error::from(format!(
                                        "the deployment could not start: {err} (the next invocation tries again)"
                                    ))
                                })?,
                        );
                        *slot = Some(deployment.clone());
                        deployment
                    }
                }
            };
            deployment.handle(event.payload).await
        }
    }))
    .await
}
