//! What an S3 implementation must provide to serve plugins. The local backend and (later)
//! the AWS backend implement [`Backend`]; the capability layer above them does scope checks
//! and resource bookkeeping, so a backend only talks to its store.
//!
//! The request and result records are the WIT types themselves: a backend answers in the
//! contract's vocabulary and nothing needs translating twice.

use std::collections::BTreeMap;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncRead;
use tokio::sync::{mpsc, oneshot};

use super::budget::Lease;
use crate::aws::AwsError;
use crate::aws::stats::CallStats;
use crate::bindings::s3::{
    Bucket, ByteRange, DeleteResult, ListObjectsPage, ListObjectsRequest, ObjectMeta, PutOptions,
    PutResult, Tag,
};
use crate::bindings::{AccessDenied, Account, DeniedBy, S3Error};

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

/// A multipart upload that could not be aborted: it holds storage (and is billed) until
/// someone aborts it or a lifecycle rule (`AbortIncompleteMultipartUpload`) does.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OrphanedUpload {
    pub account: String,
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    /// Why the abort failed.
    pub reason: String,
}

/// An S3 implementation, shared by every invocation of a run.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Obtains what serving `account` needs before a plugin runs against it (on AWS:
    /// assumed-role credentials), so that a failure is the account's error up front.
    async fn prepare_account(&self, _account: &Account) -> Result<(), AwsError> {
        Ok(())
    }

    /// AssumeRole calls made so far, per account id; empty where there are none.
    fn assume_role_calls(&self) -> BTreeMap<String, u64> {
        BTreeMap::new()
    }

    /// Retries, throttling, refreshes and resumes so far, per account id.
    fn call_stats(&self) -> BTreeMap<String, CallStats> {
        BTreeMap::new()
    }

    /// Multipart uploads left open because their abort was refused.
    fn orphaned_uploads(&self) -> Vec<OrphanedUpload> {
        Vec::new()
    }

    async fn list_buckets(&self, account: &Account) -> Result<Vec<Bucket>, S3Error>;
    async fn list_objects(
        &self,
        account: &Account,
        request: ListObjectsRequest,
    ) -> Result<ListObjectsPage, S3Error>;
    async fn head_object(
        &self,
        account: &Account,
        bucket: &str,
        key: &str,
    ) -> Result<ObjectMeta, S3Error>;
    async fn get_object(
        &self,
        account: &Account,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectStream, S3Error>;
    /// Stores the bytes of `body` once it is committed; an uncommitted body must leave
    /// nothing behind (no object, no partial object, no pending multipart upload).
    async fn put_object(
        &self,
        account: &Account,
        bucket: &str,
        key: &str,
        options: PutOptions,
        body: PutBody,
    ) -> Result<PutResult, S3Error>;
    async fn delete_object(
        &self,
        account: &Account,
        bucket: &str,
        key: &str,
    ) -> Result<(), S3Error>;
    async fn delete_objects(
        &self,
        account: &Account,
        bucket: &str,
        keys: Vec<String>,
    ) -> Result<DeleteResult, S3Error>;
    /// Copies `source`, which the caller has just read as `source_meta`: the copy is of
    /// that version (or fails), so the budget spent on its size is the budget used.
    async fn copy_object(
        &self,
        account: &Account,
        source: (&str, &str),
        source_meta: &ObjectMeta,
        target: (&str, &str),
    ) -> Result<PutResult, S3Error>;
    async fn get_object_tagging(
        &self,
        account: &Account,
        bucket: &str,
        key: &str,
    ) -> Result<Vec<Tag>, S3Error>;
    async fn put_object_tagging(
        &self,
        account: &Account,
        bucket: &str,
        key: &str,
        tags: Vec<Tag>,
    ) -> Result<(), S3Error>;
}

/// The body of a put as the backend sees it: chunks as the guest writes them, then a
/// verdict — committed by `upload.finish`, or abandoned because the upload was dropped,
/// the invocation ended, or the guest trapped.
pub struct PutBody {
    chunks: mpsc::Receiver<Chunk>,
    commit: oneshot::Receiver<()>,
}

/// Bytes the guest wrote, with the share of the invocation's host buffer they hold: keep
/// the lease until the bytes have left the host (sent, written to disk, or dropped).
pub struct Chunk {
    pub bytes: Bytes,
    pub lease: Lease,
}

impl PutBody {
    pub(crate) fn new(chunks: mpsc::Receiver<Chunk>, commit: oneshot::Receiver<()>) -> Self {
        PutBody { chunks, commit }
    }

    /// The next chunk, or `None` once the guest's stream is closed.
    pub async fn next_chunk(&mut self) -> Option<Chunk> {
        self.chunks.recv().await
    }

    /// Waits for the verdict after the last chunk: true only if the guest finished the
    /// upload.
    pub async fn committed(self) -> bool {
        self.commit.await.is_ok()
    }
}

/// The error a backend returns for a put whose upload was abandoned.
pub fn aborted() -> S3Error {
    S3Error::Other("the upload was aborted before it finished; nothing was stored".into())
}

/// The longest key S3 takes, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// Checks a key's length as S3 does, without repeating a key that may be megabytes long.
pub fn check_key(key: &str) -> Result<(), S3Error> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(S3Error::InvalidInput(format!(
            "a key is 1 to {MAX_KEY_BYTES} bytes long; this one has {} bytes",
            key.len()
        )));
    }
    Ok(())
}

/// Checks S3's bucket naming rules, so both backends refuse the same names.
pub fn check_bucket_name(bucket: &str) -> Result<(), S3Error> {
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && bucket.as_bytes()[0].is_ascii_alphanumeric()
        && bucket.as_bytes()[bucket.len() - 1].is_ascii_alphanumeric()
        && !bucket.contains("..");
    if valid {
        Ok(())
    } else if bucket.len() > 63 {
        Err(S3Error::InvalidInput(format!(
            "a bucket name of {} bytes is not valid (3-63 lowercase letters, digits, '.', '-')",
            bucket.len()
        )))
    } else {
        Err(S3Error::InvalidInput(format!(
            "{bucket:?} is not a valid bucket name (3-63 lowercase letters, digits, '.', '-')"
        )))
    }
}

/// Checks the tag-set rules S3 applies, so both backends refuse the same tag sets.
pub fn check_tags(tags: &[Tag]) -> Result<(), S3Error> {
    if tags.len() > 10 {
        return Err(S3Error::InvalidInput(format!(
            "{} tags given; an object has at most 10",
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

/// The most keys one `delete-objects` call takes, as on S3.
const MAX_DELETE_KEYS: usize = 1000;

/// The most keys (plus common prefixes) one listing page holds, as on S3.
const MAX_LIST_KEYS: u32 = 1000;

/// How many entries a listing page may hold, as S3 bounds `max-keys`; `None` when the
/// request asks for none (the answer is an empty, final page).
pub fn page_size(request: &ListObjectsRequest) -> Option<u32> {
    let size = request.max_keys.unwrap_or(MAX_LIST_KEYS).min(MAX_LIST_KEYS);
    (size > 0).then_some(size)
}

/// A page with nothing in it and nothing after it.
pub fn empty_page() -> ListObjectsPage {
    ListObjectsPage {
        objects: Vec::new(),
        common_prefixes: Vec::new(),
        next_continuation_token: None,
    }
}

/// Refuses a batch delete larger than S3 takes.
pub fn check_delete_batch(keys: &[String]) -> Result<(), S3Error> {
    if keys.len() > MAX_DELETE_KEYS {
        return Err(S3Error::InvalidInput(format!(
            "{} keys given; delete-objects takes at most {MAX_DELETE_KEYS}",
            keys.len()
        )));
    }
    Ok(())
}

/// Access denied by the xacct host itself.
pub fn denied_by_xacct(message: String) -> S3Error {
    S3Error::AccessDenied(AccessDenied {
        by: DeniedBy::Xacct,
        message,
    })
}
