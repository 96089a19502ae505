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

use std::io::{self, ErrorKind, Seek};
use std::path::PathBuf;

use async_trait::async_trait;
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::backend::{Backend, ListRequest, ObjectStream};
use super::names::{BucketName, ObjectKey};
use super::upload::{PutBody, aborted};
use crate::bindings::s3::{
    Bucket, BucketConfig, BucketSetting, ByteRange, DeleteResult, ListObjectsPage, ObjectMeta,
    PublicAccessBlock, PutOptions, PutResult, Tag,
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
        let (meta, content_length, file) = blocking(move || {
            let object = this.object(&id, &bucket, &key)?;
            // The metadata is the opened file's: the bytes and the ETag are one version.
            let (mut file, stat) = object.open()?;
            let meta = object_meta(&stat, object.read_sidecar()?);
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
        })
        .await?;
        Ok(ObjectStream {
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
        })
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
        blocking(move || object.install(staged, &file, &sidecar)).await
    }

    async fn delete_object(
        &self,
        account: &Account,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<(), S3Error> {
        let this = self.clone();
        let (id, bucket, key) = (account.id.clone(), bucket.clone(), key.clone());
        blocking(move || this.object(&id, &bucket, &key)?.delete()).await
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
            target.install(staged, &to, &sidecar)
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
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::confine::{lstat, open_file};
    use super::object::etag;
    use super::sidecar::Sidecars;
    use super::*;
    use crate::bindings::{AccessDenied, DeniedBy};

    fn bucket(name: &str) -> BucketName {
        BucketName::new(name).unwrap()
    }

    fn key(key: &str) -> ObjectKey {
        ObjectKey::new(key).unwrap()
    }

    /// A root `data/` holding account 111111111111 with bucket `bkt` (one object,
    /// `real.txt`), beside an `outside/` directory holding a secret the backend must never
    /// reach.
    struct Tree {
        dir: tempfile::TempDir,
        backend: LocalBackend,
        account: Account,
    }

    impl Tree {
        fn new() -> Tree {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("data/111111111111/bkt")).unwrap();
            std::fs::write(dir.path().join("data/111111111111/bkt/real.txt"), "real").unwrap();
            std::fs::create_dir_all(dir.path().join("outside/dir")).unwrap();
            std::fs::write(dir.path().join("outside/secret.txt"), "secret").unwrap();
            std::fs::write(dir.path().join("outside/dir/inner.txt"), "inner").unwrap();
            let backend = LocalBackend::new(dir.path().join("data"));
            let account = Account {
                id: "111111111111".into(),
                alias: "dev".into(),
                region: "local".into(),
                tags: Vec::new(),
            };
            Tree {
                dir,
                backend,
                account,
            }
        }

        /// A relative link at `at` (below the root) to `target`.
        fn link(&self, target: &str, at: &str) {
            std::os::unix::fs::symlink(target, self.dir.path().join("data").join(at)).unwrap();
        }

        fn outside(&self) -> Vec<String> {
            let mut names = Vec::new();
            for dir in ["outside", "outside/dir"] {
                for entry in std::fs::read_dir(self.dir.path().join(dir)).unwrap() {
                    let entry = entry.unwrap();
                    let content = std::fs::read_to_string(entry.path()).unwrap_or_default();
                    names.push(format!("{dir}/{}={content}", entry.file_name().display()));
                }
            }
            names.sort();
            names
        }

        fn object(&self, key: &str) -> Object {
            self.backend
                .object("111111111111", &bucket("bkt"), &self::key(key))
                .unwrap()
        }
    }

    fn refused_for_a_link<T: std::fmt::Debug>(result: Result<T, S3Error>) {
        match result {
            Err(S3Error::AccessDenied(AccessDenied {
                by: DeniedBy::Backend,
                message,
            })) => assert!(message.contains("symbolic link"), "{message}"),
            other => panic!("expected access-denied for a link, got {other:?}"),
        }
    }

    #[test]
    fn a_link_is_told_apart_from_a_file_and_nothing_is_followed() {
        let tree = Tree::new();
        tree.link("../../../outside/dir", "111111111111/bkt/dir-link");
        tree.link("../../../outside/secret.txt", "111111111111/bkt/file-link");
        let bucket = tree
            .backend
            .open_bucket("111111111111", &bucket("bkt"))
            .unwrap()
            .dir;
        for name in ["dir-link", "file-link"] {
            assert!(matches!(open_dir(&bucket, name, false), Err(Miss::Link)));
            assert!(matches!(open_dir(&bucket, name, true), Err(Miss::Link)));
            assert!(matches!(open_file(&bucket, name), Err(Miss::Link)));
            assert!(matches!(lstat(&bucket, name), Err(Miss::Link)));
        }
        assert!(matches!(
            open_dir(&bucket, "real.txt", false),
            Err(Miss::WrongKind)
        ));
        assert!(matches!(
            open_dir(&bucket, "absent", false),
            Err(Miss::Absent)
        ));
        let (mut file, _) = open_file(&bucket, "real.txt").unwrap();
        let mut body = String::new();
        file.read_to_string(&mut body).unwrap();
        assert_eq!(body, "real");
    }

    #[tokio::test]
    async fn every_call_refuses_a_link_in_the_key() {
        let tree = Tree::new();
        tree.link("../../../outside/dir", "111111111111/bkt/dir-link");
        tree.link("../../../outside/secret.txt", "111111111111/bkt/file-link");
        let before = tree.outside();
        let (b, a) = (&tree.backend, &tree.account);
        for key in ["dir-link/inner.txt", "file-link"] {
            refused_for_a_link(b.head_object(a, &bucket("bkt"), &self::key(key)).await);
            refused_for_a_link(
                b.get_object(a, &bucket("bkt"), &self::key(key), None)
                    .await
                    .map(|s| s.meta),
            );
            refused_for_a_link(
                b.get_object_tagging(a, &bucket("bkt"), &self::key(key))
                    .await,
            );
            refused_for_a_link(
                b.put_object_tagging(a, &bucket("bkt"), &self::key(key), Vec::new())
                    .await,
            );
            refused_for_a_link(b.delete_object(a, &bucket("bkt"), &self::key(key)).await);
            let source = b
                .head_object(a, &bucket("bkt"), &self::key("real.txt"))
                .await
                .unwrap();
            refused_for_a_link(
                b.copy_object(
                    a,
                    (&bucket("bkt"), &self::key(key)),
                    &source,
                    (&bucket("bkt"), &self::key("copy.txt")),
                )
                .await,
            );
            refused_for_a_link(
                b.copy_object(
                    a,
                    (&bucket("bkt"), &self::key("real.txt")),
                    &source,
                    (&bucket("bkt"), &self::key(key)),
                )
                .await,
            );
        }
        let listed = b
            .list_objects(a, &ListRequest::of(bucket("bkt")))
            .await
            .unwrap();
        let keys: Vec<_> = listed.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["real.txt"]);
        assert!(listed.common_prefixes.is_empty());
        assert_eq!(tree.outside(), before, "nothing outside the root changed");
        assert!(
            tree.dir
                .path()
                .join("data/111111111111/bkt/file-link")
                .is_symlink(),
            "a refused delete leaves the link"
        );
    }

    #[tokio::test]
    async fn linked_account_and_bucket_directories_are_refused() {
        let tree = Tree::new();
        std::fs::create_dir_all(tree.dir.path().join("outside/acct/bkt")).unwrap();
        std::fs::write(tree.dir.path().join("outside/acct/bkt/k"), "secret").unwrap();
        tree.link("../outside/acct", "222222222222");
        tree.link("../../outside/acct/bkt", "111111111111/linked");
        let b = &tree.backend;
        let mut other = tree.account.clone();
        other.id = "222222222222".into();
        refused_for_a_link(b.list_buckets(&other).await);
        refused_for_a_link(b.head_object(&other, &bucket("bkt"), &key("k")).await);
        refused_for_a_link(
            b.head_object(&tree.account, &bucket("linked"), &key("k"))
                .await,
        );
        let buckets = b.list_buckets(&tree.account).await.unwrap();
        let names: Vec<_> = buckets.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["bkt"], "a linked bucket is not listed");
    }

    #[test]
    fn a_write_through_a_link_is_refused_and_leaves_nothing() {
        let tree = Tree::new();
        tree.link("../../../outside/dir", "111111111111/bkt/dir-link");
        tree.link("../../../outside/secret.txt", "111111111111/bkt/file-link");
        let before = tree.outside();
        for key in ["dir-link/new.txt", "dir-link/inner.txt", "file-link"] {
            let object = tree.object(key);
            let (staged, mut file) = Staged::create(&object.at.root).unwrap();
            file.write_all(b"pwned").unwrap();
            refused_for_a_link(object.install(staged, &file, &Sidecar::default()));
        }
        assert_eq!(tree.outside(), before);
        let tmp = tree.dir.path().join("data/.xacct/tmp");
        assert_eq!(
            std::fs::read_dir(tmp).unwrap().count(),
            0,
            "no temp file is left"
        );
    }

    #[tokio::test]
    async fn links_in_the_backends_own_directories_are_refused() {
        let tree = Tree::new();
        std::fs::create_dir_all(tree.dir.path().join("data/.xacct")).unwrap();
        // Temporary files would be written outside.
        tree.link("../../outside/dir", ".xacct/tmp");
        let object = tree.object("new.txt");
        refused_for_a_link(Staged::create(&object.at.root).map(drop));
        std::fs::remove_file(tree.dir.path().join("data/.xacct/tmp")).unwrap();
        // Sidecars would be read from, and written to, outside.
        std::fs::create_dir_all(tree.dir.path().join("outside/meta/111111111111/bkt")).unwrap();
        let sidecar = Sidecars::name("real.txt");
        std::fs::write(
            tree.dir
                .path()
                .join("outside/meta/111111111111/bkt")
                .join(&sidecar),
            r#"{"content_type":"secret","metadata":[],"tags":[]}"#,
        )
        .unwrap();
        tree.link("../../outside/meta", ".xacct/meta");
        let (b, a) = (&tree.backend, &tree.account);
        refused_for_a_link(b.head_object(a, &bucket("bkt"), &key("real.txt")).await);
        refused_for_a_link(
            b.put_object_tagging(a, &bucket("bkt"), &key("real.txt"), Vec::new())
                .await,
        );
        // A sidecar that is itself a link.
        std::fs::remove_file(tree.dir.path().join("data/.xacct/meta")).unwrap();
        std::fs::create_dir_all(tree.dir.path().join("data/.xacct/meta/111111111111/bkt")).unwrap();
        tree.link(
            &format!("../../../../../outside/meta/111111111111/bkt/{sidecar}"),
            &format!(".xacct/meta/111111111111/bkt/{sidecar}"),
        );
        refused_for_a_link(b.head_object(a, &bucket("bkt"), &key("real.txt")).await);
        refused_for_a_link(
            b.get_object(a, &bucket("bkt"), &key("real.txt"), None)
                .await
                .map(|s| s.meta),
        );
        let tags = vec![Tag {
            key: "k".into(),
            value: "v".into(),
        }];
        refused_for_a_link(
            b.put_object_tagging(a, &bucket("bkt"), &key("real.txt"), tags)
                .await,
        );
        assert_eq!(
            std::fs::read_to_string(
                tree.dir
                    .path()
                    .join("outside/meta/111111111111/bkt")
                    .join(&sidecar)
            )
            .unwrap(),
            r#"{"content_type":"secret","metadata":[],"tags":[]}"#
        );
    }

    #[test]
    fn a_staged_file_is_removed_unless_installed() {
        let tree = Tree::new();
        let object = tree.object("a/b/new.txt");
        let tmp = tree.dir.path().join("data/.xacct/tmp");
        let (staged, _) = Staged::create(&object.at.root).unwrap();
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1);
        drop(staged);
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
        let (staged, mut file) = Staged::create(&object.at.root).unwrap();
        file.write_all(b"new").unwrap();
        let stored = object.install(staged, &file, &Sidecar::default()).unwrap();
        assert_eq!(stored.size, 3);
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
        assert_eq!(object.stat().map(|meta| etag(&meta)).unwrap(), stored.etag);
        object.delete().unwrap();
        assert!(
            !tree.dir.path().join("data/111111111111/bkt/a").exists(),
            "emptied directories are pruned"
        );
    }
}
