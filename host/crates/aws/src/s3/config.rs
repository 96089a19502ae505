//! A bucket's settings, one S3 request each, in the WIT's words: S3's "not configured"
//! answers (the error codes its API reference gives for each Get) become none, a region
//! is always a region code, and the first rule of a configuration S3 keeps one of is the
//! setting. And the writes of the settings a plugin may change, one request each.

use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, ExpirationStatus, MfaDeleteStatus,
    ObjectOwnership as SdkOwnership, Permission, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Type, VersioningConfiguration,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use xacct_core::bindings::S3Error;
use xacct_core::bindings::s3::{
    AccessControlList, AclGrant, AclPermission, BucketConfig, BucketSetting, DefaultEncryption,
    Grantee, LifecycleRule, LifecycleTransition, LoggingConfig, ObjectOwnership, PublicAccessBlock,
    SseAlgorithm, Tag, VersioningConfig, VersioningStatus,
};
use xacct_core::capability::s3::backend::{SettingChange, empty_config};

use super::send::{build_error, on_bucket, tagging};
use crate::session::Session;

/// `send`'s answer, or none where S3 answered `not_configured`.
async fn configured<T, E, F, Fut>(
    session: &Session,
    bucket: &str,
    what: &str,
    not_configured: &'static str,
    send: F,
) -> Result<Option<T>, S3Error>
where
    F: Fn(aws_sdk_s3::Client) -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    on_bucket(session, Some(bucket), what, |s3| {
        let sent = send(s3);
        async move {
            match sent.await {
                Ok(answer) => Ok(Some(answer)),
                Err(err) if err.code() == Some(not_configured) => Ok(None),
                Err(err) => Err(err),
            }
        }
    })
    .await
}

/// A region code for GetBucketLocation's answer: empty (or none) is `us-east-1`, the
/// legacy `EU` is `eu-west-1` (S3 API reference, GetBucketLocation).
pub(super) fn region_code(constraint: Option<&BucketLocationConstraint>) -> String {
    match constraint.map(BucketLocationConstraint::as_str) {
        None | Some("") => "us-east-1".to_owned(),
        Some("EU") => "eu-west-1".to_owned(),
        Some(region) => region.to_owned(),
    }
}

fn days(value: Option<i32>) -> Option<u32> {
    value.and_then(|days| u32::try_from(days).ok())
}

/// One setting of `bucket`, in its field of an otherwise empty config.
pub(super) async fn bucket_setting(
    session: &Session,
    bucket: &str,
    setting: BucketSetting,
) -> Result<BucketConfig, S3Error> {
    let mut config = empty_config();
    match setting {
        BucketSetting::Location => {
            let what = format!("GetBucketLocation on {bucket:?}");
            let answer = on_bucket(session, Some(bucket), &what, |s3| {
                s3.get_bucket_location().bucket(bucket).send()
            })
            .await?;
            config.region = Some(region_code(answer.location_constraint()));
        }
        BucketSetting::Versioning => {
            let what = format!("GetBucketVersioning on {bucket:?}");
            let answer = on_bucket(session, Some(bucket), &what, |s3| {
                s3.get_bucket_versioning().bucket(bucket).send()
            })
            .await?;
            // A bucket whose versioning was never enabled answers no status.
            config.versioning = answer.status().map(|status| VersioningConfig {
                status: match status {
                    BucketVersioningStatus::Enabled => VersioningStatus::Enabled,
                    _ => VersioningStatus::Suspended,
                },
                mfa_delete: answer.mfa_delete() == Some(&MfaDeleteStatus::Enabled),
            });
        }
        BucketSetting::Encryption => {
            let what = format!("GetBucketEncryption on {bucket:?}");
            let answer = configured(
                session,
                bucket,
                &what,
                "ServerSideEncryptionConfigurationNotFoundError",
                |s3| s3.get_bucket_encryption().bucket(bucket).send(),
            )
            .await?;
            config.encryption = answer
                .as_ref()
                .and_then(|a| a.server_side_encryption_configuration())
                .and_then(|c| c.rules().first())
                .and_then(|rule| {
                    let default = rule.apply_server_side_encryption_by_default()?;
                    Some(DefaultEncryption {
                        algorithm: match default.sse_algorithm() {
                            ServerSideEncryption::AwsKms => SseAlgorithm::AwsKms,
                            ServerSideEncryption::AwsKmsDsse => SseAlgorithm::AwsKmsDsse,
                            _ => SseAlgorithm::Aes256,
                        },
                        kms_key_id: default.kms_master_key_id().map(str::to_owned),
                        bucket_key: rule.bucket_key_enabled().unwrap_or(false),
                    })
                });
        }
        BucketSetting::PublicAccessBlock => {
            let what = format!("GetPublicAccessBlock on {bucket:?}");
            let answer = configured(
                session,
                bucket,
                &what,
                "NoSuchPublicAccessBlockConfiguration",
                |s3| s3.get_public_access_block().bucket(bucket).send(),
            )
            .await?;
            config.public_access_block = answer
                .as_ref()
                .and_then(|a| a.public_access_block_configuration())
                .map(|c| PublicAccessBlock {
                    block_public_acls: c.block_public_acls().unwrap_or(false),
                    ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                    block_public_policy: c.block_public_policy().unwrap_or(false),
                    restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
                });
        }
        BucketSetting::PolicyStatus => {
            let what = format!("GetBucketPolicyStatus on {bucket:?}");
            let answer = configured(session, bucket, &what, "NoSuchBucketPolicy", |s3| {
                s3.get_bucket_policy_status().bucket(bucket).send()
            })
            .await?;
            config.policy_is_public = answer.map(|a| {
                a.policy_status()
                    .and_then(|status| status.is_public())
                    .unwrap_or(false)
            });
        }
        BucketSetting::Policy => {
            let what = format!("GetBucketPolicy on {bucket:?}");
            let answer = configured(session, bucket, &what, "NoSuchBucketPolicy", |s3| {
                s3.get_bucket_policy().bucket(bucket).send()
            })
            .await?;
            config.policy = answer.and_then(|a| a.policy().map(str::to_owned));
        }
        BucketSetting::OwnershipControls => {
            let what = format!("GetBucketOwnershipControls on {bucket:?}");
            let answer = configured(
                session,
                bucket,
                &what,
                "OwnershipControlsNotFoundError",
                |s3| s3.get_bucket_ownership_controls().bucket(bucket).send(),
            )
            .await?;
            config.ownership = answer
                .as_ref()
                .and_then(|a| a.ownership_controls())
                .and_then(|c| c.rules().first())
                .map(|rule| match rule.object_ownership() {
                    SdkOwnership::BucketOwnerEnforced => ObjectOwnership::BucketOwnerEnforced,
                    SdkOwnership::BucketOwnerPreferred => ObjectOwnership::BucketOwnerPreferred,
                    _ => ObjectOwnership::ObjectWriter,
                });
        }
        BucketSetting::Lifecycle => {
            let what = format!("GetBucketLifecycleConfiguration on {bucket:?}");
            let answer = configured(
                session,
                bucket,
                &what,
                "NoSuchLifecycleConfiguration",
                |s3| {
                    s3.get_bucket_lifecycle_configuration()
                        .bucket(bucket)
                        .send()
                },
            )
            .await?;
            config.lifecycle = answer
                .map(|a| a.rules().iter().map(lifecycle_rule).collect::<Vec<_>>())
                .filter(|rules| !rules.is_empty());
        }
        BucketSetting::Logging => {
            let what = format!("GetBucketLogging on {bucket:?}");
            let answer = on_bucket(session, Some(bucket), &what, |s3| {
                s3.get_bucket_logging().bucket(bucket).send()
            })
            .await?;
            // Logging disabled answers an empty status.
            config.logging = answer.logging_enabled().map(|enabled| LoggingConfig {
                target_bucket: enabled.target_bucket().to_owned(),
                target_prefix: enabled.target_prefix().to_owned(),
            });
        }
        BucketSetting::Tags => {
            let what = format!("GetBucketTagging on {bucket:?}");
            let answer = configured(session, bucket, &what, "NoSuchTagSet", |s3| {
                s3.get_bucket_tagging().bucket(bucket).send()
            })
            .await?;
            config.tags = answer
                .map(|a| {
                    a.tag_set()
                        .iter()
                        .map(|tag| Tag {
                            key: tag.key().to_owned(),
                            value: tag.value().to_owned(),
                        })
                        .collect::<Vec<_>>()
                })
                .filter(|tags| !tags.is_empty());
        }
        BucketSetting::Acl => {
            let what = format!("GetBucketAcl on {bucket:?}");
            let answer = on_bucket(session, Some(bucket), &what, |s3| {
                s3.get_bucket_acl().bucket(bucket).send()
            })
            .await?;
            config.acl = Some(AccessControlList {
                owner: answer.owner().and_then(|o| o.id()).map(str::to_owned),
                grants: answer.grants().iter().filter_map(acl_grant).collect(),
            });
        }
    }
    Ok(config)
}

/// Makes `change` to `bucket`: PutPublicAccessBlock, PutBucketEncryption (one rule),
/// PutBucketVersioning (MFA delete left as it is: changing it needs the root's MFA
/// device), PutBucketTagging, or DeleteBucketTagging for an empty tag set.
pub(super) async fn put_bucket_setting(
    session: &Session,
    bucket: &str,
    change: &SettingChange,
) -> Result<(), S3Error> {
    match change {
        SettingChange::PublicAccessBlock(block) => {
            let what = format!("PutPublicAccessBlock on {bucket:?}");
            let block = PublicAccessBlockConfiguration::builder()
                .block_public_acls(block.block_public_acls)
                .ignore_public_acls(block.ignore_public_acls)
                .block_public_policy(block.block_public_policy)
                .restrict_public_buckets(block.restrict_public_buckets)
                .build();
            on_bucket(session, Some(bucket), &what, |s3| {
                s3.put_public_access_block()
                    .bucket(bucket)
                    .public_access_block_configuration(block.clone())
                    .send()
            })
            .await?;
        }
        SettingChange::Encryption(encryption) => {
            let what = format!("PutBucketEncryption on {bucket:?}");
            let algorithm = match encryption.algorithm {
                SseAlgorithm::Aes256 => ServerSideEncryption::Aes256,
                SseAlgorithm::AwsKms => ServerSideEncryption::AwsKms,
                SseAlgorithm::AwsKmsDsse => ServerSideEncryption::AwsKmsDsse,
            };
            let by_default = ServerSideEncryptionByDefault::builder()
                .sse_algorithm(algorithm)
                .set_kms_master_key_id(encryption.kms_key_id.clone())
                .build()
                .map_err(|_| build_error(&what))?;
            let rule = ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .bucket_key_enabled(encryption.bucket_key)
                .build();
            let configuration = ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(|_| build_error(&what))?;
            on_bucket(session, Some(bucket), &what, |s3| {
                s3.put_bucket_encryption()
                    .bucket(bucket)
                    .server_side_encryption_configuration(configuration.clone())
                    .send()
            })
            .await?;
        }
        SettingChange::Versioning(status) => {
            let what = format!("PutBucketVersioning on {bucket:?}");
            let status = match status {
                VersioningStatus::Enabled => BucketVersioningStatus::Enabled,
                VersioningStatus::Suspended => BucketVersioningStatus::Suspended,
            };
            let versioning = VersioningConfiguration::builder().status(status).build();
            on_bucket(session, Some(bucket), &what, |s3| {
                s3.put_bucket_versioning()
                    .bucket(bucket)
                    .versioning_configuration(versioning.clone())
                    .send()
            })
            .await?;
        }
        SettingChange::Tags(tags) if tags.is_empty() => {
            let what = format!("DeleteBucketTagging on {bucket:?}");
            on_bucket(session, Some(bucket), &what, |s3| {
                s3.delete_bucket_tagging().bucket(bucket).send()
            })
            .await?;
        }
        SettingChange::Tags(tags) => {
            let what = format!("PutBucketTagging on {bucket:?}");
            let tagging = tagging(tags, &what)?;
            on_bucket(session, Some(bucket), &what, |s3| {
                s3.put_bucket_tagging()
                    .bucket(bucket)
                    .tagging(tagging.clone())
                    .send()
            })
            .await?;
        }
    }
    Ok(())
}

fn lifecycle_rule(rule: &aws_sdk_s3::types::LifecycleRule) -> LifecycleRule {
    let expiration = rule.expiration();
    #[allow(deprecated)] // the legacy rule-level prefix, which older rules still carry
    let legacy_prefix = rule.prefix();
    let prefix = rule
        .filter()
        .and_then(|filter| filter.prefix().or_else(|| filter.and()?.prefix()))
        .or(legacy_prefix)
        .filter(|prefix| !prefix.is_empty());
    let mut transitions: Vec<LifecycleTransition> = rule
        .transitions()
        .iter()
        .filter_map(|t| {
            Some(LifecycleTransition {
                days: days(t.days())?,
                storage_class: t.storage_class()?.as_str().to_owned(),
                noncurrent: false,
            })
        })
        .collect();
    transitions.extend(
        rule.noncurrent_version_transitions()
            .iter()
            .filter_map(|t| {
                Some(LifecycleTransition {
                    days: days(t.noncurrent_days())?,
                    storage_class: t.storage_class()?.as_str().to_owned(),
                    noncurrent: true,
                })
            }),
    );
    LifecycleRule {
        id: rule.id().map(str::to_owned),
        enabled: rule.status() == &ExpirationStatus::Enabled,
        prefix: prefix.map(str::to_owned),
        expiration_days: days(expiration.and_then(|e| e.days())),
        expired_object_delete_marker: expiration
            .and_then(|e| e.expired_object_delete_marker())
            .unwrap_or(false),
        noncurrent_expiration_days: days(
            rule.noncurrent_version_expiration()
                .and_then(|e| e.noncurrent_days()),
        ),
        abort_incomplete_upload_days: days(
            rule.abort_incomplete_multipart_upload()
                .and_then(|a| a.days_after_initiation()),
        ),
        transitions,
    }
}

fn acl_grant(grant: &aws_sdk_s3::types::Grant) -> Option<AclGrant> {
    let grantee = grant.grantee()?;
    let grantee = match grantee.r#type() {
        Type::Group => Grantee::Group(grantee.uri()?.to_owned()),
        Type::AmazonCustomerByEmail => Grantee::Email(grantee.email_address()?.to_owned()),
        _ => Grantee::CanonicalUser(grantee.id()?.to_owned()),
    };
    let permission = match grant.permission()? {
        Permission::FullControl => AclPermission::FullControl,
        Permission::Read => AclPermission::Read,
        Permission::ReadAcp => AclPermission::ReadAcp,
        Permission::Write => AclPermission::Write,
        Permission::WriteAcp => AclPermission::WriteAcp,
        _ => return None,
    };
    Some(AclGrant {
        grantee,
        permission,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_is_always_a_region_code() {
        assert_eq!(region_code(None), "us-east-1");
        assert_eq!(
            region_code(Some(&BucketLocationConstraint::from(""))),
            "us-east-1"
        );
        assert_eq!(
            region_code(Some(&BucketLocationConstraint::from("EU"))),
            "eu-west-1"
        );
        assert_eq!(
            region_code(Some(&BucketLocationConstraint::from("eu-central-1"))),
            "eu-central-1"
        );
    }
}
