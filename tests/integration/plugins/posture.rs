//! The `posture` sample plugin finds exactly the problems planted in an estate, on both
//! backends: on moto the posture estate (`common::posture_estate`, seeded through S3's
//! own APIs), on the local backend the same four kinds of bucket as settings files.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use common::moto::{Moto, ROLE};
use common::posture_estate::{self, Kind};
use common::{ACCOUNTS, World, ok};
use serde_json::{Value, json};
use xacct::plan::Mode;

const GRANT: &str = r#"
[plugin.posture]
accounts = ["*"]
s3 = [{ buckets = "*", actions = ["list", "config-read"] }]
"#;

/// Each bucket's findings in a posture report, by bucket name.
pub(super) fn findings_of(report: &xacct::report::Report) -> BTreeMap<String, BTreeSet<String>> {
    let mut found = BTreeMap::new();
    for entry in &report.entries {
        let output = ok(entry);
        assert_eq!(output["account"], entry.account_id.as_str());
        assert_eq!(output["fixed"], json!([]), "nothing fixed unless asked");
        for bucket in output["buckets"].as_array().unwrap() {
            let codes = bucket["findings"].as_array().unwrap();
            found.insert(
                bucket["bucket"].as_str().unwrap().to_owned(),
                codes
                    .iter()
                    .map(|c| c.as_str().unwrap().to_owned())
                    .collect(),
            );
        }
    }
    found
}

/// The settings file of a local bucket of `kind` (the posture estate's kinds).
pub(super) fn settings_of(kind: Kind, logs: &str) -> Value {
    let block = json!({"block_public_acls": true, "ignore_public_acls": true,
                       "block_public_policy": true, "restrict_public_buckets": true});
    let logging = json!({"target_bucket": logs, "target_prefix": "access-logs/"});
    let lifecycle = json!([{"id": "noncurrent", "noncurrent_expiration_days": 30}]);
    match kind {
        Kind::Compliant => json!({
            "public_access_block": block, "ownership": "BucketOwnerEnforced",
            "encryption": {"algorithm": "aws:kms", "kms_key_id": "alias/aws/s3", "bucket_key": true},
            "versioning": {"status": "Enabled"}, "lifecycle": lifecycle, "logging": logging,
        }),
        Kind::PublicByPolicy => json!({
            "policy": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                      "Resource": "arn:aws:s3:::public/*"}]},
            "ownership": "BucketOwnerEnforced", "encryption": {"algorithm": "AES256"},
            "versioning": {"status": "Enabled"}, "lifecycle": lifecycle, "logging": logging,
        }),
        Kind::PublicByAcl => json!({
            "acl": {"owner": "o", "grants": [
                {"canonical_user": "o", "permission": "FULL_CONTROL"},
                {"group": "http://acs.amazonaws.com/groups/global/AllUsers", "permission": "READ"}]},
            "encryption": {"algorithm": "AES256"},
            "versioning": {"status": "Enabled"}, "lifecycle": lifecycle, "logging": logging,
        }),
        Kind::Unencrypted => json!({
            "public_access_block": block, "ownership": "BucketOwnerEnforced",
            "versioning": {"status": "Suspended"},
        }),
    }
}

#[tokio::test]
async fn posture_finds_every_planted_problem_on_the_local_backend() {
    let world = World::local(&["posture"], GRANT);
    let account = ACCOUNTS[0].0;
    let settings = world.data().join(".xacct/settings").join(account);
    std::fs::create_dir_all(&settings).unwrap();
    let kinds = [
        ("compliant", Kind::Compliant),
        ("by-policy", Kind::PublicByPolicy),
        ("by-acl", Kind::PublicByAcl),
        ("unencrypted", Kind::Unencrypted),
    ];
    for (bucket, kind) in kinds {
        world.bucket(account, bucket);
        let file = settings_of(kind, "compliant").to_string();
        std::fs::write(settings.join(format!("{bucket}.json")), file).unwrap();
    }
    // The second account's own block covers its bucket, which has none of its own.
    world.bucket(ACCOUNTS[1].0, "covered");
    let covered = world.data().join(".xacct/settings").join(ACCOUNTS[1].0);
    std::fs::create_dir_all(&covered).unwrap();
    let all_on = json!({"public_access_block": {"block_public_acls": true,
        "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true}});
    std::fs::write(covered.join("_account.json"), all_on.to_string()).unwrap();

    let report = world.run("posture", json!({}), Mode::PerAccount).await;
    let found = findings_of(&report);
    for (bucket, kind) in kinds {
        let codes: BTreeSet<String> = kind.findings().into_iter().map(str::to_owned).collect();
        assert_eq!(found[bucket], codes, "{bucket} ({kind:?})");
    }
    assert!(
        !found["covered"].contains("no-public-access-block"),
        "the account-level block counts: {:?}",
        found["covered"]
    );
    let summary = &ok(&report.entries[0])["summary"];
    assert_eq!(summary["buckets"], 4);
    assert_eq!(summary["with_findings"], 3);
    assert_eq!(summary["findings"]["no-public-access-block"], 2);

    let strict = world
        .run("posture", json!({"require_kms": true}), Mode::PerAccount)
        .await;
    let strict = findings_of(&strict);
    assert!(strict["by-policy"].contains("sse-s3-only"));
    assert!(
        !strict["compliant"].contains("sse-s3-only"),
        "SSE-KMS passes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posture_finds_every_planted_problem_on_the_aws_backend() {
    let moto = Moto::start();
    let accounts: Vec<String> = ACCOUNTS[..2].iter().map(|(id, _)| id.to_string()).collect();
    let estate = posture_estate::seed(&moto, &accounts).await;
    let world = World::aws_with_grants(
        &["posture"],
        &moto.endpoint,
        ROLE,
        estate.home.provider(),
        &GRANT.replace("[\"*\"]", &format!("{accounts:?}")),
    );
    moto.enforce_iam();
    let report = world.run("posture", json!({}), Mode::PerAccount).await;
    let found = findings_of(&report);
    assert_eq!(
        found.len(),
        estate.buckets.len(),
        "every bucket is reported"
    );
    for bucket in &estate.buckets {
        let codes: BTreeSet<String> = bucket
            .kind
            .findings()
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            found[&bucket.name], codes,
            "{} ({:?})",
            bucket.name, bucket.kind
        );
    }
    // Per bucket: the nine settings asked for; per account: its buckets and its block.
    for entry in &report.entries {
        assert_eq!(entry.usage.s3_calls, 3 * 9 + 2, "{}", entry.account_id);
    }
}
