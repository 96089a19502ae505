//! A change of one bucket setting on the local backend: the bucket's settings file is
//! read (an unreadable one is an error, never overwritten), changed in that one setting,
//! and replaced whole through a staged file, so a reader sees the old file or the new
//! one. Writes are serialised within the host: two changes of one bucket's settings
//! never lose one another.

use std::io::Write;
use std::sync::Mutex;

use super::{AccountSettings, StoredBlock, StoredEncryption, StoredSettings, StoredVersioning};
use crate::bindings::S3Error;
use crate::bindings::s3::{SseAlgorithm, VersioningStatus};
use crate::capability::s3::backend::SettingChange;
use crate::capability::s3::local::confine::{descend, io_error};
use crate::capability::s3::local::staged::Staged;

/// Held while a settings file is read, changed and replaced.
static WRITING: Mutex<()> = Mutex::new(());

impl AccountSettings<'_> {
    /// Makes `change` to the settings of `bucket` (a checked name).
    pub(in crate::capability::s3::local) fn change_bucket(
        &self,
        bucket: &str,
        change: &SettingChange,
    ) -> Result<(), S3Error> {
        let what = "storing the bucket's settings";
        let _writing = WRITING.lock().unwrap_or_else(|e| e.into_inner());
        let mut settings = self.bucket(bucket)?;
        settings.apply(change);
        let json = serde_json::to_vec_pretty(&settings).map_err(|_| S3Error::Other(what.into()))?;
        let dirs = descend(self.root, &[".xacct", "settings", self.account], true)
            .map_err(|miss| miss.into_io_error(what))?;
        let Some(dir) = dirs.as_ref() else {
            return Err(S3Error::Other(what.into()));
        };
        let (staged, mut file) = Staged::create(self.root)?;
        file.write_all(&json).map_err(|err| io_error(err, what))?;
        staged
            .install_as(dir, &format!("{bucket}.json"))
            .map_err(|err| io_error(err, what))
    }
}

impl StoredSettings {
    /// The settings with `change` made, in the words the file uses (S3's).
    fn apply(&mut self, change: &SettingChange) {
        match change {
            SettingChange::PublicAccessBlock(block) => {
                self.public_access_block = Some(StoredBlock {
                    block_public_acls: block.block_public_acls,
                    ignore_public_acls: block.ignore_public_acls,
                    block_public_policy: block.block_public_policy,
                    restrict_public_buckets: block.restrict_public_buckets,
                });
            }
            SettingChange::Encryption(encryption) => {
                let algorithm = match encryption.algorithm {
                    SseAlgorithm::Aes256 => "AES256",
                    SseAlgorithm::AwsKms => "aws:kms",
                    SseAlgorithm::AwsKmsDsse => "aws:kms:dsse",
                };
                self.encryption = Some(StoredEncryption {
                    algorithm: algorithm.to_owned(),
                    kms_key_id: encryption.kms_key_id.clone(),
                    bucket_key: encryption.bucket_key,
                });
            }
            SettingChange::Versioning(status) => {
                let status = match status {
                    VersioningStatus::Enabled => "Enabled",
                    VersioningStatus::Suspended => "Suspended",
                };
                // MFA delete is changed only with the root's MFA device: kept as it is.
                let mfa_delete = self.versioning.as_ref().is_some_and(|v| v.mfa_delete);
                self.versioning = Some(StoredVersioning {
                    status: status.to_owned(),
                    mfa_delete,
                });
            }
            SettingChange::Tags(tags) => {
                self.tags = tags
                    .iter()
                    .map(|tag| (tag.key.clone(), tag.value.clone()))
                    .collect();
            }
        }
    }
}
