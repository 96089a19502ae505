//! Bucket configuration writes every backend must make (`put-public-access-block`,
//! `put-bucket-encryption`, `put-bucket-versioning`, `put-bucket-tagging`), from inside
//! the `s3script` guest, each read back through `get-bucket-config`; the input S3 (and
//! the grant) refuses, each a typed error that changes nothing; a dry run's plan; and the
//! audit log's old -> new. The buckets start with no configuration at all, in the first
//! account (`111111111111`).

use std::sync::Arc;

use serde_json::{Value, json};
use xacct::audit::AuditLog;
use xacct::pipeline::RunRequest;
use xacct::plan::Mode;

use crate::common::{World, audit_lines, ok, step_error, step_ok};

/// The writable settings, read back after each round of writes.
const WRITABLE: [&str; 4] = ["public-access-block", "encryption", "versioning", "tags"];

/// A KMS key of the buckets' own account.
pub const OWN_KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/own";

/// A KMS key of another account: refused unless the grant's rule lists it.
pub const FOREIGN_KEY: &str = "arn:aws:kms:us-east-1:222222222222:key/foreign";

/// The grant [`refusals`] runs under: config-write of versioning everywhere, of
/// encryption in `keyed` only, with [`FOREIGN_KEY`] listed there.
pub fn refusals_grant(keyed: &str) -> String {
    format!(
        "[plugin.s3script]\naccounts = [\"*\"]\ns3 = [\
         {{ buckets = \"*\", actions = [\"list\", \"config-read\", \"config-write\"], settings = [\"versioning\"] }}, \
         {{ buckets = {keyed:?}, actions = [\"config-write\"], settings = [\"encryption\"], kms_keys = [{FOREIGN_KEY:?}] }}]\n"
    )
}

fn read_back(bucket: &str) -> Value {
    json!({"op": "config", "bucket": bucket, "settings": WRITABLE})
}

fn all_four() -> Value {
    json!({"block_public_acls": true, "ignore_public_acls": true,
           "block_public_policy": true, "restrict_public_buckets": true})
}

/// What a run of `s3script` gave: each step's result, the planned mutations, the audit.
struct Ran {
    results: Vec<Value>,
    planned: Value,
    audit: Vec<Value>,
}

/// Runs `steps` in the first account, audited to `audit` in the world's directory.
async fn run(world: &World, steps: Value, dry_run: bool, audit: &str) -> Ran {
    let path = world.dir.path().join(audit);
    let mut request = RunRequest::new(
        "s3script",
        &json!({ "steps": steps }).to_string(),
        Mode::AllAccounts,
    );
    request.dry_run = dry_run;
    request.audit = Some(Arc::new(AuditLog::open(&path).unwrap()));
    let report = world.run_request(world.service().await, &request).await;
    let entry = &report.entries[0];
    Ran {
        results: ok(entry)["results"].as_array().unwrap().clone(),
        planned: serde_json::to_value(&entry.planned).unwrap(),
        audit: audit_lines(&path),
    }
}

/// The audit lines of `operation`, as (outcome, before, after).
fn audited(audit: &[Value], operation: &str) -> Vec<(String, Value, Value)> {
    audit
        .iter()
        .filter(|line| line["operation"] == operation)
        .map(|line| {
            (
                line["outcome"].as_str().unwrap_or_default().to_owned(),
                line["before"].clone(),
                line["after"].clone(),
            )
        })
        .collect()
}

/// The four settings written, changed and read back on `bucket`; the input S3 refuses
/// refused alike, and nothing changed by it. Under a grant of every setting, no
/// `kms_keys`.
pub async fn check(world: &World, bucket: &str) {
    let too_many: Vec<(String, String)> = (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
    let kms = json!({"algorithm": "aws:kms", "kms_key_id": OWN_KEY, "bucket_key": true});
    let sse_s3 = json!({"algorithm": "AES256"});
    let ran = run(
        world,
        json!([
            read_back(bucket),
            {"op": "put_block", "bucket": bucket, "value": all_four()},
            {"op": "put_encryption", "bucket": bucket, "value": kms},
            {"op": "put_versioning", "bucket": bucket, "value": "Enabled"},
            {"op": "put_bucket_tags", "bucket": bucket, "tags": [["team", "ops"], ["cost", "42"]]},
            read_back(bucket),
            // 6: every setting changed again.
            {"op": "put_encryption", "bucket": bucket, "value": sse_s3},
            {"op": "put_versioning", "bucket": bucket, "value": "Suspended"},
            {"op": "put_bucket_tags", "bucket": bucket, "tags": []},
            {"op": "put_block", "bucket": bucket, "value": {"block_public_acls": true}},
            read_back(bucket),
            // 11: what S3 (or the grant) refuses.
            {"op": "put_encryption", "bucket": bucket, "value": {"algorithm": "AES256", "kms_key_id": OWN_KEY}},
            {"op": "put_bucket_tags", "bucket": bucket, "tags": too_many},
            {"op": "put_bucket_tags", "bucket": bucket, "tags": [["aws:cost", "1"]]},
            {"op": "put_encryption", "bucket": bucket, "value": {"algorithm": "aws:kms", "kms_key_id": FOREIGN_KEY}},
            {"op": "put_versioning", "bucket": "no-such-bucket-xacct", "value": "Enabled"},
            {"op": "put_block", "bucket": "Not_A_Bucket", "value": all_four()},
            read_back(bucket),
        ]),
        false,
        "writes.jsonl",
    )
    .await;
    let results = &ran.results;
    let fresh = step_ok(&results[0]);
    for setting in ["public_access_block", "encryption", "versioning", "tags"] {
        assert_eq!(
            fresh[setting],
            Value::Null,
            "{setting}: a fresh bucket has none"
        );
    }
    for step in [1, 2, 3, 4, 6, 7, 8, 9] {
        assert_eq!(step_ok(&results[step]), &Value::Null, "step {step}");
    }
    let written = step_ok(&results[5]);
    assert_eq!(written["public_access_block"], all_four());
    assert_eq!(written["encryption"], kms);
    assert_eq!(
        written["versioning"],
        json!({"status": "Enabled", "mfa_delete": false})
    );
    let mut tags = written["tags"].as_array().expect("tags").clone();
    tags.sort_by_key(|tag| tag[0].as_str().map(str::to_owned));
    assert_eq!(json!(tags), json!([["cost", "42"], ["team", "ops"]]));

    let changed = step_ok(&results[10]);
    assert_eq!(
        changed["public_access_block"],
        json!({"block_public_acls": true, "ignore_public_acls": false,
               "block_public_policy": false, "restrict_public_buckets": false}),
        "a put replaces all four switches"
    );
    assert_eq!(
        changed["encryption"],
        json!({"algorithm": "AES256", "kms_key_id": null, "bucket_key": false})
    );
    assert_eq!(
        changed["versioning"],
        json!({"status": "Suspended", "mfa_delete": false})
    );
    assert_eq!(
        changed["tags"],
        Value::Null,
        "an empty tag set removes them"
    );

    for step in [11, 12, 13, 16] {
        assert_eq!(step_error(&results[step]), "invalid-input", "step {step}");
    }
    assert_eq!(step_error(&results[14]), "access-denied");
    assert!(
        results[14]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("kms_keys") && m.ends_with("(by the xacct grant)")),
        "{}",
        results[14]
    );
    assert_eq!(step_error(&results[15]), "not-found");
    assert_eq!(
        step_ok(&results[17]),
        changed,
        "nothing refused changed anything"
    );

    // The audit log records old -> new; the value is read first (one more call), but
    // not for a write the grant refused, and a malformed one reaches neither.
    assert_eq!(
        audited(&ran.audit, "PutBucketEncryption"),
        [
            ("ok".to_owned(), Value::Null, kms.clone()),
            (
                "ok".to_owned(),
                kms,
                json!({"algorithm": "AES256", "kms_key_id": null, "bucket_key": false})
            ),
            (
                "denied".to_owned(),
                Value::Null,
                json!({"algorithm": "aws:kms", "kms_key_id": FOREIGN_KEY, "bucket_key": false})
            ),
        ]
    );
    assert_eq!(
        audited(&ran.audit, "PutBucketVersioning"),
        [
            ("ok".to_owned(), Value::Null, json!("Enabled")),
            ("ok".to_owned(), json!("Enabled"), json!("Suspended")),
        ]
    );
    // A missing bucket ends at the read of its old value: audited, nothing written.
    assert_eq!(
        audited(&ran.audit, "GetBucketVersioning")
            .iter()
            .filter(|(outcome, ..)| outcome == "not-found")
            .count(),
        1
    );
    assert_eq!(
        audited(&ran.audit, "PutBucketTagging")[1],
        (
            "ok".to_owned(),
            json!([["team", "ops"], ["cost", "42"]]),
            Value::Null
        )
    );
    // Four reads back with encryption, and one before each of the two writes let in.
    assert_eq!(audited(&ran.audit, "GetBucketEncryption").len(), 4 + 2);
}

/// A dry run reads each setting's value and plans its write: the plan and the audit log
/// say old -> new, and nothing changes.
pub async fn dry_run(world: &World, bucket: &str) {
    let planned = run(
        world,
        json!([
            {"op": "put_versioning", "bucket": bucket, "value": "Enabled"},
            {"op": "put_block", "bucket": bucket, "value": all_four()},
        ]),
        true,
        "dry-run.jsonl",
    )
    .await;
    assert_eq!(step_ok(&planned.results[0]), &Value::Null);
    assert_eq!(
        planned.planned,
        json!([
            {"operation": "PutBucketVersioning", "bucket": bucket, "key": "", "setting": "versioning",
             "before": null, "after": "Enabled"},
            {"operation": "PutPublicAccessBlock", "bucket": bucket, "key": "", "setting": "public-access-block",
             "before": null, "after": all_four()},
        ])
    );
    assert_eq!(
        audited(&planned.audit, "PutBucketVersioning"),
        [("planned".to_owned(), Value::Null, json!("Enabled"))]
    );
    assert_eq!(audited(&planned.audit, "GetBucketVersioning")[0].0, "ok");
    let after = run(world, json!([read_back(bucket)]), false, "after.jsonl").await;
    let config = step_ok(&after.results[0]);
    assert_eq!(config["versioning"], Value::Null, "nothing was written");
    assert_eq!(config["public_access_block"], Value::Null);
}

/// Under [`refusals_grant`]: a setting the grant does not name is refused by xacct, as is
/// a KMS key of another account outside `keyed`, with nothing read or changed, and
/// audited; what it names is written.
pub async fn refusals(world: &World, bucket: &str, keyed: &str) {
    let foreign = json!({"algorithm": "aws:kms", "kms_key_id": FOREIGN_KEY, "bucket_key": false});
    let ran = run(
        world,
        json!([
            {"op": "put_block", "bucket": bucket, "value": all_four()},
            {"op": "put_bucket_tags", "bucket": bucket, "tags": [["team", "ops"]]},
            {"op": "put_encryption", "bucket": bucket, "value": foreign},
            {"op": "put_versioning", "bucket": bucket, "value": "Enabled"},
            {"op": "put_encryption", "bucket": keyed, "value": foreign},
            read_back(bucket),
            read_back(keyed),
        ]),
        false,
        "refusals.jsonl",
    )
    .await;
    let results = &ran.results;
    for (step, result) in results[..3].iter().enumerate() {
        assert_eq!(step_error(result), "access-denied", "step {step}");
        let message = result["error"]["message"].as_str().unwrap();
        assert!(message.ends_with("(by the xacct grant)"), "{message}");
    }
    assert!(
        results[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("settings = [\"public-access-block\"]"),
        "the fix names the setting: {}",
        results[0]
    );
    assert_eq!(step_ok(&results[3]), &Value::Null);
    assert_eq!(step_ok(&results[4]), &Value::Null, "the rule lists the key");
    let config = step_ok(&results[5]);
    assert_eq!(
        config["public_access_block"],
        Value::Null,
        "nothing changed"
    );
    assert_eq!(config["tags"], Value::Null);
    assert_eq!(config["encryption"], Value::Null);
    assert_eq!(
        config["versioning"],
        json!({"status": "Enabled", "mfa_delete": false})
    );
    assert_eq!(step_ok(&results[6])["encryption"], foreign);
    for operation in ["PutPublicAccessBlock", "PutBucketTagging"] {
        assert_eq!(
            audited(&ran.audit, operation)
                .iter()
                .map(|(outcome, ..)| outcome.as_str())
                .collect::<Vec<_>>(),
            ["denied"],
            "{operation}"
        );
    }
    assert_eq!(
        audited(&ran.audit, "GetPublicAccessBlock").len(),
        2,
        "read back only: a refused write reads nothing"
    );
}
