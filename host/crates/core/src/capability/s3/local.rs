//! The local backend: S3 served from a directory tree, so that xacct runs on a fresh
//! machine with no AWS account and plugin authors develop offline. Four concerns, a
//! module each: confinement beneath the root ([`confine`]), objects ([`object`]) and
//! their sidecars ([`sidecar`]), staged writes ([`staged`]), and listings ([`listing`]).
//!
//! Layout under the root:
//! - `<account-id>/<bucket>/<key>`: the objects, a key's `/` being directory separators;
//! - `.xacct/meta/<account-id>/<bucket>/<sha256(key)>.json`: content type, user metadata
//!   and tags of objects that have any (hashed, so any key maps to one flat file name);
//! - `.xacct/settings/<account-id>/<bucket>.json`: the bucket's settings (versioning,
//!   default encryption, public access block, policy, ...), and `_account.json` there the
//!   account's own public access block ([`settings`]; the format is in the README);
//! - `.xacct/versions/<account-id>/<bucket>/<sha256(key)>/`: the versions a versioned
//!   bucket keeps of a key, and its delete markers ([`versions`]);
//! - `.xacct/tmp/`: bodies (and sidecars) being written, renamed into place only when a
//!   put is finished, so a failed, aborted or timed-out put leaves no partial object.
//!
//! Keys are checked before any path is built: a key that could name something outside its
//! bucket (`..`, `.`, empty segments, a leading `/`, NUL, backslash) is invalid-input and
//! never reaches the file system. Because keys are paths, a key cannot be both an object
//! and a "folder" of other keys here (S3 allows it); such a put is invalid-input.
//!
//! **Confinement.** The tree is confined by the OS, not by string checks: nothing below
//! the root is ever named by a path. The root is opened once per call (as the operator
//! configured it), and from there every directory is opened one name at a time, relative
//! to its already-open parent, without following a symbolic link (`cap-std`'s
//! `open_dir_nofollow`); the last name is then opened, examined, created, renamed or
//! unlinked relative to that handle, again without following. So a symbolic link anywhere
//! below the root — an account or bucket directory, any segment of a key, the object
//! itself, anything under `.xacct/meta` or `.xacct/tmp` — is never followed: a call that
//! meets one fails with access-denied (by the backend), and listings skip links (neither
//! listed nor descended into). Since no name is resolved twice, swapping a name for a link
//! between a check and an open gains nothing: the open itself refuses the link, and a read
//! reports the metadata of the file it actually opened.

mod confine;
mod listing;
mod object;
mod settings;
mod sidecar;
mod staged;
mod versions;

use std::io::{self, ErrorKind, Seek};
use std::path::PathBuf;

use async_trait::async_trait;
use cap_std::ambient_authority;
use cap_std::fs::{Dir, Metadata};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::backend::{Backend, ListRequest, ObjectStream, SettingChange, VersionsRequest};
use super::names::{BucketName, ObjectKey};
use super::upload::{PutBody, aborted};
use crate::bindings::s3::{
    Bucket, BucketConfig, BucketSetting, ByteRange, DeleteResult, ListObjectsPage,
    ListVersionsPage, ObjectMeta, PublicAccessBlock, PutOptions, PutResult, Tag,
};
use crate::bindings::{Account, S3Error};
use confine::{Miss, account_dir_name, io_error, key_segments, open_dir};
use listing::list_blocking;
use object::{Object, OpenBucket, millis, object_meta};
use settings::AccountSettings;
use sidecar::Sidecar;
use staged::Staged;

/// How much of a file one blocking read takes.
const READ_BUFFER: usize = 1 << 20;

/// Serves S3 from `root`.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    root: PathBuf,
}

/// Runs blocking file-system work off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, S3Error> + Send + 'static,
) -> Result<T, S3Error> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|_| Err(S3Error::Other("the local backend's worker failed".into())))
}

impl LocalBackend {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalBackend { root: root.into() }
    }

    /// The root, opened as the operator configured it (it may itself be a link): the one
    /// path the backend resolves.
    fn open_root(&self) -> Result<Dir, Miss> {
        Dir::open_ambient_dir(&self.root, ambient_authority()).map_err(|err| match err.kind() {
            ErrorKind::NotFound => Miss::Absent,
            ErrorKind::NotADirectory => Miss::WrongKind,
            _ => Miss::Io(err),
        })
    }

    fn open_bucket(&self, account: &str, bucket: &BucketName) -> Result<OpenBucket, S3Error> {
        let account_dir = account_dir_name(account)?;
        let what = format!("opening bucket {bucket:?}");
        let fail = |miss: Miss| {
            miss.into_error(&what, || {
                S3Error::NotFound(format!("bucket {bucket:?} does not exist"))
            })
        };
        let root = self.open_root().map_err(fail)?;
        let account_dir = open_dir(&root, account_dir, false).map_err(fail)?;
        let dir = open_dir(&account_dir, bucket.as_str(), false).map_err(fail)?;
        Ok(OpenBucket {
            root,
            dir,
            account: account.to_owned(),
            name: bucket.to_string(),
        })
    }

    fn object(
        &self,
        account: &str,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<Object, S3Error> {
        key_segments(key.as_str())?;
        Ok(Object {
            at: self.open_bucket(account, bucket)?,
            key: key.to_string(),
        })
    }
}

/// The opened file of `key` positioned at `range`'s first byte, with its metadata and
/// how many bytes to read from it.
fn from_range(
    (mut file, stat, sidecar): (std::fs::File, Metadata, Sidecar),
    range: Option<ByteRange>,
    key: &ObjectKey,
) -> Result<(ObjectMeta, u64, std::fs::File), S3Error> {
    let meta = object_meta(&stat, sidecar);
    let (first, content_length) = match range {
        None => (0, meta.size),
        Some(ByteRange { first, last }) => {
            let last = last.unwrap_or(u64::MAX).min(meta.size.saturating_sub(1));
            if first >= meta.size || last < first {
                return Err(S3Error::InvalidInput(format!(
                    "range {first}-{} is not satisfiable: the object has {} bytes",
                    range
                        .and_then(|r| r.last)
                        .map_or(String::new(), |l| l.to_string()),
                    meta.size
                )));
            }
            (first, last - first + 1)
        }
    };
    file.seek(io::SeekFrom::Start(first))
        .map_err(|e| io_error(e, &format!("reading {key:?}")))?;
    Ok((meta, content_length, file))
}

/// An opened file's bytes as a stream.
fn object_stream((meta, content_length, file): (ObjectMeta, u64, std::fs::File)) -> ObjectStream {
    ObjectStream {
        meta,
        content_length,
        // Large reads: each read of a tokio file is a hop to the blocking pool, and the
        // guest's stream takes 64 KiB at a time.
        body: Box::pin(tokio::io::BufReader::with_capacity(
            READ_BUFFER,
            tokio::fs::File::from_std(file).take(content_length),
        )),
        // The reader's buffer, and the file's own buffer behind it.
        buffer_bytes: 2 * READ_BUFFER as u64,
    }
}

#[async_trait]
impl Backend for LocalBackend {
    async fn list_buckets(&self, account: &Account) -> Result<Vec<Bucket>, S3Error> {
        let (this, id) = (self.clone(), account.id.clone());
        blocking(move || {
            let what = "listing buckets";
            let no_buckets = |miss: Miss| match miss {
                Miss::Absent | Miss::WrongKind => Ok(Vec::new()),
                miss => Err(miss.into_io_error(what)),
            };
            let root = match this.open_root() {
                Ok(root) => root,
                Err(miss) => return no_buckets(miss),
            };
            let dir = match open_dir(&root, account_dir_name(&id)?, false) {
                Ok(dir) => dir,
                Err(miss) => return no_buckets(miss),
            };
            let mut buckets = Vec::new();
            for entry in dir.entries().map_err(|e| io_error(e, what))? {
                let entry = entry.map_err(|e| io_error(e, what))?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                // Not followed: a link is not a bucket.
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_dir() && BucketName::new(name.as_str()).is_ok() {
                    buckets.push(Bucket {
                        name,
                        creation_date: millis(meta.created().or_else(|_| meta.modified())),
                    });
                }
            }
            buckets.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(buckets)
        })
        .await
    }

    async fn list_objects(
        &self,
        account: &Account,
        request: &ListRequest,
    ) -> Result<ListObjectsPage, S3Error> {
        let (this, id, request) = (self.clone(), account.id.clone(), request.clone());
        blocking(move || {
            let bucket = this.open_bucket(&id, &request.bucket)?;
            list_blocking(&bucket.dir, &request)
        })
        .await
    }

    async fn head_object(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<ObjectMeta, S3Error> {
        let this = self.clone();
        let (id, bucket, key) = (account.id.clone(), bucket.clone(), key.clone());
        blocking(move || {
            let object = this.object(&id, &bucket, &key)?;
            let meta = object.stat()?;
            Ok(object_meta(&meta, object.read_sidecar()?))
        })
        .await
    }

    async fn get_object(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        range: Option<ByteRange>,
    ) -> Result<ObjectStream, S3Error> {
        let this = self.clone();
        let (id, bucket, key) = (account.id.clone(), bucket.clone(), key.clone());
        blocking(move || {
            let object = this.object(&id, &bucket, &key)?;
            // The metadata is the opened file's: the bytes and the ETag are one version.
            let (file, stat) = object.open()?;
            from_range((file, stat, object.read_sidecar()?), range, &key)
        })
        .await
        .map(object_stream)
    }

    async fn put_object(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        options: PutOptions,
        mut body: PutBody,
    ) -> Result<PutResult, S3Error> {
        let what = format!("writing {key:?}");
        let this = self.clone();
        let (id, bucket, key) = (account.id.clone(), bucket.clone(), key.clone());
        let (object, staged, file) = blocking(move || {
            let object = this.object(&id, &bucket, &key)?;
            let (staged, file) = Staged::create(&object.at.root)?;
            Ok((object, staged, file))
        })
        .await?;
        let mut file = tokio::fs::File::from_std(file);
        while let Some(chunk) = body.next_chunk().await {
            file.write_all(&chunk.bytes)
                .await
                .map_err(|e| io_error(e, &what))?;
        }
        file.flush().await.map_err(|e| io_error(e, &what))?;
        let file = file.into_std().await;
        if !body.committed().await {
            return Err(aborted());
        }
        let sidecar = Sidecar {
            content_type: options.content_type,
            metadata: options.metadata,
            tags: Vec::new(),
        };
        blocking(move || versions::put(&object, staged, &file, &sidecar)).await
    }

    async fn delete_object(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<(), S3Error> {
        let this = self.clone();
        let (id, bucket, key) = (account.id.clone(), bucket.clone(), key.clone());
        blocking(move || versions::delete(&this.object(&id, &bucket, &key)?)).await
    }

    async fn delete_objects(
        &self,
        account: &Account,
        bucket: &BucketName,
        keys: Vec<ObjectKey>,
    ) -> Result<DeleteResult, S3Error> {
        let this = self.clone();
        let (id, name) = (account.id.clone(), bucket.clone());
        blocking(move || this.open_bucket(&id, &name).map(drop)).await?;
        let mut result = DeleteResult {
            deleted: Vec::new(),
            failed: Vec::new(),
        };
        for key in keys {
            match self.delete_object(account, bucket, &key).await {
                Ok(()) => result.deleted.push(key.into_string()),
                Err(err) => result.failed.push((key.into_string(), err)),
            }
        }
        Ok(result)
    }

    async fn copy_object(
        &self,
        account: &Account,
        (source_bucket, source_key): (&BucketName, &ObjectKey),
        _source: &ObjectMeta,
        (target_bucket, target_key): (&BucketName, &ObjectKey),
    ) -> Result<PutResult, S3Error> {
        let this = self.clone();
        let id = account.id.clone();
        let (source_bucket, source_key) = (source_bucket.clone(), source_key.clone());
        let (target_bucket, target_key) = (target_bucket.clone(), target_key.clone());
        blocking(move || {
            let source = this.object(&id, &source_bucket, &source_key)?;
            let target = this.object(&id, &target_bucket, &target_key)?;
            let (mut from, _) = source.open()?;
            // Content type and metadata travel; tags do not (as on the AWS backend).
            let sidecar = Sidecar {
                tags: Vec::new(),
                ..source.read_sidecar()?
            };
            let what = format!("copying {source_key:?}");
            let (staged, mut to) = Staged::create(&target.at.root)?;
            io::copy(&mut from, &mut to).map_err(|e| io_error(e, &what))?;
            versions::put(&target, staged, &to, &sidecar)
        })
        .await
    }

    async fn get_object_tagging(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<Vec<Tag>, S3Error> {
        let this = self.clone();
        let (id, bucket, key) = (account.id.clone(), bucket.clone(), key.clone());
        blocking(move || {
            let object = this.object(&id, &bucket, &key)?;
            object.stat()?;
            Ok(object
                .read_sidecar()?
                .tags
                .into_iter()
                .map(|(key, value)| Tag { key, value })
                .collect())
        })
        .await
    }

    async fn put_object_tagging(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        tags: Vec<Tag>,
    ) -> Result<(), S3Error> {
        let this = self.clone();
        let (id, bucket, key) = (account.id.clone(), bucket.clone(), key.clone());
        blocking(move || {
            let object = this.object(&id, &bucket, &key)?;
            object.stat()?;
            let mut sidecar = object.read_sidecar()?;
            sidecar.tags = tags.into_iter().map(|tag| (tag.key, tag.value)).collect();
            object.write_sidecar(&sidecar)
        })
        .await
    }

    async fn get_bucket_setting(
        &self,
        account: &Account,
        bucket: &BucketName,
        setting: BucketSetting,
    ) -> Result<BucketConfig, S3Error> {
        let this = self.clone();
        let (id, bucket) = (account.id.clone(), bucket.clone());
        blocking(move || {
            let at = this.open_bucket(&id, &bucket)?;
            let settings = AccountSettings {
                root: &at.root,
                account: &at.account,
            };
            settings.bucket(bucket.as_str())?.setting(&id, setting)
        })
        .await
    }

    async fn get_account_public_access_block(
        &self,
        account: &Account,
    ) -> Result<Option<PublicAccessBlock>, S3Error> {
        let this = self.clone();
        let id = account.id.clone();
        blocking(move || {
            let account = account_dir_name(&id)?;
            let root = match this.open_root() {
                Ok(root) => root,
                Err(Miss::Absent | Miss::WrongKind) => return Ok(None),
                Err(miss) => return Err(miss.into_io_error("reading the account's settings")),
            };
            AccountSettings {
                root: &root,
                account,
            }
            .account_block()
        })
        .await
    }

    async fn put_bucket_setting(
        &self,
        account: &Account,
        bucket: &BucketName,
        change: &SettingChange,
    ) -> Result<(), S3Error> {
        let this = self.clone();
        let (id, bucket, change) = (account.id.clone(), bucket.clone(), change.clone());
        blocking(move || {
            let at = this.open_bucket(&id, &bucket)?;
            let settings = AccountSettings {
                root: &at.root,
                account: &at.account,
            };
            settings.change_bucket(bucket.as_str(), &change)
        })
        .await
    }

    async fn list_object_versions(
        &self,
        account: &Account,
        request: &VersionsRequest,
    ) -> Result<ListVersionsPage, S3Error> {
        let (this, id, request) = (self.clone(), account.id.clone(), request.clone());
        blocking(move || {
            let bucket = this.open_bucket(&id, &request.listing.bucket)?;
            versions::list(&bucket, &request)
        })
        .await
    }

    async fn head_object_version(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        version_id: &str,
    ) -> Result<ObjectMeta, S3Error> {
        let this = self.clone();
        let (id, bucket, key) = (account.id.clone(), bucket.clone(), key.clone());
        let version_id = version_id.to_owned();
        blocking(move || {
            let object = this.object(&id, &bucket, &key)?;
            let (_, stat, sidecar) = versions::open_version(&object, &version_id)?;
            Ok(object_meta(&stat, sidecar))
        })
        .await
    }

    async fn get_object_version(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        version_id: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectStream, S3Error> {
        let this = self.clone();
        let (id, bucket, key) = (account.id.clone(), bucket.clone(), key.clone());
        let version_id = version_id.to_owned();
        blocking(move || {
            let object = this.object(&id, &bucket, &key)?;
            from_range(versions::open_version(&object, &version_id)?, range, &key)
        })
        .await
        .map(object_stream)
    }

    async fn delete_object_version(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
        version_id: &str,
    ) -> Result<(), S3Error> {
        let this = self.clone();
        let (id, bucket, key) = (account.id.clone(), bucket.clone(), key.clone());
        let version_id = version_id.to_owned();
        blocking(move || versions::delete_version(&this.object(&id, &bucket, &key)?, &version_id))
            .await
    }
}

#[cfg(test)]
mod tests;
