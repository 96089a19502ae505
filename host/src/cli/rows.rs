//! What the commands print as JSON, as types. Fields are declared in the order the JSON
//! has always had (its keys sorted), so that scripts reading it see no change.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use xacct_core::config::limits::Limits;
use xacct_core::plan::Plan;
use xacct_core::report::text::inert;

/// One account of `xacct check`.
#[derive(Serialize)]
pub struct CheckRow<'a> {
    pub account_id: &'a str,
    pub alias: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assumed_role_arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `ok` or `error`.
    pub status: &'static str,
}

/// One account of `xacct accounts --output json`.
#[derive(Serialize)]
pub struct AccountRow<'a> {
    pub alias: &'a str,
    pub id: &'a str,
    pub region: &'a str,
    pub role: Option<String>,
    pub tags: &'a BTreeMap<String, String>,
}

/// `xacct run --plan --output json`: what would run, with which grant and limits.
#[derive(Serialize)]
pub struct PlanDocument<'a> {
    pub accounts: Vec<PlanAccount<'a>>,
    /// The grant as the operator wrote it.
    pub grant: Option<Value>,
    pub limits: PlanLimits,
    pub mode: &'static str,
    pub notes: Vec<&'a str>,
    pub plugin: &'a str,
    pub shard: Option<String>,
}

/// A planned account.
#[derive(Serialize)]
pub struct PlanAccount<'a> {
    pub alias: &'a str,
    pub id: &'a str,
    pub region: &'a str,
    pub tags: &'a [(String, String)],
}

/// The limits a plan runs under, in the config's units.
#[derive(Serialize)]
pub struct PlanLimits {
    pub handles: u64,
    pub memory_mib: u64,
    pub output_kib: u64,
    pub read_mib: u64,
    pub s3_calls: u64,
    pub time_secs: u64,
    pub write_mib: u64,
}

impl PlanLimits {
    fn of(limits: &Limits) -> PlanLimits {
        PlanLimits {
            handles: limits.budget.handles,
            memory_mib: limits.guest.memory_bytes >> 20,
            output_kib: limits.guest.output_bytes >> 10,
            read_mib: limits.budget.read_bytes >> 20,
            s3_calls: limits.budget.s3_calls,
            time_secs: limits.guest.time.as_secs(),
            write_mib: limits.budget.write_bytes >> 20,
        }
    }
}

impl<'a> PlanDocument<'a> {
    pub fn of(plan: &'a Plan, grant: Option<Value>) -> PlanDocument<'a> {
        PlanDocument {
            accounts: plan
                .accounts
                .iter()
                .map(|a| PlanAccount {
                    alias: &a.alias,
                    id: &a.id,
                    region: &a.region,
                    tags: &a.tags,
                })
                .collect(),
            grant,
            limits: PlanLimits::of(&plan.limits),
            mode: plan.mode.name(),
            notes: plan.note.iter().map(String::as_str).collect(),
            plugin: &plan.plugin,
            shard: plan.shard.map(|shard| shard.to_string()),
        }
    }
}

/// An account as a line of a table: its id, its alias and region padded to `widths`, its
/// tags as `key=value,…` — every cell inert (an alias or a tag may come from AWS
/// Organizations).
pub fn account_line<'a>(
    (id, alias, region): (&str, &str, &str),
    tags: impl IntoIterator<Item = (&'a String, &'a String)>,
    (alias_width, region_width): (usize, usize),
) -> String {
    let tags: Vec<String> = tags.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{}  {:<alias_width$} {:<region_width$} {}",
        inert(id),
        inert(alias),
        inert(region),
        inert(&tags.join(","))
    )
}
