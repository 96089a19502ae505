//! Object versions: list a bucket's versions and delete markers, and read or delete one
//! version.
//!
//! ```no_run
//! # fn purge(s3: &xacct_guest::S3) -> xacct_guest::Result<()> {
//! // Delete every noncurrent version under `logs/`, for good.
//! for version in s3.list_versions("archive").prefix("logs/").versions() {
//!     let version = version?;
//!     if !version.is_latest {
//!         s3.object_version("archive", &version.key, &version.version_id).delete()?;
//!     }
//! }
//! // Read an earlier version.
//! let mut old = s3.object_version("archive", "report.csv", "3HL4kqtJlcpXroDTDmJ").get()?;
//! let mut text = String::new();
//! std::io::Read::read_to_string(&mut old, &mut text)?;
//! # Ok(())
//! # }
//! ```

use crate::bindings::xacct::plugin::s3::{
    ByteRange, Client, ListVersionsPage, ListVersionsRequest, ObjectMeta, ObjectVersion,
};
use crate::{ObjectReader, Paged, Pages, S3, S3Result};

impl S3 {
    /// A listing of `bucket`'s versions and delete markers; refine it, then iterate
    /// [`VersionListing::versions`] or [`VersionListing::pages`]. Needs `versions`.
    pub fn list_versions(&self, bucket: &str) -> VersionListing<'_> {
        VersionListing {
            client: &self.client,
            request: ListVersionsRequest {
                bucket: bucket.to_owned(),
                prefix: None,
                delimiter: None,
                max_keys: None,
                key_marker: None,
                version_id_marker: None,
            },
        }
    }

    /// One version (or delete marker) of an object: [`ObjectVersionRef::get`],
    /// [`ObjectVersionRef::head`] or [`ObjectVersionRef::delete`] it.
    pub fn object_version<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        version_id: &'a str,
    ) -> ObjectVersionRef<'a> {
        ObjectVersionRef {
            client: &self.client,
            bucket,
            key,
            version_id,
        }
    }
}

/// A listing of versions being built.
pub struct VersionListing<'a> {
    client: &'a Client,
    request: ListVersionsRequest,
}

impl<'a> VersionListing<'a> {
    /// Only keys starting with `prefix`.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.request.prefix = Some(prefix.to_owned());
        self
    }

    /// Roll keys up to the next `delimiter` into common prefixes.
    pub fn delimiter(mut self, delimiter: &str) -> Self {
        self.request.delimiter = Some(delimiter.to_owned());
        self
    }

    /// At most `n` entries per page (1..=1000).
    pub fn page_size(mut self, n: u32) -> Self {
        self.request.max_keys = Some(n);
        self
    }

    /// The pages, fetched as the iterator advances.
    pub fn pages(self) -> Pages<'a, ListVersionsRequest> {
        Pages::new(self.client, self.request)
    }

    /// Every version and delete marker, page after page: keys in order, each key's
    /// newest first.
    pub fn versions(self) -> impl Iterator<Item = S3Result<ObjectVersion>> + 'a {
        self.pages().items(|page| page.versions)
    }
}

impl Paged for ListVersionsRequest {
    type Page = ListVersionsPage;

    fn fetch(&self, client: &Client) -> S3Result<ListVersionsPage> {
        client.list_object_versions(self)
    }

    fn advance(&mut self, page: &ListVersionsPage) -> bool {
        if page.next_key_marker.is_none() {
            return false;
        }
        self.key_marker = page.next_key_marker.clone();
        self.version_id_marker = page.next_version_id_marker.clone();
        true
    }
}

/// One version of an object, by id.
pub struct ObjectVersionRef<'a> {
    client: &'a Client,
    bucket: &'a str,
    key: &'a str,
    version_id: &'a str,
}

impl ObjectVersionRef<'_> {
    /// Its metadata. Needs `versions`.
    pub fn head(&self) -> S3Result<ObjectMeta> {
        self.client
            .head_object_version(self.bucket, self.key, self.version_id)
    }

    /// Its bytes, streamed. Needs `versions`.
    pub fn get(&self) -> S3Result<ObjectReader> {
        self.read(None)
    }

    /// Its bytes `first..=last` (`last: None`: to the end). Needs `versions`.
    pub fn get_range(&self, first: u64, last: Option<u64>) -> S3Result<ObjectReader> {
        self.read(Some(ByteRange { first, last }))
    }

    fn read(&self, range: Option<ByteRange>) -> S3Result<ObjectReader> {
        let object =
            self.client
                .get_object_version(self.bucket, self.key, self.version_id, range)?;
        Ok(ObjectReader {
            meta: object.meta,
            content_length: object.content_length,
            stream: object.body,
        })
    }

    /// Deletes it for good (a delete marker: the object is back). Needs
    /// `delete-versions`.
    pub fn delete(&self) -> S3Result<()> {
        self.client
            .delete_object_version(self.bucket, self.key, self.version_id)
    }
}
