//! Object versions on AWS: ListObjectVersions, and DeleteObject of one version. (Head
//! and get of a version are the object's, with a `versionId`: [`super::AwsBackend`].)

use std::cmp::Reverse;

use xacct_core::bindings::S3Error;
use xacct_core::bindings::s3::{ListVersionsPage, ObjectVersion};
use xacct_core::capability::s3::backend::{VersionsRequest, empty_versions_page};
use xacct_core::capability::s3::names::{BucketName, ObjectKey};

use super::fields::{millis, size};
use super::send::on_bucket;
use crate::session::Session;

/// One page of versions. S3 answers versions and delete markers as two lists (the SDK
/// keeps them apart, losing how they interleave); the page merges them back into S3's
/// order — keys ascending, each key's current entry first, then newest first.
pub(super) async fn list(
    session: &Session,
    request: &VersionsRequest,
) -> Result<ListVersionsPage, S3Error> {
    let listing = &request.listing;
    let bucket = listing.bucket.as_str();
    let what = format!("ListObjectVersions on {bucket:?}");
    let Some(max_keys) = listing.page_size() else {
        return Ok(empty_versions_page());
    };
    let output = on_bucket(session, Some(bucket), &what, |s3| {
        s3.list_object_versions()
            .bucket(bucket)
            .set_prefix(listing.prefix.clone())
            .set_delimiter(listing.delimiter().map(str::to_owned))
            .max_keys(max_keys as i32)
            .set_key_marker(request.key_marker.clone())
            .set_version_id_marker(request.version_id_marker.clone())
            .send()
    })
    .await?;
    let versions = output.versions().iter().filter_map(|version| {
        Some(ObjectVersion {
            key: version.key()?.to_owned(),
            version_id: version.version_id().unwrap_or("null").to_owned(),
            is_latest: version.is_latest().unwrap_or(false),
            is_delete_marker: false,
            size: size(version.size()),
            etag: version.e_tag().unwrap_or_default().to_owned(),
            last_modified: millis(version.last_modified()),
        })
    });
    let markers = output.delete_markers().iter().filter_map(|marker| {
        Some(ObjectVersion {
            key: marker.key()?.to_owned(),
            version_id: marker.version_id().unwrap_or("null").to_owned(),
            is_latest: marker.is_latest().unwrap_or(false),
            is_delete_marker: true,
            size: 0,
            etag: String::new(),
            last_modified: millis(marker.last_modified()),
        })
    });
    let mut merged: Vec<ObjectVersion> = versions.chain(markers).collect();
    merged.sort_by(|a, b| {
        (&a.key, !a.is_latest, Reverse(a.last_modified)).cmp(&(
            &b.key,
            !b.is_latest,
            Reverse(b.last_modified),
        ))
    });
    let truncated = output.is_truncated().unwrap_or(false);
    Ok(ListVersionsPage {
        versions: merged,
        common_prefixes: output
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix().map(str::to_owned))
            .collect(),
        next_key_marker: truncated
            .then(|| output.next_key_marker().map(str::to_owned))
            .flatten(),
        next_version_id_marker: truncated
            .then(|| output.next_version_id_marker().map(str::to_owned))
            .flatten(),
    })
}

/// DeleteObject with a `versionId`: that version or delete marker, for good.
pub(super) async fn delete(
    session: &Session,
    (bucket, key): (&BucketName, &ObjectKey),
    version_id: &str,
) -> Result<(), S3Error> {
    let (bucket, key) = (bucket.as_str(), key.as_str());
    let what = format!("DeleteObject {bucket}/{key} version {version_id}");
    on_bucket(session, Some(bucket), &what, |s3| {
        s3.delete_object()
            .bucket(bucket)
            .key(key)
            .version_id(version_id)
            .send()
    })
    .await?;
    Ok(())
}
