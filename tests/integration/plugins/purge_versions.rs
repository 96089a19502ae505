//! The `purge-versions` sample plugin purges old versions and restores objects on both
//! backends (issue 20: "a version purge and a restore work on both backends"), within a
//! grant of `versions`, `delete-versions` and `write` only, and plans instead with
//! `--dry-run`.

use crate::common;

use common::moto::{self, ROLE, Target};
use common::{ACCOUNTS, World, ok, step_ok};
use serde_json::{Value, json};
use xacct::pipeline::RunRequest;
use xacct::plan::Mode;

const BUCKET: &str = "history";

/// The plugin's grant, and the seeding script's (everything).
const GRANTS: &str = r#"
[plugin.purge-versions]
accounts = ["*"]
s3 = [{ buckets = "history", actions = ["versions", "delete-versions", "write"] }]

[plugin.s3script]
accounts = ["*"]
s3 = [{ buckets = "*", actions = ["list", "read", "write", "delete", "versions", "delete-versions"] }]
"#;

fn put(key: &str, body: &str) -> Value {
    json!({"op": "put", "bucket": BUCKET, "key": key, "body": body})
}

fn delete(key: &str) -> Value {
    json!({"op": "delete", "bucket": BUCKET, "key": key})
}

/// Each key's entries, newest first, as `[id, delete marker]`.
async fn history(world: &World) -> std::collections::BTreeMap<String, Vec<(String, bool)>> {
    let results = world
        .script(json!([{"op": "versions_all", "bucket": BUCKET}]))
        .await;
    let mut keys = std::collections::BTreeMap::<String, Vec<(String, bool)>>::new();
    for version in step_ok(&results[0]).as_array().unwrap() {
        keys.entry(version["key"].as_str().unwrap().to_owned())
            .or_default()
            .push((
                version["id"].as_str().unwrap().to_owned(),
                version["marker"].as_bool().unwrap(),
            ));
    }
    keys
}

async fn body(world: &World, key: &str) -> Value {
    let results = world
        .script(json!([{"op": "get", "bucket": BUCKET, "key": key}]))
        .await;
    results[0]["ok"]["body"].clone()
}

async fn purge(world: &World, input: Value, dry_run: bool) -> xacct::report::Report {
    let mut request = RunRequest::new("purge-versions", &input.to_string(), Mode::PerAccount);
    request.selection.accounts = vec![ACCOUNTS[0].0.to_owned()];
    request.dry_run = dry_run;
    world.run_request(world.service().await, &request).await
}

/// The purge and the restore, on a versioned bucket [`BUCKET`] of the first account.
async fn check(world: &World) {
    // One write per script: moto orders a key's versions by time, to the millisecond.
    for step in [
        put("k", "v1"),
        put("k", "v2"),
        put("k", "v3"),
        put("gone", "g1"),
        delete("gone"),
        put("dead", "d1"),
        delete("dead"),
    ] {
        step_ok(&world.script(json!([step])).await[0]);
    }
    let before = history(world).await;
    let gone_marker = before["gone"][0].0.clone();
    let v2 = before["k"][1].0.clone();

    // A dry run plans the deletes and changes nothing.
    let planned = purge(world, json!({"bucket": BUCKET, "keep": 0}), true).await;
    let entry = &planned.entries[0];
    assert_eq!(ok(entry)["purged_count"], 6, "{:?}", ok(entry));
    assert!(
        entry
            .planned
            .iter()
            .all(|op| op.operation == "DeleteObjectVersion"),
        "{:?}",
        entry.planned
    );
    assert_eq!(entry.planned.len(), 6);
    assert_eq!(history(world).await, before, "a dry run changes nothing");

    // Restore `gone` (its delete marker removed), then keep one noncurrent version.
    let report = purge(
        world,
        json!({"bucket": BUCKET, "keep": 1, "restore": [{"key": "gone", "version": gone_marker}]}),
        false,
    )
    .await;
    let output = ok(&report.entries[0]);
    assert_eq!(output["restored"][0]["how"], "delete-marker-removed");
    assert_eq!(body(world, "gone").await, "g1");
    let after = history(world).await;
    assert_eq!(after["k"].len(), 2, "v3 current, v2 kept, v1 purged");
    assert_eq!(after["k"][1].0, v2);
    assert_eq!(after["dead"].len(), 2, "d1 kept behind its delete marker");
    assert_eq!(output["purged_count"], 1);

    // Restore `k` to v2 (copied over as a new current version), keep none: only the
    // restored version is left, and `dead` is gone for good, marker and all.
    let report = purge(
        world,
        json!({"bucket": BUCKET, "restore": [{"key": "k", "version": v2}]}),
        false,
    )
    .await;
    let output = ok(&report.entries[0]);
    assert_eq!(output["restored"][0]["how"], "copied");
    assert_eq!(body(world, "k").await, "v2");
    let after = history(world).await;
    assert_eq!(after["k"].len(), 1, "{after:?}");
    assert!(!after["k"][0].1);
    assert_eq!(after.get("dead"), None, "{after:?}");
    assert_eq!(after["gone"].len(), 1);
}

#[tokio::test]
async fn versions_are_purged_and_restored_on_the_local_backend() {
    let world = World::local(&["purge-versions", "s3script"], GRANTS);
    world.bucket(ACCOUNTS[0].0, BUCKET);
    let settings = world.data().join(".xacct/settings").join(ACCOUNTS[0].0);
    std::fs::create_dir_all(&settings).unwrap();
    let enabled = json!({"versioning": {"status": "Enabled"}});
    std::fs::write(settings.join(format!("{BUCKET}.json")), enabled.to_string()).unwrap();
    check(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_purged_and_restored_on_aws() {
    let moto = moto::Moto::start();
    let home = moto::seed(
        &moto,
        &[Target {
            id: ACCOUNTS[0].0,
            buckets: &[BUCKET],
            s3_actions: &["s3:*"],
            assumable: true,
        }],
    )
    .await;
    moto.enable_versioning(ACCOUNTS[0].0, BUCKET).await;
    let world = World::aws_with_grants(
        &["purge-versions", "s3script"],
        &moto.endpoint,
        ROLE,
        home.provider(),
        GRANTS,
    );
    moto.enforce_iam();
    check(&world).await;
}
