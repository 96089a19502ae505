//! Issue 17, "Bucket ownership rests on the endpoint alone": every S3 request carries
//! `x-amz-expected-bucket-owner`, which AWS enforces (S3 User Guide, "Verifying bucket
//! ownership with bucket owner condition"); an S3-compatible endpoint configured through
//! `endpoint_url` may ignore it, and moto does. There a plugin running in staging read,
//! listed and wrote prod's bucket.
//!
//! The defence (issue 17, Deliver 8): before an account's first access to a bucket, the
//! host checks that the account owns it — the bucket is in the account's own bucket
//! listing ("ListBuckets", S3 API Reference: the buckets "owned by the authenticated
//! sender of the request"), fetched once per account per run and cached for the session —
//! and refuses any other bucket as `access-denied` naming the bucket, without sending the
//! request. On AWS the header stays, a second layer: the last test here keeps it honest.
//!
//! The estate and the attempts are `beyond_grant`'s, whose test runs them through the
//! shim (standing for AWS); here the run goes to moto directly (`Moto::unshimmed`), an
//! endpoint that ignores the bucket owner.

use super::beyond_grant::{
    ATTEMPTS, assert_prod_untouched, estate, grant_everything, reaching_into_prod, script,
};
use crate::common;
use common::moto::ROLE;
use common::{ACCOUNTS, World, ok, step_error, step_ok};
use serde_json::json;
use xacct::aws::pin::PinnedToAccount;
use xacct::plan::Mode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_reaches_no_other_accounts_bucket_on_an_endpoint_that_ignores_the_owner() {
    let grants = grant_everything();
    let (moto, home, _through_the_shim) = estate(&grants).await;
    let world = World::aws_with_grants(
        &["s3script"],
        &moto.unshimmed,
        ROLE,
        home.provider(),
        &grants,
    );
    let (report, results) = script(&world, reaching_into_prod()).await;
    for (i, result) in results[..ATTEMPTS].iter().enumerate() {
        assert_eq!(step_error(result), "access-denied", "step {i}: {result}");
        let message = result["error"]["message"].as_str().unwrap();
        assert!(message.contains("prod-secret"), "step {i}: {message}");
    }
    let output = report.entries[0].output.as_ref().unwrap().to_string();
    assert_eq!(
        output.matches("PROD-SECRET").count(),
        1,
        "only prod's own read returns the secret: {output}"
    );
    assert_prod_untouched(&moto, &home, &results).await;
}

/// The header layer alone, where the endpoint enforces it (the shim, as S3 does: 403 when
/// another account owns the bucket or the copy's source): staging's role may touch any
/// bucket, yet its client pinned as the host pins every account's client is refused
/// prod's bucket, while the same client unpinned reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_the_endpoint_enforces_the_owner_header_the_pin_alone_keeps_prod_out() {
    let (moto, home, _world) = estate(&grant_everything()).await;
    let staging = moto.s3_as_home(&home, ACCOUNTS[1].0).await;
    let pinned = aws_sdk_s3::Client::from_conf(
        staging
            .config()
            .to_builder()
            .interceptor(PinnedToAccount::new(ACCOUNTS[1].0))
            .build(),
    );
    let read = |s3: &aws_sdk_s3::Client| {
        s3.get_object()
            .bucket("prod-secret")
            .key("secret.txt")
            .send()
    };
    assert!(
        read(&staging).await.is_ok(),
        "unpinned, staging's role reaches prod's bucket"
    );
    let refused = read(&pinned).await.unwrap_err();
    assert_eq!(
        refused.raw_response().map(|r| r.status().as_u16()),
        Some(403)
    );
    let copied = pinned
        .copy_object()
        .copy_source("prod-secret/secret.txt")
        .bucket("staging-own")
        .key("stolen.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        copied.raw_response().map(|r| r.status().as_u16()),
        Some(403)
    );
}

/// The check's cost: one listing per account per run, whatever the number of calls, and
/// none of the plugin's S3 call budget (it is the host's call); a plugin's own listing of
/// the account's buckets serves the check too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ownership_listing_is_one_host_call_per_account_per_run() {
    let (moto, _home, world) = estate(&grant_everything()).await;
    let step = |op: &str, account: &str, bucket: &str, key: &str| json!({"op": op, "account": account, "bucket": bucket, "key": key});
    let steps = json!([
        // Staging lists its buckets first; prod does not list at all.
        {"op": "buckets", "account": "staging"},
        step("get", "staging", "staging-own", "mine.txt"),
        step("head", "staging", "staging-own", "mine.txt"),
        step("get", "prod", "prod-secret", "secret.txt"),
        step("head", "prod", "prod-secret", "secret.txt"),
        step("tags_get", "prod", "prod-secret", "secret.txt"),
    ]);
    let report = world
        .run("s3script", json!({ "steps": steps }), Mode::AllAccounts)
        .await;
    for result in ok(&report.entries[0])["results"].as_array().unwrap() {
        step_ok(result);
    }
    assert_eq!(
        moto.shim().bucket_listings(ACCOUNTS[1].0),
        1,
        "the plugin's own"
    );
    assert_eq!(
        moto.shim().bucket_listings(ACCOUNTS[2].0),
        1,
        "the host's, once"
    );
    assert_eq!(
        report.entries[0].usage.s3_calls, 6,
        "the plugin's six calls, not the host's listing"
    );
}

/// Listed once per run, not once per process: the service (and its sessions) outlives a
/// run, and a bucket the account created since the last run is its own in the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_the_account_created_since_the_last_run_is_owned_in_the_next() {
    let (moto, home, world) = estate(&grant_everything()).await;
    let put = json!([{"op": "put", "account": "staging", "bucket": "staging-later", "key": "k", "body": "x"}]);
    let (_, before) = script(&world, put.clone()).await;
    assert_eq!(step_error(&before[0]), "access-denied", "not there yet");
    moto.s3_as_home(&home, ACCOUNTS[1].0)
        .await
        .create_bucket()
        .bucket("staging-later")
        .send()
        .await
        .unwrap();
    let (_, after) = script(&world, put).await;
    step_ok(&after[0]);
    assert_eq!(moto.shim().bucket_listings(ACCOUNTS[1].0), 2, "one per run");
}
