//! The posture estate (issue 20, items 7 and 8): accounts of three buckets each on moto,
//! whose settings plant the problems the bucket posture checks look for, so that every
//! tool scanned over it — xacct's `posture` plugin, Cloud Custodian's `c7n-org` in the
//! benchmark — can be held to the exact set of findings planted.
//!
//! Per account (account `i` of the list):
//! - `public-ID`: public, with no public access block. Even accounts: a bucket policy
//!   allowing everyone `s3:GetObject`, ownership `BucketOwnerEnforced`. Odd accounts: the
//!   `public-read` canned ACL and no ownership controls at all (a bucket created before
//!   S3 disabled ACLs by default). Otherwise in order: SSE-S3, versioning, a lifecycle
//!   rule, access logging.
//! - `unencrypted-ID`: the public access block on (all four), `BucketOwnerEnforced`, and
//!   nothing else: no default encryption, no lifecycle rule, no logging; versioning never
//!   enabled (even accounts) or suspended (odd accounts).
//! - `compliant-ID`: the public access block on, SSE-KMS with a bucket key, versioning,
//!   a lifecycle rule, access logging (into itself, under `access-logs/`), and
//!   `BucketOwnerEnforced`. Its bucket policy lets the S3 logging service write the logs
//!   (what PutBucketLogging requires), a policy that is not public.
//!
//! No account sets the account-level public access block (S3 Control), so a bucket's
//! finding `no-public-access-block` depends on its own block alone.
//!
//! Everything is seeded through the real S3 APIs (PutBucketPolicy, PutBucketAcl,
//! PutPublicAccessBlock, PutBucketEncryption, PutBucketVersioning,
//! PutBucketLifecycleConfiguration, PutBucketLogging, PutBucketOwnershipControls) before
//! moto enforces IAM; each account's `xacct-target` role may use all of S3 and
//! `iam:ListAccountAliases` (c7n's `aws.account` resource reads the account's alias).

use std::collections::BTreeSet;

use aws_sdk_s3::types::{
    BucketCannedAcl, BucketLifecycleConfiguration, BucketLoggingStatus, BucketVersioningStatus,
    ExpirationStatus, LifecycleRule, LifecycleRuleFilter, LoggingEnabled,
    NoncurrentVersionExpiration, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};
use serde_json::json;

use super::moto::{self, Home, Moto, Target};

/// What each account's role may do: all of S3 (S3 Control's account-level
/// `s3:GetAccountPublicAccessBlock` included) and read the account's alias.
pub const ROLE_ACTIONS: &[&str] = &["s3:*", "iam:ListAccountAliases"];

/// The finding codes of the posture checks (issue 20 item 7), in the plugin's order.
pub const FINDINGS: [&str; 8] = [
    "public-policy",
    "public-acl",
    "no-public-access-block",
    "unencrypted",
    "versioning-off",
    "acls-enabled",
    "no-lifecycle",
    "no-logging",
];

/// The role a bucket plays in the estate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PublicByPolicy,
    PublicByAcl,
    Unencrypted,
    Compliant,
}

impl Kind {
    /// The findings a posture check must report for a bucket of this kind (and nothing
    /// else), the account-level block being off everywhere.
    pub fn findings(self) -> BTreeSet<&'static str> {
        let codes: &[&str] = match self {
            Kind::PublicByPolicy => &["public-policy", "no-public-access-block"],
            Kind::PublicByAcl => &["public-acl", "no-public-access-block", "acls-enabled"],
            Kind::Unencrypted => &[
                "unencrypted",
                "versioning-off",
                "no-lifecycle",
                "no-logging",
            ],
            Kind::Compliant => &[],
        };
        codes.iter().copied().collect()
    }
}

/// One seeded bucket.
#[derive(Debug, Clone)]
pub struct PlantedBucket {
    pub account: String,
    pub name: String,
    pub kind: Kind,
}

/// The seeded estate: the home identity that may assume every account's role, and every
/// bucket with what was planted in it.
pub struct PostureEstate {
    pub home: Home,
    pub buckets: Vec<PlantedBucket>,
}

/// Seeds `accounts` (see the module's documentation). IAM is not enforced yet: the
/// caller turns it on ([`Moto::enforce_iam`]) once it has seeded anything else.
pub async fn seed(moto: &Moto, accounts: &[String]) -> PostureEstate {
    let names: Vec<[String; 3]> = accounts
        .iter()
        .map(|id| [compliant(id), public(id), unencrypted(id)])
        .collect();
    let name_refs: Vec<[&str; 3]> = names
        .iter()
        .map(|[a, b, c]| [a.as_str(), b.as_str(), c.as_str()])
        .collect();
    let targets: Vec<Target> = accounts
        .iter()
        .zip(&name_refs)
        .map(|(id, buckets)| Target {
            id,
            buckets,
            s3_actions: ROLE_ACTIONS,
            assumable: true,
        })
        .collect();
    let home = moto::seed(moto, &targets).await;
    let mut buckets = Vec::new();
    for (i, account) in accounts.iter().enumerate() {
        let s3 = moto.s3_in(account).await;
        let odd = i % 2 == 1;
        // The compliant bucket first: it receives every bucket's access logs.
        let logs = compliant(account);
        plant_compliant(&s3, account, &logs).await;
        let public_kind = if odd {
            Kind::PublicByAcl
        } else {
            Kind::PublicByPolicy
        };
        plant_public(&s3, &public(account), public_kind, &logs).await;
        plant_unencrypted(&s3, &unencrypted(account), odd).await;
        for (name, kind) in [
            (logs, Kind::Compliant),
            (public(account), public_kind),
            (unencrypted(account), Kind::Unencrypted),
        ] {
            buckets.push(PlantedBucket {
                account: account.clone(),
                name,
                kind,
            });
        }
    }
    PostureEstate { home, buckets }
}

fn compliant(account: &str) -> String {
    format!("compliant-{account}")
}

fn public(account: &str) -> String {
    format!("public-{account}")
}

fn unencrypted(account: &str) -> String {
    format!("unencrypted-{account}")
}

async fn plant_compliant(s3: &aws_sdk_s3::Client, account: &str, bucket: &str) {
    // What the S3 User Guide ("Enabling Amazon S3 server access logging") asks of a
    // destination bucket under BucketOwnerEnforced: a policy for the logging service.
    let logging_service = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "S3ServerAccessLogsPolicy",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": format!("arn:aws:s3:::{bucket}/*"),
        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
    }]});
    put_policy(s3, bucket, logging_service).await;
    block_public_access(s3, bucket).await;
    let kms = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id(format!("arn:aws:kms:us-east-1:{account}:alias/aws/s3"))
        .build()
        .unwrap();
    keep_in_order(s3, bucket, kms, bucket).await;
    own_objects(s3, bucket).await;
}

async fn plant_public(s3: &aws_sdk_s3::Client, bucket: &str, kind: Kind, logs: &str) {
    if kind == Kind::PublicByAcl {
        s3.put_bucket_acl()
            .bucket(bucket)
            .acl(BucketCannedAcl::PublicRead)
            .send()
            .await
            .unwrap();
    } else {
        let everyone = json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*"),
        }]});
        put_policy(s3, bucket, everyone).await;
        own_objects(s3, bucket).await;
    }
    let sse_s3 = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .unwrap();
    keep_in_order(s3, bucket, sse_s3, logs).await;
}

async fn plant_unencrypted(s3: &aws_sdk_s3::Client, bucket: &str, suspended: bool) {
    block_public_access(s3, bucket).await;
    own_objects(s3, bucket).await;
    if suspended {
        version(s3, bucket, BucketVersioningStatus::Enabled).await;
        version(s3, bucket, BucketVersioningStatus::Suspended).await;
    }
}

async fn block_public_access(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// What the compliant and the public buckets share: default encryption, versioning, a
/// lifecycle rule, and access logging into `logs`.
async fn keep_in_order(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    encryption: ServerSideEncryptionByDefault,
    logs: &str,
) {
    encrypt(s3, bucket, encryption).await;
    version(s3, bucket, BucketVersioningStatus::Enabled).await;
    expire_old_versions(s3, bucket).await;
    log_into(s3, bucket, logs).await;
}

async fn put_policy(s3: &aws_sdk_s3::Client, bucket: &str, policy: serde_json::Value) {
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();
}

async fn encrypt(s3: &aws_sdk_s3::Client, bucket: &str, default: ServerSideEncryptionByDefault) {
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(default)
        .bucket_key_enabled(true)
        .build();
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

async fn version(s3: &aws_sdk_s3::Client, bucket: &str, status: BucketVersioningStatus) {
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .unwrap();
}

async fn expire_old_versions(s3: &aws_sdk_s3::Client, bucket: &str) {
    let rule = LifecycleRule::builder()
        .id("expire-noncurrent-versions")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(30)
                .build(),
        )
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

async fn log_into(s3: &aws_sdk_s3::Client, bucket: &str, target: &str) {
    let enabled = LoggingEnabled::builder()
        .target_bucket(target)
        .target_prefix(format!("access-logs/{bucket}/"))
        .build()
        .unwrap();
    s3.put_bucket_logging()
        .bucket(bucket)
        .bucket_logging_status(
            BucketLoggingStatus::builder()
                .logging_enabled(enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

async fn own_objects(s3: &aws_sdk_s3::Client, bucket: &str) {
    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .build()
        .unwrap();
    s3.put_bucket_ownership_controls()
        .bucket(bucket)
        .ownership_controls(OwnershipControls::builder().rules(rule).build().unwrap())
        .send()
        .await
        .unwrap();
}
