//! `posture`: the S3 posture of each account's buckets — public exposure, default
//! encryption, versioning, object ownership, lifecycle and access logging — as finding
//! codes per bucket and a summary per account; and, when asked, the fixes of three of
//! them within the plugin's grant. It asks each bucket for the nine settings the checks
//! need (one S3 call each, sent concurrently by the host) and the account for its own
//! public access block (one call).
//!
//! Input (all optional): `{"require_kms": true}` also flags buckets whose default
//! encryption is SSE-S3 (`sse-s3-only`); `{"fix": ["public-access-block", "encryption",
//! "versioning"]}` fixes those findings (`no-public-access-block`: all four switches on
//! the bucket; `unencrypted`, and `sse-s3-only` with `require_kms`: SSE-S3, or SSE-KMS with
//! the AWS managed key and a bucket key when `require_kms`; `versioning-off`: enabled).
//! A fix needs `config-write` of its setting; one the grant (or AWS) refuses is listed
//! in `not_fixed` and the others go on. Under `--dry-run` the host plans the writes and
//! `fixed` is the plan (`"dry_run": true`).
//!
//! Output, stable for other tools (README, "The posture plugin"):
//! `{"account": ID, "buckets": [{"bucket": NAME, "region": R, "findings": [CODE, …]}],
//!   "fixed": [{"bucket": NAME, "setting": S, "before": …, "after": …}], "not_fixed": [...],
//!   "dry_run": BOOL, "summary": {"buckets": N, "with_findings": M, "findings": {CODE: COUNT}}}`.
//! Codes, in this order: `public-policy`, `public-acl`, `no-public-access-block`,
//! `unencrypted`, `sse-s3-only`, `versioning-off`, `acls-enabled`, `no-lifecycle`,
//! `no-logging`. `findings` are what was found, before any fix.

use std::collections::BTreeMap;

use serde::Deserialize;
use xacct_guest::serde_json::{Value, json};
use xacct_guest::{
    BucketConfig, DefaultEncryption, Grantee, ObjectOwnership, Plugin, PublicAccessBlock, Result,
    S3, S3Result, SseAlgorithm, VersioningStatus, block_json, encryption_json, export_plugin,
    versioning_status_name,
};

/// The ACL groups that make a grant public (S3 User Guide, "Access control list (ACL)
/// overview", Amazon S3 predefined groups).
const PUBLIC_GROUPS: [&str; 2] = [
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
];

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Input {
    /// Flag SSE-S3 default encryption too: the account wants SSE-KMS.
    require_kms: bool,
    /// The settings to fix where a finding asks for it.
    fix: Vec<Fix>,
}

/// A setting `posture` can fix.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum Fix {
    PublicAccessBlock,
    Encryption,
    Versioning,
}

impl Fix {
    fn name(self) -> &'static str {
        match self {
            Fix::PublicAccessBlock => "public-access-block",
            Fix::Encryption => "encryption",
            Fix::Versioning => "versioning",
        }
    }

    /// Whether `found` (a bucket's codes) has a finding this fix remedies.
    fn remedies(self, found: &[&str]) -> bool {
        let codes: &[&str] = match self {
            Fix::PublicAccessBlock => &["no-public-access-block"],
            Fix::Encryption => &["unencrypted", "sse-s3-only"],
            Fix::Versioning => &["versioning-off"],
        };
        found.iter().any(|code| codes.contains(code))
    }

    /// Makes the fix on `bucket`, whose settings are `config`: the setting's value before
    /// and after, as the host's audit log writes them.
    fn apply(
        self,
        s3: &S3,
        bucket: &str,
        config: &BucketConfig,
        input: &Input,
    ) -> S3Result<(Value, Value)> {
        match self {
            Fix::PublicAccessBlock => {
                s3.block_public_access(bucket)?;
                let before = config.public_access_block.as_ref().map(block_json);
                Ok((json!(before), block_json(&PublicAccessBlock::ALL)))
            }
            Fix::Encryption => {
                let after = if input.require_kms {
                    s3.encrypt_with_kms(bucket, None)?;
                    DefaultEncryption {
                        algorithm: SseAlgorithm::AwsKms,
                        kms_key_id: None,
                        bucket_key: true,
                    }
                } else {
                    s3.encrypt_with_sse_s3(bucket)?;
                    DefaultEncryption {
                        algorithm: SseAlgorithm::Aes256,
                        kms_key_id: None,
                        bucket_key: false,
                    }
                };
                let before = config.encryption.as_ref().map(encryption_json);
                Ok((json!(before), encryption_json(&after)))
            }
            Fix::Versioning => {
                s3.enable_versioning(bucket)?;
                let before = config
                    .versioning
                    .as_ref()
                    .map(|v| versioning_status_name(v.status));
                Ok((json!(before), json!("Enabled")))
            }
        }
    }
}

struct Posture;

/// Whether each of the four switches is on at the bucket's level or the account's (S3
/// applies the most restrictive combination: "Blocking public access to your Amazon S3
/// storage", S3 User Guide).
fn blocks_all(bucket: Option<&PublicAccessBlock>, account: Option<&PublicAccessBlock>) -> bool {
    let on = |switch: fn(&PublicAccessBlock) -> bool| {
        bucket.is_some_and(switch) || account.is_some_and(switch)
    };
    on(|b| b.block_public_acls)
        && on(|b| b.ignore_public_acls)
        && on(|b| b.block_public_policy)
        && on(|b| b.restrict_public_buckets)
}

/// The finding codes of one bucket's settings, in the documented order.
fn findings(
    config: &BucketConfig,
    account_block: Option<&PublicAccessBlock>,
    input: &Input,
) -> Vec<&'static str> {
    let mut found = Vec::new();
    if config.policy_is_public == Some(true) {
        found.push("public-policy");
    }
    let public_grant = config.acl.as_ref().is_some_and(|acl| {
        acl.grants
            .iter()
            .any(|grant| matches!(&grant.grantee, Grantee::Group(uri) if PUBLIC_GROUPS.contains(&uri.as_str())))
    });
    if public_grant {
        found.push("public-acl");
    }
    if !blocks_all(config.public_access_block.as_ref(), account_block) {
        found.push("no-public-access-block");
    }
    match &config.encryption {
        None => found.push("unencrypted"),
        Some(encryption) if input.require_kms && encryption.algorithm == SseAlgorithm::Aes256 => {
            found.push("sse-s3-only")
        }
        Some(_) => {}
    }
    if config.versioning.as_ref().map(|v| v.status) != Some(VersioningStatus::Enabled) {
        found.push("versioning-off");
    }
    if config.ownership != Some(ObjectOwnership::BucketOwnerEnforced) {
        found.push("acls-enabled");
    }
    let has_rule = config
        .lifecycle
        .as_ref()
        .is_some_and(|rules| rules.iter().any(|rule| rule.enabled));
    if !has_rule {
        found.push("no-lifecycle");
    }
    if config.logging.is_none() {
        found.push("no-logging");
    }
    found
}

impl Plugin for Posture {
    type Input = Input;
    type Output = Value;

    fn run(input: Input) -> Result<Value> {
        let account = xacct_guest::account()?;
        let s3: S3 = account.s3()?;
        let account_block = s3.account_public_access_block()?;
        let mut buckets = Vec::new();
        let (mut fixed, mut not_fixed) = (Vec::new(), Vec::new());
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        let mut with_findings = 0;
        for bucket in s3.buckets()? {
            let config = s3
                .config(&bucket.name)
                .location()
                .versioning()
                .encryption()
                .public_access_block()
                .policy_status()
                .ownership_controls()
                .lifecycle()
                .logging()
                .acl()
                .fetch()?;
            let found = findings(&config, account_block.as_ref(), &input);
            if !found.is_empty() {
                with_findings += 1;
            }
            for code in &found {
                *counts.entry(code).or_default() += 1;
            }
            for fix in input.fix.iter().filter(|fix| fix.remedies(&found)) {
                let entry = json!({"bucket": bucket.name, "setting": fix.name()});
                match fix.apply(&s3, &bucket.name, &config, &input) {
                    Ok((before, after)) => {
                        let mut entry = entry;
                        entry["before"] = before;
                        entry["after"] = after;
                        fixed.push(entry);
                    }
                    // Outside the grant, or refused by AWS: said, and the rest goes on.
                    Err(err) => {
                        let mut entry = entry;
                        entry["error"] = json!(err.describe());
                        not_fixed.push(entry);
                    }
                }
            }
            buckets.push(json!({
                "bucket": bucket.name,
                "region": config.region,
                "findings": found,
            }));
        }
        Ok(json!({
            "account": account.id,
            "buckets": buckets,
            "fixed": fixed,
            "not_fixed": not_fixed,
            "dry_run": xacct_guest::dry_run(),
            "summary": {
                "buckets": buckets.len(),
                "with_findings": with_findings,
                "findings": counts,
            },
        }))
    }
}

// What the plugin needs, for the operator to compare with the grant (xacct plugins) or
// to start one from (xacct grant suggest posture).
xacct_guest::declare_grant!(
    r#"
format = 1
accounts = ["*"]
s3 = [{ buckets = "*", actions = ["list", "config-read", "config-write"], settings = ["public-access-block", "encryption", "versioning"] }]
"#
);

export_plugin!(Posture);
