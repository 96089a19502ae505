//! The local backend: S3 served from a directory tree, so that xacct runs on a fresh
//! machine with no AWS account and plugin authors develop offline.
//!
//! Layout under the root:
//! - `<account-id>/<bucket>/<key>`: the objects, a key's `/` being directory separators;
//! - `.xacct/meta/<account-id>/<bucket>/<sha256(key)>.json`: content type, user metadata
//!   and tags of objects that have any (hashed, so any key maps to one flat file name);
//! - `.xacct/tmp/`: bodies being written, renamed into place only when a put is finished,
//!   so a failed, aborted or timed-out put leaves no partial object.
//!
//! Keys are checked before any path is built: a key that could name something outside its
//! bucket (`..`, `.`, empty segments, a leading `/`, NUL, backslash) is invalid-input and
//! never reaches the file system. Because keys are paths, a key cannot be both an object
//! and a "folder" of other keys here (S3 allows it); such a put is invalid-input.

use std::io::{self, ErrorKind};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::backend::{
    Backend, ObjectStream, PutBody, aborted, check_bucket_name, check_delete_batch, check_tags,
    empty_page, page_size,
};
use crate::bindings::s3::{
    Bucket, ByteRange, DeleteResult, ListObjectsPage, ListObjectsRequest, ObjectMeta,
    ObjectSummary, PutOptions, PutResult, Tag,
};
use crate::bindings::{AccessDenied, Account, DeniedBy, S3Error};

/// How much of a file one blocking read takes.
const READ_BUFFER: usize = 1 << 20;

/// Serves S3 from `root`.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    root: PathBuf,
}

/// What S3 keeps beside an object's bytes.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Sidecar {
    content_type: Option<String>,
    metadata: Vec<(String, String)>,
    tags: Vec<(String, String)>,
}

impl Sidecar {
    fn is_empty(&self) -> bool {
        self.content_type.is_none() && self.metadata.is_empty() && self.tags.is_empty()
    }
}

/// Where one object lives.
struct ObjectLocation {
    bucket_dir: PathBuf,
    path: PathBuf,
    sidecar: PathBuf,
}

impl LocalBackend {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalBackend { root: root.into() }
    }

    fn bucket_dir(&self, account: &Account, bucket: &str) -> Result<PathBuf, S3Error> {
        check_bucket_name(bucket)?;
        Ok(self.root.join(&account.id).join(bucket))
    }

    fn existing_bucket_dir(&self, account: &Account, bucket: &str) -> Result<PathBuf, S3Error> {
        let dir = self.bucket_dir(account, bucket)?;
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(S3Error::NotFound(format!(
                "bucket {bucket:?} does not exist"
            )))
        }
    }

    fn locate(
        &self,
        account: &Account,
        bucket: &str,
        key: &str,
    ) -> Result<ObjectLocation, S3Error> {
        let relative = key_to_path(key)?;
        let bucket_dir = self.existing_bucket_dir(account, bucket)?;
        let digest = hex::encode(Sha256::digest(key.as_bytes()));
        Ok(ObjectLocation {
            path: bucket_dir.join(relative),
            bucket_dir,
            sidecar: self
                .root
                .join(".xacct/meta")
                .join(&account.id)
                .join(bucket)
                .join(format!("{digest}.json")),
        })
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join(".xacct/tmp")
    }
}

/// Turns a key into a path below its bucket, refusing any key that could escape it.
fn key_to_path(key: &str) -> Result<PathBuf, S3Error> {
    let refuse = |why: &str| Err(S3Error::InvalidInput(format!("key {key:?} {why}")));
    if key.is_empty() {
        return refuse("is empty");
    }
    if key.len() > 1024 {
        return refuse("is longer than 1024 bytes");
    }
    if key.contains('\0') {
        return refuse("contains NUL");
    }
    if key.contains('\\') {
        return refuse("contains a backslash");
    }
    if key.starts_with('/') {
        return refuse("is an absolute path");
    }
    let mut path = PathBuf::new();
    for segment in key.split('/') {
        match segment {
            ".." | "." => {
                return refuse("has a '.' or '..' segment, which would escape its bucket");
            }
            "" => {
                return refuse(
                    "has an empty segment ('//' or a trailing '/'), which the local backend cannot store",
                );
            }
            s if s.len() > 255 => return refuse("has a segment longer than 255 bytes"),
            s => path.push(s),
        }
    }
    Ok(path)
}

fn io_error(err: io::Error, what: &str) -> S3Error {
    match err.kind() {
        ErrorKind::NotFound => S3Error::NotFound(format!("{what}: not found")),
        ErrorKind::PermissionDenied => S3Error::AccessDenied(AccessDenied {
            by: DeniedBy::Backend,
            message: format!("{what}: the local backend may not access it"),
        }),
        kind => S3Error::Other(format!("{what}: local backend I/O error ({kind})")),
    }
}

fn millis(time: io::Result<SystemTime>) -> Option<i64> {
    let since = time.ok()?.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    i64::try_from(since.as_millis()).ok()
}

/// A version identifier: changes whenever the file is replaced. Not an MD5 of the content
/// (S3's multipart ETags are not either); plugins compare ETags, they do not parse them.
fn etag(meta: &std::fs::Metadata) -> String {
    let mut hash = Sha256::new();
    hash.update(meta.len().to_le_bytes());
    hash.update(meta.ino().to_le_bytes());
    hash.update(meta.mtime().to_le_bytes());
    hash.update(meta.mtime_nsec().to_le_bytes());
    format!("\"{}\"", &hex::encode(hash.finalize())[..32])
}

fn read_sidecar(path: &Path) -> Result<Sidecar, S3Error> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|_| S3Error::Other("the object's stored metadata is unreadable".into())),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(Sidecar::default()),
        Err(err) => Err(io_error(err, "reading the object's metadata")),
    }
}

/// Writes (or, when empty, removes) a sidecar atomically.
fn write_sidecar(path: &Path, sidecar: &Sidecar) -> Result<(), S3Error> {
    let what = "storing the object's metadata";
    if sidecar.is_empty() {
        return match std::fs::remove_file(path) {
            Err(err) if err.kind() != ErrorKind::NotFound => Err(io_error(err, what)),
            _ => Ok(()),
        };
    }
    let dir = path.parent().expect("sidecars live in a directory");
    std::fs::create_dir_all(dir).map_err(|e| io_error(e, what))?;
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io_error(e, what))?;
    serde_json::to_writer(tmp.as_file(), sidecar).map_err(|_| S3Error::Other(what.into()))?;
    tmp.persist(path).map_err(|e| io_error(e.error, what))?;
    Ok(())
}

/// A regular file's metadata, or not-found for anything else (a directory is a "folder").
fn object_metadata(
    location: &ObjectLocation,
    bucket: &str,
    key: &str,
) -> Result<std::fs::Metadata, S3Error> {
    match std::fs::symlink_metadata(&location.path) {
        Ok(meta) if meta.is_file() => Ok(meta),
        Ok(_) => Err(not_found(bucket, key)),
        Err(err) if matches!(err.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            Err(not_found(bucket, key))
        }
        Err(err) => Err(io_error(err, &format!("reading {key:?}"))),
    }
}

fn not_found(bucket: &str, key: &str) -> S3Error {
    S3Error::NotFound(format!("key {key:?} does not exist in bucket {bucket:?}"))
}

fn conflict(key: &str) -> S3Error {
    S3Error::InvalidInput(format!(
        "key {key:?} conflicts with another key: on the local backend a key cannot be both \
         an object and a prefix of other keys followed by '/'"
    ))
}

fn object_meta(meta: &std::fs::Metadata, sidecar: Sidecar) -> ObjectMeta {
    ObjectMeta {
        size: meta.len(),
        etag: etag(meta),
        content_type: sidecar.content_type,
        last_modified: millis(meta.modified()),
        metadata: sidecar.metadata,
    }
}

/// Moves a finished body (`tmp`) to its key, with its sidecar.
fn install(
    tmp: tempfile::TempPath,
    location: &ObjectLocation,
    key: &str,
    sidecar: &Sidecar,
) -> Result<PutResult, S3Error> {
    if let Some(parent) = location.path.parent() {
        std::fs::create_dir_all(parent).map_err(|err| match err.kind() {
            ErrorKind::AlreadyExists | ErrorKind::NotADirectory => conflict(key),
            _ => io_error(err, &format!("storing {key:?}")),
        })?;
    }
    if location.path.is_dir() {
        return Err(conflict(key));
    }
    write_sidecar(&location.sidecar, sidecar)?;
    tmp.persist(&location.path)
        .map_err(|err| io_error(err.error, &format!("storing {key:?}")))?;
    let meta =
        std::fs::metadata(&location.path).map_err(|e| io_error(e, &format!("storing {key:?}")))?;
    Ok(PutResult {
        etag: etag(&meta),
        size: meta.len(),
    })
}

/// Removes the directories a delete left empty, up to (not including) the bucket.
fn prune_empty_dirs(mut dir: &Path, bucket_dir: &Path) {
    while dir != bucket_dir && dir.starts_with(bucket_dir) {
        if std::fs::remove_dir(dir).is_err() {
            break;
        }
        match dir.parent() {
            Some(parent) => dir = parent,
            None => break,
        }
    }
}

fn delete_blocking(location: &ObjectLocation, key: &str) -> Result<(), S3Error> {
    match std::fs::symlink_metadata(&location.path) {
        Ok(meta) if meta.is_file() => {
            std::fs::remove_file(&location.path)
                .map_err(|e| io_error(e, &format!("deleting {key:?}")))?;
            write_sidecar(&location.sidecar, &Sidecar::default())?;
            if let Some(parent) = location.path.parent() {
                prune_empty_dirs(parent, &location.bucket_dir);
            }
            Ok(())
        }
        // Deleting what is not there succeeds, as on S3.
        _ => Ok(()),
    }
}

/// Lists every object of a bucket below `dir` (whose keys start with `key_prefix`).
fn walk(
    dir: &Path,
    key_prefix: &str,
    out: &mut Vec<(String, std::fs::Metadata)>,
) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if matches!(err.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Ok(());
        }
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue; // not UTF-8: cannot be a key
        };
        let file_type = entry.file_type()?;
        let key = format!("{key_prefix}{name}");
        if file_type.is_dir() {
            walk(&entry.path(), &format!("{key}/"), out)?;
        } else if file_type.is_file() {
            out.push((key, entry.metadata()?));
        }
    }
    Ok(())
}

/// Where a listing resumes: after a key, or after every key under a common prefix.
enum Resume {
    AfterKey(String),
    AfterPrefix(String),
}

impl Resume {
    fn token(&self) -> String {
        match self {
            Resume::AfterKey(key) => format!("k{}", hex::encode(key)),
            Resume::AfterPrefix(prefix) => format!("p{}", hex::encode(prefix)),
        }
    }

    fn parse(token: &str) -> Result<Resume, S3Error> {
        let invalid = || {
            S3Error::InvalidInput("the continuation token is not one this backend issued".into())
        };
        let (kind, hex_part) = token.split_at_checked(1).ok_or_else(invalid)?;
        let value = String::from_utf8(hex::decode(hex_part).map_err(|_| invalid())?)
            .map_err(|_| invalid())?;
        match kind {
            "k" => Ok(Resume::AfterKey(value)),
            "p" => Ok(Resume::AfterPrefix(value)),
            _ => Err(invalid()),
        }
    }

    fn skips(&self, key: &str) -> bool {
        match self {
            Resume::AfterKey(after) => key <= after.as_str(),
            Resume::AfterPrefix(prefix) => {
                key <= prefix.as_str() || key.starts_with(prefix.as_str())
            }
        }
    }
}

fn list_blocking(
    bucket_dir: &Path,
    request: &ListObjectsRequest,
) -> Result<ListObjectsPage, S3Error> {
    let prefix = request.prefix.as_deref().unwrap_or("");
    let delimiter = request.delimiter.as_deref().filter(|d| !d.is_empty());
    let Some(max_keys) = page_size(request) else {
        return Ok(empty_page());
    };
    let max_keys = max_keys as usize;
    let resume = match (&request.continuation_token, &request.start_after) {
        (Some(token), _) => Some(Resume::parse(token)?),
        (None, Some(after)) => Some(Resume::AfterKey(after.clone())),
        (None, None) => None,
    };
    let mut page = empty_page();
    // Only the directory the prefix names can hold matching keys: start the walk there.
    let (start_dir, start_key) = match prefix.rfind('/') {
        Some(slash) if key_to_path(&prefix[..slash]).is_ok() => {
            (bucket_dir.join(&prefix[..slash]), &prefix[..=slash])
        }
        _ => (bucket_dir.to_owned(), ""),
    };
    let mut entries = Vec::new();
    walk(&start_dir, start_key, &mut entries).map_err(|e| io_error(e, "listing the bucket"))?;
    entries.retain(|(key, _)| {
        key.starts_with(prefix) && !resume.as_ref().is_some_and(|r| r.skips(key))
    });
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));

    let mut last: Option<Resume> = None;
    let mut count = 0;
    for (key, meta) in entries {
        let rolled_up = delimiter.and_then(|d| {
            let rest = &key[prefix.len()..];
            rest.find(d)
                .map(|at| key[..prefix.len() + at + d.len()].to_owned())
        });
        if let (Some(common), Some(Resume::AfterPrefix(previous))) = (&rolled_up, &last)
            && common == previous
        {
            continue;
        }
        if count == max_keys {
            page.next_continuation_token = last.as_ref().map(Resume::token);
            break;
        }
        count += 1;
        match rolled_up {
            Some(common) => {
                page.common_prefixes.push(common.clone());
                last = Some(Resume::AfterPrefix(common));
            }
            None => {
                page.objects.push(ObjectSummary {
                    size: meta.len(),
                    etag: etag(&meta),
                    last_modified: millis(meta.modified()),
                    key: key.clone(),
                });
                last = Some(Resume::AfterKey(key));
            }
        }
    }
    Ok(page)
}

/// Runs blocking file-system work off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, S3Error> + Send + 'static,
) -> Result<T, S3Error> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|_| Err(S3Error::Other("the local backend's worker failed".into())))
}

#[async_trait]
impl Backend for LocalBackend {
    async fn list_buckets(&self, account: &Account) -> Result<Vec<Bucket>, S3Error> {
        let dir = self.root.join(&account.id);
        blocking(move || {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(err) if err.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
                Err(err) => return Err(io_error(err, "listing buckets")),
            };
            let mut buckets = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|e| io_error(e, "listing buckets"))?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_dir() && check_bucket_name(&name).is_ok() {
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
        request: ListObjectsRequest,
    ) -> Result<ListObjectsPage, S3Error> {
        let bucket_dir = self.existing_bucket_dir(account, &request.bucket)?;
        blocking(move || list_blocking(&bucket_dir, &request)).await
    }

    async fn head_object(
        &self,
        account: &Account,
        bucket: &str,
        key: &str,
    ) -> Result<ObjectMeta, S3Error> {
        let location = self.locate(account, bucket, key)?;
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        blocking(move || {
            let meta = object_metadata(&location, &bucket, &key)?;
            Ok(object_meta(&meta, read_sidecar(&location.sidecar)?))
        })
        .await
    }

    async fn get_object(
        &self,
        account: &Account,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectStream, S3Error> {
        let meta = self.head_object(account, bucket, key).await?;
        let location = self.locate(account, bucket, key)?;
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
        let what = format!("reading {key:?}");
        let mut file = tokio::fs::File::open(&location.path)
            .await
            .map_err(|e| io_error(e, &what))?;
        file.seek(io::SeekFrom::Start(first))
            .await
            .map_err(|e| io_error(e, &what))?;
        Ok(ObjectStream {
            meta,
            content_length,
            // Large reads: each read of a tokio file is a hop to the blocking pool, and the
            // guest's stream takes 64 KiB at a time.
            body: Box::pin(tokio::io::BufReader::with_capacity(
                READ_BUFFER,
                file.take(content_length),
            )),
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
        let location = self.locate(account, bucket, key)?;
        let what = format!("writing {key:?}");
        let tmp_dir = self.tmp_dir();
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(|e| io_error(e, &what))?;
        // The temporary file deletes itself when dropped: on an error, an abort, or a
        // cancelled task alike.
        let tmp = blocking(move || {
            tempfile::NamedTempFile::new_in(tmp_dir)
                .map_err(|e| io_error(e, "creating a temporary file"))
        })
        .await?
        .into_temp_path();
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| io_error(e, &what))?;
        while let Some(chunk) = body.next_chunk().await {
            file.write_all(&chunk)
                .await
                .map_err(|e| io_error(e, &what))?;
        }
        file.flush().await.map_err(|e| io_error(e, &what))?;
        drop(file);
        if !body.committed().await {
            return Err(aborted());
        }
        let sidecar = Sidecar {
            content_type: options.content_type,
            metadata: options.metadata,
            tags: Vec::new(),
        };
        let key = key.to_owned();
        blocking(move || install(tmp, &location, &key, &sidecar)).await
    }

    async fn delete_object(
        &self,
        account: &Account,
        bucket: &str,
        key: &str,
    ) -> Result<(), S3Error> {
        let location = self.locate(account, bucket, key)?;
        let key = key.to_owned();
        blocking(move || delete_blocking(&location, &key)).await
    }

    async fn delete_objects(
        &self,
        account: &Account,
        bucket: &str,
        keys: Vec<String>,
    ) -> Result<DeleteResult, S3Error> {
        check_delete_batch(&keys)?;
        self.existing_bucket_dir(account, bucket)?;
        let mut result = DeleteResult {
            deleted: Vec::new(),
            failed: Vec::new(),
        };
        for key in keys {
            match self.delete_object(account, bucket, &key).await {
                Ok(()) => result.deleted.push(key),
                Err(err) => result.failed.push((key, err)),
            }
        }
        Ok(result)
    }

    async fn copy_object(
        &self,
        account: &Account,
        (source_bucket, source_key): (&str, &str),
        (target_bucket, target_key): (&str, &str),
    ) -> Result<PutResult, S3Error> {
        let source = self.locate(account, source_bucket, source_key)?;
        let target = self.locate(account, target_bucket, target_key)?;
        let tmp_dir = self.tmp_dir();
        let (source_bucket, source_key, target_key) = (
            source_bucket.to_owned(),
            source_key.to_owned(),
            target_key.to_owned(),
        );
        blocking(move || {
            object_metadata(&source, &source_bucket, &source_key)?;
            // Content type and metadata travel; tags do not (as on the AWS backend).
            let sidecar = Sidecar {
                tags: Vec::new(),
                ..read_sidecar(&source.sidecar)?
            };
            let what = format!("copying {source_key:?}");
            std::fs::create_dir_all(&tmp_dir).map_err(|e| io_error(e, &what))?;
            let tmp = tempfile::NamedTempFile::new_in(&tmp_dir)
                .map_err(|e| io_error(e, &what))?
                .into_temp_path();
            std::fs::copy(&source.path, &tmp).map_err(|e| io_error(e, &what))?;
            install(tmp, &target, &target_key, &sidecar)
        })
        .await
    }

    async fn get_object_tagging(
        &self,
        account: &Account,
        bucket: &str,
        key: &str,
    ) -> Result<Vec<Tag>, S3Error> {
        let location = self.locate(account, bucket, key)?;
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        blocking(move || {
            object_metadata(&location, &bucket, &key)?;
            let sidecar = read_sidecar(&location.sidecar)?;
            Ok(sidecar
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
        bucket: &str,
        key: &str,
        tags: Vec<Tag>,
    ) -> Result<(), S3Error> {
        check_tags(&tags)?;
        let location = self.locate(account, bucket, key)?;
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        blocking(move || {
            object_metadata(&location, &bucket, &key)?;
            let mut sidecar = read_sidecar(&location.sidecar)?;
            sidecar.tags = tags.into_iter().map(|tag| (tag.key, tag.value)).collect();
            write_sidecar(&location.sidecar, &sidecar)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_could_escape_their_bucket_are_refused() {
        for key in [
            "../x",
            "a/../../b",
            "a/./b",
            "/etc/passwd",
            "a\\b",
            "a\0b",
            "a//b",
            "a/",
            "",
            "..",
        ] {
            assert!(
                matches!(key_to_path(key), Err(S3Error::InvalidInput(_))),
                "{key:?} must be refused"
            );
        }
        assert_eq!(
            key_to_path("a/b c/d.txt").unwrap(),
            Path::new("a/b c/d.txt")
        );
        assert_eq!(key_to_path("..a/b..").unwrap(), Path::new("..a/b.."));
    }

    #[test]
    fn continuation_tokens_round_trip_and_garbage_is_refused() {
        for resume in [
            Resume::AfterKey("a/b".into()),
            Resume::AfterPrefix("c/".into()),
        ] {
            let parsed = Resume::parse(&resume.token()).unwrap();
            assert_eq!(parsed.token(), resume.token());
        }
        for token in ["", "x00", "kzz", "pff"] {
            assert!(
                matches!(Resume::parse(token), Err(S3Error::InvalidInput(_))),
                "{token:?}"
            );
        }
    }
}
