//! Issue 17, "Bucket ownership rests on the endpoint alone": every S3 request carries
//! `x-amz-expected-bucket-owner`, which AWS enforces (S3 User Guide, "Verifying bucket
//! ownership with bucket owner condition"); an S3-compatible endpoint configured through
//! `endpoint_url` may ignore it, and moto does. There a plugin running in staging read,
//! listed and wrote prod's bucket.
//!
//! Defence this needs (issue 17, Deliver 8): before an account's first access to a
//! bucket, the host checks that the account owns it — the bucket is in the account's own
//! bucket listing, fetched once per account per run and cached for the session — and
//! refuses any other bucket as `access-denied`, without sending the request; on AWS the
//! header stays.
//!
//! The run goes to moto directly (`Moto::unshimmed`), not through the shim, whose
//! bucket-owner rule stands for AWS's.

use serde_json::{Value, json};

use crate::common;
use common::moto::{self, Moto, ROLE, Target};
use common::{ACCOUNTS, World, ok, step_error, step_ok};
use xacct::plan::Mode;

/// Staging owns `staging-own` (holding `mine.txt`), prod owns `prod-secret` (holding
/// `secret.txt`); the `s3script` guest is granted everything everywhere, and runs against
/// moto with no shim in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_reaches_no_other_accounts_bucket_on_an_endpoint_that_ignores_the_owner() {
    let moto = Moto::start();
    let all = &["s3:*"];
    let targets = [
        Target {
            id: ACCOUNTS[0].0,
            buckets: &[],
            s3_actions: all,
            assumable: true,
        },
        Target {
            id: ACCOUNTS[1].0,
            buckets: &["staging-own"],
            s3_actions: all,
            assumable: true,
        },
        Target {
            id: ACCOUNTS[2].0,
            buckets: &["prod-secret"],
            s3_actions: all,
            assumable: true,
        },
    ];
    let home = moto::seed(&moto, &targets).await;
    for (account, bucket, key, body) in [
        (ACCOUNTS[2].0, "prod-secret", "secret.txt", "PROD-SECRET"),
        (ACCOUNTS[1].0, "staging-own", "mine.txt", "staging data"),
    ] {
        moto.s3_in(account)
            .await
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let grants = "[plugin.s3script]\naccounts = [\"*\"]\ns3 = [{ buckets = \"*\", actions = [\"list\", \"read\", \"write\", \"delete\", \"tag\"] }]\n";
    let world = World::aws_with_grants(
        &["s3script"],
        &moto.unshimmed,
        ROLE,
        home.provider(),
        grants,
    );
    moto.enforce_iam();

    let in_staging = |op: &str, extra: Value| {
        let mut step =
            json!({"op": op, "account": "staging", "bucket": "prod-secret", "key": "secret.txt"});
        step.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        step
    };
    let steps = json!([
        in_staging("get", json!({})),
        in_staging("head", json!({})),
        in_staging("list", json!({})),
        in_staging("put", json!({"key": "planted.txt", "body": "x"})),
        in_staging("copy", json!({"to_bucket": "staging-own", "to_key": "stolen.txt"})),
        in_staging("tags_get", json!({})),
        in_staging("delete", json!({})),
        // Its own bucket, and the owner in its own, for contrast.
        in_staging("get", json!({"bucket": "staging-own", "key": "mine.txt"})),
        {"op": "get", "account": "prod", "bucket": "prod-secret", "key": "secret.txt"},
    ]);
    let report = world
        .run("s3script", json!({ "steps": steps }), Mode::AllAccounts)
        .await;
    let output = ok(&report.entries[0]).to_string();
    let results = ok(&report.entries[0])["results"]
        .as_array()
        .unwrap()
        .clone();
    for (i, result) in results[..7].iter().enumerate() {
        assert_eq!(step_error(result), "access-denied", "step {i}: {result}");
        let message = result["error"]["message"].as_str().unwrap();
        assert!(message.contains("prod-secret"), "step {i}: {message}");
    }
    assert_eq!(step_ok(&results[7])["body"], "staging data");
    assert_eq!(step_ok(&results[8])["body"], "PROD-SECRET");
    assert_eq!(
        output.matches("PROD-SECRET").count(),
        1,
        "only prod's own read returns the secret: {output}"
    );

    // Nothing moved: prod's bucket holds its one object, staging's no stolen copy.
    let prod = moto.s3_as_home(&home, ACCOUNTS[2].0).await;
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
    let staging = moto.s3_as_home(&home, ACCOUNTS[1].0).await;
    assert!(
        staging
            .head_object()
            .bucket("staging-own")
            .key("stolen.txt")
            .send()
            .await
            .is_err(),
        "the copy out of prod's bucket did not land"
    );
}
