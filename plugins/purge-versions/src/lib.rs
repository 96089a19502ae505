//! `purge-versions`: keeps a versioned bucket's history short, and brings an object back.
//!
//! Input: `{"bucket": B, "prefix": P, "keep": N, "restore": [{"key": K, "version": V}]}`
//! (`prefix` defaults to the whole bucket, `keep` to 0, `restore` to none).
//! - **restore** (first): each `key` gets `version` back. A delete marker's id removes the
//!   marker for good (the version behind it is current again); a version's id is read and
//!   written over the key as its new current version, content type and metadata included
//!   (the versions after it stay, as S3's own restore does).
//! - **purge** (then): under `prefix`, each key keeps its current version (or delete
//!   marker) and its `keep` newest noncurrent versions; older noncurrent versions and
//!   noncurrent delete markers are deleted for good. A current delete marker with nothing
//!   left behind it (S3's "expired object delete marker") is deleted too.
//!
//! Grant: `versions` (list, read) and `delete-versions` on the prefix, and `write` on the
//! restored keys. With `--dry-run` the deletes and writes are planned, not made, and the
//! output says what they would be.
//!
//! Output: `{"account": ID, "bucket": B, "dry_run": bool, "restored": [{"key", "version",
//! "how": "delete-marker-removed" | "copied", "etag"}], "purged": [{"key", "version",
//! "delete_marker"}], "purged_count": N, "kept": N}` — `purged` lists the first 1,000.

use serde::Deserialize;
use xacct_guest::serde_json::{Value, json};
use xacct_guest::{
    ObjectVersion, Plugin, PutOptions, Result, S3, S3Result, account, dry_run, export_plugin,
};

/// The most purged versions listed one by one in the output (all are counted).
const LISTED: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    bucket: String,
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    keep: usize,
    #[serde(default)]
    restore: Vec<Restore>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Restore {
    key: String,
    version: String,
}

struct PurgeVersions;

/// Brings `restore.version` back as the current version of its key.
fn restore(s3: &S3, bucket: &str, restore: &Restore) -> Result<Value> {
    let (key, version) = (restore.key.as_str(), restore.version.as_str());
    let is_marker = s3
        .list_versions(bucket)
        .prefix(key)
        .versions()
        .filter(|entry| entry.as_ref().map_or(true, |v| v.key == key))
        .find(|entry| entry.as_ref().map_or(true, |v| v.version_id == version))
        .transpose()?
        .ok_or_else(|| format!("{key}: no version {version}"))?
        .is_delete_marker;
    if is_marker {
        s3.object_version(bucket, key, version).delete()?;
        return Ok(json!({"key": key, "version": version, "how": "delete-marker-removed"}));
    }
    let mut old = s3.object_version(bucket, key, version).get()?;
    let options = PutOptions {
        content_type: old.meta.content_type.take(),
        metadata: std::mem::take(&mut old.meta.metadata),
    };
    let stored = s3.put_with(bucket, key, options)?.copy_from(old)?;
    Ok(json!({"key": key, "version": version, "how": "copied", "etag": stored.etag}))
}

/// Which of one key's entries (newest first) go: all but the current one and the
/// `keep` newest noncurrent versions; the current delete marker too when nothing is
/// left behind it.
fn doomed(entries: &[ObjectVersion], keep: usize) -> Vec<&ObjectVersion> {
    let mut kept_versions = 0;
    let mut doomed = Vec::new();
    for entry in entries.iter().filter(|entry| !entry.is_latest) {
        if !entry.is_delete_marker && kept_versions < keep {
            kept_versions += 1;
        } else {
            doomed.push(entry);
        }
    }
    if let Some(current) = entries.iter().find(|entry| entry.is_latest)
        && current.is_delete_marker
        && kept_versions == 0
    {
        doomed.push(current);
    }
    doomed
}

/// Purges one key's entries; how many were kept.
fn purge_key(
    s3: &S3,
    bucket: &str,
    entries: &[ObjectVersion],
    keep: usize,
    purged: &mut Vec<Value>,
    count: &mut usize,
) -> S3Result<usize> {
    let doomed = doomed(entries, keep);
    for entry in &doomed {
        s3.object_version(bucket, &entry.key, &entry.version_id)
            .delete()?;
        *count += 1;
        if purged.len() < LISTED {
            purged.push(json!({"key": entry.key, "version": entry.version_id,
                               "delete_marker": entry.is_delete_marker}));
        }
    }
    Ok(entries.len() - doomed.len())
}

impl Plugin for PurgeVersions {
    type Input = Input;
    type Output = Value;

    fn run(input: Input) -> Result<Value> {
        let account = account()?;
        let s3 = account.s3()?;
        let bucket = input.bucket.as_str();
        let restored = input
            .restore
            .iter()
            .map(|r| restore(&s3, bucket, r))
            .collect::<Result<Vec<_>>>()?;

        // One key's entries are consecutive, newest first: each key is purged once all
        // of its entries are in.
        let (mut purged, mut count, mut kept) = (Vec::new(), 0, 0);
        let mut key_entries: Vec<ObjectVersion> = Vec::new();
        for entry in s3.list_versions(bucket).prefix(&input.prefix).versions() {
            let entry = entry?;
            if key_entries
                .first()
                .is_some_and(|first| first.key != entry.key)
            {
                kept += purge_key(
                    &s3,
                    bucket,
                    &key_entries,
                    input.keep,
                    &mut purged,
                    &mut count,
                )?;
                key_entries.clear();
            }
            key_entries.push(entry);
        }
        kept += purge_key(
            &s3,
            bucket,
            &key_entries,
            input.keep,
            &mut purged,
            &mut count,
        )?;

        Ok(json!({
            "account": account.id,
            "bucket": bucket,
            "dry_run": dry_run(),
            "restored": restored,
            "purged": purged,
            "purged_count": count,
            "kept": kept,
        }))
    }
}

// What the plugin needs, for the operator to compare with the grant (xacct plugins) or
// to start one from (xacct grant suggest purge-versions).
xacct_guest::declare_grant!(
    r#"
format = 1
accounts = ["*"]
s3 = [{ buckets = "*", actions = ["versions", "delete-versions", "write"] }]
"#
);

export_plugin!(PurgeVersions);
