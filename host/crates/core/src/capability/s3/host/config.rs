//! Bucket configuration for plugins: `get-bucket-config` reads the settings asked for,
//! one S3 request per setting — each checked, budgeted, pinned and audited like any
//! call — sent concurrently, and the account's own public access block; the writes of
//! one setting each (remediation), whose audit line records old -> new: the host reads
//! the old value first, one more call of the budget, audited as the read it is.

use futures::future::join_all;
use serde_json::{Value, json};
use wasmtime::component::Resource;

use super::HostResult;
use crate::bindings::S3Error;
use crate::bindings::s3::{
    BucketConfig, BucketSetting, DefaultEncryption, PublicAccessBlock, SseAlgorithm, Tag,
    VersioningStatus,
};
use crate::capability::gate::Admission;
use crate::capability::invocation::CapabilityView;
use crate::capability::s3::actions::{
    GET_ACCOUNT_PUBLIC_ACCESS_BLOCK, Operation, PUT_BUCKET_ENCRYPTION, PUT_BUCKET_TAGGING,
    PUT_BUCKET_VERSIONING, PUT_PUBLIC_ACCESS_BLOCK, reads,
};
use crate::capability::s3::backend::{SettingChange, empty_config};
use crate::capability::s3::call::{S3Call, check_bucket_tags, check_length};
use crate::capability::s3::handles::ClientHandle;
use crate::capability::s3::names::BucketName;

impl CapabilityView<'_> {
    /// The settings of `bucket` asked for (each once), read concurrently. The first
    /// refusal or failure, in the order asked, is the answer; a setting the bucket does
    /// not have is none.
    pub(super) async fn bucket_config(
        &mut self,
        client: &Resource<ClientHandle>,
        bucket: String,
        settings: Vec<BucketSetting>,
    ) -> HostResult<BucketConfig> {
        let bucket = match BucketName::new(bucket) {
            Ok(bucket) => bucket,
            Err(malformed) => return Ok(Err(malformed)),
        };
        let mut asked: Vec<BucketSetting> = Vec::with_capacity(settings.len());
        for setting in settings {
            if !asked.contains(&setting) {
                asked.push(setting);
            }
        }
        let account = self.client_account(client)?;
        let capability = &self.capability;
        let (gate, backend) = (&capability.gate, &capability.s3.backend);
        // Every call is admitted (a refused one audited, each setting a call of its own)
        // before any is sent.
        let mut admitted = Vec::with_capacity(asked.len());
        let mut refusal = None;
        for setting in asked {
            let operation = reads(setting);
            let call = S3Call::bucket(operation, &bucket);
            let granted = capability.s3.grant.check_bucket(operation, bucket.as_str());
            match gate.admit(&account.id, &call, granted)? {
                Admission::Execute => admitted.push((setting, call)),
                Admission::Denied(denied) => refusal = refusal.or(Some(denied)),
                // Reads are never planned.
                Admission::Planned => {}
            }
        }
        if let Some(denied) = refusal {
            return Ok(Err(denied));
        }
        let id = account.id.as_str();
        let reads = admitted.into_iter().map(|(setting, call)| {
            let (backend, account, bucket) = (backend.clone(), account.clone(), bucket.clone());
            gate.execute(id, call, async move {
                backend.get_bucket_setting(&account, &bucket, setting).await
            })
        });
        let mut config = empty_config();
        for read in join_all(reads).await {
            match read {
                Ok(one) => merge(&mut config, one),
                Err(err) => return Ok(Err(err)),
            }
        }
        Ok(Ok(config))
    }

    /// The account's own public access block (S3 Control), if it has one.
    pub(super) async fn account_public_access_block(
        &mut self,
        client: &Resource<ClientHandle>,
    ) -> HostResult<Option<PublicAccessBlock>> {
        let granted = self.capability.s3.grant.check_account_config();
        let call = S3Call::new(&GET_ACCOUNT_PUBLIC_ACCESS_BLOCK);
        self.perform(client, call, granted, None, |backend, account| async move {
            backend.get_account_public_access_block(&account).await
        })
        .await
    }
}

/// The longest KMS key id S3 takes (an ARN, an alias ARN or a key id; KMS's own limit).
const MAX_KMS_KEY_ID_BYTES: usize = 2048;

impl CapabilityView<'_> {
    /// Writes one setting of `bucket`: checked, then the grant (the setting named in a
    /// `config-write` rule, a KMS key of another account listed in it), then the old
    /// value read, then the write — planned instead under a dry run — audited with both
    /// values. A refusal changes nothing and reads nothing.
    pub(super) async fn put_setting(
        &mut self,
        client: &Resource<ClientHandle>,
        bucket: String,
        change: SettingChange,
    ) -> HostResult<()> {
        let checked = BucketName::new(bucket).and_then(|bucket| {
            check_change(&change)?;
            Ok(bucket)
        });
        let bucket = match checked {
            Ok(bucket) => bucket,
            Err(invalid) => return Ok(Err(invalid)),
        };
        let operation = write_of(&change);
        let account = self.client_account(client)?;
        let grant = &self.capability.s3.grant;
        let granted = grant
            .check_bucket(operation, bucket.as_str())
            .and_then(|()| match &change {
                SettingChange::Encryption(DefaultEncryption {
                    kms_key_id: Some(key),
                    ..
                }) => grant.check_kms_key(&account.id, bucket.as_str(), key),
                _ => Ok(()),
            });
        let mut write = S3Call::bucket(operation, &bucket);
        write.target.after = Some(change_json(&change));
        if granted.is_err() {
            return self
                .perform(client, write, granted, Some(()), |_, _| async { Ok(()) })
                .await;
        }
        let setting = change.setting();
        let read = S3Call::bucket(reads(setting), &bucket);
        let target = bucket.clone();
        let before = self
            .perform(
                client,
                read,
                Ok(()),
                None,
                move |backend, account| async move {
                    backend.get_bucket_setting(&account, &target, setting).await
                },
            )
            .await?;
        write.target.before = match before {
            Ok(config) => Some(setting_json(setting, &config)),
            Err(err) => return Ok(Err(err)),
        };
        self.perform(
            client,
            write,
            Ok(()),
            Some(()),
            move |backend, account| async move {
                backend.put_bucket_setting(&account, &bucket, &change).await
            },
        )
        .await
    }
}

/// The operation that makes `change`.
fn write_of(change: &SettingChange) -> &'static Operation {
    match change {
        SettingChange::PublicAccessBlock(_) => &PUT_PUBLIC_ACCESS_BLOCK,
        SettingChange::Encryption(_) => &PUT_BUCKET_ENCRYPTION,
        SettingChange::Versioning(_) => &PUT_BUCKET_VERSIONING,
        SettingChange::Tags(_) => &PUT_BUCKET_TAGGING,
    }
}

/// What S3 itself refuses of a change, refused alike on every backend: a bucket's tag
/// set past its rules, and a KMS key with SSE-S3 ("a KMSMasterKeyID is not applicable if
/// the default sse algorithm is not aws:kms or aws:kms:dsse", PutBucketEncryption's
/// `InvalidArgument`) or an empty or overlong one.
fn check_change(change: &SettingChange) -> Result<(), S3Error> {
    match change {
        SettingChange::Tags(tags) => check_bucket_tags(tags),
        SettingChange::Encryption(DefaultEncryption {
            algorithm,
            kms_key_id: Some(key),
            ..
        }) => {
            if *algorithm == SseAlgorithm::Aes256 {
                return Err(S3Error::InvalidInput(
                    "a KMS key id goes only with SSE-KMS (aws-kms or aws-kms-dsse), not SSE-S3"
                        .into(),
                ));
            }
            if key.is_empty() {
                return Err(S3Error::InvalidInput(
                    "an empty KMS key id: give none for the AWS managed key aws/s3".into(),
                ));
            }
            check_length("a KMS key id", Some(key), MAX_KMS_KEY_ID_BYTES)
        }
        _ => Ok(()),
    }
}

/// A setting's value as the audit log and a dry run's plan record it: the WIT record's
/// fields in snake_case, enums as S3 writes them, null for "not configured".
fn setting_json(setting: BucketSetting, config: &BucketConfig) -> Value {
    match setting {
        BucketSetting::PublicAccessBlock => {
            json!(config.public_access_block.as_ref().map(block_json))
        }
        BucketSetting::Encryption => json!(config.encryption.as_ref().map(encryption_json)),
        BucketSetting::Versioning => {
            json!(
                config
                    .versioning
                    .as_ref()
                    .map(|v| versioning_name(v.status))
            )
        }
        BucketSetting::Tags => json!(config.tags.as_deref().map(tags_json)),
        // Only the writable settings are written.
        _ => Value::Null,
    }
}

/// The value a change sets, as [`setting_json`] writes it.
fn change_json(change: &SettingChange) -> Value {
    match change {
        SettingChange::PublicAccessBlock(block) => block_json(block),
        SettingChange::Encryption(encryption) => encryption_json(encryption),
        SettingChange::Versioning(status) => json!(versioning_name(*status)),
        SettingChange::Tags(tags) if tags.is_empty() => Value::Null,
        SettingChange::Tags(tags) => tags_json(tags),
    }
}

fn block_json(block: &PublicAccessBlock) -> Value {
    json!({
        "block_public_acls": block.block_public_acls,
        "ignore_public_acls": block.ignore_public_acls,
        "block_public_policy": block.block_public_policy,
        "restrict_public_buckets": block.restrict_public_buckets,
    })
}

fn encryption_json(encryption: &DefaultEncryption) -> Value {
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

fn versioning_name(status: VersioningStatus) -> &'static str {
    match status {
        VersioningStatus::Enabled => "Enabled",
        VersioningStatus::Suspended => "Suspended",
    }
}

fn tags_json(tags: &[Tag]) -> Value {
    json!(tags.iter().map(|t| [&t.key, &t.value]).collect::<Vec<_>>())
}

/// Fills the fields of `config` that `one` (a read of one setting) answered.
fn merge(config: &mut BucketConfig, one: BucketConfig) {
    config.region = config.region.take().or(one.region);
    config.versioning = config.versioning.take().or(one.versioning);
    config.encryption = config.encryption.take().or(one.encryption);
    config.public_access_block = config
        .public_access_block
        .take()
        .or(one.public_access_block);
    config.policy_is_public = config.policy_is_public.take().or(one.policy_is_public);
    config.policy = config.policy.take().or(one.policy);
    config.ownership = config.ownership.take().or(one.ownership);
    config.lifecycle = config.lifecycle.take().or(one.lifecycle);
    config.logging = config.logging.take().or(one.logging);
    config.tags = config.tags.take().or(one.tags);
    config.acl = config.acl.take().or(one.acl);
}
