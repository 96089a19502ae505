//! What the shim knows of the objects behind the traffic, learned from the writes and reads
//! it forwards: each object's size (CopyObject's 5 GB limit) and the KMS key it was
//! encrypted with (SSE-KMS reads need `kms:Decrypt` on it), and each open multipart
//! upload's key and part sizes; and the delete markers plain deletes placed in versioned
//! buckets (a version read of one is `405 Method Not Allowed` on S3).

use std::collections::{BTreeMap, HashMap, HashSet};

/// One stored object.
#[derive(Debug, Clone, Default)]
pub(super) struct Stored {
    pub(super) size: Option<u64>,
    /// The KMS key ARN its data key is encrypted with (none: not SSE-KMS, or the AWS
    /// managed key, which is not modelled).
    pub(super) kms_key: Option<String>,
}

/// An open multipart upload.
#[derive(Debug, Default)]
struct Upload {
    kms_key: Option<String>,
    parts: BTreeMap<u32, u64>,
}

#[derive(Debug, Default)]
pub(super) struct Objects {
    stored: HashMap<(String, String), Stored>,
    uploads: HashMap<String, Upload>,
    /// (bucket, key, version id) of each delete marker placed.
    delete_markers: HashSet<(String, String, String)>,
}

impl Objects {
    pub(super) fn get(&self, bucket: &str, key: &str) -> Stored {
        self.stored
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    /// An object written whole (PutObject, CopyObject).
    pub(super) fn written(&mut self, bucket: &str, key: &str, stored: Stored) {
        self.stored
            .insert((bucket.to_owned(), key.to_owned()), stored);
    }

    /// The size S3 reported for an object (HeadObject, GetObject).
    pub(super) fn seen(&mut self, bucket: &str, key: &str, size: u64) {
        self.stored
            .entry((bucket.to_owned(), key.to_owned()))
            .or_default()
            .size = Some(size);
    }

    pub(super) fn deleted(&mut self, bucket: &str, key: &str) {
        self.stored.remove(&(bucket.to_owned(), key.to_owned()));
    }

    /// A plain delete answered `x-amz-delete-marker: true` with this version id.
    pub(super) fn marker_placed(&mut self, bucket: &str, key: &str, version_id: &str) {
        self.delete_markers
            .insert((bucket.to_owned(), key.to_owned(), version_id.to_owned()));
    }

    /// A version deleted for good: a delete marker no more.
    pub(super) fn version_deleted(&mut self, bucket: &str, key: &str, version_id: &str) {
        self.delete_markers
            .remove(&(bucket.to_owned(), key.to_owned(), version_id.to_owned()));
    }

    pub(super) fn is_delete_marker(&self, bucket: &str, key: &str, version_id: &str) -> bool {
        self.delete_markers
            .contains(&(bucket.to_owned(), key.to_owned(), version_id.to_owned()))
    }

    pub(super) fn upload_created(&mut self, upload_id: &str, kms_key: Option<String>) {
        self.uploads.insert(
            upload_id.to_owned(),
            Upload {
                kms_key,
                parts: BTreeMap::new(),
            },
        );
    }

    /// The KMS key of an open upload.
    pub(super) fn upload_key(&self, upload_id: &str) -> Option<String> {
        self.uploads.get(upload_id)?.kms_key.clone()
    }

    pub(super) fn part_uploaded(&mut self, upload_id: &str, part: u32, size: u64) {
        if let Some(upload) = self.uploads.get_mut(upload_id) {
            upload.parts.insert(part, size);
        }
    }

    /// An upload completed into `bucket/key`: the object's size is its parts'.
    pub(super) fn upload_completed(&mut self, upload_id: &str, bucket: &str, key: &str) {
        if let Some(upload) = self.uploads.remove(upload_id) {
            let size = upload.parts.values().sum();
            self.written(
                bucket,
                key,
                Stored {
                    size: Some(size),
                    kms_key: upload.kms_key,
                },
            );
        }
    }
}
