//! Plugins built against the previous WIT (`xacct:plugin@0.1.0`, kept in
//! `tests/guests/wit-0.1.0/wit/`) load and run unchanged on a host serving 0.1.1, on both
//! backends: the 0.1.1 WIT only adds, and wasmtime's linker resolves the old imports
//! against the new, semver-compatible, interfaces.

use crate::common;

use common::moto::{self, Moto, ROLE, Target};
use common::{ACCOUNTS, World, ok};
use serde_json::{Value, json};
use xacct::plan::Mode;

const OLD: &str = "wit_0_1_0";

/// What the old plugin says of the first account once `dev-data` holds `a.txt` (tagged
/// on the local backend, where tags are sidecars) and `b.txt`.
fn assert_first_account(output: &Value, tags: u64) {
    let line = &output[0];
    assert_eq!(line["account"], ACCOUNTS[0].0);
    assert_eq!(line["dry_run"], false);
    assert_eq!(line["buckets"][0]["name"], "dev-data");
    assert_eq!(line["buckets"][0]["keys"], json!(["a.txt", "b.txt"]));
    assert_eq!(
        line["buckets"][0]["first"],
        json!({"body": "first", "size": 5, "tags": tags})
    );
    assert_eq!(line["wrote"], 25, "the put through the old upload resource");
}

#[tokio::test]
async fn a_plugin_built_against_wit_0_1_0_runs_unchanged_on_the_local_backend() {
    let world = World::new(&[OLD], "");
    world.put_file(ACCOUNTS[0].0, "dev-data", "a.txt", "first");
    world.put_file(ACCOUNTS[0].0, "dev-data", "b.txt", "second");
    let report = world.run(OLD, json!("dev-data"), Mode::PerAccount).await;
    let output: Value = ok(&report.entries[0]).clone();
    assert_first_account(&output, 0);
    assert!(
        !world
            .data()
            .join(ACCOUNTS[0].0)
            .join("dev-data/old-plugin.txt")
            .exists(),
        "put, then deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_built_against_wit_0_1_0_runs_unchanged_on_the_aws_backend() {
    let moto = Moto::start();
    let home = moto::seed(
        &moto,
        &[Target {
            id: ACCOUNTS[0].0,
            buckets: &["dev-data"],
            s3_actions: &["s3:*"],
            assumable: true,
        }],
    )
    .await;
    let s3 = moto.s3_in(ACCOUNTS[0].0).await;
    for (key, body) in [("a.txt", "first"), ("b.txt", "second")] {
        s3.put_object()
            .bucket("dev-data")
            .key(key)
            .body(body.as_bytes().to_vec().into())
            .tagging("old=yes")
            .send()
            .await
            .unwrap();
    }
    let grant = format!(
        "[plugin.{OLD}]\naccounts = [\"{}\"]\ns3 = [{{ buckets = \"*\", actions = [\"list\", \"read\", \"write\", \"delete\", \"tag\"] }}]\n",
        ACCOUNTS[0].0
    );
    let world = World::aws_with_grants(&[OLD], &moto.endpoint, ROLE, home.provider(), &grant);
    moto.enforce_iam();
    let report = world.run(OLD, json!("dev-data"), Mode::PerAccount).await;
    let output: Value = ok(&report.entries[0]).clone();
    assert_first_account(&output, 1);
}
