//! The last step of a Step Functions run: the shards' results, as the Distributed Map's
//! `ResultWriter` exported them to S3, merged into the run's report.
//!
//! The layout is the one "ResultWriter (Map)" (Step Functions Developer Guide)
//! documents: the Map's output names `manifest.json` (`ResultWriterDetails`: `Bucket`,
//! `Key` = `PREFIX/MAP-RUN-ID/manifest.json`); the manifest lists the result files by
//! status (`ResultFiles`: `SUCCEEDED`, `FAILED`, `PENDING`, each a list of `{Key, Size}`);
//! each file is a JSON array of child executions (`Status`, `Input` and `Output` as JSON
//! text, `Error` and `Cause` for one that failed).
//!
//! Everything read is untrusted: sizes are bounded (refused unread when S3 announces
//! more), result files must lie beside the manifest, and the shards' reports go through
//! `xacct report merge`'s checks (plan hash recomputed, every shard once, every account
//! once) against the run's plan, whose sha256 the state machine carried. A shard that
//! failed (or never started) is not left out: its accounts are in the merged report as
//! not run, with the error Step Functions recorded, and `failed_shards` names it.

use serde::Deserialize;
use serde_json::{Value, json};
use xacct_aws::home_objects::HomeObjects;
use xacct_core::plan::{Mode, input_sha256};
use xacct_core::report::Entry;
use xacct_core::report::text::inert;
use xacct_core::sandbox::{Failure, Outcome};
use xacct_core::shard::{Shard, merge};

use super::plan::{INLINE_REPORT_MAX_BYTES, ObjectLocation, PlanDocument, PlanError, PlanRef};

/// The most of a manifest read.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// The most of one result file read (each child's output is at most 256 KiB).
const MAX_RESULT_FILE_BYTES: u64 = 256 << 20;
/// The most of all result files and shard reports read together.
const MAX_RESULTS_BYTES: u64 = 1 << 30;
/// The most of one shard's report read from S3.
const MAX_SHARD_REPORT_BYTES: u64 = 64 << 20;
/// The most of Step Functions' error and cause kept in a report.
const MAX_CAUSE_CHARS: usize = 2000;

/// The merge step's event: the run's plan and the Map's `ResultWriterDetails`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeAsk {
    pub from_plan: PlanRef,
    pub results: ResultWriterDetails,
}

/// Where the Map's `ResultWriter` put its manifest.
#[derive(Debug, Deserialize)]
pub struct ResultWriterDetails {
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "Key")]
    pub key: String,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    #[serde(rename = "ResultFiles")]
    result_files: ResultFiles,
}

#[derive(Debug, Default, Deserialize)]
struct ResultFiles {
    #[serde(rename = "SUCCEEDED", default)]
    succeeded: Vec<ResultFile>,
    #[serde(rename = "FAILED", default)]
    failed: Vec<ResultFile>,
    #[serde(rename = "PENDING", default)]
    pending: Vec<ResultFile>,
}

#[derive(Debug, Deserialize)]
struct ResultFile {
    #[serde(rename = "Key")]
    key: String,
}

/// A child execution as a result file lists it.
#[derive(Debug, Deserialize)]
struct ChildExecution {
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "Input")]
    input: Option<String>,
    #[serde(rename = "Output")]
    output: Option<String>,
    #[serde(rename = "Error")]
    error: Option<String>,
    #[serde(rename = "Cause")]
    cause: Option<String>,
}

/// A shard that did not end with a report.
struct FailedShard {
    shard: Shard,
    status: String,
    error: String,
}

/// The run's report from the Map's results (see the module's doc); written to S3 beside
/// the manifest when too long for Step Functions, and then the output names it.
pub async fn merge_results(
    plan: &PlanDocument,
    at: &ResultWriterDetails,
    objects: &HomeObjects,
) -> Result<Value, anyhow::Error> {
    let refuse = |message: String| anyhow::Error::from(PlanError(message));
    let Some(run_dir) = at.key.strip_suffix("manifest.json") else {
        return Err(refuse(format!(
            "{}: not a ResultWriter manifest (its key ends in manifest.json)",
            inert(&at.key)
        )));
    };
    let manifest = objects.get(&at.bucket, &at.key, MAX_MANIFEST_BYTES).await?;
    let manifest: Manifest = serde_json::from_slice(&manifest).map_err(|err| {
        refuse(format!(
            "s3://{}/{}: not a ResultWriter manifest: {err}",
            at.bucket,
            inert(&at.key)
        ))
    })?;
    let mut budget = MAX_RESULTS_BYTES;
    let mut reports = Vec::new();
    let mut failed = Vec::new();
    let files = &manifest.result_files;
    let listed = (files.succeeded.iter().map(|file| (true, file))).chain(
        files
            .failed
            .iter()
            .chain(&files.pending)
            .map(|file| (false, file)),
    );
    for (succeeded, file) in listed {
        if !file.key.starts_with(run_dir) || file.key.contains("..") {
            return Err(refuse(format!(
                "the manifest lists {}, which is not beside it (under {}): the manifest was changed",
                inert(&file.key),
                inert(run_dir)
            )));
        }
        let bytes = objects
            .get(&at.bucket, &file.key, MAX_RESULT_FILE_BYTES.min(budget))
            .await?;
        budget -= bytes.len() as u64;
        let executions: Vec<ChildExecution> = serde_json::from_slice(&bytes).map_err(|err| {
            refuse(format!(
                "{}: not a ResultWriter result file: {err}",
                inert(&file.key)
            ))
        })?;
        for (i, execution) in executions.into_iter().enumerate() {
            let name = format!("{}[{i}]", inert(&file.key));
            if succeeded {
                let report = succeeded_report(&name, execution, plan, objects, &mut budget).await?;
                reports.push((name, report));
            } else {
                failed.push(failed_shard(&name, execution, plan)?);
            }
        }
    }
    // The reports of shards that ran first: the merged report takes its plugin's
    // details (its signer) from the first.
    reports.extend(failed.iter().map(|failure| {
        (
            format!("shard {} (failed)", failure.shard),
            not_run_report(plan, failure),
        )
    }));
    let mut merged = merge(&reports)?;
    if !failed.is_empty() {
        let accounts: usize = failed
            .iter()
            .map(|f| accounts_of(plan, f.shard).count())
            .sum();
        merged["failed_shards"] = failed
            .iter()
            .map(|f| json!({"shard": f.shard.to_string(), "status": f.status, "error": f.error}))
            .collect();
        let note = format!(
            "{} shard(s) did not end in Step Functions ({}): their {accounts} account(s) did not run (status error, kind shard, with the error Step Functions recorded); fix: run them again",
            failed.len(),
            failed
                .iter()
                .map(|f| f.shard.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let notes = merged["notes"].as_array().cloned().unwrap_or_default();
        merged["notes"] = notes.into_iter().chain([Value::from(note)]).collect();
    }
    let text = serde_json::to_vec(&merged)?;
    if text.len() <= INLINE_REPORT_MAX_BYTES {
        return Ok(merged);
    }
    let key = format!("{run_dir}xacct-report.json");
    objects.put(&at.bucket, &key, text).await?;
    let entries = merged["entries"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    Ok(json!({
        "report": ObjectLocation { bucket: at.bucket.clone(), key },
        "entries": entries.len(),
        "ok": entries.iter().filter(|e| e["status"] == "ok").count(),
        "failed_shards": merged.get("failed_shards").cloned().unwrap_or_else(|| json!([])),
    }))
}

/// A shard's report as the shard's output: itself, or, when longer than its plan
/// allows, written to S3 under the plan's reports prefix and named.
pub async fn shard_output(
    report: Value,
    plan: &PlanDocument,
    shard: Shard,
    objects: Option<&HomeObjects>,
) -> Result<Value, anyhow::Error> {
    let text = serde_json::to_vec(&report)?;
    if text.len() <= plan.inline_report_max_bytes {
        return Ok(report);
    }
    let objects = objects.ok_or_else(|| {
        PlanError(format!(
            "the report of shard {shard} ({} bytes) goes through S3, and this config's backend is not AWS",
            text.len()
        ))
    })?;
    let key = format!(
        "{}shard-{}-of-{}.json",
        plan.reports_prefix(),
        shard.number(),
        shard.count
    );
    objects.put(&plan.results.bucket, &key, text).await?;
    let location = ObjectLocation {
        bucket: plan.results.bucket.clone(),
        key,
    };
    Ok(json!({"report_location": location}))
}

/// A succeeded shard's report (its output, or where its output says it is), which must
/// be of the run's plan.
async fn succeeded_report(
    name: &str,
    execution: ChildExecution,
    plan: &PlanDocument,
    objects: &HomeObjects,
    budget: &mut u64,
) -> Result<Value, anyhow::Error> {
    let refuse = |message: String| anyhow::Error::from(PlanError(message));
    if execution.status != "SUCCEEDED" {
        return Err(refuse(format!(
            "{name}: a SUCCEEDED result file lists an execution with status {}: the results were changed",
            inert(&execution.status)
        )));
    }
    let output = execution
        .output
        .ok_or_else(|| refuse(format!("{name}: a succeeded shard without its Output")))?;
    let mut report: Value = serde_json::from_str(&output)
        .map_err(|err| refuse(format!("{name}: its Output is not a report: {err}")))?;
    if let Some(location) = report.get("report_location") {
        let location: ObjectLocation = serde_json::from_value(location.clone())
            .map_err(|err| refuse(format!("{name}: report_location: {err}")))?;
        let prefix = plan.reports_prefix();
        if location.bucket != plan.results.bucket
            || !location.key.starts_with(&prefix)
            || location.key.contains("..")
        {
            return Err(refuse(format!(
                "{name}: its report is at s3://{}/{}, not under the run's s3://{}/{prefix}: the results were changed",
                inert(&location.bucket),
                inert(&location.key),
                plan.results.bucket
            )));
        }
        let bytes = objects
            .get(
                &location.bucket,
                &location.key,
                MAX_SHARD_REPORT_BYTES.min(*budget),
            )
            .await?;
        *budget -= bytes.len() as u64;
        report = serde_json::from_slice(&bytes).map_err(|err| {
            refuse(format!(
                "{name}: s3://{}/{} is not a report: {err}",
                location.bucket,
                inert(&location.key)
            ))
        })?;
    }
    if report["plan_hash"] != plan.plan_hash.as_str() {
        return Err(refuse(format!(
            "{name}: the report of another plan than the run's (plan_hash {}): the results were changed, or another run's were mixed in",
            inert(&report["plan_hash"].to_string())
        )));
    }
    Ok(report)
}

/// The shard a failed (or never started) child execution was given, and why it failed.
fn failed_shard(
    name: &str,
    execution: ChildExecution,
    plan: &PlanDocument,
) -> Result<FailedShard, anyhow::Error> {
    let refuse = |message: String| anyhow::Error::from(PlanError(message));
    let input: Value = serde_json::from_str(execution.input.as_deref().unwrap_or_default())
        .map_err(|err| refuse(format!("{name}: its Input is not a shard's event: {err}")))?;
    let shard = input["shard"]
        .as_str()
        .map(Shard::parse)
        .transpose()
        .map_err(|problem| refuse(format!("{name}: {problem}")))?
        .ok_or_else(|| refuse(format!("{name}: its Input names no shard")))?;
    if shard.count != plan.shards {
        return Err(refuse(format!(
            "{name}: shard {shard} of a run of {} shards: the results were changed",
            plan.shards
        )));
    }
    let recorded = [execution.error, execution.cause]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(": ");
    let error: String = inert(&recorded).chars().take(MAX_CAUSE_CHARS).collect();
    Ok(FailedShard {
        shard,
        status: inert(&execution.status).into_owned(),
        error,
    })
}

fn accounts_of(
    plan: &PlanDocument,
    shard: Shard,
) -> impl Iterator<Item = &super::plan::PlannedAccount> {
    plan.accounts
        .iter()
        .filter(move |account| shard.holds(&account.id))
}

/// The report a failed shard would have written had none of its accounts run: each an
/// error of kind `shard` with what Step Functions recorded, stamped with the run's plan
/// so that the merge checks it like any other.
fn not_run_report(plan: &PlanDocument, failure: &FailedShard) -> Value {
    // PENDING: "child workflow executions that weren't started because the Map Run
    // failed or aborted" ("ResultWriter (Map)").
    let ended = match failure.status.as_str() {
        "PENDING" => "was never started (the Map run failed or was stopped)".to_owned(),
        status => format!("ended {status}"),
    };
    let message = format!(
        "shard {} did not run: its Step Functions execution {ended}{}",
        failure.shard,
        if failure.error.is_empty() {
            String::new()
        } else {
            format!(" ({})", failure.error)
        }
    );
    let entries: Vec<Value> = accounts_of(plan, failure.shard)
        .map(|account| {
            let outcome = Outcome::failed(Failure::Host(message.clone()));
            let mut entry = Entry::new(Mode::PerAccount, &[account.account()], 0, outcome);
            if let Some(error) = &mut entry.error {
                error.kind = "shard".to_owned();
                error.message = message.clone();
            }
            serde_json::to_value(entry).unwrap_or_default()
        })
        .collect();
    json!({
        "plugin": plan.plugin,
        "sha256": plan.sha256,
        "mode": Mode::PerAccount.name(),
        "dry_run": plan.dry_run,
        "duration_ms": 0,
        "plan_hash": plan.plan_hash,
        "shard": {
            "index": failure.shard.number(),
            "count": failure.shard.count,
            "planned": plan.accounts.len(),
            "accounts": plan.accounts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            "input_sha256": input_sha256(&plan.input),
        },
        "entries": entries,
    })
}
