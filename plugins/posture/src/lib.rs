//! `posture`: the S3 posture of each account's buckets — public exposure, default
//! encryption, versioning, object ownership, lifecycle and access logging — as finding
//! codes per bucket and a summary per account. Read-only: it asks each bucket for the
//! nine settings the checks need (one S3 call each, sent concurrently by the host) and
//! the account for its own public access block (one call).
//!
//! Input (all optional): `{"require_kms": true}` also flags buckets whose default
//! encryption is SSE-S3 (`sse-s3-only`).
//!
//! Output, stable for other tools (README, "The posture plugin"):
//! `{"account": ID, "buckets": [{"bucket": NAME, "region": R, "findings": [CODE, …]}],
//!   "fixed": [], "summary": {"buckets": N, "with_findings": M, "findings": {CODE: COUNT}}}`.
//! Codes, in this order: `public-policy`, `public-acl`, `no-public-access-block`,
//! `unencrypted`, `sse-s3-only`, `versioning-off`, `acls-enabled`, `no-lifecycle`,
//! `no-logging`.

use std::collections::BTreeMap;

use serde::Deserialize;
use xacct_guest::serde_json::{Value, json};
use xacct_guest::{
    BucketConfig, Grantee, ObjectOwnership, Plugin, PublicAccessBlock, Result, S3, SseAlgorithm,
    VersioningStatus, export_plugin,
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
            buckets.push(json!({
                "bucket": bucket.name,
                "region": config.region,
                "findings": found,
            }));
        }
        Ok(json!({
            "account": account.id,
            "buckets": buckets,
            "fixed": [],
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
s3 = [{ buckets = "*", actions = ["list", "config-read"] }]
"#
);

export_plugin!(Posture);
