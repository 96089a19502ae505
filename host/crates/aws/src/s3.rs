//! The AWS backend: every S3 operation with `aws-sdk-s3`, on the clients of the account's
//! assumed-role session ([`crate::session`]). A run resolves its session in each account
//! once — the session policy built once — and every call of the run reuses it.
//!
//! Every bucket-addressed request goes through the bucket's own region: the session
//! remembers where each bucket is, and a request S3 redirects to another region
//! (`301 PermanentRedirect`, `400 AuthorizationHeaderMalformed`) is sent once more there
//! ([`AwsBackend::on_bucket`]); plugins do nothing different.
//!
//! AWS's faults cost time, not accounts: the SDK retries (in standard mode by default,
//! adaptive if configured, within `max_attempts`); credentials AWS declares expired are assumed again and the call sent
//! once more; a body whose connection breaks is read on from the next byte
//! ([`resume`]).
//!
//! Bodies stream both ways: a get hands the SDK's byte stream to the guest as it arrives;
//! a put sends what the guest writes ([`put`]); a copy past CopyObject's 5 GB is a
//! multipart copy ([`copy`]). Errors are mapped to the WIT variant from the
//! service's error code and HTTP status only; no SDK text reaches the guest.

mod config;
mod copy;
mod fields;
mod owner;
mod put;
mod resume;
mod send;
mod versions;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use xacct_core::bindings::s3::{
    Bucket, BucketConfig, BucketSetting, ByteRange, DeleteResult, ListObjectsPage,
    ListVersionsPage, ObjectMeta, ObjectSummary, PublicAccessBlock, PutOptions, PutResult, Tag,
};
use xacct_core::bindings::{Account, S3Error};
use xacct_core::capability::s3::backend::{
    Backend, ListRequest, ObjectStream, SettingChange, VersionsRequest, empty_page,
};
use xacct_core::capability::s3::names::{BucketName, ObjectKey};
use xacct_core::capability::s3::upload::PutBody;
use xacct_core::provider::OrphanedUpload;

use crate::error::{AwsError, Service, classify};
use crate::session::{Session, SessionSpec, Sessions};
use copy::{Copy, copy_source};
use fields::{millis, size};
use owner::OwnedBuckets;
use put::{Target, put};
use resume::ResumingBody;
use send::{build_error, on_bucket, tagging};

/// What an open GetObject body may hold on the host before the guest reads it: the HTTP
/// client's read buffer (hyper's grows to about 400 KiB) and the stream's decoding.
const CONNECTION_BUFFER_BYTES: u64 = 512 << 10;

/// S3 through each account's assumed role, for one plugin's run.
pub struct AwsBackend {
    sessions: Arc<Sessions>,
    spec: SessionSpec,
    /// The run's session in each account it has reached: looked up once per account.
    by_account: RwLock<HashMap<String, Arc<Session>>>,
    /// Multipart uploads whose abort S3 refused: the operator must clean them up.
    orphans: Mutex<Vec<OrphanedUpload>>,
    /// What each account of the run owns, for the host's ownership check.
    owned: OwnedBuckets,
}

impl AwsBackend {
    pub fn new(sessions: Arc<Sessions>, spec: SessionSpec) -> Self {
        AwsBackend {
            sessions,
            spec,
            by_account: RwLock::new(HashMap::new()),
            orphans: Mutex::new(Vec::new()),
            owned: OwnedBuckets::default(),
        }
    }

    /// The run's session in `account_id`, resolved (its session policy built) on first
    /// use; every later call of the run finds it here.
    pub fn resolve(&self, account_id: &str) -> Result<Arc<Session>, AwsError> {
        if let Some(session) = self
            .by_account
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(account_id)
        {
            return Ok(session.clone());
        }
        let session = self.sessions.session(account_id, &self.spec)?;
        let mut by_account = self.by_account.write().unwrap_or_else(|e| e.into_inner());
        Ok(by_account
            .entry(account_id.to_owned())
            .or_insert(session)
            .clone())
    }

    /// [`AwsBackend::resolve`], for a plugin's call that addresses no bucket: a failure
    /// in the plugin's words.
    fn session(&self, account: &Account) -> Result<Arc<Session>, S3Error> {
        self.resolve(&account.id).map_err(|err| err.for_guest())
    }

    /// The session for a plugin's call on `buckets`, once the host has checked that the
    /// account owns each of them ([`owner`]): every bucket-addressed call starts here.
    async fn session_owning(
        &self,
        account: &Account,
        buckets: &[&str],
    ) -> Result<Arc<Session>, S3Error> {
        let session = self.session(account)?;
        self.owned.check(&session, buckets).await?;
        Ok(session)
    }

    /// Remembers a multipart upload left open, for the report.
    fn keep_orphan(&self, orphan: Option<OrphanedUpload>) {
        if let Some(orphan) = orphan {
            self.orphans
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(orphan);
        }
    }

    /// Multipart uploads left open because S3 refused their abort.
    pub fn orphaned_uploads(&self) -> Vec<OrphanedUpload> {
        self.orphans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// HeadObject, of one version when `version_id` names one.
    async fn head(
        &self,
        account: &Account,
        (bucket, key): (&BucketName, &ObjectKey),
        version_id: Option<&str>,
    ) -> Result<ObjectMeta, S3Error> {
        let (bucket, key) = (bucket.as_str(), key.as_str());
        let what = format!("HeadObject {bucket}/{key}");
        let session = self.session_owning(account, &[bucket]).await?;
        let output = on_bucket(&session, Some(bucket), &what, |s3| {
            s3.head_object()
                .bucket(bucket)
                .key(key)
                .set_version_id(version_id.map(str::to_owned))
                .send()
        })
        .await?;
        Ok(ObjectMeta {
            size: size(output.content_length()),
            etag: output.e_tag().unwrap_or_default().to_owned(),
            content_type: output.content_type().map(str::to_owned),
            last_modified: millis(output.last_modified()),
            metadata: sorted(output.metadata()),
        })
    }

    /// GetObject, of one version when `version_id` names one: the body streams as it
    /// arrives, resumed from that version if the connection breaks.
    async fn get(
        &self,
        account: &Account,
        (bucket, key): (&BucketName, &ObjectKey),
        version_id: Option<&str>,
        range: Option<ByteRange>,
    ) -> Result<ObjectStream, S3Error> {
        let (bucket, key) = (bucket.as_str(), key.as_str());
        let what = format!("GetObject {bucket}/{key}");
        let header = range.map(|r| match r.last {
            Some(last) => format!("bytes={}-{last}", r.first),
            None => format!("bytes={}-", r.first),
        });
        let session = self.session_owning(account, &[bucket]).await?;
        let output = on_bucket(&session, Some(bucket), &what, |s3| {
            s3.get_object()
                .bucket(bucket)
                .key(key)
                .set_version_id(version_id.map(str::to_owned))
                .set_range(header.clone())
                .send()
        })
        .await?;
        let content_length = size(output.content_length());
        let meta = ObjectMeta {
            size: total_from_content_range(output.content_range()).unwrap_or(content_length),
            etag: output.e_tag().unwrap_or_default().to_owned(),
            content_type: output.content_type().map(str::to_owned),
            last_modified: millis(output.last_modified()),
            metadata: sorted(output.metadata()),
        };
        let first = range.map_or(0, |r| r.first);
        let body = ResumingBody::new(
            Box::pin(output.body.into_async_read()),
            session,
            (bucket, key),
            &meta.etag,
            first,
            first + content_length,
        )
        .of_version(version_id);
        Ok(ObjectStream {
            meta,
            content_length,
            body: Box::pin(body),
            buffer_bytes: CONNECTION_BUFFER_BYTES,
        })
    }
}

fn sorted(metadata: Option<&HashMap<String, String>>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = metadata
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    pairs.sort();
    pairs
}

/// The total size in a `Content-Range: bytes FIRST-LAST/TOTAL` header.
fn total_from_content_range(range: Option<&str>) -> Option<u64> {
    range?.rsplit('/').next()?.parse().ok()
}

#[async_trait]
impl Backend for AwsBackend {
    async fn list_buckets(&self, account: &Account) -> Result<Vec<Bucket>, S3Error> {
        self.owned.list(&*self.session(account)?).await
    }

    async fn list_objects(
        &self,
        account: &Account,
        request: &ListRequest,
    ) -> Result<ListObjectsPage, S3Error> {
        let bucket = request.bucket.as_str();
        let what = format!("ListObjectsV2 on {bucket:?}");
        let Some(max_keys) = request.page_size() else {
            return Ok(empty_page());
        };
        let session = self.session_owning(account, &[bucket]).await?;
        let output = on_bucket(&session, Some(bucket), &what, |s3| {
            s3.list_objects_v2()
                .bucket(bucket)
                .set_prefix(request.prefix.clone())
                .set_delimiter(request.delimiter().map(str::to_owned))
                .max_keys(max_keys as i32)
                .set_continuation_token(request.continuation_token.clone())
                .set_start_after(request.start_after.clone())
                .send()
        })
        .await?;
        Ok(ListObjectsPage {
            objects: output
                .contents()
                .iter()
                .filter_map(|object| {
                    Some(ObjectSummary {
                        key: object.key()?.to_owned(),
                        size: size(object.size()),
                        etag: object.e_tag().unwrap_or_default().to_owned(),
                        last_modified: millis(object.last_modified()),
                    })
                })
                .collect(),
            common_prefixes: output
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned))
                .collect(),
            next_continuation_token: output
                .is_truncated()
                .unwrap_or(false)
                .then(|| output.next_continuation_token().map(str::to_owned))
                .flatten(),
        })
    }

    async fn head_object(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<ObjectMeta, S3Error> {
        self.head(account, (bucket, key), None).await
    }

    async fn get_object(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        range: Option<ByteRange>,
    ) -> Result<ObjectStream, S3Error> {
        self.get(account, (bucket, key), None, range).await
    }

    async fn put_object(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        options: PutOptions,
        body: PutBody,
    ) -> Result<PutResult, S3Error> {
        let session = self.session_owning(account, &[bucket.as_str()]).await?;
        let target = Target {
            session: &session,
            account: &account.id,
            bucket,
            key,
        };
        let (result, orphan) = put(target, options, body).await;
        self.keep_orphan(orphan);
        result
    }

    async fn delete_object(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<(), S3Error> {
        let (bucket, key) = (bucket.as_str(), key.as_str());
        let what = format!("DeleteObject {bucket}/{key}");
        let session = self.session_owning(account, &[bucket]).await?;
        on_bucket(&session, Some(bucket), &what, |s3| {
            s3.delete_object().bucket(bucket).key(key).send()
        })
        .await?;
        Ok(())
    }

    async fn delete_objects(
        &self,
        account: &Account,
        bucket: &BucketName,
        keys: Vec<ObjectKey>,
    ) -> Result<DeleteResult, S3Error> {
        let bucket = bucket.as_str();
        let mut result = DeleteResult {
            deleted: Vec::new(),
            failed: Vec::new(),
        };
        let mut identifiers = Vec::new();
        for key in keys {
            let key = key.into_string();
            match ObjectIdentifier::builder().key(&key).build() {
                Ok(identifier) => identifiers.push(identifier),
                Err(_) => result.failed.push((key, build_error("DeleteObjects"))),
            }
        }
        if identifiers.is_empty() {
            return Ok(result);
        }
        let what = format!("DeleteObjects on {bucket:?}");
        let delete = Delete::builder()
            .set_objects(Some(identifiers))
            .quiet(false)
            .build()
            .map_err(|_| build_error(&what))?;
        let session = self.session_owning(account, &[bucket]).await?;
        let output = on_bucket(&session, Some(bucket), &what, |s3| {
            s3.delete_objects()
                .bucket(bucket)
                .delete(delete.clone())
                .send()
        })
        .await?;
        result.deleted.extend(
            output
                .deleted()
                .iter()
                .filter_map(|d| d.key().map(str::to_owned)),
        );
        for error in output.errors() {
            let key = error.key().unwrap_or_default().to_owned();
            let what = format!("DeleteObjects {bucket}/{key}");
            result
                .failed
                .push((key, classify(Service::S3, error.code(), None, &what)));
        }
        Ok(result)
    }

    async fn copy_object(
        &self,
        account: &Account,
        (source_bucket, source_key): (&BucketName, &ObjectKey),
        source: &ObjectMeta,
        (target_bucket, target_key): (&BucketName, &ObjectKey),
    ) -> Result<PutResult, S3Error> {
        let (source_bucket, source_key) = (source_bucket.as_str(), source_key.as_str());
        let (target_bucket, target_key) = (target_bucket.as_str(), target_key.as_str());
        let what =
            format!("CopyObject {source_bucket}/{source_key} to {target_bucket}/{target_key}");
        let session = self
            .session_owning(account, &[source_bucket, target_bucket])
            .await?;
        if source.size > self.sessions.multipart_copy_threshold() {
            let copy = Copy {
                session: &session,
                what: &what,
                source: (source_bucket, source_key),
                source_meta: source,
                target: (target_bucket, target_key),
            };
            let (outcome, orphan) = copy
                .in_parts(self.sessions.multipart_copy_threshold())
                .await;
            self.keep_orphan(orphan);
            return outcome;
        }
        // A copy is sent to the target's region; the source may be in any region.
        let output = on_bucket(&session, Some(target_bucket), &what, |s3| {
            s3.copy_object()
                .copy_source(copy_source(source_bucket, source_key))
                // The version whose size was budgeted, or nothing (412 if it changed).
                .copy_source_if_match(&source.etag)
                .bucket(target_bucket)
                .key(target_key)
                // Tags stay behind, as on the local backend: copying them would need
                // tagging permissions a `read` + `write` grant does not give.
                .tagging_directive(aws_sdk_s3::types::TaggingDirective::Replace)
                .send()
        })
        .await?;
        let etag = output
            .copy_object_result()
            .and_then(|r| r.e_tag())
            .unwrap_or_default()
            .to_owned();
        Ok(PutResult {
            etag,
            size: source.size,
        })
    }

    async fn get_object_tagging(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<Vec<Tag>, S3Error> {
        let (bucket, key) = (bucket.as_str(), key.as_str());
        let what = format!("GetObjectTagging {bucket}/{key}");
        let session = self.session_owning(account, &[bucket]).await?;
        let output = on_bucket(&session, Some(bucket), &what, |s3| {
            s3.get_object_tagging().bucket(bucket).key(key).send()
        })
        .await?;
        Ok(output
            .tag_set()
            .iter()
            .map(|t| Tag {
                key: t.key().to_owned(),
                value: t.value().to_owned(),
            })
            .collect())
    }

    async fn put_object_tagging(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        tags: Vec<Tag>,
    ) -> Result<(), S3Error> {
        let (bucket, key) = (bucket.as_str(), key.as_str());
        let session = self.session_owning(account, &[bucket]).await?;
        if tags.is_empty() {
            // The same outcome as an empty tag set, which some S3-compatible servers
            // cannot parse.
            let what = format!("DeleteObjectTagging {bucket}/{key}");
            on_bucket(&session, Some(bucket), &what, |s3| {
                s3.delete_object_tagging().bucket(bucket).key(key).send()
            })
            .await?;
            return Ok(());
        }
        let what = format!("PutObjectTagging {bucket}/{key}");
        let tagging = tagging(&tags, &what)?;
        on_bucket(&session, Some(bucket), &what, |s3| {
            s3.put_object_tagging()
                .bucket(bucket)
                .key(key)
                .tagging(tagging.clone())
                .send()
        })
        .await?;
        Ok(())
    }

    async fn get_bucket_setting(
        &self,
        account: &Account,
        bucket: &BucketName,
        setting: BucketSetting,
    ) -> Result<BucketConfig, S3Error> {
        let session = self.session_owning(account, &[bucket.as_str()]).await?;
        config::bucket_setting(&session, bucket.as_str(), setting).await
    }

    async fn get_account_public_access_block(
        &self,
        account: &Account,
    ) -> Result<Option<PublicAccessBlock>, S3Error> {
        let session = self.session(account)?;
        crate::s3control::account_public_access_block(&session).await
    }

    async fn put_bucket_setting(
        &self,
        account: &Account,
        bucket: &BucketName,
        change: &SettingChange,
    ) -> Result<(), S3Error> {
        let session = self.session_owning(account, &[bucket.as_str()]).await?;
        config::put_bucket_setting(&session, bucket.as_str(), change).await
    }

    async fn list_object_versions(
        &self,
        account: &Account,
        request: &VersionsRequest,
    ) -> Result<ListVersionsPage, S3Error> {
        let session = self
            .session_owning(account, &[request.listing.bucket.as_str()])
            .await?;
        versions::list(&session, request).await
    }

    async fn head_object_version(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        version_id: &str,
    ) -> Result<ObjectMeta, S3Error> {
        self.head(account, (bucket, key), Some(version_id)).await
    }

    async fn get_object_version(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        version_id: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectStream, S3Error> {
        self.get(account, (bucket, key), Some(version_id), range)
            .await
    }

    async fn delete_object_version(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        version_id: &str,
    ) -> Result<(), S3Error> {
        let session = self.session_owning(account, &[bucket.as_str()]).await?;
        versions::delete(&session, (bucket, key), version_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_are_url_encoded_keeping_slashes() {
        assert_eq!(copy_source("b", "a/b c+d%é"), "b/a/b%20c%2Bd%25%C3%A9");
    }

    #[test]
    fn content_range_gives_the_total_size() {
        assert_eq!(total_from_content_range(Some("bytes 2-4/10")), Some(10));
        assert_eq!(total_from_content_range(None), None);
    }
}
