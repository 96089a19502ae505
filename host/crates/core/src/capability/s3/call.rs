//! An S3 call as the gate sees it ([`S3Call`]: its operation and what it names), and the
//! checks a request passes before anything else: names, lengths, metadata, tag sets,
//! batch sizes — what S3 itself would refuse.

use serde::Serialize;
use serde_json::Value;

use super::actions::{On, Operation, setting_name};
use super::backend::{ListRequest, ObjectStream, VersionsRequest};
use super::names::{BucketName, MAX_KEY_BYTES, ObjectKey};
use crate::bindings::S3Error;
use crate::bindings::s3::{
    Bucket, BucketConfig, DeleteResult, ListObjectsPage, ListObjectsRequest, ListVersionsPage,
    ListVersionsRequest, ObjectMeta, PublicAccessBlock, PutOptions, PutResult, Tag,
};
use crate::capability::budget::AwsDenial;
use crate::capability::gate::{Call, Moved, PlannedOperation};

/// The most user metadata S3 stores with an object (keys and values, in bytes).
const MAX_METADATA_BYTES: usize = 2048;

/// Continuation tokens are opaque, but S3's are a few hundred bytes.
const MAX_TOKEN_BYTES: usize = 4096;

/// The longest version id S3 issues is far shorter; longer is refused before the audit
/// log records it.
pub(super) const MAX_VERSION_ID_BYTES: usize = 1024;

/// The most keys one `delete-objects` call takes, as on S3.
const MAX_DELETE_KEYS: usize = 1000;

/// The most tags an object has, as on S3.
const MAX_TAGS: usize = 10;

/// The most tags a bucket has, as on S3.
const MAX_BUCKET_TAGS: usize = 50;

/// What an S3 call names, as its audit line records it.
#[derive(Debug, Default, Serialize)]
pub struct S3Target {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) prefix: Option<String>,
    /// The keys of a batch call.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) keys: Vec<String>,
    /// The version a call on one version of an object names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) version_id: Option<String>,
    /// The bucket setting a configuration call reads or writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) setting: Option<&'static str>,
    /// A setting's value before and after a write (null: not configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) after: Option<Value>,
}

/// One S3 call.
pub(super) struct S3Call {
    pub(super) operation: &'static Operation,
    pub(super) target: S3Target,
}

impl S3Call {
    pub(super) fn new(operation: &'static Operation) -> S3Call {
        S3Call {
            operation,
            target: S3Target::default(),
        }
    }

    /// A call on a bucket itself (a read of one of its settings).
    pub(super) fn bucket(operation: &'static Operation, bucket: &BucketName) -> S3Call {
        S3Call {
            operation,
            target: S3Target {
                bucket: Some(bucket.to_string()),
                setting: operation.setting.map(setting_name),
                ..S3Target::default()
            },
        }
    }

    /// A call on one object.
    pub(super) fn object(
        operation: &'static Operation,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> S3Call {
        S3Call {
            operation,
            target: S3Target {
                bucket: Some(bucket.to_string()),
                key: Some(key.to_string()),
                ..S3Target::default()
            },
        }
    }

    /// A call on one version of an object.
    pub(super) fn version(
        operation: &'static Operation,
        bucket: &BucketName,
        key: &ObjectKey,
        version_id: &str,
    ) -> S3Call {
        let mut call = S3Call::object(operation, bucket, key);
        call.target.version_id = Some(version_id.to_owned());
        call
    }
}

impl Call for S3Call {
    type Target = S3Target;

    fn operation(&self) -> &'static str {
        self.operation.name
    }

    fn mutates(&self) -> bool {
        self.operation.mutates
    }

    fn target(&self) -> &S3Target {
        &self.target
    }

    fn calls(&self) -> u64 {
        self.target.keys.len().max(1) as u64
    }

    fn planned(&self) -> Vec<PlannedOperation> {
        let target = &self.target;
        let planned = |key: &str| PlannedOperation {
            operation: self.operation.name,
            bucket: target.bucket.clone().unwrap_or_default(),
            key: key.to_owned(),
            setting: target.setting,
            before: target.before.clone(),
            after: target.after.clone(),
        };
        match (&target.key, target.setting) {
            (Some(key), _) => vec![planned(key)],
            // A bucket's setting: no key.
            (None, Some(_)) => vec![planned("")],
            (None, None) => target.keys.iter().map(|key| planned(key)).collect(),
        }
    }

    /// The operation's first IAM action (the one its request needs) on the ARN of what
    /// it named: the account's bucket list, a bucket, an object, or a batch's first key.
    fn denial(&self, partition: &str) -> AwsDenial {
        let bucket = self.target.bucket.as_deref().unwrap_or("*");
        let resource = match (
            self.operation.on,
            &self.target.key,
            self.target.keys.first(),
        ) {
            (On::Account, _, _) => format!("arn:{partition}:s3:::*"),
            (On::Listing | On::Bucket, _, _) => format!("arn:{partition}:s3:::{bucket}"),
            (On::Object, Some(key), _) | (On::Object, None, Some(key)) => {
                format!("arn:{partition}:s3:::{bucket}/{key}")
            }
            (On::Object, None, None) => format!("arn:{partition}:s3:::{bucket}/*"),
        };
        AwsDenial {
            action: self
                .operation
                .iam
                .first()
                .copied()
                .unwrap_or("s3:*")
                .to_owned(),
            resource,
        }
    }
}

impl Moved for ObjectStream {
    fn bytes(&self) -> Option<u64> {
        Some(self.content_length)
    }
}

impl Moved for PutResult {
    fn bytes(&self) -> Option<u64> {
        Some(self.size)
    }
}

impl Moved for Vec<Bucket> {}
impl Moved for ListObjectsPage {}
impl Moved for ObjectMeta {}
impl Moved for DeleteResult {}
impl Moved for Vec<Tag> {}
impl Moved for BucketConfig {}
impl Moved for Option<PublicAccessBlock> {}
impl Moved for ListVersionsPage {}

/// Refuses a text field longer than S3 takes, naming the field but not repeating it.
pub(super) fn check_length(what: &str, value: Option<&str>, max: usize) -> Result<(), S3Error> {
    match value {
        Some(value) if value.len() > max => Err(S3Error::InvalidInput(format!(
            "{what} is at most {max} bytes long; this one has {} bytes",
            value.len()
        ))),
        _ => Ok(()),
    }
}

/// Refuses metadata larger than S3 stores.
pub(super) fn check_put_options(options: &PutOptions) -> Result<(), S3Error> {
    let size: usize = options
        .metadata
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    if size > MAX_METADATA_BYTES {
        return Err(S3Error::InvalidInput(format!(
            "user metadata is at most {MAX_METADATA_BYTES} bytes; this has {size} bytes"
        )));
    }
    check_length("a content type", options.content_type.as_deref(), 1024)
}

/// Checks the tag-set rules S3 applies to objects, so every backend refuses the same tag
/// sets.
pub(super) fn check_tags(tags: &[Tag]) -> Result<(), S3Error> {
    check_tag_set(tags, MAX_TAGS, "an object")
}

/// Checks the tag-set rules S3 applies to buckets: at most 50 ("Using cost allocation S3
/// bucket tags", S3 User Guide), and no key in the `aws:` namespace, which AWS keeps for
/// its own tags ("Tag naming limits and requirements", Tagging AWS Resources).
pub(super) fn check_bucket_tags(tags: &[Tag]) -> Result<(), S3Error> {
    check_tag_set(tags, MAX_BUCKET_TAGS, "a bucket")?;
    match tags.iter().find(|tag| tag.key.starts_with("aws:")) {
        Some(tag) => Err(S3Error::InvalidInput(format!(
            "tag key {:?}: the aws: prefix is reserved for AWS",
            tag.key
        ))),
        None => Ok(()),
    }
}

fn check_tag_set(tags: &[Tag], max: usize, what: &str) -> Result<(), S3Error> {
    if tags.len() > max {
        return Err(S3Error::InvalidInput(format!(
            "{} tags given; {what} has at most {max}",
            tags.len()
        )));
    }
    for (i, tag) in tags.iter().enumerate() {
        if tag.key.is_empty() || tag.key.chars().count() > 128 || tag.value.chars().count() > 256 {
            return Err(S3Error::InvalidInput(format!(
                "tag {:?}: keys are 1-128 characters, values at most 256",
                tag.key
            )));
        }
        if tags[..i].iter().any(|other| other.key == tag.key) {
            return Err(S3Error::InvalidInput(format!(
                "tag key {:?} is given twice",
                tag.key
            )));
        }
    }
    Ok(())
}

/// A listing request, checked.
pub(super) fn list_request(request: ListObjectsRequest) -> Result<ListRequest, S3Error> {
    let bucket = BucketName::new(request.bucket)?;
    check_length("a prefix", request.prefix.as_deref(), MAX_KEY_BYTES)?;
    check_length("a delimiter", request.delimiter.as_deref(), MAX_KEY_BYTES)?;
    check_length("start-after", request.start_after.as_deref(), MAX_KEY_BYTES)?;
    check_length(
        "a continuation token",
        request.continuation_token.as_deref(),
        MAX_TOKEN_BYTES,
    )?;
    Ok(ListRequest {
        bucket,
        prefix: request.prefix,
        delimiter: request.delimiter,
        max_keys: request.max_keys,
        continuation_token: request.continuation_token,
        start_after: request.start_after,
    })
}

/// A request for a page of versions, checked as a listing is.
pub(super) fn list_versions_request(
    request: ListVersionsRequest,
) -> Result<VersionsRequest, S3Error> {
    let listing = list_request(ListObjectsRequest {
        bucket: request.bucket,
        prefix: request.prefix,
        delimiter: request.delimiter,
        max_keys: request.max_keys,
        continuation_token: None,
        start_after: None,
    })?;
    check_length("a key marker", request.key_marker.as_deref(), MAX_KEY_BYTES)?;
    let version_id_marker = request
        .version_id_marker
        .map(|marker| check_version_id(&marker).map(|()| marker))
        .transpose()?;
    if version_id_marker.is_some() && request.key_marker.is_none() {
        // S3: "A version-id marker cannot be specified without a key marker."
        return Err(S3Error::InvalidInput(
            "a version-id marker needs a key marker".into(),
        ));
    }
    Ok(VersionsRequest {
        listing,
        key_marker: request.key_marker,
        version_id_marker,
    })
}

/// Refuses a version id no S3 version id looks like, on every backend alike: empty,
/// longer than S3's 1024 bytes, or with a character outside the URL-safe base64 and
/// punctuation S3's ids are made of (the S3 User Guide's examples, such as
/// `3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nrjfkd` in "How S3 Versioning
/// works", and `null`). S3 answers such ids `400 InvalidArgument`, "Invalid version id
/// specified"; a well-formed id that names no version of the key is `404 NoSuchVersion`.
pub(super) fn check_version_id(version_id: &str) -> Result<(), S3Error> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"._-+/=".contains(&b);
    if version_id.is_empty()
        || version_id.len() > MAX_VERSION_ID_BYTES
        || !version_id.bytes().all(allowed)
    {
        return Err(S3Error::InvalidInput(
            "invalid version id: S3 version ids are 1-1024 letters, digits and '._-+/='".into(),
        ));
    }
    Ok(())
}

/// A batch of keys to delete, checked: at most as many as S3 takes, each a key.
pub(super) fn delete_batch(keys: Vec<String>) -> Result<Vec<ObjectKey>, S3Error> {
    if keys.len() > MAX_DELETE_KEYS {
        return Err(S3Error::InvalidInput(format!(
            "{} keys given; delete-objects takes at most {MAX_DELETE_KEYS}",
            keys.len()
        )));
    }
    keys.into_iter().map(ObjectKey::new).collect()
}

/// What a dry run answers for a mutation it did not execute.
pub(super) fn planned_put(size: u64) -> PutResult {
    PutResult {
        etag: "\"dry-run\"".to_owned(),
        size,
    }
}
