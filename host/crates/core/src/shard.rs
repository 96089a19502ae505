//! Beyond one machine: a run split into shards that existing engines (AWS Batch array
//! jobs, Kubernetes Indexed Jobs, Step Functions' Distributed Map) run anywhere, and the
//! shards' reports merged back into the report one run would have written.
//!
//! An account's shard is a hash of its id, not its position in the config, so adding or
//! removing an account moves no other account to another shard. Every report carries the
//! hash of its plan (plugin, input, mode, dry run, the accounts selected before
//! sharding): the merge refuses shards of different plans.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::audit::unix_ms;
use crate::plan_hash::plan_hash_of;
use crate::report::text::inert;

/// Shard `index` of `count`. `index` counts from 0, as AWS Batch and Kubernetes number
/// array jobs (`--shard auto`); people count from 1, as `--shard K/N`, reports and
/// messages do (Playwright, Jest, cargo-nextest alike): shard `K/N` is index `K - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Where a shard's number comes from, for `--shard auto`.
pub const BATCH_INDEX: &str = "AWS_BATCH_JOB_ARRAY_INDEX";
pub const BATCH_SIZE: &str = "AWS_BATCH_JOB_ARRAY_SIZE";
pub const KUBERNETES_INDEX: &str = "JOB_COMPLETION_INDEX";
/// The shard count when the environment does not say it (`--shard-count`'s variable).
pub const SHARD_COUNT: &str = "XACCT_SHARD_COUNT";

/// A shard count and who gave it, for messages: `--shard-count 3`,
/// `XACCT_SHARD_COUNT=3`, `AWS_BATCH_JOB_ARRAY_SIZE=3`.
struct Count {
    count: u32,
    said_by: String,
    /// How to take it back: `drop --shard-count`, `unset XACCT_SHARD_COUNT`.
    undo: &'static str,
}

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 || index >= count {
            return Err(format!(
                "shard index {index} of {count} shard(s): the index counts from 0 and stays below the count (0 … {} of {count})",
                count.saturating_sub(1)
            ));
        }
        Ok(Shard { index, count })
    }

    /// `K/N`, K counted from 1: `1/4` … `4/4`. Messages name the shard as `shard K/N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        Shard::parse_named(text, "shard")
    }

    /// As [`Shard::parse`], messages naming the shard as `{name} K/N` (`--shard 1/0`).
    pub fn parse_named(text: &str, name: &str) -> Result<Shard, String> {
        let parsed = text.split_once('/').and_then(|(number, count)| {
            Some((
                number.trim().parse::<u32>().ok()?,
                count.trim().parse::<u32>().ok()?,
            ))
        });
        match parsed {
            Some((number, 0)) => Err(format!(
                "{name} {number}/0: no shard of 0 shards; the count N is 1 or more; fix: {name} K/N with N the number of shards (1/2 and 2/2 for two)"
            )),
            Some((0, count)) => Err(format!(
                "{name} 0/{count}: shards count from 1 (1/{count} … {count}/{count}); fix: {name} 1/{count} for the first (only --shard auto takes the 0-based indexes of AWS Batch and Kubernetes)"
            )),
            Some((number, count)) if number > count => Err(format!(
                "{name} {number}/{count}: there are only {count} shard(s), K is at most N (1/{count} … {count}/{count}); fix: {name} {count}/{count} for the last, or a count of {number} or more"
            )),
            Some((number, count)) => Shard::new(number - 1, count),
            None if text
                .split_once('/')
                .is_some_and(|(number, count)| too_large(number) || too_large(count)) =>
            {
                Err(format!(
                    "{name} {text:?}: a number past {}; fix: {name} K/N with 1 ≤ K ≤ N and N at most {}",
                    u32::MAX,
                    u32::MAX
                ))
            }
            None => Err(format!(
                "{name} {text:?}: not K/N; fix: {name} K/N with 1 ≤ K ≤ N, e.g. 1/4 … 4/4 for four shards, or --shard auto in an array job"
            )),
        }
    }

    /// The shard's number as people count: 1 … count.
    pub fn number(&self) -> u32 {
        self.index + 1
    }

    /// `--shard TEXT` with `--shard-count` (`count`, the flag's, if given) and the
    /// environment `var` reads: `auto` is [`Shard::from_env`]; `K/N` takes no
    /// `--shard-count`, and refuses an `XACCT_SHARD_COUNT` that says another count than N
    /// (one that agrees is harmless: a job may export it for every command). Messages
    /// start with `--shard …`.
    pub fn from_flags(
        text: &str,
        count: Option<u32>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Shard, String> {
        if text == "auto" {
            return Shard::from_env(var, count)
                .map_err(|problem| format!("--shard auto: {problem}"));
        }
        let shard = Shard::parse_named(text, "--shard")?;
        if let Some(count) = count {
            return Err(format!(
                "--shard-count {count} goes with --shard auto only: --shard {text} names its count ({}); fix: drop --shard-count",
                shard.count
            ));
        }
        if let Some(Count { count, said_by, .. }) = exported_count(&var)?
            && count != shard.count
        {
            return Err(format!(
                "--shard {text} and {said_by} disagree on the number of shards ({} against {count}); fix: unset {SHARD_COUNT}, or make them agree",
                shard.count
            ));
        }
        Ok(shard)
    }

    /// The shard an array job's environment names: AWS Batch's index and size, else
    /// Kubernetes' completion index with the count of `--shard-count` (`count`), else of
    /// `XACCT_SHARD_COUNT` (an Indexed Job does not export its completions). A count
    /// given beside AWS Batch's size must agree with it.
    pub fn from_env(
        var: impl Fn(&str) -> Option<String>,
        count: Option<u32>,
    ) -> Result<Shard, String> {
        let number = |name: &str| -> Result<Option<u32>, String> {
            var(name)
                .map(|value| {
                    value.trim().parse().map_err(|_| {
                        if too_large(&value) {
                            format!(
                                "{name}={value:?} is past {}; fix: set it to a whole number of at most that, or unset it",
                                u32::MAX
                            )
                        } else {
                            format!(
                                "{name}={value:?} is not a number; fix: set it to a whole number, or unset it"
                            )
                        }
                    })
                })
                .transpose()
        };
        let given = match count {
            Some(count) => Some(Count {
                count,
                said_by: format!("--shard-count {count}"),
                undo: "drop --shard-count",
            }),
            None => exported_count(&var)?,
        };
        let (index, index_name, count) = if let Some(index) = number(BATCH_INDEX)? {
            let count = match (number(BATCH_SIZE)?, given) {
                (Some(size), Some(given)) if size != given.count => {
                    return Err(format!(
                        "{BATCH_SIZE}={size} and {} disagree on the number of shards; fix: {} (the array job says its size)",
                        given.said_by, given.undo
                    ));
                }
                (Some(size), _) => Count {
                    count: size,
                    said_by: format!("{BATCH_SIZE}={size}"),
                    undo: "",
                },
                (None, Some(given)) => given,
                (None, None) => {
                    return Err(format!(
                        "{BATCH_INDEX} is set but {BATCH_SIZE} is not; fix: pass --shard-count N (the array's size)"
                    ));
                }
            };
            (index, BATCH_INDEX, count)
        } else if let Some(index) = number(KUBERNETES_INDEX)? {
            let count = given.ok_or_else(|| {
                format!(
                    "{KUBERNETES_INDEX} is set but the shard count is unknown; fix: pass --shard-count N (the Job's completions) or set {SHARD_COUNT}"
                )
            })?;
            (index, KUBERNETES_INDEX, count)
        } else {
            return Err(format!(
                "neither {BATCH_INDEX} (AWS Batch array job) nor {KUBERNETES_INDEX} (Kubernetes Indexed Job) is set; fix: pass --shard K/N"
            ));
        };
        let Count { count, said_by, .. } = count;
        if count == 0 {
            return Err(format!(
                "{said_by}: no shard of 0 shards; fix: make the count the number of shards, 1 or more (the array job's size)"
            ));
        }
        if index >= count {
            return Err(format!(
                "{index_name}={index} is past the last shard: the index counts from 0, so it is at most {} with {said_by}; fix: make the count the number of shards (the array job's size or completions)",
                count - 1
            ));
        }
        Shard::new(index, count)
    }

    /// Whether `account_id` belongs to this shard.
    pub fn holds(&self, account_id: &str) -> bool {
        shard_of(account_id, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number(), self.count)
    }
}

/// Whether `text` is a whole number too large for a shard's index or count (a `u32`):
/// said so, rather than "not a number".
fn too_large(text: &str) -> bool {
    let digits = text.trim();
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse::<u32>().is_err()
}

/// `XACCT_SHARD_COUNT`, if set: a count of 1 or more.
fn exported_count(var: &impl Fn(&str) -> Option<String>) -> Result<Option<Count>, String> {
    let Some(value) = var(SHARD_COUNT) else {
        return Ok(None);
    };
    match value.trim().parse::<u32>() {
        Ok(count) if count > 0 => Ok(Some(Count {
            count,
            said_by: format!("{SHARD_COUNT}={count}"),
            undo: "unset XACCT_SHARD_COUNT",
        })),
        _ => Err(format!(
            "{SHARD_COUNT}={value:?} is not a number of shards (1 or more); fix: set it to the number of shards, or unset it"
        )),
    }
}

/// The shard of `account_id` among `count`: the first 8 bytes of its sha256, modulo
/// `count`. It depends on nothing but the id and the count.
pub fn shard_of(account_id: &str, count: u32) -> u32 {
    let digest = Sha256::digest(account_id.as_bytes());
    let head = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    (head % u64::from(count)) as u32
}

/// What a shard's report says of its plan, so that a merge can verify it rather than
/// trust it: the report is a file anyone between the shard and the merge may edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShardStamp {
    /// The shard's number, counted from 1 as `--shard K/N` (K).
    pub index: u32,
    pub count: u32,
    /// Accounts in the whole plan, every shard's.
    pub planned: usize,
    /// The ids of the plan's accounts (every shard's) in plan order: the merge puts the
    /// entries in this order, and refuses an id outside it or listed twice.
    pub accounts: Vec<String>,
    /// The sha256 of the input ([`crate::plan_hash::input_sha256`]): with the report's
    /// plugin build, mode, dry run and `accounts`, what its `plan_hash` is recomputed
    /// from, so a plan hash copied from another plan's report does not match.
    pub input_sha256: String,
}

/// Why shard reports do not merge.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MergeError(String);

/// A report's plugin digest, for a message.
fn digest_of(report: &Value) -> String {
    match report["sha256"].as_str() {
        Some(digest) => format!("sha256 {digest}"),
        None => "none (the plugin did not load)".to_owned(),
    }
}

/// The report of the whole run from the reports of its shards (as JSON, the schema
/// `xacct run --output json` writes): the same plan in each, its hash matching what the
/// report says of the plan, every shard of the count once, every planned account exactly
/// once and no other. Entries in plan order; the run starts when its first shard did
/// (`started_at`, each entry's `start_ms` rebased on it) and lasts until its last shard
/// ended; `merged_shards` counts the shards; AssumeRole calls and AWS fault counts added
/// up (checked); orphaned uploads and notes gathered. Account ids in errors are inert.
pub fn merge(reports: &[(String, Value)]) -> Result<Value, MergeError> {
    let fail = |message: String| Err(MergeError(message));
    let Some((first_name, first)) = reports.first() else {
        return fail("no report to merge".into());
    };
    let plan = |name: &str, report: &Value| -> Result<String, MergeError> {
        let claimed = report["plan_hash"].as_str().ok_or_else(|| {
            MergeError(format!(
                "{name}: no plan_hash; fix: merge reports of `xacct run --shard K/N --output json`"
            ))
        })?;
        let shard = &report["shard"];
        let (Some(input), Some(accounts), Some(mode)) = (
            shard["input_sha256"].as_str(),
            string_list(&shard["accounts"]),
            report["mode"].as_str(),
        ) else {
            return Err(MergeError(format!(
                "{name} is not a shard's report (no shard section with the plan's accounts and input); fix: merge the reports of `xacct run --shard K/N` of this xacct"
            )));
        };
        let recomputed = plan_hash_of(
            report["sha256"].as_str(),
            input,
            mode,
            report["dry_run"].as_bool().unwrap_or_default(),
            &accounts,
        );
        if recomputed != claimed {
            return Err(MergeError(format!(
                "{name}: its plan_hash is not the hash of the plan it describes (plugin build, input, mode, dry run, accounts): the report was changed; fix: merge the reports as the shards wrote them"
            )));
        }
        Ok(recomputed)
    };
    let hash = plan(first_name, first)?;
    let plan_accounts = string_list(&first["shard"]["accounts"]).unwrap_or_default();
    let place: HashMap<&str, usize> = (plan_accounts.iter().enumerate())
        .map(|(i, id)| (*id, i))
        .collect();
    let mut count = None;
    let mut seen_shards = BTreeMap::new();
    let mut positioned: Vec<Option<Value>> = vec![None; plan_accounts.len()];
    let mut merged = first.as_object().cloned().unwrap_or_default();
    merged.remove("shard");
    for key in [
        "entries",
        "assume_role_calls",
        "call_stats",
        "orphaned_uploads",
        "notes",
    ] {
        merged.remove(key);
    }
    let (mut assume_role_calls, mut call_stats) = (Map::new(), Map::new());
    let (mut orphaned_uploads, mut notes) = (Vec::new(), Vec::<Value>::new());
    let mut duration_ms = 0;
    // The earliest shard's start is the merged run's; each entry's start is rebased on it.
    let starts: Vec<Option<u64>> = reports
        .iter()
        .map(|(_, report)| report["started_at"].as_str().and_then(unix_ms))
        .collect();
    let earliest = starts.iter().flatten().min().copied();
    for ((name, report), start) in reports.iter().zip(&starts) {
        let offset = start
            .zip(earliest)
            .map_or(0, |(start, earliest)| start - earliest);
        // The plan hash covers the digest too; a different build is named as such.
        if report["sha256"] != first["sha256"] {
            return fail(format!(
                "{name} ran plugin build {}, {first_name} ran {}: the shards ran different plugin files; fix: run every shard with the same build (pin it: [plugin.NAME] sha256), then merge",
                digest_of(report),
                digest_of(first)
            ));
        }
        if plan(name, report)? != hash {
            return fail(format!(
                "{name} ran another plan than {first_name} (plan_hash {} against {hash}): another plugin build, input, mode or account selection; fix: merge the shards of one run",
                inert(&report["plan_hash"].to_string())
            ));
        }
        let shard = &report["shard"];
        let (Some(index), Some(shard_count)) = (
            (shard["index"].as_u64())
                .filter(|index| (1..=shard["count"].as_u64().unwrap_or(0)).contains(index)),
            shard["count"].as_u64().and_then(|c| u32::try_from(c).ok()),
        ) else {
            return fail(format!(
                "{name} is not a shard's report (no shard number and count); fix: merge the reports of `xacct run --shard K/N`"
            ));
        };
        if *count.get_or_insert(shard_count) != shard_count {
            return fail(format!(
                "{name} is shard {index}/{shard_count}, {first_name} one of {}; fix: merge the shards of one run",
                count.unwrap_or_default(),
            ));
        }
        if let Some(other) = seen_shards.insert(index, name) {
            return fail(format!(
                "{name} and {other} are both shard {index}/{shard_count}"
            ));
        }
        for entry in report["entries"].as_array().into_iter().flatten() {
            let account = entry["account_id"].as_str().unwrap_or_default();
            let shown = inert(account);
            let Some(&position) = place.get(account) else {
                return fail(format!(
                    "{name}: account {shown} is not in the plan: the report was changed"
                ));
            };
            if u64::from(shard_of(account, shard_count)) + 1 != index {
                return fail(format!(
                    "{name}: account {shown} does not belong to shard {index}/{shard_count}"
                ));
            }
            let mut entry = entry.clone();
            if let Some(start_ms) = entry["start_ms"].as_u64() {
                entry["start_ms"] = start_ms.saturating_add(offset).into();
            }
            if positioned[position].replace(entry).is_some() {
                return fail(format!(
                    "{name}: account {shown} is listed more than once: the report was changed"
                ));
            }
        }
        for (key, into) in [
            ("assume_role_calls", &mut assume_role_calls),
            ("call_stats", &mut call_stats),
        ] {
            add_counts(into, &report[key], key).map_err(|counter| {
                MergeError(format!("{name}: {counter}: the report was changed"))
            })?;
        }
        if let Some(uploads) = report["orphaned_uploads"].as_array() {
            orphaned_uploads.extend(uploads.iter().cloned());
        }
        for note in report["notes"].as_array().into_iter().flatten() {
            if !notes.contains(note) {
                notes.push(note.clone());
            }
        }
        // Shards run side by side: the merged run ends when the last one does.
        let ended = offset.saturating_add(report["duration_ms"].as_u64().unwrap_or_default());
        duration_ms = duration_ms.max(ended);
    }
    let count = count.unwrap_or_default();
    let missing: Vec<String> = (1..=u64::from(count))
        .filter(|i| !seen_shards.contains_key(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return fail(format!(
            "shard(s) {} missing; fix: merge every shard's report (rerun the missing shards first)",
            missing.join(", ")
        ));
    }
    let absent: Vec<&str> = (plan_accounts.iter().zip(&positioned))
        .filter(|(_, entry)| entry.is_none())
        .map(|(id, _)| *id)
        .collect();
    if let Some(first_absent) = absent.first() {
        return fail(format!(
            "{} of the {} planned accounts are missing (account {} the first): the report was changed",
            absent.len(),
            plan_accounts.len(),
            inert(first_absent)
        ));
    }
    if let Some(earliest) = earliest {
        let first_started = reports
            .iter()
            .zip(&starts)
            .find(|(_, start)| **start == Some(earliest));
        if let Some(((_, report), _)) = first_started {
            merged.insert("started_at".into(), report["started_at"].clone());
        }
    }
    merged.insert("merged_shards".into(), reports.len().into());
    merged.insert("duration_ms".into(), duration_ms.into());
    merged.insert("entries".into(), positioned.into_iter().flatten().collect());
    // The keys the run writes only when they hold something, in its order.
    for (key, value) in [
        ("assume_role_calls", Value::Object(assume_role_calls)),
        ("call_stats", Value::Object(call_stats)),
        ("orphaned_uploads", Value::Array(orphaned_uploads)),
        ("notes", Value::Array(notes)),
    ] {
        let empty = match &value {
            Value::Object(map) => map.is_empty(),
            Value::Array(list) => list.is_empty(),
            _ => false,
        };
        if !empty {
            merged.insert(key.into(), value);
        }
    }
    Ok(Value::Object(merged))
}

/// The strings of a JSON array; `None` unless it is one and holds only strings.
fn string_list(value: &Value) -> Option<Vec<&str>> {
    value.as_array()?.iter().map(Value::as_str).collect()
}

/// Adds `from`'s numbers into `into`, key by key and recursively (per-account counts),
/// each add checked: `Err` names the count (`assume_role_calls.<account>`) that would
/// overflow or is not a count.
fn add_counts(into: &mut Map<String, Value>, from: &Value, path: &str) -> Result<(), String> {
    for (key, value) in from.as_object().into_iter().flatten() {
        let here = || format!("{path}.{}", inert(key));
        match (into.get_mut(key), value) {
            (Some(Value::Object(mine)), Value::Object(_)) => add_counts(mine, value, &here())?,
            (Some(Value::Number(mine)), Value::Number(theirs)) => {
                let sum = (mine.as_u64().zip(theirs.as_u64()))
                    .and_then(|(mine, theirs)| mine.checked_add(theirs))
                    .ok_or_else(|| format!("the count {} overflows when added", here()))?;
                *mine = sum.into();
            }
            (Some(_), _) => {}
            (None, _) => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(())
}

/// Whether a merged report (or any report) is a success: at least one entry, all ok.
pub fn all_ok(report: &Value) -> bool {
    let entries = report["entries"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    !entries.is_empty() && entries.iter().all(|entry| entry["status"] == "ok")
}

/// The accounts a report's failed or skipped entries cover (an all-accounts entry's whole
/// scope), in report order, for `--rerun-failed`. An entry without a scope (a report
/// edited by hand) covers its own account, so that no failed account is lost.
pub fn failed_accounts(report: &Value) -> Vec<String> {
    let mut accounts = Vec::new();
    let mut seen = HashSet::new();
    for entry in report["entries"].as_array().into_iter().flatten() {
        if entry["status"] == "ok" {
            continue;
        }
        let own = std::slice::from_ref(&entry["account_id"]);
        let scope = match entry["scope"].as_array() {
            Some(scope) if !scope.is_empty() => scope.as_slice(),
            _ => own,
        };
        for id in scope.iter().filter_map(Value::as_str) {
            if seen.insert(id) {
                accounts.push(id.to_owned());
            }
        }
    }
    accounts
}

#[cfg(test)]
mod tests;
