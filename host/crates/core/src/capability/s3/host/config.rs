//! Bucket configuration for plugins: `get-bucket-config` reads the settings asked for,
//! one S3 request per setting — each checked, budgeted, pinned and audited like any
//! call — sent concurrently, and the account's own public access block.

use futures::future::join_all;
use wasmtime::component::Resource;

use super::HostResult;
use crate::bindings::s3::{BucketConfig, BucketSetting, PublicAccessBlock};
use crate::capability::gate::Admission;
use crate::capability::invocation::CapabilityView;
use crate::capability::s3::actions::{GET_ACCOUNT_PUBLIC_ACCESS_BLOCK, reads};
use crate::capability::s3::backend::empty_config;
use crate::capability::s3::call::S3Call;
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
