//! A Step Functions run's plan, made once per Map run and handed to its shards.
//!
//! The state machine's first step (`{"plan": {…}}`) lists the organization, selects the
//! accounts and writes down what every shard runs: the plugin, its build's sha256, the
//! input, the accounts (with alias, region and tags) and the plan hash
//! ([`xacct_core::plan_hash`]). Small plans travel inline, as text; larger ones go to S3
//! (the run's results bucket) and only their location travels: Step Functions passes at
//! most 256 KiB between states ("Step Functions service quotas": maximum input or output
//! size for a task, state, or execution), and a 10,000-account plan is about 1 MB.
//! Either way the plan's sha256 travels in the state machine's own data, so a shard
//! refuses a plan changed in the bucket; and a shard runs only if its plan hash, computed
//! from what it loads, is the plan's — so a plan made for another plugin build, input or
//! account set runs nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use xacct_aws::home_objects::HomeObjects;
use xacct_core::bindings::Account;
use xacct_core::config::accounts::AccountConfig;
use xacct_core::plan::{Mode, Selection, plan_hash};
use xacct_core::sandbox::plugin_file;

use crate::request::Ask;

/// Plans at most this long travel inline (as text in the state machine's data); longer
/// ones through S3. Each shard's input holds the inline plan, so this stays well below
/// Step Functions' 256 KiB.
pub const INLINE_PLAN_MAX_BYTES: usize = 32 * 1024;
/// The most of a plan read from S3 (about 400,000 accounts).
const MAX_PLAN_BYTES: u64 = 64 << 20;
/// Shards a plan may have: the list of shards travels in the state machine's data.
const MAX_SHARDS: u32 = 2000;
/// A report (a shard's, or the merged one) longer than this goes to S3, and the step's
/// output names it: a child execution's output, like any state's, is at most 256 KiB.
pub const INLINE_REPORT_MAX_BYTES: usize = 192 * 1024;
/// The share of failed shards the Distributed Map tolerates unless the input says.
pub const DEFAULT_TOLERATED_FAILURE_PERCENTAGE: f64 = 10.0;
/// The plan document's format.
const FORMAT: &str = "xacct plan 1";

/// The state machine's input: what to run, over which accounts, in how many shards.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanAsk {
    pub plugin: String,
    #[serde(default)]
    pub input: Option<Value>,
    pub shards: u32,
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub dry_run: bool,
    /// Where the Map writes the shards' results (and a large plan goes).
    pub results: ResultsLocation,
    /// The Distributed Map's `ToleratedFailurePercentage`, 0 to 100.
    pub tolerated_failure_percentage: Option<f64>,
    /// Plans longer than this go through S3 (default [`INLINE_PLAN_MAX_BYTES`]; 0: always).
    pub inline_plan_max_bytes: Option<usize>,
    /// Shards' reports longer than this go through S3 (default
    /// [`INLINE_REPORT_MAX_BYTES`]; 0: always).
    pub inline_report_max_bytes: Option<usize>,
}

/// A bucket of the home account (the state machine's) and a prefix in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultsLocation {
    pub bucket: String,
    #[serde(default = "default_prefix")]
    pub prefix: String,
}

fn default_prefix() -> String {
    "xacct".to_owned()
}

/// An object of the home account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectLocation {
    pub bucket: String,
    pub key: String,
}

/// How a shard finds its plan: inline or in S3, and the plan's sha256 either way.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRef {
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<ObjectLocation>,
}

/// What every shard of a run runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanDocument {
    pub format: String,
    pub plugin: String,
    /// The plugin build's sha256 when the plan was made.
    pub sha256: Option<String>,
    /// The plugin's input, as JSON text.
    pub input: String,
    pub dry_run: bool,
    pub plan_hash: String,
    pub shards: u32,
    /// The planned accounts, in plan order.
    pub accounts: Vec<PlannedAccount>,
    /// Where the run's results go: a shard's report too long to be its output is
    /// written under `PREFIX/reports/PLAN-HASH/`.
    pub results: ResultsLocation,
    pub inline_report_max_bytes: usize,
}

impl PlanDocument {
    /// Where the shards' reports too long for Step Functions go.
    pub fn reports_prefix(&self) -> String {
        format!(
            "{}/reports/{}/",
            self.results.prefix.trim_end_matches('/'),
            self.plan_hash
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedAccount {
    pub id: String,
    pub alias: String,
    pub region: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl PlannedAccount {
    fn of(account: &Account) -> PlannedAccount {
        PlannedAccount {
            id: account.id.clone(),
            alias: account.alias.clone(),
            region: account.region.clone(),
            tags: account.tags.iter().cloned().collect(),
        }
    }

    pub fn account(&self) -> Account {
        Account {
            id: self.id.clone(),
            alias: self.alias.clone(),
            region: self.region.clone(),
            tags: self.tags.clone().into_iter().collect(),
        }
    }

    pub fn config(&self) -> AccountConfig {
        AccountConfig {
            id: self.id.clone(),
            alias: self.alias.clone(),
            region: self.region.clone(),
            inherits_region: false,
            tags: self.tags.clone(),
        }
    }
}

/// Why a plan could not be made or used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

impl PlanAsk {
    /// The tolerated failure percentage, checked.
    fn tolerated_failure_percentage(&self) -> Result<f64, PlanError> {
        let percentage = self
            .tolerated_failure_percentage
            .unwrap_or(DEFAULT_TOLERATED_FAILURE_PERCENTAGE);
        if !(0.0..=100.0).contains(&percentage) {
            return Err(PlanError(format!(
                "tolerated_failure_percentage {percentage}: a percentage of shards, 0 to 100"
            )));
        }
        Ok(percentage)
    }
}

/// The plan of `ask` over `config`'s accounts (the organization listed just before):
/// what the state machine's Map hands its shards, as the Plan step's output.
pub async fn make(
    ask: PlanAsk,
    config: &crate::config::Config,
    sandbox: &xacct_core::sandbox::Sandbox,
    objects: Option<&HomeObjects>,
) -> Result<Value, anyhow::Error> {
    if !(1..=MAX_SHARDS).contains(&ask.shards) {
        return Err(PlanError(format!(
            "shards {}: 1 to {MAX_SHARDS} (choose it so that a shard ends within Lambda's 15 minutes)",
            ask.shards
        ))
        .into());
    }
    let tolerated = ask.tolerated_failure_percentage()?;
    let input = ask.input.unwrap_or_else(|| json!({})).to_string();
    let selection = Selection {
        accounts: ask.accounts,
        tags: ask.tags.into_iter().collect(),
        exclude: ask.exclude,
    };
    selection
        .validate(config)
        .map_err(|problem| PlanError(format!("accounts/exclude: {problem}")))?;
    let request = Ask {
        plugin: ask.plugin.clone(),
        input: input.clone(),
        selection,
        dry_run: ask.dry_run,
        ..Ask::default()
    }
    .into_request()?;
    let plan = xacct_core::pipeline::plan(&config.core, &request);
    // The build the shards must run: its sha256 is part of the plan hash.
    let plugin = sandbox.load(
        &ask.plugin,
        &plugin_file(&config.core.plugins_dir, &ask.plugin)?,
    )?;
    let document = PlanDocument {
        format: FORMAT.to_owned(),
        plan_hash: plan_hash(
            Some(&plugin.sha256),
            &input,
            Mode::PerAccount,
            ask.dry_run,
            &plan.selected,
        ),
        plugin: ask.plugin,
        sha256: Some(plugin.sha256.clone()),
        input,
        dry_run: ask.dry_run,
        shards: ask.shards,
        accounts: plan.accounts.iter().map(PlannedAccount::of).collect(),
        results: ask.results.clone(),
        inline_report_max_bytes: ask
            .inline_report_max_bytes
            .unwrap_or(INLINE_REPORT_MAX_BYTES),
    };
    let bytes = serde_json::to_vec(&document)?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let inline_max = ask.inline_plan_max_bytes.unwrap_or(INLINE_PLAN_MAX_BYTES);
    let from_plan = if bytes.len() <= inline_max {
        PlanRef {
            sha256,
            document: Some(String::from_utf8(bytes)?),
            location: None,
        }
    } else {
        let objects = objects.ok_or_else(|| {
            PlanError(format!(
                "a plan of {} bytes goes through S3, and this config's backend is not AWS",
                bytes.len()
            ))
        })?;
        let key = format!(
            "{}/plans/{sha256}.json",
            ask.results.prefix.trim_end_matches('/')
        );
        objects.put(&ask.results.bucket, &key, bytes).await?;
        PlanRef {
            sha256,
            document: None,
            location: Some(ObjectLocation {
                bucket: ask.results.bucket.clone(),
                key,
            }),
        }
    };
    Ok(step_output(&document, &from_plan, &ask.results, tolerated))
}

/// The Plan step's output: what the Map reads its shards, their plan and the results
/// location from.
fn step_output(
    document: &PlanDocument,
    from_plan: &PlanRef,
    results: &ResultsLocation,
    tolerated_failure_percentage: f64,
) -> Value {
    let shards: Vec<String> = (1..=document.shards)
        .map(|k| format!("{k}/{}", document.shards))
        .collect();
    json!({
        "plugin": document.plugin,
        "accounts": document.accounts.len(),
        "plan_hash": document.plan_hash,
        "shards": shards,
        "from_plan": from_plan,
        "results": results,
        "tolerated_failure_percentage": tolerated_failure_percentage,
    })
}

/// The plan `from_plan` names, if it is the plan whose sha256 it carries.
pub async fn load(
    from_plan: &PlanRef,
    objects: Option<&HomeObjects>,
) -> Result<PlanDocument, anyhow::Error> {
    let (bytes, whence) = match (&from_plan.document, &from_plan.location) {
        (Some(text), None) => (text.as_bytes().to_vec(), "the inline plan".to_owned()),
        (None, Some(at)) => {
            let objects = objects.ok_or_else(|| {
                PlanError("the plan is in S3, and this config's backend is not AWS".into())
            })?;
            let bytes = objects.get(&at.bucket, &at.key, MAX_PLAN_BYTES).await?;
            (bytes, format!("the plan s3://{}/{}", at.bucket, at.key))
        }
        _ => {
            return Err(PlanError(
                "from_plan holds either the plan (document) or its location, not both or neither"
                    .into(),
            )
            .into());
        }
    };
    let sha256 = hex::encode(Sha256::digest(&bytes));
    if sha256 != from_plan.sha256 {
        return Err(PlanError(format!(
            "{whence} is not the plan this run was given (its sha256 is {sha256}): it was changed after it was made; nothing ran; fix: plan the run again"
        ))
        .into());
    }
    let document: PlanDocument = serde_json::from_slice(&bytes)
        .map_err(|err| PlanError(format!("{whence} is not a plan: {err}")))?;
    if document.format != FORMAT {
        return Err(PlanError(format!(
            "{whence} is a plan of format {:?}; this xacct reads {FORMAT:?}",
            xacct_core::report::text::inert(&document.format)
        ))
        .into());
    }
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Step Functions passes at most 256 KiB between states ("Step Functions service
    /// quotas"): for a 10,000-account organization in the most shards, the plan goes
    /// through S3 and what travels — the Plan step's output, each shard's input — stays
    /// far below the limit.
    #[test]
    fn a_ten_thousand_account_plan_travels_through_s3_within_the_payload_limit() {
        const LIMIT: usize = 256 * 1024;
        let accounts = (0..10_000u64)
            .map(|i| PlannedAccount {
                id: (100_000_000_000 + i).to_string(),
                alias: format!("team-{i:04}-production"),
                region: "eu-west-1".into(),
                tags: [
                    ("env".into(), "prod".into()),
                    ("team".into(), format!("t{}", i % 50)),
                ]
                .into(),
            })
            .collect();
        let document = PlanDocument {
            format: FORMAT.into(),
            plugin: "inventory".into(),
            sha256: Some("a".repeat(64)),
            input: "{}".into(),
            dry_run: false,
            plan_hash: "b".repeat(64),
            shards: MAX_SHARDS,
            accounts,
            results: ResultsLocation {
                bucket: "my-xacct-results".into(),
                prefix: "xacct".into(),
            },
            inline_report_max_bytes: INLINE_REPORT_MAX_BYTES,
        };
        let plan = serde_json::to_vec(&document).unwrap();
        assert!(plan.len() > INLINE_PLAN_MAX_BYTES, "{} bytes", plan.len());
        assert!(plan.len() as u64 <= MAX_PLAN_BYTES);
        let from_plan = PlanRef {
            sha256: "c".repeat(64),
            document: None,
            location: Some(ObjectLocation {
                bucket: "my-xacct-results".into(),
                key: format!("xacct/plans/{}.json", "c".repeat(64)),
            }),
        };
        let results = ResultsLocation {
            bucket: "my-xacct-results".into(),
            prefix: "xacct".into(),
        };
        let output = step_output(&document, &from_plan, &results, 10.0).to_string();
        assert!(output.len() < LIMIT / 8, "{} bytes", output.len());
        // The largest inline plan, as a shard's input (a JSON string in JSON).
        let inline = PlanRef {
            sha256: "c".repeat(64),
            document: Some("\"".repeat(INLINE_PLAN_MAX_BYTES)),
            location: None,
        };
        let shard_input = json!({"shard": "2000/2000", "from_plan": inline}).to_string();
        assert!(shard_input.len() < LIMIT / 3, "{} bytes", shard_input.len());
    }
}
