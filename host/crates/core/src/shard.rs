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

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 || index >= count {
            return Err(format!(
                "shard {index}/{count}: the index counts from 0 and stays below the count (0/{count} … {}/{count})",
                count.saturating_sub(1)
            ));
        }
        Ok(Shard { index, count })
    }

    /// `K/N`, K counted from 1: `1/4` … `4/4`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let parsed = text.split_once('/').and_then(|(number, count)| {
            Some((
                number.trim().parse::<u32>().ok()?,
                count.trim().parse().ok()?,
            ))
        });
        match parsed {
            Some((0, count)) => Err(format!(
                "shard 0/{count}: shards count from 1 (1/{count} … {count}/{count}); fix: --shard 1/{count} for the first (only --shard auto takes the 0-based indexes of AWS Batch and Kubernetes)"
            )),
            Some((number, count)) if count == 0 || number > count => Err(format!(
                "shard {number}/{count}: K counts from 1 up to the count N (1/{count} … {count}/{count})"
            )),
            Some((number, count)) => Shard::new(number - 1, count),
            None => Err(format!("{text:?} is not K/N (e.g. 1/4)")),
        }
    }

    /// The shard's number as people count: 1 … count.
    pub fn number(&self) -> u32 {
        self.index + 1
    }

    /// The shard an array job's environment names: AWS Batch's index and size, else
    /// Kubernetes' completion index with `count` (an Indexed Job does not export its
    /// completions).
    pub fn from_env(
        var: impl Fn(&str) -> Option<String>,
        count: Option<u32>,
    ) -> Result<Shard, String> {
        let number = |name: &str| -> Result<Option<u32>, String> {
            var(name)
                .map(|value| {
                    value
                        .trim()
                        .parse()
                        .map_err(|_| format!("{name}={value:?} is not a number"))
                })
                .transpose()
        };
        if let Some(index) = number(BATCH_INDEX)? {
            let size = number(BATCH_SIZE)?.or(count).ok_or_else(|| {
                format!("{BATCH_INDEX} is set but {BATCH_SIZE} is not; fix: pass --shard-count")
            })?;
            return Shard::new(index, size);
        }
        if let Some(index) = number(KUBERNETES_INDEX)? {
            let count = count.ok_or_else(|| {
                format!(
                    "{KUBERNETES_INDEX} is set but the shard count is unknown; fix: pass --shard-count (the Job's completions)"
                )
            })?;
            return Shard::new(index, count);
        }
        Err(format!(
            "--shard auto: neither {BATCH_INDEX} (AWS Batch array job) nor {KUBERNETES_INDEX} (Kubernetes Indexed Job) is set; fix: pass --shard K/N"
        ))
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
/// scope), in report order, for `--rerun-failed`.
pub fn failed_accounts(report: &Value) -> Vec<String> {
    let mut accounts = Vec::new();
    let mut seen = HashSet::new();
    for entry in report["entries"].as_array().into_iter().flatten() {
        if entry["status"] == "ok" {
            continue;
        }
        let scope = entry["scope"].as_array().into_iter().flatten();
        for id in scope.filter_map(Value::as_str) {
            if seen.insert(id) {
                accounts.push(id.to_owned());
            }
        }
    }
    accounts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shards_are_stable_and_cover_every_account_once() {
        let ids: Vec<String> = (0..1000).map(|i| format!("{:012}", 100_000 + i)).collect();
        let mut sizes = [0usize; 4];
        for id in &ids {
            let shards: Vec<u32> = (0..4)
                .filter(|i| Shard::new(*i, 4).unwrap().holds(id))
                .collect();
            assert_eq!(shards.len(), 1);
            sizes[shards[0] as usize] += 1;
            // Depends on the id alone: the same on every machine and in every config.
            assert_eq!(shard_of(id, 4), shard_of(&id.clone(), 4));
        }
        assert!(sizes.iter().all(|n| (200..300).contains(n)), "{sizes:?}");
        assert_eq!(shard_of("111111111111", 7), 4, "a fixed function of the id");
    }

    #[test]
    fn shards_are_parsed_and_taken_from_batch_or_kubernetes() {
        // K/N counts from 1, as Playwright, Jest and cargo-nextest do.
        assert_eq!(Shard::parse("1/4").unwrap(), Shard { index: 0, count: 4 });
        assert_eq!(Shard::parse("4/4").unwrap(), Shard { index: 3, count: 4 });
        assert_eq!(Shard::parse("2/2").unwrap().to_string(), "2/2");
        let first = Shard::parse("0/4").unwrap_err();
        assert!(
            first.contains("count from 1") && first.contains("--shard 1/4"),
            "{first}"
        );
        assert!(Shard::parse("5/4").is_err());
        assert!(Shard::parse("1/0").is_err());
        assert!(Shard::parse("1").is_err());
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        // The environments count from 0: index 3 is the fourth shard.
        let batch = env(&[(BATCH_INDEX, "3"), (BATCH_SIZE, "8")]);
        assert_eq!(
            Shard::from_env(batch, None).unwrap(),
            Shard { index: 3, count: 8 }
        );
        assert_eq!(Shard::from_env(batch, None).unwrap().to_string(), "4/8");
        let kubernetes = env(&[(KUBERNETES_INDEX, "0")]);
        assert_eq!(
            Shard::from_env(kubernetes, Some(5)).unwrap().to_string(),
            "1/5"
        );
        assert!(
            Shard::from_env(kubernetes, None)
                .unwrap_err()
                .contains("--shard-count")
        );
        assert!(Shard::from_env(env(&[]), Some(2)).is_err());
    }

    /// Shard `index` (from 0) of `count` of a plan over `plan`, holding `entries` (id,
    /// status).
    fn shard_report(
        index: u32,
        count: u32,
        plan: &[&str],
        entries: &[(&str, &str)],
    ) -> (String, Value) {
        let input = crate::plan_hash::input_sha256("{}");
        let entries: Vec<Value> = (entries.iter())
            .map(|(id, status)| json!({"account_id": id, "scope": [id], "status": status}))
            .collect();
        (
            format!("shard-{index}.json"),
            json!({
                "plugin": "hello", "sha256": "abc", "mode": "per-account", "dry_run": false,
                "plan_hash": plan_hash_of(Some("abc"), &input, "per-account", false, plan),
                "duration_ms": 10 * (index + 1),
                "entries": entries,
                "assume_role_calls": {"a": 1},
                "shard": {"index": index + 1, "count": count, "planned": plan.len(), "accounts": plan, "input_sha256": input},
            }),
        )
    }

    /// Three account ids and their shards of 2, both shards among them.
    fn ids() -> Vec<(String, u32)> {
        let mut ids: Vec<(String, u32)> = Vec::new();
        for i in 0.. {
            let id = format!("{:012}", 111_111_111_111u64 + i);
            let shard = shard_of(&id, 2);
            ids.push((id, shard));
            if ids.len() >= 3 && ids.iter().any(|(_, s)| *s != ids[0].1) {
                break;
            }
        }
        ids.split_off(ids.len() - 3)
    }

    #[test]
    fn shards_merge_in_plan_order_and_gaps_or_doubles_are_refused() {
        let ids = ids();
        assert!(ids.iter().any(|(_, s)| *s == 0) && ids.iter().any(|(_, s)| *s == 1));
        let plan: Vec<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
        let of = |shard: u32| -> Vec<(&str, &str)> {
            ids.iter()
                .enumerate()
                .filter(|(_, (_, s))| *s == shard)
                .map(|(i, (id, _))| (id.as_str(), if i == 1 { "error" } else { "ok" }))
                .collect()
        };
        let report = |shard: u32| shard_report(shard, 2, &plan, &of(shard));
        let (zero, one) = (report(0), report(1));
        let merged = merge(&[one.clone(), zero.clone()]).unwrap();
        let order: Vec<&str> = merged["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["account_id"].as_str().unwrap())
            .collect();
        assert_eq!(order, plan);
        assert!(merged.get("shard").is_none());
        assert_eq!(merged["duration_ms"], 20);
        assert_eq!(merged["assume_role_calls"]["a"], 2);
        assert!(!all_ok(&merged));
        assert_eq!(failed_accounts(&merged), [ids[1].0.clone()]);

        let error = |reports: &[(String, Value)]| merge(reports).unwrap_err().to_string();
        assert!(error(std::slice::from_ref(&zero)).contains("shard(s) 2/2 missing"));
        assert!(error(&[zero.clone(), zero.clone()]).contains("are both shard 1/2"));
        let mut copied = one.clone();
        copied.1["shard"]["input_sha256"] = json!("another input");
        assert!(error(&[zero.clone(), copied]).contains("not the hash of the plan"));
        let other = shard_report(1, 2, &plan[..2], &[]);
        assert!(error(&[zero.clone(), other]).contains("another plan"));
        let mut rebuilt = one.clone();
        rebuilt.1["sha256"] = json!("ab".repeat(32));
        assert!(
            error(&[zero.clone(), rebuilt]).contains(&format!(
                "shard-1.json ran plugin build sha256 {}, shard-0.json ran sha256 abc: the shards ran different plugin files",
                "ab".repeat(32)
            ))
        );
        let mut moved = one.clone();
        moved.1["shard"]["index"] = json!(1);
        assert!(error(&[moved]).contains("does not belong"));
        let mut twice = one.clone();
        let entry = twice.1["entries"][0].clone();
        twice.1["entries"].as_array_mut().unwrap().push(entry);
        assert!(error(&[zero.clone(), twice]).contains("listed more than once"));
        let mut stranger = one.clone();
        stranger.1["entries"][0]["account_id"] = json!("999999999999");
        assert!(error(&[zero.clone(), stranger]).contains("999999999999 is not in the plan"));
        let mut dropped = one.clone();
        dropped.1["entries"] = json!([]);
        assert!(error(&[zero.clone(), dropped]).contains("are missing"));
        let mut overflowing = one.clone();
        overflowing.1["assume_role_calls"]["a"] = json!(u64::MAX);
        let overflow = error(&[zero, overflowing]);
        assert!(
            overflow.contains("assume_role_calls.a overflows"),
            "{overflow}"
        );
    }

    #[test]
    fn a_merge_starts_with_its_first_shard_and_rebases_each_start() {
        let ids = ids();
        let plan: Vec<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
        let of = |shard: u32| -> Vec<(&str, &str)> {
            (ids.iter())
                .filter(|(_, s)| *s == shard)
                .map(|(id, _)| (id.as_str(), "ok"))
                .collect()
        };
        let (mut zero, mut one) = (
            shard_report(0, 2, &plan, &of(0)),
            shard_report(1, 2, &plan, &of(1)),
        );
        zero.1["started_at"] = json!("2026-11-02T09:30:01.5Z");
        one.1["started_at"] = json!("2026-11-02T09:30:00Z");
        for (report, start_ms) in [(&mut zero.1, 100), (&mut one.1, 40)] {
            for entry in report["entries"].as_array_mut().unwrap() {
                entry["start_ms"] = json!(start_ms);
            }
        }
        let merged = merge(&[zero, one]).unwrap();
        assert_eq!(merged["started_at"], "2026-11-02T09:30:00Z");
        assert_eq!(merged["merged_shards"], 2);
        for (entry, (_, shard)) in merged["entries"].as_array().unwrap().iter().zip(&ids) {
            let expected = if *shard == 0 { 1500 + 100 } else { 40 };
            assert_eq!(entry["start_ms"], expected, "{entry}");
        }
        // Shard 0 started 1.5 s after shard 1 and ran 10 ms: the run lasted 1510 ms.
        assert_eq!(merged["duration_ms"], 1510);
    }
}
