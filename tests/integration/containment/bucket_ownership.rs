//! Issue 17, "Bucket ownership rests on the endpoint alone": every S3 request carries
//! `x-amz-expected-bucket-owner`, which AWS enforces (S3 User Guide, "Verifying bucket
//! ownership with bucket owner condition"); an S3-compatible endpoint configured through
//! `endpoint_url` may ignore it, and moto does. There a plugin running in staging read,
//! listed and wrote prod's bucket.
//!
//! Defence this needs (issue 17, Deliver 8): before an account's first access to a
//! bucket, the host checks that the account owns it — the bucket is in the account's own
//! bucket listing, fetched once per account per run and cached for the session — and
//! refuses any other bucket as `access-denied` naming the bucket, without sending the
//! request; on AWS the header stays.
//!
//! The estate and the attempts are `beyond_grant`'s, whose test runs them through the
//! shim (standing for AWS); here the run goes to moto directly (`Moto::unshimmed`), an
//! endpoint that ignores the bucket owner.

use super::beyond_grant::{
    ATTEMPTS, assert_prod_untouched, estate, grant_everything, reaching_into_prod, script,
};
use crate::common;
use common::World;
use common::moto::ROLE;
use common::step_error;

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
