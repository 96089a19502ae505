//! Bucket settings on the local backend: what S3 keeps about a bucket itself (versioning,
//! default encryption, public access block, policy, ownership, lifecycle, logging, tags,
//! ACL, region), one JSON file per bucket in `.xacct/settings/<account-id>/<bucket>.json`,
//! and the account's own public access block in `.xacct/settings/<account-id>/_account.json`
//! (`_` is in no bucket name, so the two never meet). A file a data directory brings is
//! untrusted: bounded in size, unknown fields refused, read without following a link.
//! A bucket with no file, or a setting the file leaves out, has that setting "not
//! configured", as a new S3 bucket would (its region `us-east-1`).
//!
//! The policy status is judged here as S3 judges it ("The meaning of \"public\"", S3 User
//! Guide, Blocking public access to your Amazon S3 storage): a policy is public when one
//! of its `Allow` statements lets in a wildcard principal without a condition that pins a
//! fixed value of one of the keys S3 names.

use std::io::Read;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::confine::{Miss, descend, io_error, open_file};
use crate::bindings::S3Error;
use crate::bindings::s3::{
    AccessControlList, AclGrant, AclPermission, BucketConfig, BucketSetting, DefaultEncryption,
    Grantee, LifecycleRule, LifecycleTransition, LoggingConfig, ObjectOwnership, PublicAccessBlock,
    SseAlgorithm, Tag, VersioningConfig, VersioningStatus,
};
use crate::capability::s3::backend::empty_config;

mod write;

/// The largest settings file read (a bucket policy is at most 20 KB; lifecycle rules and
/// tags add little).
const MAX_SETTINGS_BYTES: u64 = 256 << 10;

/// The name of the account-level file beside the buckets' (no bucket name has a `_`).
const ACCOUNT_FILE: &str = "_account.json";

/// The region of a bucket whose file names none: S3's default.
const DEFAULT_REGION: &str = "us-east-1";

/// The condition keys whose fixed values make a wildcard principal non-public ("The
/// meaning of \"public\"", S3 User Guide).
const PINNING_CONDITION_KEYS: [&str; 11] = [
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:sourceip",
    "aws:userid",
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:principalarn",
    "s3:dataaccesspointaccount",
];

/// A bucket's settings file.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StoredSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    versioning: Option<StoredVersioning>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption: Option<StoredEncryption>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_access_block: Option<StoredBlock>,
    /// The policy document, as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ownership: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lifecycle: Option<Vec<StoredRule>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logging: Option<StoredLogging>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acl: Option<StoredAcl>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StoredVersioning {
    /// `Enabled` or `Suspended`, as S3 writes it.
    status: String,
    #[serde(default)]
    mfa_delete: bool,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StoredEncryption {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`, as S3 writes it.
    algorithm: String,
    kms_key_id: Option<String>,
    #[serde(default)]
    bucket_key: bool,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StoredBlock {
    #[serde(default)]
    block_public_acls: bool,
    #[serde(default)]
    ignore_public_acls: bool,
    #[serde(default)]
    block_public_policy: bool,
    #[serde(default)]
    restrict_public_buckets: bool,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StoredRule {
    id: Option<String>,
    #[serde(default = "enabled")]
    enabled: bool,
    prefix: Option<String>,
    expiration_days: Option<u32>,
    #[serde(default)]
    expired_object_delete_marker: bool,
    noncurrent_expiration_days: Option<u32>,
    abort_incomplete_upload_days: Option<u32>,
    #[serde(default)]
    transitions: Vec<StoredTransition>,
}

fn enabled() -> bool {
    true
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StoredTransition {
    days: u32,
    storage_class: String,
    #[serde(default)]
    noncurrent: bool,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StoredLogging {
    target_bucket: String,
    #[serde(default)]
    target_prefix: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StoredAcl {
    owner: Option<String>,
    #[serde(default)]
    grants: Vec<StoredGrant>,
}

/// A grant: exactly one of `canonical_user`, `group` (a URI), `email`; a permission as
/// S3 writes it (`FULL_CONTROL`, `READ`, `WRITE`, `READ_ACP`, `WRITE_ACP`).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StoredGrant {
    canonical_user: Option<String>,
    group: Option<String>,
    email: Option<String>,
    permission: String,
}

/// Where the settings of one account are kept, under the backend's open root.
pub(super) struct AccountSettings<'a> {
    pub(super) root: &'a cap_std::fs::Dir,
    pub(super) account: &'a str,
}

impl AccountSettings<'_> {
    /// The settings of `bucket` (a checked name); all "not configured" without a file.
    pub(super) fn bucket(&self, bucket: &str) -> Result<StoredSettings, S3Error> {
        Ok(self.read(&format!("{bucket}.json"))?.unwrap_or_default())
    }

    /// The account's own public access block, if its file sets one.
    pub(super) fn account_block(&self) -> Result<Option<PublicAccessBlock>, S3Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct AccountFile {
            public_access_block: Option<StoredBlock>,
        }
        let file: Option<AccountFile> = self.read(ACCOUNT_FILE)?;
        Ok(file
            .and_then(|file| file.public_access_block)
            .map(StoredBlock::into_wit))
    }

    fn read<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>, S3Error> {
        let what = "reading the bucket's settings";
        let unreadable = |why: String| {
            S3Error::Other(format!(
                "the stored settings .xacct/settings/{}/{name} are unreadable: {why}",
                self.account
            ))
        };
        let dirs = match descend(self.root, &[".xacct", "settings", self.account], false) {
            Ok(dirs) => dirs,
            Err(Miss::Absent) => return Ok(None),
            Err(miss) => return Err(miss.into_io_error(what)),
        };
        let Some(dir) = dirs.as_ref() else {
            return Ok(None);
        };
        let (file, meta) = match open_file(dir, name) {
            Ok(opened) => opened,
            Err(Miss::Absent) => return Ok(None),
            Err(miss) => return Err(miss.into_io_error(what)),
        };
        if meta.len() > MAX_SETTINGS_BYTES {
            return Err(unreadable(format!(
                "{} bytes, more than the {MAX_SETTINGS_BYTES} a settings file may have",
                meta.len()
            )));
        }
        let mut bytes = Vec::new();
        file.take(MAX_SETTINGS_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|err| io_error(err, what))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            // serde's message names the field and position, never the file's content.
            .map_err(|err| unreadable(err.to_string()))
    }
}

impl StoredSettings {
    /// One setting of `account`'s bucket, in its field of an otherwise empty config.
    pub(super) fn setting(
        self,
        account: &str,
        setting: BucketSetting,
    ) -> Result<BucketConfig, S3Error> {
        let mut config = empty_config();
        match setting {
            BucketSetting::Location => {
                config.region = Some(self.region.unwrap_or_else(|| DEFAULT_REGION.to_owned()));
            }
            BucketSetting::Versioning => {
                config.versioning = self
                    .versioning
                    .map(StoredVersioning::into_wit)
                    .transpose()?;
            }
            BucketSetting::Encryption => {
                config.encryption = self
                    .encryption
                    .map(StoredEncryption::into_wit)
                    .transpose()?;
            }
            BucketSetting::PublicAccessBlock => {
                config.public_access_block = self.public_access_block.map(StoredBlock::into_wit);
            }
            BucketSetting::PolicyStatus => {
                config.policy_is_public = self.policy.as_ref().map(policy_is_public);
            }
            BucketSetting::Policy => config.policy = self.policy.map(|p| p.to_string()),
            BucketSetting::OwnershipControls => {
                config.ownership = self.ownership.as_deref().map(ownership).transpose()?;
            }
            BucketSetting::Lifecycle => {
                config.lifecycle = self
                    .lifecycle
                    .filter(|rules| !rules.is_empty())
                    .map(|rules| rules.into_iter().map(StoredRule::into_wit).collect());
            }
            BucketSetting::Logging => {
                config.logging = self.logging.map(|logging| LoggingConfig {
                    target_bucket: logging.target_bucket,
                    target_prefix: logging.target_prefix,
                });
            }
            BucketSetting::Tags => {
                config.tags = (!self.tags.is_empty()).then(|| {
                    self.tags
                        .into_iter()
                        .map(|(key, value)| Tag { key, value })
                        .collect()
                });
            }
            BucketSetting::Acl => config.acl = Some(acl(self.acl, account)?),
        }
        Ok(config)
    }
}

fn invalid(field: &str, value: &str, allowed: &str) -> S3Error {
    S3Error::Other(format!(
        "the bucket's stored settings are unreadable: {field} {value:?} is none of {allowed}"
    ))
}

impl StoredVersioning {
    fn into_wit(self) -> Result<VersioningConfig, S3Error> {
        let status = match self.status.as_str() {
            "Enabled" => VersioningStatus::Enabled,
            "Suspended" => VersioningStatus::Suspended,
            other => return Err(invalid("versioning.status", other, "Enabled, Suspended")),
        };
        Ok(VersioningConfig {
            status,
            mfa_delete: self.mfa_delete,
        })
    }
}

impl StoredEncryption {
    fn into_wit(self) -> Result<DefaultEncryption, S3Error> {
        let algorithm = match self.algorithm.as_str() {
            "AES256" => SseAlgorithm::Aes256,
            "aws:kms" => SseAlgorithm::AwsKms,
            "aws:kms:dsse" => SseAlgorithm::AwsKmsDsse,
            other => {
                return Err(invalid(
                    "encryption.algorithm",
                    other,
                    "AES256, aws:kms, aws:kms:dsse",
                ));
            }
        };
        Ok(DefaultEncryption {
            algorithm,
            kms_key_id: self.kms_key_id,
            bucket_key: self.bucket_key,
        })
    }
}

impl StoredBlock {
    fn into_wit(self) -> PublicAccessBlock {
        PublicAccessBlock {
            block_public_acls: self.block_public_acls,
            ignore_public_acls: self.ignore_public_acls,
            block_public_policy: self.block_public_policy,
            restrict_public_buckets: self.restrict_public_buckets,
        }
    }
}

impl StoredRule {
    fn into_wit(self) -> LifecycleRule {
        LifecycleRule {
            id: self.id,
            enabled: self.enabled,
            prefix: self.prefix,
            expiration_days: self.expiration_days,
            expired_object_delete_marker: self.expired_object_delete_marker,
            noncurrent_expiration_days: self.noncurrent_expiration_days,
            abort_incomplete_upload_days: self.abort_incomplete_upload_days,
            transitions: self
                .transitions
                .into_iter()
                .map(|t| LifecycleTransition {
                    days: t.days,
                    storage_class: t.storage_class,
                    noncurrent: t.noncurrent,
                })
                .collect(),
        }
    }
}

fn ownership(value: &str) -> Result<ObjectOwnership, S3Error> {
    match value {
        "BucketOwnerEnforced" => Ok(ObjectOwnership::BucketOwnerEnforced),
        "BucketOwnerPreferred" => Ok(ObjectOwnership::BucketOwnerPreferred),
        "ObjectWriter" => Ok(ObjectOwnership::ObjectWriter),
        other => Err(invalid(
            "ownership",
            other,
            "BucketOwnerEnforced, BucketOwnerPreferred, ObjectWriter",
        )),
    }
}

/// A bucket's ACL: as stored, or without one what S3 gives a new bucket, the owner's
/// full control (the owner here named by its account id).
fn acl(stored: Option<StoredAcl>, account: &str) -> Result<AccessControlList, S3Error> {
    let Some(stored) = stored else {
        return Ok(AccessControlList {
            owner: Some(account.to_owned()),
            grants: vec![AclGrant {
                grantee: Grantee::CanonicalUser(account.to_owned()),
                permission: AclPermission::FullControl,
            }],
        });
    };
    let grants = stored
        .grants
        .into_iter()
        .map(|grant| {
            let grantee = match (grant.canonical_user, grant.group, grant.email) {
                (Some(id), None, None) => Grantee::CanonicalUser(id),
                (None, Some(uri), None) => Grantee::Group(uri),
                (None, None, Some(email)) => Grantee::Email(email),
                _ => {
                    return Err(S3Error::Other(
                        "the bucket's stored settings are unreadable: an acl grant names \
                         exactly one of canonical_user, group, email"
                            .into(),
                    ));
                }
            };
            let permission = match grant.permission.as_str() {
                "FULL_CONTROL" => AclPermission::FullControl,
                "READ" => AclPermission::Read,
                "WRITE" => AclPermission::Write,
                "READ_ACP" => AclPermission::ReadAcp,
                "WRITE_ACP" => AclPermission::WriteAcp,
                other => {
                    return Err(invalid(
                        "acl permission",
                        other,
                        "FULL_CONTROL, READ, WRITE, READ_ACP, WRITE_ACP",
                    ));
                }
            };
            Ok(AclGrant {
                grantee,
                permission,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(AccessControlList {
        owner: stored.owner,
        grants,
    })
}

/// Whether a bucket policy is public as S3 judges it: some `Allow` statement's principal
/// is a wildcard (`"*"`, `{"AWS": "*"}`) or a `NotPrincipal`, with no condition fixing a
/// value of one of [`PINNING_CONDITION_KEYS`].
pub(super) fn policy_is_public(policy: &Value) -> bool {
    let statements = match &policy["Statement"] {
        Value::Array(statements) => statements.iter().collect(),
        statement @ Value::Object(_) => vec![statement],
        _ => Vec::new(),
    };
    statements.into_iter().any(|statement| {
        statement["Effect"] == "Allow"
            && (statement.get("NotPrincipal").is_some()
                || wildcard_principal(&statement["Principal"]))
            && !pinned_by_condition(&statement["Condition"])
    })
}

fn wildcard_principal(principal: &Value) -> bool {
    let is_wildcard = |value: &Value| match value {
        Value::String(text) => text == "*",
        Value::Array(items) => items.iter().any(|item| item == "*"),
        _ => false,
    };
    match principal {
        Value::Object(by_kind) => by_kind.get("AWS").is_some_and(is_wildcard),
        other => is_wildcard(other),
    }
}

/// Whether some operator of the condition fixes a pinning key to values without
/// wildcards.
fn pinned_by_condition(condition: &Value) -> bool {
    let Value::Object(operators) = condition else {
        return false;
    };
    operators.iter().any(|(operator, keys)| {
        let fixed_operator = !operator.contains("Not") && !operator.starts_with("ForAnyValue");
        let Value::Object(keys) = keys else {
            return false;
        };
        fixed_operator
            && keys.iter().any(|(key, values)| {
                let values: Vec<&Value> = match values {
                    Value::Array(items) => items.iter().collect(),
                    single => vec![single],
                };
                PINNING_CONDITION_KEYS.contains(&key.to_ascii_lowercase().as_str())
                    && !values.is_empty()
                    && values.iter().all(|value| {
                        value
                            .as_str()
                            .is_some_and(|text| !text.contains(['*', '?']) && text != "0.0.0.0/0")
                    })
            })
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_wildcard_principal_is_public_unless_a_fixed_condition_pins_it() {
        let allow = |principal: Value, condition: Value| {
            json!({"Statement": [{"Effect": "Allow", "Principal": principal,
                "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": condition}]})
        };
        assert!(policy_is_public(&allow(json!("*"), Value::Null)));
        assert!(policy_is_public(&allow(json!({"AWS": ["*"]}), Value::Null)));
        assert!(!policy_is_public(&allow(
            json!({"AWS": "arn:aws:iam::123456789012:root"}),
            Value::Null
        )));
        assert!(!policy_is_public(&allow(
            json!({"Service": "logging.s3.amazonaws.com"}),
            Value::Null
        )));
        assert!(!policy_is_public(&allow(
            json!("*"),
            json!({"StringEquals": {"aws:SourceAccount": "123456789012"}})
        )));
        assert!(policy_is_public(&allow(
            json!("*"),
            json!({"StringLike": {"aws:SourceArn": "arn:aws:*"}})
        )));
        assert!(policy_is_public(&allow(
            json!("*"),
            json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})
        )));
        assert!(policy_is_public(&allow(
            json!("*"),
            json!({"StringEquals": {"s3:prefix": "public/"}})
        )));
        let deny = json!({"Statement": {"Effect": "Deny", "Principal": "*", "Action": "s3:*"}});
        assert!(!policy_is_public(&deny));
    }

    #[test]
    fn unknown_fields_and_values_are_refused_and_missing_ones_are_not_configured() {
        let parsed: Result<StoredSettings, _> = serde_json::from_value(json!({"versionin": {}}));
        assert!(parsed.is_err(), "a typo is caught");
        let stored: StoredSettings =
            serde_json::from_value(json!({"ownership": "Everyone"})).unwrap();
        assert!(matches!(
            stored.setting("1", BucketSetting::OwnershipControls),
            Err(S3Error::Other(_))
        ));
        let none = StoredSettings::default();
        assert_eq!(
            none.setting("1", BucketSetting::Location)
                .unwrap()
                .region
                .as_deref(),
            Some("us-east-1")
        );
        for setting in [
            BucketSetting::Versioning,
            BucketSetting::Encryption,
            BucketSetting::PolicyStatus,
            BucketSetting::Tags,
            BucketSetting::Lifecycle,
        ] {
            let config = StoredSettings::default().setting("1", setting).unwrap();
            assert!(
                config.versioning.is_none()
                    && config.encryption.is_none()
                    && config.policy_is_public.is_none()
                    && config.tags.is_none()
                    && config.lifecycle.is_none()
            );
        }
    }
}
