//! The posture estate (`common::posture_estate`) holds what it says it plants: read back
//! through the shim as the home identity, with IAM enforced, one S3 call per setting the
//! posture checks ask for, each bucket shows exactly the findings planted in it. The
//! test also pins how moto answers each setting's "not configured" case, which is what a
//! posture check must read as an absent value rather than an error (the codes S3's API
//! reference gives for GetBucketPolicy, GetBucketPolicyStatus, GetPublicAccessBlock,
//! GetBucketEncryption, GetBucketOwnershipControls, GetBucketLifecycleConfiguration and
//! GetBucketTagging).
//!
//! The account-level public access block (S3 Control) is left to the benchmark's c7n run
//! (`host/benches/xacct/posture/`): no account sets it, and the SDK for S3 Control is not a
//! dependency yet.

use std::collections::BTreeSet;
use std::fmt::Debug;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{BucketVersioningStatus, ObjectOwnership, Type};

use crate::common;
use common::moto::{Moto, ROLE};
use common::posture_estate::{self, PlantedBucket};

/// The URIs of S3's predefined groups that make an ACL grant public (S3 User Guide,
/// "Access control list (ACL) overview", Amazon S3 predefined groups).
const PUBLIC_GROUPS: [&str; 2] = [
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
];

/// A setting's value, or `None` when S3 answered the error code that means "not
/// configured" (recorded in `absent`); any other error fails the test.
fn configured<T, E, R>(
    answer: Result<T, SdkError<E, R>>,
    not_configured: &str,
    absent: &mut BTreeSet<String>,
) -> Option<T>
where
    E: ProvideErrorMetadata + Debug,
    R: Debug,
{
    match answer {
        Ok(value) => Some(value),
        Err(error) if error.code() == Some(not_configured) => {
            absent.insert(not_configured.to_owned());
            None
        }
        Err(error) => panic!("expected {not_configured} or an answer, got {error:?}"),
    }
}

/// GetBucketVersioning's `Status`, if any. moto 5.2.5 names its answer's root element
/// `GetBucketVersioningResponse` where S3 names it `VersioningConfiguration` (S3 API
/// reference, GetBucketVersioning); botocore does not look at the root's name, but the
/// Rust SDK refuses the answer, so the status is then read from the raw answer.
async fn versioning_status(s3: &aws_sdk_s3::Client, bucket: &str) -> Option<String> {
    match s3.get_bucket_versioning().bucket(bucket).send().await {
        Ok(answer) => answer.status().map(|status| status.as_str().to_owned()),
        Err(SdkError::ServiceError(refused)) => {
            let body = refused.raw().body().bytes().unwrap_or_default();
            let xml = String::from_utf8_lossy(body);
            assert!(
                xml.contains("<GetBucketVersioningResponse"),
                "{bucket}: unexpected GetBucketVersioning answer {xml}"
            );
            let status = xml.split_once("<Status>")?.1.split_once("</Status>")?.0;
            Some(status.to_owned())
        }
        Err(error) => panic!("{bucket}: GetBucketVersioning failed: {error:?}"),
    }
}

/// The findings one bucket's settings give, read with one call per setting.
async fn findings(
    s3: &aws_sdk_s3::Client,
    bucket: &PlantedBucket,
    absent: &mut BTreeSet<String>,
) -> BTreeSet<&'static str> {
    let name = bucket.name.as_str();
    let mut found = BTreeSet::new();

    // us-east-1 is an empty LocationConstraint (S3 API reference, GetBucketLocation),
    // which the Rust SDK reads as an unknown variant "" rather than none.
    let location = s3.get_bucket_location().bucket(name).send().await.unwrap();
    let constraint = location.location_constraint().map(|c| c.as_str());
    assert_eq!(
        constraint,
        Some(""),
        "{name}: moto answers us-east-1 as S3 does"
    );
    let policy_status = configured(
        s3.get_bucket_policy_status().bucket(name).send().await,
        "NoSuchBucketPolicy",
        absent,
    );
    if policy_status.is_some_and(|s| s.policy_status().and_then(|p| p.is_public()) == Some(true)) {
        found.insert("public-policy");
    }
    let acl = s3.get_bucket_acl().bucket(name).send().await.unwrap();
    let public_grant = acl.grants().iter().any(|grant| {
        grant.grantee().is_some_and(|grantee| {
            grantee.r#type() == &Type::Group
                && PUBLIC_GROUPS.contains(&grantee.uri().unwrap_or_default())
        })
    });
    if public_grant {
        found.insert("public-acl");
    }
    let block = configured(
        s3.get_public_access_block().bucket(name).send().await,
        "NoSuchPublicAccessBlockConfiguration",
        absent,
    );
    let blocks_all = block
        .and_then(|b| b.public_access_block_configuration().cloned())
        .is_some_and(|c| {
            [
                c.block_public_acls(),
                c.ignore_public_acls(),
                c.block_public_policy(),
                c.restrict_public_buckets(),
            ]
            .iter()
            .all(|setting| *setting == Some(true))
        });
    if !blocks_all {
        found.insert("no-public-access-block");
    }
    let encryption = configured(
        s3.get_bucket_encryption().bucket(name).send().await,
        "ServerSideEncryptionConfigurationNotFoundError",
        absent,
    );
    if encryption.is_none() {
        found.insert("unencrypted");
    }
    if versioning_status(s3, name).await.as_deref()
        != Some(BucketVersioningStatus::Enabled.as_str())
    {
        found.insert("versioning-off");
    }
    let ownership = configured(
        s3.get_bucket_ownership_controls().bucket(name).send().await,
        "OwnershipControlsNotFoundError",
        absent,
    );
    let enforced = ownership
        .and_then(|o| o.ownership_controls().cloned())
        .is_some_and(|o| {
            o.rules()
                .iter()
                .any(|rule| rule.object_ownership() == &ObjectOwnership::BucketOwnerEnforced)
        });
    if !enforced {
        found.insert("acls-enabled");
    }
    let lifecycle = configured(
        s3.get_bucket_lifecycle_configuration()
            .bucket(name)
            .send()
            .await,
        "NoSuchLifecycleConfiguration",
        absent,
    );
    if lifecycle.is_none_or(|l| l.rules().is_empty()) {
        found.insert("no-lifecycle");
    }
    let logging = s3.get_bucket_logging().bucket(name).send().await.unwrap();
    if logging.logging_enabled().is_none() {
        found.insert("no-logging");
    }
    found
}

#[tokio::test]
async fn every_bucket_answers_with_the_findings_planted_in_it() {
    let moto = Moto::start();
    // One account of each parity: the public bucket by policy, then by ACL.
    let accounts = ["940000000000".to_owned(), "940000000001".to_owned()];
    let estate = posture_estate::seed(&moto, &accounts).await;
    moto.enforce_iam();

    let mut absent = BTreeSet::new();
    let mut seen_kinds = Vec::new();
    for account in &accounts {
        let s3 = moto.s3_as_home(&estate.home, account).await;
        let listed = s3.list_buckets().send().await.unwrap();
        let mut names: Vec<&str> = listed.buckets().iter().filter_map(|b| b.name()).collect();
        names.sort();
        let mut planted: Vec<&str> = estate
            .buckets
            .iter()
            .filter(|b| &b.account == account)
            .map(|b| b.name.as_str())
            .collect();
        planted.sort();
        assert_eq!(names, planted, "{account} lists exactly its three buckets");
        for bucket in estate.buckets.iter().filter(|b| &b.account == account) {
            let found = findings(&s3, bucket, &mut absent).await;
            assert_eq!(
                found,
                bucket.kind.findings(),
                "{} ({:?}) through role {ROLE}",
                bucket.name,
                bucket.kind
            );
            let tagging = s3.get_bucket_tagging().bucket(&bucket.name).send().await;
            configured(tagging, "NoSuchTagSet", &mut absent);
            seen_kinds.push(bucket.kind);
        }
    }
    assert_eq!(seen_kinds.len(), 6);
    let every_not_configured: BTreeSet<String> = [
        "NoSuchBucketPolicy",
        "NoSuchPublicAccessBlockConfiguration",
        "ServerSideEncryptionConfigurationNotFoundError",
        "OwnershipControlsNotFoundError",
        "NoSuchLifecycleConfiguration",
        "NoSuchTagSet",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(
        absent, every_not_configured,
        "the estate exercises every setting's not-configured answer"
    );
}
