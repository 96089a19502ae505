//! Puts that stream to S3: what the guest writes goes out as one PutObject when it is
//! small, and as a multipart upload (8 MiB parts, growing so that 10,000 parts hold large
//! objects) otherwise, aborted on any failure so that no partial object or orphaned
//! upload remains. A part is held in host memory, within the invocation's host buffer,
//! only until it is sent.

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use xacct_core::bindings::S3Error;
use xacct_core::bindings::s3::{PutOptions, PutResult};
use xacct_core::capability::s3::budget::Lease;
use xacct_core::capability::s3::names::{BucketName, ObjectKey};
use xacct_core::capability::s3::upload::{PutBody, aborted};
use xacct_core::provider::OrphanedUpload;

use super::send::on_bucket;
use crate::session::Session;

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

/// A multipart upload in progress.
struct Multipart {
    upload_id: String,
    parts: Vec<CompletedPart>,
}

/// Where a put goes.
pub(super) struct Target<'a> {
    pub(super) session: &'a Session,
    pub(super) account: &'a str,
    pub(super) bucket: &'a BucketName,
    pub(super) key: &'a ObjectKey,
}

/// Streams `body` to `target` once the guest commits it; and the upload left open, if S3
/// refused to abort a failed one.
pub(super) async fn put(
    target: Target<'_>,
    options: PutOptions,
    mut body: PutBody,
) -> (Result<PutResult, S3Error>, Option<OrphanedUpload>) {
    let (bucket, key) = (target.bucket.as_str(), target.key.as_str());
    let session = target.session;
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
                    let created = on_bucket(session, Some(bucket), &what, |s3| {
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
                if let Some(upload) = multipart.as_mut() {
                    upload_part(session, (bucket, key), upload, part, &what).await?;
                }
            }
        }
        if !body.committed().await {
            return Err(aborted());
        }
        let etag = match multipart.as_mut() {
            None => {
                let whole = buffer.split().freeze();
                on_bucket(session, Some(bucket), &what, |s3| {
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
                    upload_part(session, (bucket, key), upload, last, &what).await?;
                }
                let parts = CompletedMultipartUpload::builder()
                    .set_parts(Some(upload.parts.clone()))
                    .build();
                on_bucket(session, Some(bucket), &what, |s3| {
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
        let orphan = abort(session, target.account, (bucket, key), &upload.upload_id).await;
        return (outcome, orphan);
    }
    (outcome, None)
}

/// Aborts a failed multipart upload; the upload left open if S3 refused. Best effort: if
/// even the abort fails, S3's lifecycle rules for incomplete uploads are the backstop.
pub(super) async fn abort(
    session: &Session,
    account: &str,
    (bucket, key): (&str, &str),
    upload_id: &str,
) -> Option<OrphanedUpload> {
    let aborted = on_bucket(session, Some(bucket), "AbortMultipartUpload", |s3| {
        s3.abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
    })
    .await;
    let err = aborted.err()?;
    let orphan = OrphanedUpload {
        account: account.to_owned(),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        upload_id: upload_id.to_owned(),
        reason: err.message().to_owned(),
    };
    tracing::warn!(
        bucket,
        key,
        upload_id = orphan.upload_id,
        "could not abort a failed multipart upload: {}",
        orphan.reason
    );
    Some(orphan)
}

async fn upload_part(
    session: &Session,
    (bucket, key): (&str, &str),
    upload: &mut Multipart,
    part: Bytes,
    what: &str,
) -> Result<(), S3Error> {
    let number = upload.parts.len() as i32 + 1;
    let output = on_bucket(session, Some(bucket), what, |s3| {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
