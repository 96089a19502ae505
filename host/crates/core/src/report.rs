//! The pipeline's **report** stage. One entry per account (or one for an
//! all-accounts invocation): status, the plugin's JSON output or its typed error, and how
//! long it took; written as JSON for programs (the table for people is the command
//! line's).

pub mod private;
pub mod text;

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::bindings::Account;
use crate::capability::budget::{AwsDenial, Usage};
use crate::capability::gate::PlannedOperation;
use crate::plan::Mode;
use crate::provider::{CallStats, OrphanedUpload};
use crate::sandbox::{Failure, Outcome};

/// The result of running one plugin.
#[derive(Debug, Serialize)]
pub struct Report {
    pub plugin: String,
    /// sha256 of the component that ran (absent when it could not be loaded).
    pub sha256: Option<String>,
    /// The fingerprint (`SHA256:…`, as `ssh-keygen -l` prints it) of the trusted key that
    /// signed it, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    pub mode: &'static str,
    /// Mutations were planned, not executed.
    pub dry_run: bool,
    /// When the run started, RFC 3339 in UTC; entries' `start_ms` count from it.
    pub started_at: String,
    /// Wall time of the whole run.
    pub duration_ms: u64,
    /// The hash of the plan ([`crate::shard::plan_hash`]): the same in every shard of a
    /// run and in the run unsharded.
    pub plan_hash: String,
    /// A shard's place in the plan, for `xacct report merge`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::ShardStamp>,
    pub entries: Vec<Entry>,
    /// AssumeRole calls the process has made so far, per account (AWS backend only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub assume_role_calls: BTreeMap<String, u64>,
    /// What AWS's faults cost, per account that had any: retries, throttling answers,
    /// credentials assumed again, bodies read on after a broken connection.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub call_stats: BTreeMap<String, CallStats>,
    /// Multipart uploads left open because S3 refused their abort: clean them up (or let
    /// an `AbortIncompleteMultipartUpload` lifecycle rule do it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orphaned_uploads: Vec<OrphanedUpload>,
    /// What the operator should know about the plan (e.g. a plugin without a grant).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The account id an all-accounts entry carries.
pub const ALL_ACCOUNTS: &str = "*";

/// One invocation's result.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// The account id, or `*` for an all-accounts invocation.
    pub account_id: String,
    pub alias: String,
    /// Every account the invocation could touch.
    pub scope: Vec<String>,
    /// The account's tags (none for an all-accounts entry).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<EntryError>,
    pub duration_ms: u64,
    /// When the invocation started (or, for one that never ran, ended), in milliseconds
    /// since the run's `started_at`.
    pub start_ms: u64,
    /// S3 calls made and refused, bytes read and written.
    #[serde(flatten)]
    pub usage: Usage,
    /// In a dry run: the mutations the plugin asked for, not executed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub planned: Vec<PlannedOperation>,
    /// Planned mutations past the first [`crate::capability::gate::MAX_PLANNED_RECORDS`], counted, not listed
    /// (the audit log lists them all).
    #[serde(skip_serializing_if = "is_zero")]
    pub planned_omitted: u64,
    /// What the plugin printed; logged, not part of the JSON report.
    #[serde(skip)]
    pub stdout: String,
    #[serde(skip)]
    pub stderr: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Error,
    /// The run was cancelled before this invocation started.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryError {
    /// `plugin-error`, `time-limit`, `memory-limit`, `output-limit`, `limit-exceeded`
    /// (a budget), `invalid-output`, `trap`, `load`, `credentials` or `host`.
    pub kind: String,
    pub message: String,
    /// The last call the backend (AWS IAM) refused, when the plugin failed after it: the
    /// likely cause, to fix in IAM rather than in the plugin or its grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_by_aws: Option<AwsDenial>,
}

impl Entry {
    /// The entry for an invocation over `scope` that started `start_ms` after the run
    /// and ended in `outcome`.
    pub fn new(mode: Mode, scope: &[Account], start_ms: u64, outcome: Outcome) -> Entry {
        let (account_id, alias, tags) = match (mode, scope.first()) {
            (Mode::PerAccount, Some(account)) => (
                account.id.clone(),
                account.alias.clone(),
                account.tags.iter().cloned().collect(),
            ),
            (Mode::PerAccount, None) => Default::default(),
            (Mode::AllAccounts, _) => (
                ALL_ACCOUNTS.to_owned(),
                "all accounts".to_owned(),
                BTreeMap::new(),
            ),
        };
        let (status, output, error) = match outcome.result {
            Ok(output) => (Status::Ok, Some(output), None),
            Err(failure) => {
                let mut error = EntryError::from(&failure);
                // A plugin that failed after AWS refused it a call most likely passed
                // that refusal on: the operator is pointed at IAM.
                if matches!(failure, Failure::Plugin(_)) {
                    error.denied_by_aws = outcome.aws_denial;
                }
                (Status::Error, None, Some(error))
            }
        };
        Entry {
            account_id,
            alias,
            scope: scope.iter().map(|account| account.id.clone()).collect(),
            tags,
            status,
            output,
            error,
            duration_ms: outcome.duration.as_millis() as u64,
            start_ms,
            usage: outcome.usage,
            planned: outcome.planned.operations,
            planned_omitted: outcome.planned.omitted,
            stdout: outcome.stdout,
            stderr: outcome.stderr,
        }
    }
}

impl Entry {
    /// The entry of an invocation the run was cancelled before starting.
    pub fn skipped(mode: Mode, scope: &[Account], start_ms: u64) -> Entry {
        let mut entry = Entry::new(mode, scope, start_ms, Outcome::failed(Failure::Cancelled));
        entry.status = Status::Skipped;
        entry.error = Some(EntryError {
            kind: "skipped".to_owned(),
            message: "the run was cancelled before this invocation started".to_owned(),
            denied_by_aws: None,
        });
        entry
    }
}

impl From<&Failure> for EntryError {
    fn from(failure: &Failure) -> Self {
        EntryError {
            kind: failure.kind().to_owned(),
            message: failure.to_string(),
            denied_by_aws: None,
        }
    }
}

impl Report {
    /// True when at least one invocation ran and every one succeeded.
    pub fn all_ok(&self) -> bool {
        !self.entries.is_empty() && self.entries.iter().all(|entry| entry.status == Status::Ok)
    }

    pub fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn outcome(result: Result<serde_json::Value, Failure>) -> Outcome {
        Outcome::ended(result, Duration::from_millis(7))
    }

    fn account(id: &str, alias: &str) -> Account {
        Account {
            id: id.into(),
            alias: alias.into(),
            region: "eu-west-1".into(),
            tags: vec![("env".into(), alias.into())],
        }
    }

    fn entry(id: &str, alias: &str, result: Result<serde_json::Value, Failure>) -> Entry {
        Entry::new(Mode::PerAccount, &[account(id, alias)], 5, outcome(result))
    }

    #[test]
    fn entries_carry_status_output_or_typed_error() {
        let ok = serde_json::to_value(entry(
            "111111111111",
            "dev",
            Ok(serde_json::json!({"n": 1})),
        ))
        .unwrap();
        assert_eq!(ok["status"], "ok");
        assert_eq!(ok["output"]["n"], 1);
        let failed = entry(
            "222222222222",
            "prod",
            Err(Failure::TimeLimit(Duration::from_secs(2))),
        );
        let failed = serde_json::to_value(failed).unwrap();
        assert_eq!(failed["error"]["kind"], "time-limit");
        assert_eq!(failed["duration_ms"], 7);
        assert!(failed.get("output").is_none());
    }

    #[test]
    fn a_hostile_entry_keeps_its_text_exact() {
        // OSC 52, CSI, a C1 CSI, CR and LF: JSON escapes what needs escaping, and a
        // reader gets back exactly what the plugin wrote.
        let hostile = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\u{9b}H\rALL OK\n111111111111  dev  ok";
        let output = entry("1", "a", Ok(serde_json::json!({ "text": hostile })));
        let error = entry("2", "b", Err(Failure::Plugin(hostile.into())));
        let json = |entry: Entry| {
            serde_json::from_str::<serde_json::Value>(&serde_json::to_string(&entry).unwrap())
                .unwrap()
        };
        assert_eq!(json(output)["output"]["text"], hostile);
        assert_eq!(json(error)["error"]["message"], hostile);
    }

    #[test]
    fn an_all_accounts_entry_names_its_whole_scope() {
        let entry = Entry::new(
            Mode::AllAccounts,
            &[account("1", "a"), account("2", "b")],
            0,
            outcome(Ok(serde_json::Value::Null)),
        );
        assert_eq!(entry.account_id, ALL_ACCOUNTS);
        assert_eq!(entry.scope, ["1", "2"]);
        assert!(
            entry.tags.is_empty(),
            "tags are each account's, not the run's"
        );
    }

    #[test]
    fn an_entry_carries_its_tags_and_start() {
        let entry = serde_json::to_value(entry("1", "dev", Ok(serde_json::json!(1)))).unwrap();
        assert_eq!(entry["tags"], serde_json::json!({"env": "dev"}));
        assert_eq!(entry["start_ms"], 5);
        assert_eq!(entry["aws_denied_calls"], 0);
    }

    #[test]
    fn a_plugin_failure_after_an_aws_denial_names_the_denial() {
        let denial = AwsDenial {
            action: "s3:PutObject".into(),
            resource: "arn:aws:s3:::b/k".into(),
        };
        let failed = |failure: Failure| {
            let mut outcome = outcome(Err(failure));
            outcome.aws_denial = Some(denial.clone());
            let entry = Entry::new(Mode::PerAccount, &[account("1", "a")], 0, outcome);
            serde_json::to_value(entry).unwrap()
        };
        let plugin = failed(Failure::Plugin("access denied by AWS".into()));
        assert_eq!(
            plugin["error"]["denied_by_aws"],
            serde_json::json!({"action": "s3:PutObject", "resource": "arn:aws:s3:::b/k"})
        );
        // A time limit is the cause of its own failure, whatever was refused before it.
        let timed_out = failed(Failure::TimeLimit(Duration::from_secs(1)));
        assert!(timed_out["error"].get("denied_by_aws").is_none());
    }
}
