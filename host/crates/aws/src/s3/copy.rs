//! Copies of any size. CopyObject copies "up to 5 GB in size in a single atomic action
//! … to copy an object greater than 5 GB, you must use the multipart upload Upload Part -
//! Copy (UploadPartCopy) API" (CopyObject, S3 API Reference); botocore's managed copy
//! (s3transfer) does the same above its threshold. Every request is the session's, so
//! pinned to the account (the copy source's owner too: `x-amz-source-expected-bucket-owner`
//! on each part, by [`crate::pin::PinnedToAccount`]); every part copies the version the
//! caller read (`x-amz-copy-source-if-match`), so the budget spent on its size is the
//! budget used; a failed copy is aborted.

use std::collections::HashMap;

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use xacct_core::bindings::S3Error;
use xacct_core::bindings::s3::{ObjectMeta, PutResult};
use xacct_core::provider::OrphanedUpload;

use super::put::abort;
use super::send::on_bucket;
use crate::session::Session;

/// `CopySource` is `bucket/key` with the key URL-encoded (slashes kept).
pub(super) fn copy_source(bucket: &str, key: &str) -> String {
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

/// S3's limits on a part: 5 MiB to 5 GiB (the last may be smaller), 10,000 parts.
const MIN_PART: u64 = 5 << 20;
const MAX_PARTS: u64 = 10_000;
/// The part size xacct prefers for large copies: few requests, each well within S3's
/// attempt timeout (the copy happens inside S3, no byte passes through the host).
const PREFERRED_PART: u64 = 512 << 20;

/// The byte ranges (inclusive) of a copy of `size` bytes in parts of at least
/// `smallest` (itself at least S3's 5 MiB).
fn part_ranges(size: u64, smallest: u64) -> Vec<(u64, u64)> {
    let part = smallest
        .clamp(MIN_PART, PREFERRED_PART)
        .max(size.div_ceil(MAX_PARTS));
    (0..size.div_ceil(part))
        .map(|n| (n * part, ((n + 1) * part).min(size) - 1))
        .collect()
}

/// A copy's two ends and the version of the source that was read.
pub(super) struct Copy<'a> {
    pub(super) session: &'a Session,
    pub(super) what: &'a str,
    pub(super) source: (&'a str, &'a str),
    pub(super) source_meta: &'a ObjectMeta,
    pub(super) target: (&'a str, &'a str),
}

impl Copy<'_> {
    /// Copies in parts of at least `threshold` bytes; and the upload left open, if S3
    /// refused to abort a failed copy.
    pub(super) async fn in_parts(
        &self,
        threshold: u64,
    ) -> (Result<PutResult, S3Error>, Option<OrphanedUpload>) {
        let (bucket, key) = self.target;
        let metadata: HashMap<String, String> = self.source_meta.metadata.iter().cloned().collect();
        // The object's metadata is copied as CopyObject copies it (its directive COPY).
        let created = on_bucket(self.session, Some(bucket), self.what, |s3| {
            s3.create_multipart_upload()
                .bucket(bucket)
                .key(key)
                .set_content_type(self.source_meta.content_type.clone())
                .set_metadata(Some(metadata.clone()))
                .send()
        })
        .await;
        let upload_id = match created {
            Ok(created) => created.upload_id().unwrap_or_default().to_owned(),
            Err(err) => return (Err(err), None),
        };
        let outcome = self.parts(&upload_id, threshold).await;
        if outcome.is_ok() {
            return (outcome, None);
        }
        let orphan = abort(
            self.session,
            &self.session.account_id,
            self.target,
            &upload_id,
        )
        .await;
        (outcome, orphan)
    }

    /// Copies every part of the open upload, then completes it.
    async fn parts(&self, upload_id: &str, threshold: u64) -> Result<PutResult, S3Error> {
        let (bucket, key) = self.target;
        let source = copy_source(self.source.0, self.source.1);
        let mut completed = Vec::new();
        for (index, (first, last)) in part_ranges(self.source_meta.size, threshold)
            .into_iter()
            .enumerate()
        {
            let number = i32::try_from(index + 1).unwrap_or(i32::MAX);
            let copied = on_bucket(self.session, Some(bucket), self.what, |s3| {
                s3.upload_part_copy()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(number)
                    .copy_source(&source)
                    .copy_source_range(format!("bytes={first}-{last}"))
                    .copy_source_if_match(&self.source_meta.etag)
                    .send()
            })
            .await?;
            let etag = copied.copy_part_result().and_then(|r| r.e_tag());
            completed.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(etag.map(str::to_owned))
                    .build(),
            );
        }
        let parts = CompletedMultipartUpload::builder()
            .set_parts(Some(completed))
            .build();
        let done = on_bucket(self.session, Some(bucket), self.what, |s3| {
            s3.complete_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .multipart_upload(parts.clone())
                .send()
        })
        .await?;
        Ok(PutResult {
            etag: done.e_tag().unwrap_or_default().to_owned(),
            size: self.source_meta.size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_PARTS, part_ranges};

    #[test]
    fn parts_cover_the_object_within_s3s_limits() {
        let mib = 1 << 20;
        assert_eq!(
            part_ranges(6 * mib, 5 * mib),
            [(0, 5 * mib - 1), (5 * mib, 6 * mib - 1)]
        );
        let size = 6u64 << 30;
        let ranges = part_ranges(size, 5 << 30);
        assert_eq!(ranges.len(), 12, "512 MiB parts");
        assert_eq!(ranges.last().unwrap().1, size - 1);
        let huge = 5u64 << 40;
        let ranges = part_ranges(huge, 5 << 30);
        assert!(ranges.len() as u64 <= MAX_PARTS);
        assert!(
            ranges.windows(2).all(|w| w[0].1 + 1 == w[1].0),
            "contiguous"
        );
        assert_eq!(ranges.last().unwrap().1, huge - 1);
    }
}
