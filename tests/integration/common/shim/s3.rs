//! S3 as AWS answers it where moto is lenient. A request meets, in order: its bucket's
//! region ([`super::regions`]); the expected bucket owner (S3 `ExpectedBucketOwner`: a
//! request whose `x-amz-expected-bucket-owner`, or `x-amz-source-expected-bucket-owner`
//! for a copy's source, names another account than the owner is refused `403
//! AccessDenied`; moto ignores both headers); the injected faults ([`super::faults`]);
//! its session policy, for S3 and for the KMS calls S3 makes ([`super::access`]);
//! CopyObject's size limit; ListBuckets' pagination rules ([`super::listing`]). Then moto
//! answers, and a missing key is a 403 for a session that may not list the bucket.
//!
//! GetBucketVersioning answers a `VersioningConfiguration` element (S3 API Reference,
//! GetBucketVersioning, Response Syntax); moto 5.2.5 names it
//! `GetBucketVersioningResponse`, which botocore does not look at but aws-sdk-rust
//! refuses, so the shim renames it.
//!
//! A version read (GetObject, HeadObject with `versionId`) of a delete marker is `405
//! MethodNotAllowed`, "The specified method is not allowed against this resource"
//! (GetObject and HeadObject, S3 API Reference: "If the specified version is a delete
//! marker, the response returns a 405 Method Not Allowed error"); moto 5.2.5 answers
//! `404 NoSuchVersion`. The shim learns the markers from the plain deletes that placed
//! them (`x-amz-delete-marker: true`, `x-amz-version-id`).
//!
//! CopyObject copies at most 5 GB ("The specified copy source is larger than the maximum
//! allowable size for a copy source: 5368709120", `400 InvalidRequest`; CopyObject, S3 API
//! Reference, and "Copying, moving, and renaming objects", S3 User Guide: larger objects
//! need UploadPartCopy, which has no such limit). A test can lower the limit.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use super::access::{hides_missing_key, refusal, write_key};
use super::faults::{Cut, s3_fault_for};
use super::kms;
use super::listing::{Page, paginated_answer};
use super::objects::Stored;
use super::operation::{Operation, Target, target};
use super::regions::wrong_region;
use super::{
    Body, Knowledge, Signer, buffered, forward, forward_failed, forward_raw, full, header,
    s3_error, streamed, xml_field,
};

/// CopyObject's largest source: 5 GB.
pub(super) const COPY_SOURCE_LIMIT: u64 = 5 * 1024 * 1024 * 1024;

/// The size of a request's body as sent (the decoded length of an `aws-chunked` body).
fn body_size(request: &Request<Incoming>) -> Option<u64> {
    header(request, "x-amz-decoded-content-length")
        .or_else(|| header(request, "content-length"))?
        .parse()
        .ok()
}

/// The bytes `x-amz-copy-source-range: bytes=FIRST-LAST` names.
fn range_size(range: &str) -> Option<u64> {
    let (first, last) = range.strip_prefix("bytes=")?.split_once('-')?;
    Some(last.parse::<u64>().ok()? - first.parse::<u64>().ok()? + 1)
}

/// The checks a request meets before it reaches moto: the answer if one refuses it.
fn refused(
    request: &Request<Incoming>,
    target: &Target,
    signer: &Signer,
    knowledge: &mut Knowledge,
) -> Option<Response<Body>> {
    let method = request.method();
    if !matches!(target.operation, Operation::CreateBucket)
        && let Some(region) = knowledge.regions.get(&target.bucket)
        && *region != signer.region
    {
        knowledge.redirects += 1;
        return Some(wrong_region(
            method,
            target.operation == Operation::HeadBucket,
            &signer.region,
            region,
            knowledge.opt_in_redirect,
        ));
    }
    let denied = || {
        s3_error(
            method,
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Access Denied",
        )
    };
    let owner_of = |bucket: &str| knowledge.owners.get(bucket).cloned();
    if let (Some(expected), Some(owner)) = (
        header(request, "x-amz-expected-bucket-owner"),
        owner_of(&target.bucket),
    ) && expected != owner
    {
        return Some(denied());
    }
    if let (
        Some(expected),
        Operation::CopyObject { source } | Operation::UploadPartCopy { source, .. },
    ) = (
        header(request, "x-amz-source-expected-bucket-owner"),
        &target.operation,
    ) && owner_of(&source.0).is_some_and(|owner| owner != expected)
    {
        return Some(denied());
    }
    if let Operation::GetObjectVersion { version_id } = &target.operation
        && knowledge
            .objects
            .is_delete_marker(&target.bucket, &target.key, version_id)
    {
        return Some(s3_error(
            method,
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        ));
    }
    None
}

/// The checks after the injected faults: session policy, copy size, ListBuckets quota.
fn disallowed(
    request: &Request<Incoming>,
    target: &Target,
    signer: &Signer,
    knowledge: &Knowledge,
) -> Option<Response<Body>> {
    let method = request.method();
    if let Some(refused) = refusal(method, request.headers(), target, signer, knowledge) {
        return Some(refused);
    }
    if let Operation::CopyObject { source } = &target.operation {
        let limit = knowledge.copy_limit.unwrap_or(COPY_SOURCE_LIMIT);
        if knowledge
            .objects
            .get(&source.0, &source.1)
            .size
            .is_some_and(|size| size > limit)
        {
            return Some(s3_error(
                method,
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                &format!(
                    "The specified copy source is larger than the maximum allowable size for a copy source: {limit}"
                ),
            ));
        }
    }
    let account = knowledge
        .sessions
        .get(&signer.key)
        .map(|s| s.account.as_str());
    if target.operation == Operation::ListBuckets
        && Page::of(request.uri().query()).is_none()
        && account.is_some_and(|account| knowledge.large_quota.contains(account))
    {
        return Some(s3_error(
            method,
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Unpaginated ListBuckets requests are rejected for accounts with a general purpose bucket quota greater than 10,000; send paginated requests (max-buckets, continuation-token)",
        ));
    }
    None
}

/// An S3 request, held to S3's rules, then forwarded; what it wrote or read is learned.
pub(super) async fn s3(
    request: Request<Incoming>,
    signer: &Signer,
    knowledge: Arc<Mutex<Knowledge>>,
    upstream: &str,
) -> Response<Body> {
    let target = target(
        request.method(),
        request.uri().path(),
        request.uri().query(),
        header(&request, "x-amz-copy-source"),
    );
    if let Some(refused) = refused(&request, &target, signer, &mut knowledge.lock().unwrap()) {
        return refused;
    }
    let copy_delay = knowledge.lock().unwrap().copy_delay;
    if request.headers().contains_key("x-amz-copy-source") && !copy_delay.is_zero() {
        tokio::time::sleep(copy_delay).await;
    }
    if target.operation != Operation::CreateBucket
        && let Some(fault) = s3_fault_for(&request, signer, &knowledge)
    {
        return fault;
    }
    if let Some(refused) = disallowed(&request, &target, signer, &knowledge.lock().unwrap()) {
        return refused;
    }
    match &target.operation {
        Operation::CreateBucket
        | Operation::PutBucketEncryption
        | Operation::CompleteUpload { .. } => {
            let (parts, body) = request.into_parts();
            let body = buffered(body).await;
            let response = forward(Request::from_parts(parts, full(body.clone())), upstream).await;
            if response.status().is_success() {
                learn_configuration(&target, &body, signer, &mut knowledge.lock().unwrap());
            }
            response
        }
        Operation::CreateUpload | Operation::ListBuckets => {
            let write_key = write_key(request.headers(), &target, &knowledge.lock().unwrap());
            let page = Page::of(request.uri().query());
            let (parts, body) = forward(request.map(streamed), upstream).await.into_parts();
            let body = buffered(body).await;
            let text = String::from_utf8_lossy(&body);
            let mut knowledge = knowledge.lock().unwrap();
            let account = knowledge
                .sessions
                .get(&signer.key)
                .map(|s| s.account.clone());
            if !parts.status.is_success() {
                return Response::from_parts(parts, full(body));
            }
            if let Some(upload_id) = xml_field(&text, "UploadId") {
                knowledge.objects.upload_created(upload_id, write_key);
            }
            match (page, account) {
                (Some(page), Some(account)) => {
                    let mut parts = parts;
                    parts.headers.remove(hyper::header::CONTENT_LENGTH);
                    let answer = paginated_answer(&page, &account, &knowledge, &text);
                    Response::from_parts(parts, full(answer))
                }
                _ => Response::from_parts(parts, full(body)),
            }
        }
        Operation::GetBucketSetting {
            action: "s3:GetBucketVersioning",
        } => {
            let (parts, body) = forward(request.map(streamed), upstream).await.into_parts();
            let text = String::from_utf8_lossy(&buffered(body).await)
                .replace("GetBucketVersioningResponse", "VersioningConfiguration");
            let mut parts = parts;
            parts.headers.remove(hyper::header::CONTENT_LENGTH);
            Response::from_parts(parts, full(text))
        }
        _ => forward_learning(request, target, signer, knowledge, upstream).await,
    }
}

/// What a bucket-level write that succeeded teaches: a bucket's owner and region, its
/// default encryption, or a completed upload's object.
fn learn_configuration(target: &Target, body: &Bytes, signer: &Signer, knowledge: &mut Knowledge) {
    let text = String::from_utf8_lossy(body);
    let bucket = target.bucket.clone();
    match &target.operation {
        Operation::CreateBucket => {
            // The body names the bucket's region; none means us-east-1.
            let region = xml_field(&text, "LocationConstraint").unwrap_or("us-east-1");
            if let Some(session) = knowledge.sessions.get(&signer.key) {
                let account = session.account.clone();
                knowledge.owners.insert(bucket.clone(), account);
            }
            knowledge.regions.insert(bucket, region.to_owned());
        }
        Operation::PutBucketEncryption => {
            let (Some(region), Some(owner)) = (
                knowledge.regions.get(&bucket),
                knowledge.owners.get(&bucket),
            ) else {
                return;
            };
            match kms::default_key(&text, region, owner) {
                Some(key) => knowledge.encryption.insert(bucket, key),
                None => knowledge.encryption.remove(&bucket),
            };
        }
        Operation::CompleteUpload { upload_id } => {
            knowledge
                .objects
                .upload_completed(upload_id, &bucket, &target.key);
        }
        _ => {}
    }
}

/// Forwards an object request, body streamed both ways, and learns what it wrote or read.
async fn forward_learning(
    request: Request<Incoming>,
    target: Target,
    signer: &Signer,
    knowledge: Arc<Mutex<Knowledge>>,
    upstream: &str,
) -> Response<Body> {
    let method = request.method().clone();
    let sent = body_size(&request);
    let copy_range = header(&request, "x-amz-copy-source-range").and_then(range_size);
    let write_key = write_key(request.headers(), &target, &knowledge.lock().unwrap());
    let Some(response) = forward_raw(request.map(streamed), upstream).await else {
        return forward_failed();
    };
    let mut knowledge = knowledge.lock().unwrap();
    let status = response.status();
    if status == StatusCode::NOT_FOUND && hides_missing_key(&target, signer, &knowledge) {
        return s3_error(
            &method,
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Access Denied",
        );
    }
    let length = response
        .headers()
        .get("content-length")
        .and_then(|l| l.to_str().ok()?.parse::<u64>().ok());
    if status.is_success() {
        let (bucket, key) = (target.bucket.as_str(), target.key.as_str());
        let objects = &mut knowledge.objects;
        match &target.operation {
            Operation::PutObject => objects.written(
                bucket,
                key,
                Stored {
                    size: sent,
                    kms_key: write_key,
                },
            ),
            Operation::CopyObject { source } => {
                let size = objects.get(&source.0, &source.1).size;
                objects.written(
                    bucket,
                    key,
                    Stored {
                        size,
                        kms_key: write_key,
                    },
                );
            }
            Operation::UploadPart { upload_id, part } => {
                objects.part_uploaded(upload_id, *part, sent.unwrap_or(0));
            }
            Operation::UploadPartCopy {
                upload_id,
                part,
                source,
            } => {
                let size = copy_range.or(objects.get(&source.0, &source.1).size);
                objects.part_uploaded(upload_id, *part, size.unwrap_or(0));
            }
            Operation::DeleteObject => {
                objects.deleted(bucket, key);
                let answered = |name: &str| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|value| value.to_str().ok())
                };
                if let (Some("true"), Some(version_id)) = (
                    answered("x-amz-delete-marker"),
                    answered("x-amz-version-id"),
                ) {
                    objects.marker_placed(bucket, key, version_id);
                }
            }
            Operation::DeleteObjectVersion { version_id } => {
                objects.version_deleted(bucket, key, version_id);
            }
            Operation::HeadObject => {
                if let Some(length) = length {
                    objects.seen(bucket, key, length);
                }
            }
            Operation::GetObject => {
                let total = response
                    .headers()
                    .get("content-range")
                    .and_then(|r| r.to_str().ok()?.rsplit('/').next()?.parse().ok())
                    .or(length);
                if let Some(total) = total {
                    objects.seen(bucket, key, total);
                }
            }
            _ => {}
        }
    }
    let large = length.is_some_and(|length| length > 1 << 20);
    if method == Method::GET
        && target.operation == Operation::GetObject
        && large
        && status.is_success()
        && knowledge.schedule.resets_large_get()
    {
        return response.map(|inner| {
            Cut {
                inner,
                left: 64 << 10,
            }
            .boxed()
        });
    }
    response.map(streamed)
}
