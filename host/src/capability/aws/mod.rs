//! The AWS backend: every S3 operation with `aws-sdk-s3`, on the clients of the account's
//! assumed-role session ([`crate::aws::session`]).
//!
//! Every bucket-addressed request goes through the bucket's own region: the session
//! remembers where each bucket is, and a request S3 redirects to another region
//! (`301 PermanentRedirect`, `400 AuthorizationHeaderMalformed`) is sent once more there
//! ([`AwsBackend::on_bucket`]); plugins do nothing different.
//!
//! AWS's faults cost time, not accounts: the SDK retries (adaptive by default, within
//! `max_attempts`); credentials AWS declares expired are assumed again and the call sent
//! once more; a body whose connection breaks is read on from the next byte
//! ([`resume`]).
//!
//! Bodies stream both ways: a get hands the SDK's byte stream to the guest as it arrives;
//! a put sends what the guest writes, as one PutObject when it is small and as a
//! multipart upload (8 MiB parts) otherwise, aborted on any failure so that no partial
//! object or orphaned upload remains. Errors are mapped to the WIT variant from the
//! service's error code and HTTP status only; no SDK text reaches the guest.

mod resume;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier, Tagging,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::date_time::DateTime;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use bytes::{Bytes, BytesMut};

use super::backend::OrphanedUpload;
use super::backend::{
    Backend, ObjectStream, PutBody, aborted, check_bucket_name, check_delete_batch, check_key,
    check_tags, empty_page, page_size,
};
use super::budget::Lease;
use crate::aws::error::{Service, classify, credentials_rejected, s3_error};
use crate::aws::region::redirected_to;
use crate::aws::stats::CallStats;
use crate::aws::{AwsError, Session, SessionSpec, Sessions};
use crate::bindings::s3::{
    Bucket, ByteRange, DeleteResult, ListObjectsPage, ListObjectsRequest, ObjectMeta,
    ObjectSummary, PutOptions, PutResult, Tag,
};
use crate::bindings::{Account, S3Error};
use resume::ResumingBody;

/// Bodies up to this size are one PutObject; larger ones are multipart uploads whose
/// parts start at this size (S3's minimum part is 5 MiB).
const PART_BYTES: usize = 8 << 20;

/// The size of the part after `parts` parts. S3 takes at most 10,000 parts; a part is
/// held in host memory until sent, within the invocation's host buffer (16 MiB by
/// default). So parts stay at 8 MiB for the first 5,000 (objects up to 39 GiB at the
/// default host buffer), then grow to 16 MiB (up to 102 GiB, needing a host buffer of
/// 20 MiB) and 64 MiB for the last thousand (up to 164 GiB, 68 MiB).
fn part_size(parts: usize) -> usize {
    match parts {
        0..5000 => PART_BYTES,
        5000..9000 => PART_BYTES * 2,
        _ => PART_BYTES * 8,
    }
}

/// What an open GetObject body may hold on the host before the guest reads it: the HTTP
/// client's read buffer (hyper's grows to about 400 KiB) and the stream's decoding.
const CONNECTION_BUFFER_BYTES: u64 = 512 << 10;

/// S3 through each account's assumed role, for one plugin.
pub struct AwsBackend {
    sessions: Arc<Sessions>,
    spec: SessionSpec,
    /// Multipart uploads whose abort S3 refused: the operator must clean them up.
    orphans: Mutex<Vec<OrphanedUpload>>,
}

impl AwsBackend {
    pub fn new(sessions: Arc<Sessions>, spec: SessionSpec) -> Self {
        AwsBackend {
            sessions,
            spec,
            orphans: Mutex::new(Vec::new()),
        }
    }

    fn session(&self, account: &Account) -> Result<Arc<Session>, S3Error> {
        self.sessions
            .session(&account.id, &self.spec)
            .map_err(|err| err.for_guest())
    }

    /// Sends a request on `bucket` (or on no bucket) through the client of the bucket's
    /// region. When S3 answers that the bucket is elsewhere, remembers where and sends it
    /// there; when it declares the credentials expired, assumes the role again and sends
    /// it once more.
    async fn on_bucket<T, E, F, Fut>(
        &self,
        account: &Account,
        bucket: Option<&str>,
        what: &str,
        send: F,
    ) -> Result<T, S3Error>
    where
        F: Fn(aws_sdk_s3::Client) -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let session = self.session(account)?;
        let (mut redirected, mut refreshed) = (false, false);
        loop {
            let started = Instant::now();
            let err = match send(session.s3(bucket)).await {
                Ok(output) => return Ok(output),
                Err(err) => err,
            };
            if let (Some(bucket), Some(region)) = (bucket, redirected_to(&err))
                && !redirected
                && session.bucket_region(bucket).as_ref() != Some(&region)
            {
                session.learn_bucket_region(bucket, &region);
                redirected = true;
            } else if credentials_rejected(&err) && !refreshed {
                session.credentials_rejected(started);
                refreshed = true;
            } else {
                return Err(s3_error(&err, what));
            }
        }
    }
}

fn millis(time: Option<&DateTime>) -> Option<i64> {
    time.and_then(|t| t.to_millis().ok())
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

fn size(bytes: Option<i64>) -> u64 {
    bytes.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

/// The total size in a `Content-Range: bytes FIRST-LAST/TOTAL` header.
fn total_from_content_range(range: Option<&str>) -> Option<u64> {
    range?.rsplit('/').next()?.parse().ok()
}

/// `CopySource` is `bucket/key` with the key URL-encoded (slashes kept).
fn copy_source(bucket: &str, key: &str) -> String {
    let mut encoded = String::with_capacity(bucket.len() + key.len() + 1);
    encoded.push_str(bucket);
    encoded.push('/');
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~/".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn build_error(what: &str) -> S3Error {
    S3Error::InvalidInput(format!("{what}: the request is incomplete"))
}

/// A multipart upload in progress.
struct Multipart {
    upload_id: String,
    parts: Vec<CompletedPart>,
}

#[async_trait]
impl Backend for AwsBackend {
    fn call_stats(&self) -> BTreeMap<String, CallStats> {
        self.sessions.call_stats()
    }

    fn orphaned_uploads(&self) -> Vec<OrphanedUpload> {
        self.orphans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn prepare_account(&self, account: &Account) -> Result<(), AwsError> {
        self.sessions
            .session(&account.id, &self.spec)?
            .ensure_credentials()
            .await
    }

    fn assume_role_calls(&self) -> std::collections::BTreeMap<String, u64> {
        self.sessions.assume_role_calls()
    }

    async fn list_buckets(&self, account: &Account) -> Result<Vec<Bucket>, S3Error> {
        let what = "ListBuckets";
        let session = self.session(account)?;
        let output = self
            .on_bucket(account, None, what, |s3| s3.list_buckets().send())
            .await?;
        let mut buckets: Vec<Bucket> = output
            .buckets()
            .iter()
            .filter_map(|b| {
                let name = b.name()?;
                // Where S3 says (it does on request), the region saves a redirect later.
                if let Some(region) = b.bucket_region() {
                    session.learn_bucket_region(name, region);
                }
                Some(Bucket {
                    name: name.to_owned(),
                    creation_date: millis(b.creation_date()),
                })
            })
            .collect();
        buckets.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(buckets)
    }

    async fn list_objects(
        &self,
        account: &Account,
        request: ListObjectsRequest,
    ) -> Result<ListObjectsPage, S3Error> {
        check_bucket_name(&request.bucket)?;
        let what = format!("ListObjectsV2 on {:?}", request.bucket);
        let Some(max_keys) = page_size(&request) else {
            return Ok(empty_page());
        };
        let output = self
            .on_bucket(account, Some(&request.bucket), &what, |s3| {
                s3.list_objects_v2()
                    .bucket(&request.bucket)
                    .set_prefix(request.prefix.clone())
                    .set_delimiter(request.delimiter.clone().filter(|d| !d.is_empty()))
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
        bucket: &str,
        key: &str,
    ) -> Result<ObjectMeta, S3Error> {
        check_bucket_name(bucket)?;
        check_key(key)?;
        let what = format!("HeadObject {bucket}/{key}");
        let output = self
            .on_bucket(account, Some(bucket), &what, |s3| {
                s3.head_object().bucket(bucket).key(key).send()
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

    async fn get_object(
        &self,
        account: &Account,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectStream, S3Error> {
        check_bucket_name(bucket)?;
        check_key(key)?;
        let what = format!("GetObject {bucket}/{key}");
        let header = range.map(|r| match r.last {
            Some(last) => format!("bytes={}-{last}", r.first),
            None => format!("bytes={}-", r.first),
        });
        let output = self
            .on_bucket(account, Some(bucket), &what, |s3| {
                s3.get_object()
                    .bucket(bucket)
                    .key(key)
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
            self.session(account)?,
            (bucket, key),
            &meta.etag,
            first,
            first + content_length,
        );
        Ok(ObjectStream {
            meta,
            content_length,
            body: Box::pin(body),
            buffer_bytes: CONNECTION_BUFFER_BYTES,
        })
    }

    async fn put_object(
        &self,
        account: &Account,
        bucket: &str,
        key: &str,
        options: PutOptions,
        mut body: PutBody,
    ) -> Result<PutResult, S3Error> {
        check_bucket_name(bucket)?;
        check_key(key)?;
        let metadata: HashMap<String, String> = options.metadata.into_iter().collect();
        let what = format!("PutObject {bucket}/{key}");
        let mut buffer = BytesMut::new();
        // The host memory `buffer` holds, given back part by part as parts are sent.
        let mut held: Option<Lease> = None;
        let mut total: u64 = 0;
        let mut multipart: Option<Multipart> = None;
        let outcome: Result<PutResult, S3Error> = async {
            while let Some(chunk) = body.next_chunk().await {
                total += chunk.bytes.len() as u64;
                buffer.extend_from_slice(&chunk.bytes);
                match &mut held {
                    Some(held) => held.absorb(chunk.lease),
                    None => held = Some(chunk.lease),
                }
                loop {
                    let size = part_size(multipart.as_ref().map_or(0, |m| m.parts.len()));
                    if buffer.len() < size {
                        break;
                    }
                    let part = buffer.split_to(size).freeze();
                    let _part_held = held.as_mut().map(|held| held.split(size as u64));
                    if multipart.is_none() {
                        let created = self
                            .on_bucket(account, Some(bucket), &what, |s3| {
                                s3.create_multipart_upload()
                                    .bucket(bucket)
                                    .key(key)
                                    .set_content_type(options.content_type.clone())
                                    .set_metadata(Some(metadata.clone()))
                                    .send()
                            })
                            .await?;
                        let upload_id = created
                            .upload_id()
                            .ok_or_else(|| S3Error::Other(format!("{what}: no upload id")))?;
                        multipart = Some(Multipart {
                            upload_id: upload_id.to_owned(),
                            parts: Vec::new(),
                        });
                    }
                    let upload = multipart.as_mut().expect("created above");
                    self.upload_part(account, bucket, key, upload, part, &what)
                        .await?;
                }
            }
            if !body.committed().await {
                return Err(aborted());
            }
            let etag = match multipart.as_mut() {
                None => {
                    let whole = buffer.split().freeze();
                    self.on_bucket(account, Some(bucket), &what, |s3| {
                        s3.put_object()
                            .bucket(bucket)
                            .key(key)
                            .set_content_type(options.content_type.clone())
                            .set_metadata(Some(metadata.clone()))
                            .body(ByteStream::from(whole.clone()))
                            .send()
                    })
                    .await?
                    .e_tag()
                    .map(str::to_owned)
                }
                Some(upload) => {
                    if !buffer.is_empty() {
                        let last = buffer.split().freeze();
                        self.upload_part(account, bucket, key, upload, last, &what)
                            .await?;
                    }
                    let parts = CompletedMultipartUpload::builder()
                        .set_parts(Some(upload.parts.clone()))
                        .build();
                    self.on_bucket(account, Some(bucket), &what, |s3| {
                        s3.complete_multipart_upload()
                            .bucket(bucket)
                            .key(key)
                            .upload_id(&upload.upload_id)
                            .multipart_upload(parts.clone())
                            .send()
                    })
                    .await?
                    .e_tag()
                    .map(str::to_owned)
                }
            };
            Ok(PutResult {
                etag: etag.unwrap_or_default(),
                size: total,
            })
        }
        .await;
        if outcome.is_err()
            && let Some(upload) = multipart
        {
            // Best effort: if even the abort fails, S3's lifecycle rules for incomplete
            // uploads are the backstop.
            let aborted = self
                .on_bucket(account, Some(bucket), "AbortMultipartUpload", |s3| {
                    s3.abort_multipart_upload()
                        .bucket(bucket)
                        .key(key)
                        .upload_id(&upload.upload_id)
                        .send()
                })
                .await;
            if let Err(err) = aborted {
                let orphan = OrphanedUpload {
                    account: account.id.clone(),
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    upload_id: upload.upload_id.clone(),
                    reason: crate::capability::error_message(&err),
                };
                tracing::warn!(
                    bucket,
                    key,
                    upload_id = orphan.upload_id,
                    "could not abort a failed multipart upload: {}",
                    orphan.reason
                );
                self.orphans
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(orphan);
            }
        }
        outcome
    }

    async fn delete_object(
        &self,
        account: &Account,
        bucket: &str,
        key: &str,
    ) -> Result<(), S3Error> {
        check_bucket_name(bucket)?;
        check_key(key)?;
        let what = format!("DeleteObject {bucket}/{key}");
        self.on_bucket(account, Some(bucket), &what, |s3| {
            s3.delete_object().bucket(bucket).key(key).send()
        })
        .await?;
        Ok(())
    }

    async fn delete_objects(
        &self,
        account: &Account,
        bucket: &str,
        keys: Vec<String>,
    ) -> Result<DeleteResult, S3Error> {
        check_bucket_name(bucket)?;
        check_delete_batch(&keys)?;
        let mut result = DeleteResult {
            deleted: Vec::new(),
            failed: Vec::new(),
        };
        let mut identifiers = Vec::new();
        for key in keys {
            match check_key(&key).and_then(|()| {
                ObjectIdentifier::builder()
                    .key(&key)
                    .build()
                    .map_err(|_| build_error("DeleteObjects"))
            }) {
                Ok(identifier) => identifiers.push(identifier),
                Err(err) => result.failed.push((key, err)),
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
        let output = self
            .on_bucket(account, Some(bucket), &what, |s3| {
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
        (source_bucket, source_key): (&str, &str),
        source: &ObjectMeta,
        (target_bucket, target_key): (&str, &str),
    ) -> Result<PutResult, S3Error> {
        for bucket in [source_bucket, target_bucket] {
            check_bucket_name(bucket)?;
        }
        for key in [source_key, target_key] {
            check_key(key)?;
        }
        let what =
            format!("CopyObject {source_bucket}/{source_key} to {target_bucket}/{target_key}");
        // A copy is sent to the target's region; the source may be in any region.
        let output = self
            .on_bucket(account, Some(target_bucket), &what, |s3| {
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
        bucket: &str,
        key: &str,
    ) -> Result<Vec<Tag>, S3Error> {
        check_bucket_name(bucket)?;
        check_key(key)?;
        let what = format!("GetObjectTagging {bucket}/{key}");
        let output = self
            .on_bucket(account, Some(bucket), &what, |s3| {
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
        bucket: &str,
        key: &str,
        tags: Vec<Tag>,
    ) -> Result<(), S3Error> {
        check_bucket_name(bucket)?;
        check_key(key)?;
        check_tags(&tags)?;
        if tags.is_empty() {
            // The same outcome as an empty tag set, which some S3-compatible servers
            // cannot parse.
            let what = format!("DeleteObjectTagging {bucket}/{key}");
            self.on_bucket(account, Some(bucket), &what, |s3| {
                s3.delete_object_tagging().bucket(bucket).key(key).send()
            })
            .await?;
            return Ok(());
        }
        let what = format!("PutObjectTagging {bucket}/{key}");
        let tag_set = tags
            .into_iter()
            .map(|t| {
                aws_sdk_s3::types::Tag::builder()
                    .key(t.key)
                    .value(t.value)
                    .build()
                    .map_err(|_| build_error(&what))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tagging = Tagging::builder()
            .set_tag_set(Some(tag_set))
            .build()
            .map_err(|_| build_error(&what))?;
        self.on_bucket(account, Some(bucket), &what, |s3| {
            s3.put_object_tagging()
                .bucket(bucket)
                .key(key)
                .tagging(tagging.clone())
                .send()
        })
        .await?;
        Ok(())
    }
}

impl AwsBackend {
    async fn upload_part(
        &self,
        account: &Account,
        bucket: &str,
        key: &str,
        upload: &mut Multipart,
        part: Bytes,
        what: &str,
    ) -> Result<(), S3Error> {
        let number = upload.parts.len() as i32 + 1;
        let output = self
            .on_bucket(account, Some(bucket), what, |s3| {
                s3.upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&upload.upload_id)
                    .part_number(number)
                    .body(ByteStream::from(part.clone()))
                    .send()
            })
            .await?;
        upload.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(output.e_tag().map(str::to_owned))
                .build(),
        );
        Ok(())
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
    fn parts_grow_so_that_ten_thousand_hold_large_objects() {
        assert_eq!(part_size(0), 8 << 20);
        assert_eq!(part_size(4999), 8 << 20);
        assert_eq!(part_size(5000), 16 << 20);
        assert_eq!(part_size(9999), 64 << 20);
        let capacity: u64 = (0..10_000).map(|n| part_size(n) as u64).sum();
        assert!(capacity > 160 << 30, "{capacity}");
        // At the default host buffer, objects up to 39 GiB need no more than it holds.
        let at_default: u64 = (0..5000).map(|n| part_size(n) as u64).sum();
        assert!(at_default >= 39 << 30, "{at_default}");
    }

    #[test]
    fn content_range_gives_the_total_size() {
        assert_eq!(total_from_content_range(Some("bytes 2-4/10")), Some(10));
        assert_eq!(total_from_content_range(None), None);
    }
}
