//! The S3 capability's action table: every operation of the WIT `s3` interface, the
//! grant action it needs, what it acts on, whether a dry run plans it instead of running
//! it, and the IAM actions it needs. The config's list of grant actions, the gate's
//! checks and the IAM documents (session and permission policies, in the AWS provider)
//! all come from here: adding an operation is one entry.

use crate::bindings::s3::BucketSetting;

/// What a grant rule allows (`actions = [...]` in an `s3` rule): the grant's vocabulary,
/// shared with plugins' declarations, is defined in xacct-provenance.
pub use xacct_provenance::grant::Action;

/// The operations `action` allows.
pub fn operations(action: Action) -> impl Iterator<Item = &'static Operation> {
    OPERATIONS
        .iter()
        .copied()
        .filter(move |op| op.action == action)
}

/// What an operation acts on: where its IAM actions are granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// The account itself (its list of buckets, its public access block): any resource.
    Account,
    /// A bucket itself (its configuration): the bucket's ARN.
    Bucket,
    /// A bucket's listing, under the rule's prefix.
    Listing,
    /// Objects under the rule's prefix.
    Object,
}

/// One operation of the WIT `s3` interface.
#[derive(Debug)]
pub struct Operation {
    /// The S3 API's name, as the audit log records it.
    pub name: &'static str,
    /// The grant action it needs (on its bucket or object).
    pub action: Action,
    pub on: On,
    /// Whether it changes anything: a dry run plans it instead of running it.
    pub mutates: bool,
    /// The IAM actions the backend's calls need, in the order IAM documents list them.
    pub iam: &'static [&'static str],
    /// The bucket setting it reads or writes.
    pub setting: Option<BucketSetting>,
}

pub const LIST_BUCKETS: Operation = Operation {
    name: "ListBuckets",
    action: Action::List,
    on: On::Account,
    mutates: false,
    iam: &["s3:ListAllMyBuckets"],
    setting: None,
};
pub const LIST_OBJECTS: Operation = Operation {
    name: "ListObjectsV2",
    action: Action::List,
    on: On::Listing,
    mutates: false,
    iam: &["s3:ListBucket"],
    setting: None,
};
pub const HEAD_OBJECT: Operation = Operation {
    name: "HeadObject",
    action: Action::Read,
    on: On::Object,
    mutates: false,
    iam: &["s3:GetObject"],
    setting: None,
};
pub const GET_OBJECT: Operation = Operation {
    name: "GetObject",
    action: Action::Read,
    on: On::Object,
    mutates: false,
    iam: &["s3:GetObject"],
    setting: None,
};
/// A put is one PutObject, or a multipart upload (whose parts need `s3:PutObject` too)
/// aborted on failure.
pub const PUT_OBJECT: Operation = Operation {
    name: "PutObject",
    action: Action::Write,
    on: On::Object,
    mutates: true,
    iam: &["s3:PutObject", "s3:AbortMultipartUpload"],
    setting: None,
};
/// The source is read (a HeadObject, then the copy): `read` on it, `write` on the target.
pub const COPY_OBJECT: Operation = Operation {
    name: "CopyObject",
    action: Action::Write,
    on: On::Object,
    mutates: true,
    iam: &["s3:PutObject"],
    setting: None,
};
pub const DELETE_OBJECT: Operation = Operation {
    name: "DeleteObject",
    action: Action::Delete,
    on: On::Object,
    mutates: true,
    iam: &["s3:DeleteObject"],
    setting: None,
};
pub const DELETE_OBJECTS: Operation = Operation {
    name: "DeleteObjects",
    action: Action::Delete,
    on: On::Object,
    mutates: true,
    iam: &["s3:DeleteObject"],
    setting: None,
};
pub const GET_OBJECT_TAGGING: Operation = Operation {
    name: "GetObjectTagging",
    action: Action::Tag,
    on: On::Object,
    mutates: false,
    iam: &["s3:GetObjectTagging"],
    setting: None,
};
/// An empty tag set is a DeleteObjectTagging.
pub const PUT_OBJECT_TAGGING: Operation = Operation {
    name: "PutObjectTagging",
    action: Action::Tag,
    on: On::Object,
    mutates: true,
    iam: &["s3:PutObjectTagging", "s3:DeleteObjectTagging"],
    setting: None,
};

/// A read of one bucket setting (`get-bucket-config` sends one per setting asked for).
const fn config_read(
    name: &'static str,
    iam: &'static [&'static str],
    setting: BucketSetting,
) -> Operation {
    Operation {
        name,
        action: Action::ConfigRead,
        on: On::Bucket,
        mutates: false,
        iam,
        setting: Some(setting),
    }
}

pub const GET_BUCKET_LOCATION: Operation = config_read(
    "GetBucketLocation",
    &["s3:GetBucketLocation"],
    BucketSetting::Location,
);
pub const GET_BUCKET_VERSIONING: Operation = config_read(
    "GetBucketVersioning",
    &["s3:GetBucketVersioning"],
    BucketSetting::Versioning,
);
pub const GET_BUCKET_ENCRYPTION: Operation = config_read(
    "GetBucketEncryption",
    &["s3:GetEncryptionConfiguration"],
    BucketSetting::Encryption,
);
pub const GET_PUBLIC_ACCESS_BLOCK: Operation = config_read(
    "GetPublicAccessBlock",
    &["s3:GetBucketPublicAccessBlock"],
    BucketSetting::PublicAccessBlock,
);
pub const GET_BUCKET_POLICY_STATUS: Operation = config_read(
    "GetBucketPolicyStatus",
    &["s3:GetBucketPolicyStatus"],
    BucketSetting::PolicyStatus,
);
pub const GET_BUCKET_POLICY: Operation = config_read(
    "GetBucketPolicy",
    &["s3:GetBucketPolicy"],
    BucketSetting::Policy,
);
pub const GET_BUCKET_OWNERSHIP_CONTROLS: Operation = config_read(
    "GetBucketOwnershipControls",
    &["s3:GetBucketOwnershipControls"],
    BucketSetting::OwnershipControls,
);
pub const GET_BUCKET_LIFECYCLE: Operation = config_read(
    "GetBucketLifecycleConfiguration",
    &["s3:GetLifecycleConfiguration"],
    BucketSetting::Lifecycle,
);
pub const GET_BUCKET_LOGGING: Operation = config_read(
    "GetBucketLogging",
    &["s3:GetBucketLogging"],
    BucketSetting::Logging,
);
pub const GET_BUCKET_TAGGING: Operation = config_read(
    "GetBucketTagging",
    &["s3:GetBucketTagging"],
    BucketSetting::Tags,
);
pub const GET_BUCKET_ACL: Operation =
    config_read("GetBucketAcl", &["s3:GetBucketAcl"], BucketSetting::Acl);
/// S3 Control's GetPublicAccessBlock: an account-level action with no resource type
/// ("Actions, resources, and condition keys for Amazon S3", Service Authorization
/// Reference), so it is granted on `*` and cannot be pinned by `s3:ResourceAccount`; the
/// request names the caller's own account.
pub const GET_ACCOUNT_PUBLIC_ACCESS_BLOCK: Operation = Operation {
    name: "GetAccountPublicAccessBlock",
    action: Action::ConfigRead,
    on: On::Account,
    mutates: false,
    iam: &["s3:GetAccountPublicAccessBlock"],
    setting: None,
};

/// A write of one bucket setting: its own IAM action first (the one its request needs),
/// then its read's, as the host reads the old value first so that the audit log records
/// old -> new ("Required permissions for Amazon S3 API operations", S3 User Guide).
const fn config_write(
    name: &'static str,
    iam: &'static [&'static str],
    setting: BucketSetting,
) -> Operation {
    Operation {
        name,
        action: Action::ConfigWrite,
        on: On::Bucket,
        mutates: true,
        iam,
        setting: Some(setting),
    }
}

pub const PUT_PUBLIC_ACCESS_BLOCK: Operation = config_write(
    "PutPublicAccessBlock",
    &[
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketPublicAccessBlock",
    ],
    BucketSetting::PublicAccessBlock,
);
pub const PUT_BUCKET_ENCRYPTION: Operation = config_write(
    "PutBucketEncryption",
    &[
        "s3:PutEncryptionConfiguration",
        "s3:GetEncryptionConfiguration",
    ],
    BucketSetting::Encryption,
);
pub const PUT_BUCKET_VERSIONING: Operation = config_write(
    "PutBucketVersioning",
    &["s3:PutBucketVersioning", "s3:GetBucketVersioning"],
    BucketSetting::Versioning,
);
/// An empty tag set is a DeleteBucketTagging, which needs `s3:PutBucketTagging` too
/// (DeleteBucketTagging, S3 API Reference).
pub const PUT_BUCKET_TAGGING: Operation = config_write(
    "PutBucketTagging",
    &["s3:PutBucketTagging", "s3:GetBucketTagging"],
    BucketSetting::Tags,
);
/// ListObjectVersions: `s3:ListBucketVersions` takes the `s3:prefix` condition key as
/// `s3:ListBucket` does ("Actions, resources, and condition keys for Amazon S3",
/// Service Authorization Reference), so it is granted under the rule's prefix.
pub const LIST_OBJECT_VERSIONS: Operation = Operation {
    name: "ListObjectVersions",
    action: Action::Versions,
    on: On::Listing,
    mutates: false,
    iam: &["s3:ListBucketVersions"],
    setting: None,
};
/// HeadObject and GetObject with a `versionId` need `s3:GetObjectVersion`, not
/// `s3:GetObject` (GetObject "Permissions", S3 API Reference).
pub const HEAD_OBJECT_VERSION: Operation = Operation {
    name: "HeadObjectVersion",
    action: Action::Versions,
    on: On::Object,
    mutates: false,
    iam: &["s3:GetObjectVersion"],
    setting: None,
};
pub const GET_OBJECT_VERSION: Operation = Operation {
    name: "GetObjectVersion",
    action: Action::Versions,
    on: On::Object,
    mutates: false,
    iam: &["s3:GetObjectVersion"],
    setting: None,
};
/// DeleteObject with a `versionId` needs `s3:DeleteObjectVersion` (DeleteObject
/// "Permissions", S3 API Reference).
pub const DELETE_OBJECT_VERSION: Operation = Operation {
    name: "DeleteObjectVersion",
    action: Action::DeleteVersions,
    on: On::Object,
    mutates: true,
    iam: &["s3:DeleteObjectVersion"],
    setting: None,
};

/// Every operation, in the order IAM documents list their actions.
pub const OPERATIONS: &[&Operation] = &[
    &LIST_BUCKETS,
    &LIST_OBJECTS,
    &HEAD_OBJECT,
    &GET_OBJECT,
    &PUT_OBJECT,
    &COPY_OBJECT,
    &DELETE_OBJECT,
    &DELETE_OBJECTS,
    &GET_OBJECT_TAGGING,
    &PUT_OBJECT_TAGGING,
    &GET_ACCOUNT_PUBLIC_ACCESS_BLOCK,
    &GET_BUCKET_LOCATION,
    &GET_BUCKET_VERSIONING,
    &GET_BUCKET_ENCRYPTION,
    &GET_PUBLIC_ACCESS_BLOCK,
    &GET_BUCKET_POLICY_STATUS,
    &GET_BUCKET_POLICY,
    &GET_BUCKET_OWNERSHIP_CONTROLS,
    &GET_BUCKET_LIFECYCLE,
    &GET_BUCKET_LOGGING,
    &GET_BUCKET_TAGGING,
    &GET_BUCKET_ACL,
    &PUT_PUBLIC_ACCESS_BLOCK,
    &PUT_BUCKET_ENCRYPTION,
    &PUT_BUCKET_VERSIONING,
    &PUT_BUCKET_TAGGING,
    &LIST_OBJECT_VERSIONS,
    &HEAD_OBJECT_VERSION,
    &GET_OBJECT_VERSION,
    &DELETE_OBJECT_VERSION,
];

/// The operation that reads `setting`.
pub fn reads(setting: BucketSetting) -> &'static Operation {
    match setting {
        BucketSetting::Location => &GET_BUCKET_LOCATION,
        BucketSetting::Versioning => &GET_BUCKET_VERSIONING,
        BucketSetting::Encryption => &GET_BUCKET_ENCRYPTION,
        BucketSetting::PublicAccessBlock => &GET_PUBLIC_ACCESS_BLOCK,
        BucketSetting::PolicyStatus => &GET_BUCKET_POLICY_STATUS,
        BucketSetting::Policy => &GET_BUCKET_POLICY,
        BucketSetting::OwnershipControls => &GET_BUCKET_OWNERSHIP_CONTROLS,
        BucketSetting::Lifecycle => &GET_BUCKET_LIFECYCLE,
        BucketSetting::Logging => &GET_BUCKET_LOGGING,
        BucketSetting::Tags => &GET_BUCKET_TAGGING,
        BucketSetting::Acl => &GET_BUCKET_ACL,
    }
}

/// The settings a plugin may change (`config-write`'s `settings = [...]`).
pub const WRITABLE_SETTINGS: [BucketSetting; 4] = [
    BucketSetting::PublicAccessBlock,
    BucketSetting::Encryption,
    BucketSetting::Versioning,
    BucketSetting::Tags,
];

/// The operation that writes `setting`, if a plugin may change it.
pub fn writes(setting: BucketSetting) -> Option<&'static Operation> {
    match setting {
        BucketSetting::PublicAccessBlock => Some(&PUT_PUBLIC_ACCESS_BLOCK),
        BucketSetting::Encryption => Some(&PUT_BUCKET_ENCRYPTION),
        BucketSetting::Versioning => Some(&PUT_BUCKET_VERSIONING),
        BucketSetting::Tags => Some(&PUT_BUCKET_TAGGING),
        _ => None,
    }
}

/// The writable setting named `name` (as the WIT writes it).
pub fn parse_writable_setting(name: &str) -> Option<BucketSetting> {
    WRITABLE_SETTINGS
        .into_iter()
        .find(|setting| setting_name(*setting) == name)
}

/// A setting's name, as the WIT writes it (and the audit log records it).
pub fn setting_name(setting: BucketSetting) -> &'static str {
    match setting {
        BucketSetting::Location => "location",
        BucketSetting::Versioning => "versioning",
        BucketSetting::Encryption => "encryption",
        BucketSetting::PublicAccessBlock => "public-access-block",
        BucketSetting::PolicyStatus => "policy-status",
        BucketSetting::Policy => "policy",
        BucketSetting::OwnershipControls => "ownership-controls",
        BucketSetting::Lifecycle => "lifecycle",
        BucketSetting::Logging => "logging",
        BucketSetting::Tags => "tags",
        BucketSetting::Acl => "acl",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_allows_some_operation_and_names_parse_back() {
        for action in Action::ALL {
            assert!(operations(action).next().is_some(), "{action}");
            assert_eq!(Action::parse(action.name()), Some(action));
        }
        assert_eq!(
            Action::names(),
            "list, read, write, delete, tag, config-read, config-write, versions or delete-versions"
        );
    }

    #[test]
    fn each_setting_is_read_by_its_own_config_read_operation() {
        let readers: Vec<&Operation> = OPERATIONS
            .iter()
            .copied()
            .filter(|op| op.setting.is_some() && op.action == Action::ConfigRead)
            .collect();
        assert_eq!(readers.len(), 11, "one operation per setting");
        for op in readers {
            let setting = op.setting.unwrap();
            assert_eq!(reads(setting).name, op.name, "{}", setting_name(setting));
            assert_eq!(op.action, Action::ConfigRead);
            assert_eq!(op.on, On::Bucket);
        }
    }

    #[test]
    fn each_writable_setting_is_written_by_a_mutation_that_also_reads_it() {
        for setting in WRITABLE_SETTINGS {
            let write = writes(setting).unwrap();
            assert_eq!(write.setting, Some(setting));
            assert!(write.mutates && write.action == Action::ConfigWrite && write.on == On::Bucket);
            assert!(write.iam[0].starts_with("s3:Put"), "{}", write.name);
            assert!(write.iam.contains(&reads(setting).iam[0]), "{}", write.name);
            assert_eq!(parse_writable_setting(setting_name(setting)), Some(setting));
        }
        assert_eq!(parse_writable_setting("policy"), None, "not writable");
        let writers = OPERATIONS
            .iter()
            .filter(|op| op.action == Action::ConfigWrite)
            .count();
        assert_eq!(writers, WRITABLE_SETTINGS.len());
    }

    #[test]
    fn operations_are_named_once() {
        for (i, op) in OPERATIONS.iter().enumerate() {
            assert!(
                OPERATIONS[..i].iter().all(|other| other.name != op.name),
                "{}",
                op.name
            );
        }
    }
}
