//! Bucket configuration: ask for the settings a check needs, get one record back; and
//! change the ones a grant's `config-write` names (remediation).
//!
//! ```no_run
//! # fn check(s3: &xacct_guest::S3) -> xacct_guest::Result<()> {
//! let config = s3.config("logs").versioning().encryption().public_access_block().fetch()?;
//! if config.encryption.is_none() {
//!     // No default encryption configured.
//! }
//! # Ok(())
//! # }
//! ```

use serde_json::{Value, json};

use crate::bindings::xacct::plugin::s3::{
    AclPermission, BucketConfig, BucketSetting, Client, DefaultEncryption, Grantee,
    ObjectOwnership, PublicAccessBlock, SseAlgorithm, VersioningStatus,
};
use crate::{S3, S3Result};

/// A request for some of a bucket's settings; [`ConfigRequest::fetch`] sends it. Each
/// setting is one S3 request, sent concurrently by the host, each one call of the
/// invocation's budget; a field of the answer is none when it was not asked for or the
/// bucket has no such configuration.
pub struct ConfigRequest<'a> {
    pub(crate) client: &'a Client,
    pub(crate) bucket: String,
    pub(crate) settings: Vec<BucketSetting>,
}

macro_rules! settings {
    ($($(#[$doc:meta])* $name:ident => $setting:ident,)*) => {
        impl ConfigRequest<'_> {
            $(
                $(#[$doc])*
                pub fn $name(mut self) -> Self {
                    self.settings.push(BucketSetting::$setting);
                    self
                }
            )*

            /// Every setting.
            pub fn all(mut self) -> Self {
                self.settings = vec![$(BucketSetting::$setting),*];
                self
            }
        }
    };
}

settings! {
    /// The region (`region`: always a region code).
    location => Location,
    /// Versioning and MFA delete (`versioning`).
    versioning => Versioning,
    /// Default encryption (`encryption`).
    encryption => Encryption,
    /// The bucket's own public access block (`public_access_block`).
    public_access_block => PublicAccessBlock,
    /// Whether the bucket policy makes it public (`policy_is_public`).
    policy_status => PolicyStatus,
    /// The bucket policy document (`policy`).
    policy => Policy,
    /// Object ownership (`ownership`).
    ownership_controls => OwnershipControls,
    /// Lifecycle rules (`lifecycle`).
    lifecycle => Lifecycle,
    /// Server access logging (`logging`).
    logging => Logging,
    /// Bucket tags (`tags`).
    tags => Tags,
    /// The ACL (`acl`).
    acl => Acl,
}

impl ConfigRequest<'_> {
    /// Reads the settings asked for.
    pub fn fetch(self) -> S3Result<BucketConfig> {
        self.client.get_bucket_config(&self.bucket, &self.settings)
    }
}

/// The remediations: each one write of one setting (`config-write` with the setting in
/// the rule's `settings`), which the host audits with the setting's value before and
/// after, and plans instead under `--dry-run`.
///
/// ```no_run
/// # fn fix(s3: &xacct_guest::S3) -> xacct_guest::Result<()> {
/// s3.block_public_access("logs")?;
/// s3.enable_versioning("logs")?;
/// s3.encrypt_with_sse_s3("logs")?;
/// # Ok(())
/// # }
/// ```
impl S3 {
    /// Switches on all four of the bucket's public access block switches.
    pub fn block_public_access(&self, bucket: &str) -> S3Result<()> {
        self.client
            .put_public_access_block(bucket, PublicAccessBlock::ALL)
    }

    /// Enables versioning (MFA delete is left as it is).
    pub fn enable_versioning(&self, bucket: &str) -> S3Result<()> {
        self.client
            .put_bucket_versioning(bucket, VersioningStatus::Enabled)
    }

    /// Default encryption SSE-S3 (`AES256`).
    pub fn encrypt_with_sse_s3(&self, bucket: &str) -> S3Result<()> {
        let sse_s3 = DefaultEncryption {
            algorithm: SseAlgorithm::Aes256,
            kms_key_id: None,
            bucket_key: false,
        };
        self.client.put_bucket_encryption(bucket, &sse_s3)
    }

    /// Default encryption SSE-KMS with `key` (none: the AWS managed `aws/s3` key) and an
    /// S3 Bucket Key, which cuts the KMS requests. A key of another account must be in
    /// the rule's `kms_keys`.
    pub fn encrypt_with_kms(&self, bucket: &str, key: Option<&str>) -> S3Result<()> {
        let sse_kms = DefaultEncryption {
            algorithm: SseAlgorithm::AwsKms,
            kms_key_id: key.map(str::to_owned),
            bucket_key: true,
        };
        self.client.put_bucket_encryption(bucket, &sse_kms)
    }
}

impl PublicAccessBlock {
    /// All four switches on.
    pub const ALL: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
}

/// A bucket configuration as JSON, for a plugin's output: the record's fields in
/// snake_case, absent settings as `null`, enums as S3 writes them (`Enabled`, `AES256`,
/// `aws:kms`, `BucketOwnerEnforced`, `FULL_CONTROL`).
pub fn config_json(config: &BucketConfig) -> Value {
    json!({
        "region": config.region,
        "versioning": config.versioning.as_ref().map(|v| json!({
            "status": versioning_status_name(v.status),
            "mfa_delete": v.mfa_delete,
        })),
        "encryption": config.encryption.as_ref().map(encryption_json),
        "public_access_block": config.public_access_block.as_ref().map(block_json),
        "policy_is_public": config.policy_is_public,
        "policy": config.policy,
        "ownership": config.ownership.map(|o| match o {
            ObjectOwnership::BucketOwnerEnforced => "BucketOwnerEnforced",
            ObjectOwnership::BucketOwnerPreferred => "BucketOwnerPreferred",
            ObjectOwnership::ObjectWriter => "ObjectWriter",
        }),
        "lifecycle": config.lifecycle.as_ref().map(|rules| rules.iter().map(|rule| json!({
            "id": rule.id,
            "enabled": rule.enabled,
            "prefix": rule.prefix,
            "expiration_days": rule.expiration_days,
            "expired_object_delete_marker": rule.expired_object_delete_marker,
            "noncurrent_expiration_days": rule.noncurrent_expiration_days,
            "abort_incomplete_upload_days": rule.abort_incomplete_upload_days,
            "transitions": rule.transitions.iter().map(|t| json!({
                "days": t.days, "storage_class": t.storage_class, "noncurrent": t.noncurrent,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()),
        "logging": config.logging.as_ref().map(|l| json!({
            "target_bucket": l.target_bucket, "target_prefix": l.target_prefix,
        })),
        "tags": config.tags.as_ref().map(|tags| {
            tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect::<Vec<_>>()
        }),
        "acl": config.acl.as_ref().map(|acl| json!({
            "owner": acl.owner,
            "grants": acl.grants.iter().map(|g| {
                let (kind, who) = match &g.grantee {
                    Grantee::CanonicalUser(id) => ("canonical_user", id),
                    Grantee::Group(uri) => ("group", uri),
                    Grantee::Email(email) => ("email", email),
                };
                json!({ kind: who, "permission": permission_name(g.permission) })
            }).collect::<Vec<_>>(),
        })),
    })
}

/// `Enabled` or `Suspended`.
pub fn versioning_status_name(status: VersioningStatus) -> &'static str {
    match status {
        VersioningStatus::Enabled => "Enabled",
        VersioningStatus::Suspended => "Suspended",
    }
}

/// Default encryption as JSON: `{"algorithm": "aws:kms", "kms_key_id": ..., "bucket_key": true}`.
pub fn encryption_json(encryption: &DefaultEncryption) -> Value {
    json!({
        "algorithm": match encryption.algorithm {
            SseAlgorithm::Aes256 => "AES256",
            SseAlgorithm::AwsKms => "aws:kms",
            SseAlgorithm::AwsKmsDsse => "aws:kms:dsse",
        },
        "kms_key_id": encryption.kms_key_id,
        "bucket_key": encryption.bucket_key,
    })
}

/// A public access block as JSON: its four switches by their snake_case names.
pub fn block_json(block: &PublicAccessBlock) -> Value {
    json!({
        "block_public_acls": block.block_public_acls,
        "ignore_public_acls": block.ignore_public_acls,
        "block_public_policy": block.block_public_policy,
        "restrict_public_buckets": block.restrict_public_buckets,
    })
}

fn permission_name(permission: AclPermission) -> &'static str {
    match permission {
        AclPermission::FullControl => "FULL_CONTROL",
        AclPermission::Read => "READ",
        AclPermission::Write => "WRITE",
        AclPermission::ReadAcp => "READ_ACP",
        AclPermission::WriteAcp => "WRITE_ACP",
    }
}
