//! What an S3 implementation must provide to serve plugins: the S3 operations, nothing
//! else. The local backend (`local`, in this crate) and the AWS backend (`xacct-aws`)
//! implement [`Backend`]; the gate above them checks requests, grants and budgets, so a
//! backend only talks to its store. What else a provider adds to a run (credentials,
//! counts, discovery) goes through [`crate::provider`].
//!
//! The request and result records are the WIT types themselves, and bucket names and
//! keys arrive checked ([`BucketName`], [`ObjectKey`]): a backend answers in the
//! contract's vocabulary and nothing needs translating or checking twice.

use std::pin::Pin;

use async_trait::async_trait;
use tokio::io::AsyncRead;

use super::names::{BucketName, ObjectKey};
use super::upload::PutBody;
use crate::bindings::s3::{
    Bucket, BucketConfig, BucketSetting, ByteRange, DefaultEncryption, DeleteResult,
    ListObjectsPage, ListVersionsPage, ObjectMeta, PublicAccessBlock, PutOptions, PutResult, Tag,
    VersioningStatus,
};
use crate::bindings::{Account, S3Error};

/// An object being read: its metadata and a stream of its bytes.
pub struct ObjectStream {
    pub meta: ObjectMeta,
    /// How many bytes `body` yields.
    pub content_length: u64,
    pub body: Pin<Box<dyn AsyncRead + Send>>,
    /// The most host memory `body` may hold while the guest has not read it (read
    /// buffers, a connection's receive buffer): charged to the invocation while the
    /// stream is open.
    pub buffer_bytes: u64,
}

/// A ListObjectsV2 request whose bucket and lengths have been checked.
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub bucket: BucketName,
    pub prefix: Option<String>,
    pub delimiter: Option<String>,
    pub max_keys: Option<u32>,
    pub continuation_token: Option<String>,
    pub start_after: Option<String>,
}

/// A ListObjectVersions request whose bucket and lengths have been checked: a listing
/// (its continuation token and start-after unused) and where it resumes.
#[derive(Debug, Clone)]
pub struct VersionsRequest {
    pub listing: ListRequest,
    pub key_marker: Option<String>,
    /// Only with `key_marker`.
    pub version_id_marker: Option<String>,
}

/// A page of versions with nothing in it and nothing after it.
pub fn empty_versions_page() -> ListVersionsPage {
    ListVersionsPage {
        versions: Vec::new(),
        common_prefixes: Vec::new(),
        next_key_marker: None,
        next_version_id_marker: None,
    }
}

/// The most keys (plus common prefixes) one listing page holds, as on S3.
const MAX_LIST_KEYS: u32 = 1000;

impl ListRequest {
    /// A listing of all of `bucket`, a page at a time.
    pub fn of(bucket: BucketName) -> ListRequest {
        ListRequest {
            bucket,
            prefix: None,
            delimiter: None,
            max_keys: None,
            continuation_token: None,
            start_after: None,
        }
    }

    /// How many entries a page may hold, as S3 bounds `max-keys`; `None` when the
    /// request asks for none (the answer is an empty, final page).
    pub fn page_size(&self) -> Option<u32> {
        let size = self.max_keys.unwrap_or(MAX_LIST_KEYS).min(MAX_LIST_KEYS);
        (size > 0).then_some(size)
    }

    /// The delimiter, unless it is empty (which S3 ignores).
    pub fn delimiter(&self) -> Option<&str> {
        self.delimiter.as_deref().filter(|d| !d.is_empty())
    }
}

/// A configuration with no setting in it: what each read of one setting fills a field
/// of.
pub fn empty_config() -> BucketConfig {
    BucketConfig {
        region: None,
        versioning: None,
        encryption: None,
        public_access_block: None,
        policy_is_public: None,
        policy: None,
        ownership: None,
        lifecycle: None,
        logging: None,
        tags: None,
        acl: None,
    }
}

/// A page with nothing in it and nothing after it.
pub fn empty_page() -> ListObjectsPage {
    ListObjectsPage {
        objects: Vec::new(),
        common_prefixes: Vec::new(),
        next_continuation_token: None,
    }
}

/// An S3 implementation, shared by every invocation of a run.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn list_buckets(&self, account: &Account) -> Result<Vec<Bucket>, S3Error>;
    async fn list_objects(
        &self,
        account: &Account,
        request: &ListRequest,
    ) -> Result<ListObjectsPage, S3Error>;
    async fn head_object(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<ObjectMeta, S3Error>;
    async fn get_object(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        range: Option<ByteRange>,
    ) -> Result<ObjectStream, S3Error>;
    /// Stores the bytes of `body` once it is committed; an uncommitted body must leave
    /// nothing behind (no object, no partial object, no pending multipart upload).
    async fn put_object(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        options: PutOptions,
        body: PutBody,
    ) -> Result<PutResult, S3Error>;
    async fn delete_object(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<(), S3Error>;
    /// At most 1,000 keys (checked before).
    async fn delete_objects(
        &self,
        account: &Account,
        bucket: &BucketName,
        keys: Vec<ObjectKey>,
    ) -> Result<DeleteResult, S3Error>;
    /// Copies `source`, which the caller has just read as `source_meta`: the copy is of
    /// that version (or fails), so the budget spent on its size is the budget used.
    async fn copy_object(
        &self,
        account: &Account,
        source: (&BucketName, &ObjectKey),
        source_meta: &ObjectMeta,
        target: (&BucketName, &ObjectKey),
    ) -> Result<PutResult, S3Error>;
    async fn get_object_tagging(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<Vec<Tag>, S3Error>;
    /// At most 10 tags, each key once (checked before).
    async fn put_object_tagging(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        tags: Vec<Tag>,
    ) -> Result<(), S3Error>;
    /// One setting of the bucket, in its field of an otherwise empty config: none where
    /// the bucket has no such configuration (S3's "not configured" answers).
    async fn get_bucket_setting(
        &self,
        account: &Account,
        bucket: &BucketName,
        setting: BucketSetting,
    ) -> Result<BucketConfig, S3Error>;
    /// The account's own public access block; none if it has none.
    async fn get_account_public_access_block(
        &self,
        account: &Account,
    ) -> Result<Option<PublicAccessBlock>, S3Error>;
    /// One page of the bucket's versions and delete markers, each key's newest first.
    async fn list_object_versions(
        &self,
        account: &Account,
        request: &VersionsRequest,
    ) -> Result<ListVersionsPage, S3Error>;
    /// One version (checked by the caller to look like a version id): not-found if it is
    /// not one of the key's, invalid-input if it is a delete marker.
    async fn head_object_version(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        version_id: &str,
    ) -> Result<ObjectMeta, S3Error>;
    async fn get_object_version(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        version_id: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectStream, S3Error>;
    /// Deletes one version or delete marker for good; one that is not there is deleted
    /// already, as on S3.
    async fn delete_object_version(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        version_id: &str,
    ) -> Result<(), S3Error>;
    /// Changes one setting of the bucket (the change checked before it gets here).
    async fn put_bucket_setting(
        &self,
        account: &Account,
        bucket: &BucketName,
        change: &SettingChange,
    ) -> Result<(), S3Error>;
}

/// A change of one bucket setting, checked (tag set, KMS key, grant) before a backend
/// gets it.
#[derive(Debug, Clone)]
pub enum SettingChange {
    PublicAccessBlock(PublicAccessBlock),
    Encryption(DefaultEncryption),
    Versioning(VersioningStatus),
    /// An empty set removes the bucket's tags.
    Tags(Vec<Tag>),
}

impl SettingChange {
    /// The setting it changes.
    pub fn setting(&self) -> BucketSetting {
        match self {
            SettingChange::PublicAccessBlock(_) => BucketSetting::PublicAccessBlock,
            SettingChange::Encryption(_) => BucketSetting::Encryption,
            SettingChange::Versioning(_) => BucketSetting::Versioning,
            SettingChange::Tags(_) => BucketSetting::Tags,
        }
    }
}
