//! The AWS backend: every S3 operation with `aws-sdk-s3`, on the client of the account's
//! assumed-role session ([`crate::credentials`]).
//!
//! Bodies stream both ways: a get hands the SDK's byte stream to the guest as it arrives;
//! a put sends what the guest writes, as one PutObject when it is small and as a
//! multipart upload (8 MiB parts) otherwise, aborted on any failure so that no partial
//! object or orphaned upload remains. Errors are mapped to the WIT variant from the
//! service's error code and HTTP status only; no SDK text reaches the guest.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier, Tagging,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::date_time::DateTime;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use bytes::{Bytes, BytesMut};

use super::backend::{
    Backend, ObjectStream, PutBody, aborted, check_bucket_name, check_delete_batch, check_key,
    check_tags, empty_page, page_size,
};
use super::budget::Lease;
use crate::bindings::s3::{
    Bucket, ByteRange, DeleteResult, ListObjectsPage, ListObjectsRequest, ObjectMeta,
    ObjectSummary, PutOptions, PutResult, Tag,
};
use crate::bindings::{AccessDenied, Account, DeniedBy, S3Error};
use crate::credentials::{Session, SessionSpec, Sessions};

/// Bodies up to this size are one PutObject; larger ones are multipart uploads whose
/// parts start at this size (S3's minimum part is 5 MiB).
const PART_BYTES: usize = 8 << 20;

/// The size of the part after `parts` parts: S3 takes at most 10,000 parts, so parts
/// double every thousand up to 64 MiB (objects up to about 490 GiB, at most 64 MiB
/// buffered per upload).
fn part_size(parts: usize) -> usize {
    PART_BYTES << (parts / 1000).min(3)
}

/// What an open GetObject body may hold on the host before the guest reads it: the HTTP
/// client's read buffer (hyper's grows to about 400 KiB) and the stream's decoding.
const CONNECTION_BUFFER_BYTES: u64 = 512 << 10;

/// Pins every bucket-addressed request of an account's S3 client to that account: S3
/// refuses (403) a request whose bucket, or copy source, another account owns. Bucket
/// names are global, and without this a plugin that may touch `*` in one account could
/// reach any bucket whose policy lets that account in. An interceptor rather than a
/// parameter on each call, so that no operation, present or added later, goes without it.
#[derive(Debug)]
pub(crate) struct PinnedToAccount {
    account_id: String,
}

impl PinnedToAccount {
    pub(crate) fn new(account_id: &str) -> Self {
        PinnedToAccount {
            account_id: account_id.to_owned(),
        }
    }
}

impl Intercept for PinnedToAccount {
    fn name(&self) -> &'static str {
        "PinnedToAccount"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // ListBuckets addresses no bucket; S3 rejects the header there.
        if cfg.load::<Metadata>().map(Metadata::name) == Some("ListBuckets") {
            return Ok(());
        }
        let headers = context.request_mut().headers_mut();
        headers.insert("x-amz-expected-bucket-owner", self.account_id.clone());
        if headers.contains_key("x-amz-copy-source") {
            headers.insert("x-amz-source-expected-bucket-owner", self.account_id.clone());
        }
        Ok(())
    }
}

/// S3 through each account's assumed role, for one plugin.
pub struct AwsBackend {
    sessions: Arc<Sessions>,
    spec: SessionSpec,
}

impl AwsBackend {
    pub fn new(sessions: Arc<Sessions>, spec: SessionSpec) -> Self {
        AwsBackend { sessions, spec }
    }

    async fn session(&self, account: &Account) -> Result<Arc<Session>, S3Error> {
        self.sessions.session(&account.id, &self.spec).await
    }

    async fn s3(&self, account: &Account) -> Result<aws_sdk_s3::Client, S3Error> {
        Ok(self.session(account).await?.s3.clone())
    }
}

/// Maps an SDK failure to the WIT error, from the error code and HTTP status alone.
pub(crate) fn sdk_error<E>(err: &SdkError<E, HttpResponse>, what: &str) -> S3Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(context) => {
            classify(context.err().code(), context.raw().status().as_u16(), what)
        }
        SdkError::ResponseError(context) => classify(None, context.raw().status().as_u16(), what),
        SdkError::TimeoutError(_) => S3Error::Unavailable(format!("{what}: timed out")),
        SdkError::DispatchFailure(_) => {
            if let Some(credentials) = credentials_cause(err) {
                return crate::credentials::credentials_error(credentials, what);
            }
            S3Error::Unavailable(format!("{what}: the service could not be reached"))
        }
        _ => match credentials_cause(err) {
            Some(credentials) => crate::credentials::credentials_error(credentials, what),
            None => S3Error::Other(format!("{what}: the request could not be sent")),
        },
    }
}

/// A failure to obtain credentials somewhere in `err`'s causes.
fn credentials_cause<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a aws_credential_types::provider::error::CredentialsError> {
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(credentials) = cause.downcast_ref() {
            return Some(credentials);
        }
        source = cause.source();
    }
    None
}

fn classify(code: Option<&str>, status: u16, what: &str) -> S3Error {
    // Codes are short identifiers; anything else is not repeated.
    let code =
        code.filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'));
    let reason = match code {
        Some(code) => format!("{code}, HTTP {status}"),
        None => format!("HTTP {status}"),
    };
    match (code, status) {
        (Some("NoSuchKey" | "NoSuchBucket" | "NotFound" | "NoSuchUpload" | "NoSuchTagSet"), _)
        | (_, 404) => S3Error::NotFound(format!("{what}: not found ({reason})")),
        (
            Some(
                "AccessDenied"
                | "AllAccessDisabled"
                | "InvalidAccessKeyId"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
                | "InvalidToken"
                | "AccountProblem",
            ),
            _,
        )
        | (_, 401 | 403) => S3Error::AccessDenied(AccessDenied {
            by: DeniedBy::Backend,
            message: format!("{what}: denied by AWS ({reason})"),
        }),
        (
            Some(
                "SlowDown"
                | "Throttling"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TooManyRequests",
            ),
            _,
        )
        | (_, 429 | 503) => {
            S3Error::Throttled(format!("{what}: throttled after retries ({reason})"))
        }
        (Some("PreconditionFailed"), _) | (_, 412) => {
            S3Error::Other(format!("{what}: the object changed meanwhile ({reason})"))
        }
        (Some("InvalidRange"), _) | (_, 416) => {
            S3Error::InvalidInput(format!("{what}: the range is not satisfiable ({reason})"))
        }
        (_, 400..=499) => S3Error::InvalidInput(format!("{what}: refused by S3 ({reason})")),
        (_, 500..=599) => S3Error::Unavailable(format!("{what}: S3 failed ({reason})")),
        _ => S3Error::Other(format!("{what}: unexpected answer ({reason})")),
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
    async fn prepare_account(&self, account: &Account) -> Result<(), S3Error> {
        self.session(account).await?.ensure_credentials().await
    }

    fn assume_role_calls(&self) -> std::collections::BTreeMap<String, u64> {
        self.sessions.assume_role_calls()
    }

    async fn list_buckets(&self, account: &Account) -> Result<Vec<Bucket>, S3Error> {
        let what = "ListBuckets";
        let output = self
            .s3(account)
            .await?
            .list_buckets()
            .send()
            .await
            .map_err(|e| sdk_error(&e, what))?;
        let mut buckets: Vec<Bucket> = output
            .buckets()
            .iter()
            .filter_map(|b| {
                Some(Bucket {
                    name: b.name()?.to_owned(),
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
            .s3(account)
            .await?
            .list_objects_v2()
            .bucket(&request.bucket)
            .set_prefix(request.prefix)
            .set_delimiter(request.delimiter.filter(|d| !d.is_empty()))
            .max_keys(max_keys as i32)
            .set_continuation_token(request.continuation_token)
            .set_start_after(request.start_after)
            .send()
            .await
            .map_err(|e| sdk_error(&e, &what))?;
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
            .s3(account)
            .await?
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error(&e, &what))?;
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
            .s3(account)
            .await?
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_range(header)
            .send()
            .await
            .map_err(|e| sdk_error(&e, &what))?;
        let content_length = size(output.content_length());
        Ok(ObjectStream {
            meta: ObjectMeta {
                size: total_from_content_range(output.content_range()).unwrap_or(content_length),
                etag: output.e_tag().unwrap_or_default().to_owned(),
                content_type: output.content_type().map(str::to_owned),
                last_modified: millis(output.last_modified()),
                metadata: sorted(output.metadata()),
            },
            content_length,
            body: Box::pin(output.body.into_async_read()),
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
        let s3 = self.s3(account).await?;
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
                        let created = s3
                            .create_multipart_upload()
                            .bucket(bucket)
                            .key(key)
                            .set_content_type(options.content_type.clone())
                            .set_metadata(Some(metadata.clone()))
                            .send()
                            .await
                            .map_err(|e| sdk_error(&e, &what))?;
                        let upload_id = created
                            .upload_id()
                            .ok_or_else(|| S3Error::Other(format!("{what}: no upload id")))?;
                        multipart = Some(Multipart {
                            upload_id: upload_id.to_owned(),
                            parts: Vec::new(),
                        });
                    }
                    upload_part(
                        &s3,
                        bucket,
                        key,
                        multipart.as_mut().expect("created above"),
                        part,
                        &what,
                    )
                    .await?;
                }
            }
            if !body.committed().await {
                return Err(aborted());
            }
            let etag = match multipart.as_mut() {
                None => s3
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .set_content_type(options.content_type.clone())
                    .set_metadata(Some(metadata.clone()))
                    .body(ByteStream::from(buffer.split().freeze()))
                    .send()
                    .await
                    .map_err(|e| sdk_error(&e, &what))?
                    .e_tag()
                    .map(str::to_owned),
                Some(upload) => {
                    if !buffer.is_empty() {
                        upload_part(&s3, bucket, key, upload, buffer.split().freeze(), &what)
                            .await?;
                    }
                    s3.complete_multipart_upload()
                        .bucket(bucket)
                        .key(key)
                        .upload_id(&upload.upload_id)
                        .multipart_upload(
                            CompletedMultipartUpload::builder()
                                .set_parts(Some(upload.parts.clone()))
                                .build(),
                        )
                        .send()
                        .await
                        .map_err(|e| sdk_error(&e, &what))?
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
            let aborted = s3
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload.upload_id)
                .send()
                .await;
            if let Err(err) = aborted {
                tracing::warn!(
                    bucket,
                    key,
                    "could not abort a failed multipart upload: {:?}",
                    sdk_error(&err, "AbortMultipartUpload")
                );
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
        self.s3(account)
            .await?
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error(&e, &what))?;
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
            .s3(account)
            .await?
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| sdk_error(&e, &what))?;
        result.deleted.extend(
            output
                .deleted()
                .iter()
                .filter_map(|d| d.key().map(str::to_owned)),
        );
        for error in output.errors() {
            let key = error.key().unwrap_or_default().to_owned();
            let failure = classify(error.code(), 0, &format!("DeleteObjects {bucket}/{key}"));
            result.failed.push((key, failure));
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
        let s3 = self.s3(account).await?;
        let output = s3
            .copy_object()
            .copy_source(copy_source(source_bucket, source_key))
            // The version whose size was budgeted, or nothing (412 if it changed since).
            .copy_source_if_match(&source.etag)
            .bucket(target_bucket)
            .key(target_key)
            // Tags stay behind, as on the local backend: copying them would need tagging
            // permissions a `read` + `write` grant does not give.
            .tagging_directive(aws_sdk_s3::types::TaggingDirective::Replace)
            .send()
            .await
            .map_err(|e| sdk_error(&e, &what))?;
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
            .s3(account)
            .await?
            .get_object_tagging()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error(&e, &what))?;
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
        let s3 = self.s3(account).await?;
        if tags.is_empty() {
            // The same outcome as an empty tag set, which some S3-compatible servers
            // cannot parse.
            let what = format!("DeleteObjectTagging {bucket}/{key}");
            s3.delete_object_tagging()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| sdk_error(&e, &what))?;
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
        s3.put_object_tagging()
            .bucket(bucket)
            .key(key)
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| sdk_error(&e, &what))?;
        Ok(())
    }
}

async fn upload_part(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    upload: &mut Multipart,
    part: Bytes,
    what: &str,
) -> Result<(), S3Error> {
    let number = upload.parts.len() as i32 + 1;
    let output = s3
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload.upload_id)
        .part_number(number)
        .body(ByteStream::from(part))
        .send()
        .await
        .map_err(|e| sdk_error(&e, what))?;
    upload.parts.push(
        CompletedPart::builder()
            .part_number(number)
            .set_e_tag(output.e_tag().map(str::to_owned))
            .build(),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_by_code_then_status() {
        assert!(matches!(
            classify(Some("NoSuchKey"), 404, "x"),
            S3Error::NotFound(_)
        ));
        assert!(matches!(classify(None, 404, "x"), S3Error::NotFound(_)));
        assert!(matches!(
            classify(None, 403, "x"),
            S3Error::AccessDenied(AccessDenied {
                by: DeniedBy::Backend,
                ..
            })
        ));
        assert!(matches!(
            classify(Some("SlowDown"), 503, "x"),
            S3Error::Throttled(_)
        ));
        assert!(matches!(
            classify(Some("InvalidRange"), 416, "x"),
            S3Error::InvalidInput(_)
        ));
        assert!(matches!(
            classify(Some("InternalError"), 500, "x"),
            S3Error::Unavailable(_)
        ));
        let S3Error::AccessDenied(denied) = classify(Some("AccessDenied"), 403, "GetObject b/k")
        else {
            panic!()
        };
        assert_eq!(
            denied.message,
            "GetObject b/k: denied by AWS (AccessDenied, HTTP 403)"
        );
        // An error code that is not an identifier is not repeated.
        let S3Error::InvalidInput(message) = classify(Some("<script>secret"), 400, "x") else {
            panic!()
        };
        assert_eq!(message, "x: refused by S3 (HTTP 400)");
    }

    #[test]
    fn copy_sources_are_url_encoded_keeping_slashes() {
        assert_eq!(copy_source("b", "a/b c+d%é"), "b/a/b%20c%2Bd%25%C3%A9");
    }

    #[test]
    fn parts_grow_so_that_ten_thousand_hold_large_objects() {
        assert_eq!(part_size(0), 8 << 20);
        assert_eq!(part_size(1500), 16 << 20);
        assert_eq!(part_size(9999), 64 << 20);
        let capacity: u64 = (0..10_000).map(|n| part_size(n) as u64).sum();
        assert!(capacity > 450 << 30, "{capacity}");
    }

    #[test]
    fn content_range_gives_the_total_size() {
        assert_eq!(total_from_content_range(Some("bytes 2-4/10")), Some(10));
        assert_eq!(total_from_content_range(None), None);
    }
}
