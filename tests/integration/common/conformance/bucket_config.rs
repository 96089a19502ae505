//! Bucket configuration every backend must show (`get-bucket-config`,
//! `get-account-public-access-block`), from inside the `s3script` guest. The settings of
//! the planted bucket are put there by each backend's test in its own way (S3's Put APIs
//! on moto, the settings file on the local backend): [`planted_settings_file`] is that
//! bucket's file, [`PLANTED_KMS_KEY`] and the rest say what S3 was told.

use serde_json::{Value, json};

use crate::common::{World, step_error, step_ok};

/// Every setting, by its WIT name.
pub const ALL_SETTINGS: [&str; 11] = [
    "location",
    "versioning",
    "encryption",
    "public-access-block",
    "policy-status",
    "policy",
    "ownership-controls",
    "lifecycle",
    "logging",
    "tags",
    "acl",
];

/// The default encryption's key in the planted bucket.
pub const PLANTED_KMS_KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/conformance";

/// The planted bucket's policy: everyone may read its objects (public), and S3's logging
/// service may write its access logs (what PutBucketLogging requires of a target).
/// Everyone is `{"AWS": "*"}`, which S3 reads as `"*"`: moto 5.2.5's PutBucketLogging
/// fails (500) on a target policy with a bare `"*"` principal.
pub fn planted_policy(bucket: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Public", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
             "Resource": format!("arn:aws:s3:::{bucket}/*")},
            {"Sid": "Logs", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
             "Action": "s3:PutObject", "Resource": format!("arn:aws:s3:::{bucket}/access/*")},
        ]
    })
}

/// The planted bucket's settings as the local backend stores them.
pub fn planted_settings_file(bucket: &str) -> Value {
    json!({
        "versioning": {"status": "Enabled"},
        "encryption": {"algorithm": "aws:kms", "kms_key_id": PLANTED_KMS_KEY, "bucket_key": true},
        "public_access_block": {"block_public_acls": true, "ignore_public_acls": true},
        "policy": planted_policy(bucket),
        "ownership": "BucketOwnerEnforced",
        "lifecycle": [{"id": "expire", "prefix": "logs/", "expiration_days": 365,
                       "noncurrent_expiration_days": 7, "abort_incomplete_upload_days": 3,
                       "transitions": [{"days": 60, "storage_class": "GLACIER"}]}],
        "logging": {"target_bucket": bucket, "target_prefix": "access/"},
        "tags": [["cost", "42"], ["team", "ops"]],
    })
}

fn config(bucket: &str, settings: &[&str]) -> Value {
    json!({"op": "config", "bucket": bucket, "settings": settings})
}

/// The account-level public access block planted in the first account: all four on.
pub fn planted_account_block() -> Value {
    json!({"block_public_acls": true, "ignore_public_acls": true,
           "block_public_policy": true, "restrict_public_buckets": true})
}

/// `fresh` has no configuration at all; `planted` has what [`planted_settings_file`]
/// says (however the backend's test put it there). Both are in the first account, whose
/// own public access block is [`planted_account_block`]; the second account has none.
pub async fn check(world: &World, fresh: &str, planted: &str) {
    let results = world
        .script(json!([
            config(fresh, &ALL_SETTINGS),
            config(planted, &ALL_SETTINGS),
            config(planted, &["encryption", "versioning", "encryption"]),
            config(planted, &[]),
            config("no-such-bucket-xacct", &["versioning"]),
            config("Not_A_Bucket", &["versioning"]),
            {"op": "account_block"},
            {"op": "account_block", "account": "222222222222"},
        ]))
        .await;

    // Nothing configured: every setting asked for is none, but for what S3 always has
    // (a region, an ACL: the owner's full control).
    let fresh_config = step_ok(&results[0]);
    assert_eq!(
        fresh_config["region"], "us-east-1",
        "a region code, never empty"
    );
    for absent in [
        "versioning",
        "encryption",
        "public_access_block",
        "policy_is_public",
        "policy",
        "ownership",
        "lifecycle",
        "logging",
        "tags",
    ] {
        assert_eq!(
            fresh_config[absent],
            Value::Null,
            "{absent}: not configured"
        );
    }
    let owner = fresh_config["acl"]["owner"].as_str().expect("an owner");
    assert_eq!(
        fresh_config["acl"]["grants"],
        json!([{"canonical_user": owner, "permission": "FULL_CONTROL"}])
    );

    let planted_config = step_ok(&results[1]);
    assert_eq!(planted_config["region"], "us-east-1");
    assert_eq!(
        planted_config["versioning"],
        json!({"status": "Enabled", "mfa_delete": false})
    );
    assert_eq!(
        planted_config["encryption"],
        json!({"algorithm": "aws:kms", "kms_key_id": PLANTED_KMS_KEY, "bucket_key": true})
    );
    assert_eq!(
        planted_config["public_access_block"],
        json!({"block_public_acls": true, "ignore_public_acls": true,
               "block_public_policy": false, "restrict_public_buckets": false})
    );
    assert_eq!(planted_config["policy_is_public"], true);
    let policy: Value =
        serde_json::from_str(planted_config["policy"].as_str().expect("the policy text")).unwrap();
    assert_eq!(policy, planted_policy(planted), "the policy as it was put");
    assert_eq!(planted_config["ownership"], "BucketOwnerEnforced");
    assert_eq!(
        planted_config["lifecycle"],
        json!([{"id": "expire", "enabled": true, "prefix": "logs/", "expiration_days": 365,
                "expired_object_delete_marker": false, "noncurrent_expiration_days": 7,
                "abort_incomplete_upload_days": 3,
                "transitions": [{"days": 60, "storage_class": "GLACIER", "noncurrent": false}]}])
    );
    assert_eq!(
        planted_config["logging"],
        json!({"target_bucket": planted, "target_prefix": "access/"})
    );
    let mut tags = planted_config["tags"].as_array().expect("tags").clone();
    tags.sort_by_key(|tag| tag[0].as_str().map(str::to_owned));
    assert_eq!(json!(tags), json!([["cost", "42"], ["team", "ops"]]));

    // Only what was asked for is there; a setting asked twice is read once.
    let some = step_ok(&results[2]);
    assert_eq!(some["encryption"], planted_config["encryption"]);
    assert_eq!(some["versioning"], planted_config["versioning"]);
    for not_asked in [
        "region",
        "public_access_block",
        "policy",
        "ownership",
        "acl",
        "tags",
    ] {
        assert_eq!(
            some[not_asked],
            Value::Null,
            "{not_asked} was not asked for"
        );
    }
    let nothing = step_ok(&results[3]);
    assert!(
        nothing.as_object().unwrap().values().all(Value::is_null),
        "nothing asked, nothing read: {nothing}"
    );
    assert_eq!(step_error(&results[4]), super::missing_bucket(world));
    assert_eq!(step_error(&results[5]), "invalid-input");
    assert_eq!(step_ok(&results[6]), &planted_account_block());
    assert_eq!(
        step_ok(&results[7]),
        &Value::Null,
        "no account-level block is set in the second account"
    );
}
