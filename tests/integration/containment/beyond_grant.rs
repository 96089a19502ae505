//! Containment of what one invocation can reach or spend beyond its grant: buckets of
//! other accounts (bucket names are global), host memory, the audit log, the call and
//! byte budgets, and calls that outlive the guest's wait for them.
//!
//! The AWS tests run against moto behind the S3-semantics shim (`common::shim`), which
//! refuses a request whose expected bucket owner is not the bucket's owner, as S3 does;
//! moto alone ignores the header and serves any account's bucket to any account.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::common;
use common::moto::{self, Home, Moto, ROLE, Target};
use common::{ACCOUNTS, World, failed, ok, step_error, step_ok};
use serde_json::{Value, json};
use xacct::audit::AuditLog;
use xacct::pipeline::RunRequest;
use xacct::plan::Mode;
use xacct::report::Report;

const ALL_S3: &[&str] = &["s3:*"];
const EVERYTHING: &str = r#"actions = ["list", "read", "write", "delete", "tag"]"#;

/// Three accounts on moto: dev with no bucket, staging with `staging-own`, prod with
/// `prod-secret` holding `secret.txt` — the bucket a staging plugin must never reach.
/// The world runs through the shim.
pub(crate) async fn estate(grants: &str) -> (Moto, Home, World) {
    let moto = Moto::start();
    let targets = [
        Target {
            id: ACCOUNTS[0].0,
            buckets: &[],
            s3_actions: ALL_S3,
            assumable: true,
        },
        Target {
            id: ACCOUNTS[1].0,
            buckets: &["staging-own"],
            s3_actions: ALL_S3,
            assumable: true,
        },
        Target {
            id: ACCOUNTS[2].0,
            buckets: &["prod-secret"],
            s3_actions: ALL_S3,
            assumable: true,
        },
    ];
    let home = moto::seed(&moto, &targets).await;
    let prod = moto.s3_in(ACCOUNTS[2].0).await;
    prod.put_object()
        .bucket("prod-secret")
        .key("secret.txt")
        .body(b"PROD-SECRET".to_vec().into())
        .send()
        .await
        .unwrap();
    let staging = moto.s3_in(ACCOUNTS[1].0).await;
    staging
        .put_object()
        .bucket("staging-own")
        .key("mine.txt")
        .body(b"staging data".to_vec().into())
        .send()
        .await
        .unwrap();
    let world =
        World::aws_with_grants(&["s3script"], &moto.endpoint, ROLE, home.provider(), grants);
    moto.enforce_iam();
    (moto, home, world)
}

pub(crate) async fn script(world: &World, steps: Value) -> (Report, Vec<Value>) {
    let report = world
        .run("s3script", json!({ "steps": steps }), Mode::AllAccounts)
        .await;
    let results = ok(&report.entries[0])["results"]
        .as_array()
        .unwrap()
        .clone();
    (report, results)
}

/// The grant of every action on every bucket of every account, for `s3script`.
pub(crate) fn grant_everything() -> String {
    format!("[plugin.s3script]\naccounts = [\"*\"]\ns3 = [{{ buckets = \"*\", {EVERYTHING} }}]\n")
}

/// How many of [`reaching_into_prod`]'s steps reach for prod's bucket from staging.
pub(crate) const ATTEMPTS: usize = 8;

/// `s3script` steps: [`ATTEMPTS`] ways for staging to read, list, write, copy out of or
/// into, delete and read the tags of prod's bucket; then staging reading its own bucket,
/// and prod reading its own.
pub(crate) fn reaching_into_prod() -> Value {
    let in_staging = |op: &str, extra: Value| {
        let mut step =
            json!({"op": op, "account": "staging", "bucket": "prod-secret", "key": "secret.txt"});
        step.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        step
    };
    json!([
        in_staging("get", json!({})),
        in_staging("head", json!({})),
        in_staging("list", json!({})),
        in_staging("put", json!({"key": "planted.txt", "body": "x"})),
        in_staging("copy", json!({"to_bucket": "staging-own", "to_key": "stolen.txt"})),
        in_staging("copy", json!({"bucket": "staging-own", "key": "mine.txt", "to_bucket": "prod-secret", "to_key": "pushed.txt"})),
        in_staging("delete", json!({})),
        in_staging("tags_get", json!({})),
        // Its own bucket, for contrast.
        in_staging("get", json!({"bucket": "staging-own", "key": "mine.txt"})),
        // The owner itself still reads it.
        {"op": "get", "account": "prod", "bucket": "prod-secret", "key": "secret.txt"},
    ])
}

/// The contrast steps of [`reaching_into_prod`] succeeded, and nothing moved either
/// way: prod's bucket holds its one object, staging's no copy of it.
pub(crate) async fn assert_prod_untouched(moto: &Moto, home: &Home, results: &[Value]) {
    assert_eq!(step_ok(&results[ATTEMPTS])["body"], "staging data");
    assert_eq!(step_ok(&results[ATTEMPTS + 1])["body"], "PROD-SECRET");
    let prod = moto.s3_as_home(home, ACCOUNTS[2].0).await;
    let keys: Vec<String> = prod
        .list_objects_v2()
        .bucket("prod-secret")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    assert_eq!(keys, ["secret.txt"]);
    let staging = moto.s3_as_home(home, ACCOUNTS[1].0).await;
    let stolen = staging
        .head_object()
        .bucket("staging-own")
        .key("stolen.txt")
        .send()
        .await;
    assert!(
        stolen.is_err(),
        "the copy out of prod's bucket did not land"
    );
}

/// Through the shim, standing for AWS: the host's ownership check refuses prod's bucket
/// before anything is sent (the header S3 would also enforce, `ExpectedBucketOwner`, is
/// `bucket_ownership`'s last test), and IAM bounds each session to its account's buckets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_granted_every_bucket_reaches_only_its_own_accounts_buckets() {
    let (moto, home, world) = estate(&grant_everything()).await;
    let (_, results) = script(&world, reaching_into_prod()).await;
    for (i, result) in results[..ATTEMPTS].iter().enumerate() {
        assert_eq!(step_error(result), "access-denied", "step {i}: {result}");
        let message = result["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("\"prod-secret\" is not in account 222222222222's own bucket listing"),
            "step {i}: refused by the host's ownership check: {result}"
        );
    }
    assert_prod_untouched(&moto, &home, &results).await;

    // IAM bounds each session to its own account's buckets too.
    for role in moto.assumed_roles() {
        if role["session_name"] != "xacct-s3script" {
            continue;
        }
        let account = role["role_arn"]
            .as_str()
            .unwrap()
            .split(':')
            .nth(4)
            .unwrap();
        let policy: Value = serde_json::from_str(role["policy"].as_str().unwrap()).unwrap();
        for statement in policy["Statement"].as_array().unwrap() {
            let kms = statement["Action"].as_array().is_some_and(|actions| {
                actions
                    .iter()
                    .all(|a| a.as_str().unwrap().starts_with("kms:"))
            });
            if kms {
                // SSE-KMS: usable only through S3 ("AWS KMS condition keys",
                // kms:ViaService), so only by requests the pinned S3 statements allow.
                assert_eq!(
                    statement["Condition"]["StringLike"]["kms:ViaService"], "s3.*.amazonaws.com",
                    "{statement}"
                );
            } else if statement["Action"] != "s3:ListAllMyBuckets" {
                assert_eq!(
                    statement["Condition"]["StringEquals"]["s3:ResourceAccount"], account,
                    "{statement}"
                );
            }
        }
    }
}

#[tokio::test]
async fn on_the_local_backend_another_accounts_bucket_is_not_there() {
    let world = World::new(&["s3script"], "");
    world.put_file(ACCOUNTS[2].0, "prod-secret", "secret.txt", "PROD-SECRET");
    world.bucket(ACCOUNTS[1].0, "staging-own");
    let results = world
        .script(json!([
            {"op": "get", "account": "staging", "bucket": "prod-secret", "key": "secret.txt"},
            {"op": "copy", "account": "staging", "bucket": "prod-secret", "key": "secret.txt", "to_bucket": "staging-own", "to_key": "x"},
        ]))
        .await;
    assert_eq!(step_error(&results[0]), "not-found");
    assert_eq!(step_error(&results[1]), "not-found");
}

fn audit_request(steps: Value, audit: &Path) -> RunRequest {
    let mut request = RunRequest::new(
        "s3script",
        &json!({ "steps": steps }).to_string(),
        Mode::AllAccounts,
    );
    request.audit = Some(Arc::new(AuditLog::open(audit).unwrap()));
    request
}

#[tokio::test]
async fn keys_longer_than_s3_takes_are_refused_before_the_grant_and_the_audit_log() {
    // The grant covers nothing the keys name: before the fix each one was a refusal
    // audited with its whole key.
    let world = World::local(
        &["s3script"],
        "[plugin.s3script]\naccounts = [\"*\"]\ns3 = [{ buckets = \"granted\", actions = [\"read\", \"write\"] }]\n",
    );
    let key = "k".repeat(256 << 10);
    let steps: Vec<Value> = (0..20)
        .flat_map(|_| {
            [
                json!({"op": "get", "bucket": "other", "key": key}),
                json!({"op": "delete_many", "bucket": "other", "keys": [key]}),
            ]
        })
        .collect();
    let audit = world.dir.path().join("audit.jsonl");
    let request = audit_request(json!(steps), &audit);
    let report = world.run_request(world.service().await, &request).await;
    let results = ok(&report.entries[0])["results"]
        .as_array()
        .unwrap()
        .clone();
    for result in &results {
        assert_eq!(step_error(result), "invalid-input", "{result}");
        assert!(
            result.to_string().len() < 1024,
            "the key is not repeated back"
        );
    }
    assert_eq!(report.entries[0].usage.denied_calls, 0);
    let audited = std::fs::metadata(&audit).unwrap().len();
    assert_eq!(
        audited, 0,
        "nothing reached the grant check or the audit log"
    );
}

#[tokio::test]
async fn a_dry_run_spends_the_call_budget_and_keeps_a_bounded_plan() {
    let world = World::new(&["s3script"], "[limits]\ns3_calls = 5\n");
    world.bucket(ACCOUNTS[0].0, "bkt");
    let deletes: Vec<Value> = (0..20)
        .map(|i| json!({"op": "delete", "bucket": "bkt", "key": format!("k{i}")}))
        .collect();
    let mut request = RunRequest::new(
        "s3script",
        &json!({ "steps": deletes }).to_string(),
        Mode::AllAccounts,
    );
    request.dry_run = true;
    let report = world.run_request(world.service().await, &request).await;
    let (kind, message) = failed(&report.entries[0]);
    assert_eq!(kind, "limit-exceeded");
    assert!(message.contains("S3 call budget of 5"), "{message}");
    assert!(report.entries[0].planned.len() <= 5);

    // Within the budget, the report keeps the first planned mutations and counts the
    // rest; the audit log has them all.
    let world = World::new(&["s3script"], "");
    world.bucket(ACCOUNTS[0].0, "bkt");
    let keys: Vec<String> = (0..1000).map(|i| format!("key-{i:04}")).collect();
    let steps: Vec<Value> = (0..3)
        .map(|_| json!({"op": "delete_many", "bucket": "bkt", "keys": keys}))
        .collect();
    let audit = world.dir.path().join("audit.jsonl");
    let mut request = audit_request(json!(steps), &audit);
    request.dry_run = true;
    let report = world.run_request(world.service().await, &request).await;
    ok(&report.entries[0]);
    let entry = &report.entries[0];
    assert_eq!(entry.planned.len(), xacct::capability::MAX_PLANNED_RECORDS);
    assert_eq!(entry.planned_omitted, 2000);
    assert_eq!(
        entry.usage.s3_calls, 3000,
        "a planned batch costs what a real one does: one call per key (issue 17)"
    );
    let json = serde_json::to_value(entry).unwrap();
    assert_eq!(json["planned_omitted"], 2000);
    let audited: usize = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["keys"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(audited, 3000);
}

#[tokio::test]
async fn copies_spend_the_read_and_write_budgets_before_they_run() {
    let world = World::new(&["s3script"], "[limits]\nwrite_mib = 1\n");
    let three_mib = vec![b'x'; 3 << 20];
    world.put_file(ACCOUNTS[0].0, "bkt", "big", &three_mib);
    world.put_file(ACCOUNTS[0].0, "bkt", "small", "tiny");
    let copies: Vec<Value> = (0..4)
        .map(|i| json!({"op": "copy", "bucket": "bkt", "key": "big", "to_bucket": "bkt", "to_key": format!("copy{i}")}))
        .collect();
    let report = world
        .run("s3script", json!({ "steps": copies }), Mode::AllAccounts)
        .await;
    let (kind, message) = failed(&report.entries[0]);
    assert_eq!(kind, "limit-exceeded");
    assert!(message.contains("write budget"), "{message}");
    // The copy that overran is counted (it ended the invocation); none after it ran.
    assert_eq!(report.entries[0].usage.bytes_read, 3 << 20);
    assert_eq!(report.entries[0].usage.bytes_written, 3 << 20);
    let stored = common::files_below(&world.data());
    assert!(
        !stored.iter().any(|f| f.contains("copy")),
        "no copy past the budget was stored: {stored:?}"
    );

    // A copy within the budgets is counted both ways.
    let results = world
        .script(json!([{"op": "copy", "bucket": "bkt", "key": "small", "to_bucket": "bkt", "to_key": "c"}]))
        .await;
    assert_eq!(step_ok(&results[0])["size"], 4);
    let report = world
        .run(
            "s3script",
            json!({"steps": [{"op": "copy", "bucket": "bkt", "key": "small", "to_bucket": "bkt", "to_key": "d"}]}),
            Mode::AllAccounts,
        )
        .await;
    assert_eq!(report.entries[0].usage.bytes_read, 4);
    assert_eq!(report.entries[0].usage.bytes_written, 4);
}

#[tokio::test]
async fn open_streams_are_bounded_by_the_stream_limit() {
    let world = World::new(&["s3script"], "[limits]\nstreams = 5\n");
    world.put_file(ACCOUNTS[0].0, "bkt", "k", "data");
    let results = world
        .script(json!([
            {"op": "hoard_streams", "bucket": "bkt", "key": "k", "repeat": 900},
            // Once the hoard is dropped, streams open again.
            {"op": "get", "bucket": "bkt", "key": "k"},
        ]))
        .await;
    let hoard = step_ok(&results[0]);
    assert_eq!(hoard["opened"], 5, "{hoard}");
    assert_eq!(hoard["stopped"]["kind"], "limit-exceeded");
    assert!(
        hoard["stopped"]["message"]
            .as_str()
            .unwrap()
            .contains("limits.streams")
    );
    assert_eq!(step_ok(&results[1])["body"], "data");
}

#[tokio::test]
async fn open_streams_are_bounded_by_the_host_buffer() {
    // Each local stream holds 2 MiB of read buffers: 16 MiB hold at most six of them
    // (with wasmtime's own stream buffers on top).
    let world = World::new(
        &["s3script"],
        "[limits]\nhost_buffer_mib = 16\nstreams = 1000\n",
    );
    world.put_file(ACCOUNTS[0].0, "bkt", "k", "data");
    let results = world
        .script(json!([{"op": "hoard_streams", "bucket": "bkt", "key": "k", "repeat": 900}]))
        .await;
    let hoard = step_ok(&results[0]);
    let opened = hoard["opened"].as_u64().unwrap();
    assert!((1..=8).contains(&opened), "{hoard}");
    assert_eq!(hoard["stopped"]["kind"], "limit-exceeded");
    assert!(
        hoard["stopped"]["message"]
            .as_str()
            .unwrap()
            .contains("host_buffer_mib")
    );
}

#[tokio::test]
async fn unfinished_uploads_are_bounded() {
    let world = World::new(&["s3script"], "[limits]\nuploads = 3\n");
    world.bucket(ACCOUNTS[0].0, "bkt");
    let results = world
        .script(json!([{"op": "hoard_uploads", "bucket": "bkt", "key": "u", "body": "x", "repeat": 200}]))
        .await;
    let hoard = step_ok(&results[0]);
    assert_eq!(hoard["opened"], 3, "{hoard}");
    assert!(
        hoard["stopped"]["message"]
            .as_str()
            .unwrap()
            .contains("limits.uploads")
    );
    assert!(
        !common::files_below(&world.data())
            .iter()
            .any(|f| f.contains("/u")),
        "no unfinished upload was stored"
    );
}

/// On AWS an unfinished upload buffers up to a multipart part on the host: what a plugin
/// buffers across uploads is bounded by its host buffer, and ends it cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_upload_bytes_are_bounded_by_the_host_buffer() {
    let grants = format!("[limits]\nhost_buffer_mib = 16\n{}", grant_everything());
    let (moto, home, world) = estate(&grants).await;
    let mib = "y".repeat(1 << 20);
    let report = world
        .run(
            "s3script",
            json!({"steps": [{"op": "hoard_uploads", "account": "staging", "bucket": "staging-own", "key": "u", "body": mib, "size": 3, "repeat": 50}]}),
            Mode::AllAccounts,
        )
        .await;
    let (kind, message) = failed(&report.entries[0]);
    assert_eq!(kind, "limit-exceeded");
    assert!(message.contains("host buffer of 16 MiB"), "{message}");
    let staging = moto.s3_as_home(&home, ACCOUNTS[1].0).await;
    let uploads = staging
        .list_multipart_uploads()
        .bucket("staging-own")
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty(), "no upload was left open");
    let objects = staging
        .list_objects_v2()
        .bucket("staging-own")
        .send()
        .await
        .unwrap();
    assert_eq!(
        objects.contents().len(),
        1,
        "only mine.txt: nothing unfinished landed"
    );
}

/// A copy the guest stopped waiting for (its time limit struck while the copy was in
/// flight) is audited with its real outcome once it ends: the report never says
/// `time-limit` while a write lands unrecorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_in_flight_at_the_time_limit_is_audited_with_its_real_outcome() {
    let grants = format!("[limits]\ntime_secs = 1\n{}", grant_everything());
    let (moto, home, world) = estate(&grants).await;
    moto.delay_copies(Duration::from_millis(2500));
    let audit = world.dir.path().join("audit.jsonl");
    let steps = json!([{"op": "copy", "account": "staging", "bucket": "staging-own", "key": "mine.txt", "to_bucket": "staging-own", "to_key": "late.txt"}]);
    let request = audit_request(steps, &audit);
    let report = world.run_request(world.service().await, &request).await;
    assert_eq!(failed(&report.entries[0]).0, "time-limit");

    let staging = moto.s3_as_home(&home, ACCOUNTS[1].0).await;
    let landed = staging
        .head_object()
        .bucket("staging-own")
        .key("late.txt")
        .send()
        .await
        .is_ok();
    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let copy = lines
        .iter()
        .find(|line| line["operation"] == "CopyObject")
        .unwrap_or_else(|| panic!("the copy is audited: {lines:?}"));
    assert_eq!(
        copy["outcome"] == "ok",
        landed,
        "the audit line tells what happened: {copy}"
    );
    assert!(
        landed,
        "the copy went through after the guest stopped waiting"
    );
}
