//! The local backend: S3 served from a directory tree, so that xacct runs on a fresh
//! machine with no AWS account and plugin authors develop offline.
//!
//! Layout under the root:
//! - `<account-id>/<bucket>/<key>`: the objects, a key's `/` being directory separators;
//! - `.xacct/meta/<account-id>/<bucket>/<sha256(key)>.json`: content type, user metadata
//!   and tags of objects that have any (hashed, so any key maps to one flat file name);
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

use std::hash::{BuildHasher, RandomState};
use std::io::{self, ErrorKind, Read, Seek, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, Metadata, MetadataExt, OpenOptions, OpenOptionsExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// How many random names a new temporary file tries: a clash needs another writer to have
/// drawn the same 64 random bits, so running out means something else is wrong.
const TEMP_NAME_TRIES: usize = 16;

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

/// Why a name in an open directory was not what a call needed.
#[derive(Debug)]
enum Miss {
    /// Nothing is there.
    Absent,
    /// The other kind of thing (a file where a directory was wanted, or a directory,
    /// FIFO or device where a file was).
    WrongKind,
    /// A symbolic link, which is never followed.
    Link,
    Io(io::Error),
}

impl Miss {
    /// Classifies the error of a no-follow operation on `name` in `dir`.
    fn of(dir: &Dir, name: &str, err: io::Error) -> Miss {
        if err.kind() == ErrorKind::NotFound {
            return Miss::Absent;
        }
        if rustix::io::Errno::from_io_error(&err) == Some(rustix::io::Errno::LOOP) {
            return Miss::Link;
        }
        // Linux refuses a no-follow directory open of a link with ENOTDIR, as it refuses one
        // of a file: only a look at the name tells them apart.
        if err.kind() == ErrorKind::NotADirectory {
            return match dir.symlink_metadata(name) {
                Ok(meta) if meta.is_symlink() => Miss::Link,
                _ => Miss::WrongKind,
            };
        }
        Miss::Io(err)
    }

    /// The plugin's error: `absent()` where nothing of the right kind is there.
    fn into_error(self, what: &str, absent: impl FnOnce() -> S3Error) -> S3Error {
        match self {
            Miss::Absent | Miss::WrongKind => absent(),
            Miss::Link => link_refused(what),
            Miss::Io(err) => io_error(err, what),
        }
    }

    /// The plugin's error where the name was expected to exist.
    fn into_io_error(self, what: &str) -> S3Error {
        self.into_error(what, || io_error(ErrorKind::NotFound.into(), what))
    }
}

fn link_refused(what: &str) -> S3Error {
    S3Error::AccessDenied(AccessDenied {
        by: DeniedBy::Backend,
        message: format!(
            "{what}: a symbolic link is in the way, and the local backend never follows one"
        ),
    })
}

/// Opens (with `create`, first makes) the directory `name` in `dir`, refusing a link.
fn open_dir(dir: &Dir, name: &str, create: bool) -> Result<Dir, Miss> {
    if create {
        match dir.create_dir(name) {
            Err(err) if err.kind() != ErrorKind::AlreadyExists => {
                return Err(Miss::of(dir, name, err));
            }
            _ => {}
        }
    }
    dir.open_dir_nofollow(name)
        .map_err(|err| Miss::of(dir, name, err))
}

/// Opens `names` one below the other from `start` (see [`open_dir`]): every directory
/// opened, the deepest last.
fn descend(start: &Dir, names: &[&str], create: bool) -> Result<Vec<Dir>, Miss> {
    let mut dirs: Vec<Dir> = Vec::with_capacity(names.len());
    for name in names {
        let dir = open_dir(deepest(start, &dirs), name, create)?;
        dirs.push(dir);
    }
    Ok(dirs)
}

/// The last directory [`descend`] opened, or where it started if it opened none.
fn deepest<'a>(start: &'a Dir, dirs: &'a [Dir]) -> &'a Dir {
    dirs.last().unwrap_or(start)
}

/// What `name` in `dir` is, refusing a link.
fn lstat(dir: &Dir, name: &str) -> Result<Metadata, Miss> {
    match dir.symlink_metadata(name) {
        Ok(meta) if meta.is_symlink() => Err(Miss::Link),
        Ok(meta) => Ok(meta),
        Err(err) => Err(Miss::of(dir, name, err)),
    }
}

/// Opens the regular file `name` in `dir` for reading, with the metadata of the file
/// actually opened.
fn open_file(dir: &Dir, name: &str) -> Result<(std::fs::File, Metadata), Miss> {
    // The look first keeps a FIFO or device from being opened (which could block); it is
    // not what refuses a link: the no-follow open does, whatever is there by then.
    if !lstat(dir, name)?.is_file() {
        return Err(Miss::WrongKind);
    }
    let mut options = OpenOptions::new();
    options.read(true).follow(FollowSymlinks::No);
    let file = dir
        .open_with(name, &options)
        .map_err(|err| Miss::of(dir, name, err))?
        .into_std();
    let meta = Metadata::from_file(&file).map_err(Miss::Io)?;
    if !meta.is_file() {
        return Err(Miss::WrongKind);
    }
    Ok((file, meta))
}

/// Checks a key, refusing any that could escape its bucket: its `/`-separated segments.
fn key_segments(key: &str) -> Result<Vec<&str>, S3Error> {
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
    let segments: Vec<&str> = key.split('/').collect();
    for segment in &segments {
        match *segment {
            ".." | "." => {
                return refuse("has a '.' or '..' segment, which would escape its bucket");
            }
            "" => {
                return refuse(
                    "has an empty segment ('//' or a trailing '/'), which the local backend cannot store",
                );
            }
            s if s.len() > 255 => return refuse("has a segment longer than 255 bytes"),
            _ => {}
        }
    }
    Ok(segments)
}

/// An account id as the name of its directory: one plain name. Ids come from the
/// operator's config, which allows only digits; this holds for any embedder too.
fn account_dir_name(id: &str) -> Result<&str, S3Error> {
    if id.is_empty() || id == "." || id == ".." || id.contains(['/', '\0']) {
        return Err(S3Error::InvalidInput(format!(
            "account id {id:?} cannot name a directory"
        )));
    }
    Ok(id)
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

fn millis(time: io::Result<cap_std::time::SystemTime>) -> Option<i64> {
    let since = time
        .ok()?
        .into_std()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .ok()?;
    i64::try_from(since.as_millis()).ok()
}

/// A version identifier: changes whenever the file is replaced. Not an MD5 of the content
/// (S3's multipart ETags are not either); plugins compare ETags, they do not parse them.
fn etag(meta: &Metadata) -> String {
    let mut hash = Sha256::new();
    hash.update(meta.len().to_le_bytes());
    hash.update(meta.ino().to_le_bytes());
    hash.update(meta.mtime().to_le_bytes());
    hash.update(meta.mtime_nsec().to_le_bytes());
    format!("\"{}\"", &hex::encode(hash.finalize())[..32])
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

fn object_meta(meta: &Metadata, sidecar: Sidecar) -> ObjectMeta {
    ObjectMeta {
        size: meta.len(),
        etag: etag(meta),
        content_type: sidecar.content_type,
        last_modified: millis(meta.modified()),
        metadata: sidecar.metadata,
    }
}

/// A name for a temporary file that no other writer is drawing.
fn temp_name() -> String {
    static DRAWN: AtomicU64 = AtomicU64::new(0);
    // std seeds each `RandomState` randomly (per process and thread, then varied per
    // state), so hashing a counter with one gives bits nobody else has.
    let bits = RandomState::new().hash_one(DRAWN.fetch_add(1, Ordering::Relaxed));
    format!(".tmp{bits:016x}")
}

/// A file being written in `.xacct/tmp`: removed when dropped unless it was moved into
/// place, so an error, an abort or a cancelled task leaves nothing behind.
struct Staged {
    dir: Dir,
    name: String,
    installed: bool,
}

impl Staged {
    fn create(root: &Dir) -> Result<(Staged, std::fs::File), S3Error> {
        let what = "creating a temporary file";
        let xacct = open_dir(root, ".xacct", true).map_err(|m| m.into_io_error(what))?;
        let dir = open_dir(&xacct, "tmp", true).map_err(|m| m.into_io_error(what))?;
        let mut options = OpenOptions::new();
        // An exclusive create never follows a link: a link at the name is a clash.
        options
            .write(true)
            .create_new(true)
            .follow(FollowSymlinks::No)
            .mode(0o600);
        for _ in 0..TEMP_NAME_TRIES {
            let name = temp_name();
            match dir.open_with(&name, &options) {
                Ok(file) => {
                    let staged = Staged {
                        dir,
                        name,
                        installed: false,
                    };
                    return Ok((staged, file.into_std()));
                }
                Err(err) if err.kind() == ErrorKind::AlreadyExists => {}
                Err(err) => return Err(io_error(err, what)),
            }
        }
        Err(S3Error::Other(format!(
            "{what}: no free name in the local backend's .xacct/tmp"
        )))
    }

    /// Renames the file to `name` in `dir`. A rename replaces a link at the target rather
    /// than following it; callers refuse one there anyway, to say so.
    fn install_as(mut self, dir: &Dir, name: &str) -> io::Result<()> {
        self.dir.rename(&self.name, dir, name)?;
        self.installed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.installed {
            // Nothing better to do on failure: a leftover temporary file is only garbage.
            let _ = self.dir.remove_file(&self.name);
        }
    }
}

/// A bucket opened for one call, with the root its sidecars and temporary files hang off.
struct OpenBucket {
    root: Dir,
    dir: Dir,
    account: String,
    name: String,
}

/// An object of an open bucket: its key has been checked, nothing below the bucket opened.
struct Object {
    at: OpenBucket,
    key: String,
}

impl Object {
    /// The key's directories (segments but the last), and its last segment.
    fn parents_and_name(&self) -> (Vec<&str>, &str) {
        match self.key.rsplit_once('/') {
            Some((parents, name)) => (parents.split('/').collect(), name),
            None => (Vec::new(), &self.key),
        }
    }

    fn not_found(&self) -> S3Error {
        not_found(&self.at.name, &self.key)
    }

    /// The object's metadata; not-found for anything but a regular file.
    fn stat(&self) -> Result<Metadata, S3Error> {
        let what = format!("reading {:?}", self.key);
        let fail = |miss: Miss| miss.into_error(&what, || self.not_found());
        let (parents, name) = self.parents_and_name();
        let dirs = descend(&self.at.dir, &parents, false).map_err(fail)?;
        let meta = lstat(deepest(&self.at.dir, &dirs), name).map_err(fail)?;
        if meta.is_file() {
            Ok(meta)
        } else {
            Err(self.not_found())
        }
    }

    /// The object opened for reading, with the metadata of what was opened.
    fn open(&self) -> Result<(std::fs::File, Metadata), S3Error> {
        let what = format!("reading {:?}", self.key);
        let fail = |miss: Miss| miss.into_error(&what, || self.not_found());
        let (parents, name) = self.parents_and_name();
        let dirs = descend(&self.at.dir, &parents, false).map_err(fail)?;
        open_file(deepest(&self.at.dir, &dirs), name).map_err(fail)
    }

    fn sidecar_dirs(&self) -> [&str; 4] {
        [".xacct", "meta", &self.at.account, &self.at.name]
    }

    fn sidecar_name(&self) -> String {
        format!("{}.json", hex::encode(Sha256::digest(self.key.as_bytes())))
    }

    /// The directory of the object's sidecar, opened; with `create`, made as needed,
    /// else `None` where it does not exist.
    fn sidecar_dir(&self, create: bool) -> Result<Option<Dir>, S3Error> {
        let what = "opening the object's metadata";
        match descend(&self.at.root, &self.sidecar_dirs(), create) {
            Ok(mut dirs) => Ok(dirs.pop()),
            Err(Miss::Absent) if !create => Ok(None),
            Err(miss) => Err(miss.into_error(what, || {
                S3Error::Other(format!("{what}: .xacct/meta is not a directory tree"))
            })),
        }
    }

    fn read_sidecar(&self) -> Result<Sidecar, S3Error> {
        let what = "reading the object's metadata";
        let unreadable = || S3Error::Other("the object's stored metadata is unreadable".into());
        let Some(dir) = self.sidecar_dir(false)? else {
            return Ok(Sidecar::default());
        };
        let mut file = match open_file(&dir, &self.sidecar_name()) {
            Ok((file, _)) => file,
            Err(Miss::Absent) => return Ok(Sidecar::default()),
            Err(miss) => return Err(miss.into_error(what, unreadable)),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|err| io_error(err, what))?;
        serde_json::from_slice(&bytes).map_err(|_| unreadable())
    }

    /// Writes (or, when empty, removes) the sidecar atomically.
    fn write_sidecar(&self, sidecar: &Sidecar) -> Result<(), S3Error> {
        let dir = self.sidecar_dir(!sidecar.is_empty())?;
        self.write_sidecar_in(dir.as_ref(), sidecar)
    }

    /// [`Object::write_sidecar`] in the sidecar's directory as already opened.
    fn write_sidecar_in(&self, dir: Option<&Dir>, sidecar: &Sidecar) -> Result<(), S3Error> {
        let what = "storing the object's metadata";
        let name = self.sidecar_name();
        let Some(dir) = dir else {
            return if sidecar.is_empty() {
                Ok(())
            } else {
                Err(io_error(ErrorKind::NotFound.into(), what))
            };
        };
        if sidecar.is_empty() {
            // Unlinking removes a link itself, never what it points to.
            return match dir.remove_file(&name) {
                Err(err) if err.kind() != ErrorKind::NotFound => Err(io_error(err, what)),
                _ => Ok(()),
            };
        }
        match lstat(dir, &name) {
            Ok(_) | Err(Miss::Absent) => {}
            Err(miss) => return Err(miss.into_io_error(what)),
        }
        let json = serde_json::to_vec(sidecar).map_err(|_| S3Error::Other(what.into()))?;
        let (staged, mut file) = Staged::create(&self.at.root)?;
        file.write_all(&json).map_err(|err| io_error(err, what))?;
        staged
            .install_as(dir, &name)
            .map_err(|err| io_error(err, what))
    }

    /// Moves a finished body (`staged`, open as `body`) to the key, with its sidecar.
    fn install(
        &self,
        staged: Staged,
        body: &std::fs::File,
        sidecar: &Sidecar,
    ) -> Result<PutResult, S3Error> {
        let what = format!("storing {:?}", self.key);
        let fail = |miss: Miss| match miss {
            Miss::WrongKind => conflict(&self.key),
            miss => miss.into_io_error(&what),
        };
        let (parents, name) = self.parents_and_name();
        let dirs = descend(&self.at.dir, &parents, true).map_err(fail)?;
        let parent = deepest(&self.at.dir, &dirs);
        match lstat(parent, name) {
            Ok(meta) if meta.is_dir() => return Err(conflict(&self.key)),
            Ok(_) | Err(Miss::Absent) => {}
            Err(miss) => return Err(fail(miss)),
        }
        self.write_sidecar(sidecar)?;
        staged
            .install_as(parent, name)
            .map_err(|err| match err.kind() {
                ErrorKind::IsADirectory | ErrorKind::DirectoryNotEmpty => conflict(&self.key),
                _ => io_error(err, &what),
            })?;
        // The file as renamed, not whatever the name holds by now.
        let meta = Metadata::from_file(body).map_err(|err| io_error(err, &what))?;
        Ok(PutResult {
            etag: etag(&meta),
            size: meta.len(),
        })
    }

    fn delete(&self) -> Result<(), S3Error> {
        let what = format!("deleting {:?}", self.key);
        let (parents, name) = self.parents_and_name();
        // Deleting what is not there succeeds, as on S3.
        let dirs = match descend(&self.at.dir, &parents, false) {
            Ok(dirs) => dirs,
            Err(Miss::Absent | Miss::WrongKind) => return Ok(()),
            Err(miss) => return Err(miss.into_io_error(&what)),
        };
        let parent = deepest(&self.at.dir, &dirs);
        match lstat(parent, name) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) | Err(Miss::Absent | Miss::WrongKind) => return Ok(()),
            Err(miss) => return Err(miss.into_io_error(&what)),
        }
        // Opened first, so that a link there refuses the call before anything is deleted.
        let sidecar_dir = self.sidecar_dir(false)?;
        parent
            .remove_file(name)
            .map_err(|err| io_error(err, &what))?;
        self.write_sidecar_in(sidecar_dir.as_ref(), &Sidecar::default())?;
        prune_empty_dirs(&self.at.dir, &dirs, &parents);
        Ok(())
    }
}

/// Removes the directories (`dirs`, named `names`) a delete left empty, deepest first, up
/// to (not including) the bucket. Each is removed by name from its open parent, which
/// refuses anything but an empty directory.
fn prune_empty_dirs(bucket: &Dir, dirs: &[Dir], names: &[&str]) {
    for depth in (0..names.len().min(dirs.len())).rev() {
        if deepest(bucket, &dirs[..depth])
            .remove_dir(names[depth])
            .is_err()
        {
            break;
        }
    }
}

/// Lists every object below `dir` (whose keys start with `key_prefix`); links are neither
/// listed nor descended into, and nor is a name that changes kind while the walk passes.
fn walk(dir: &Dir, key_prefix: &str, out: &mut Vec<(String, Metadata)>) -> io::Result<()> {
    for entry in dir.entries()? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue; // not UTF-8: cannot be a key
        };
        let file_type = entry.file_type()?;
        let key = format!("{key_prefix}{name}");
        if file_type.is_dir() {
            match open_dir(dir, &name, false) {
                Ok(sub) => walk(&sub, &format!("{key}/"), out)?,
                Err(Miss::Io(err)) => return Err(err),
                Err(_) => {}
            }
        } else if file_type.is_file() {
            match entry.metadata() {
                Ok(meta) if meta.is_file() => out.push((key, meta)),
                Ok(_) => {}
                Err(err) if err.kind() == ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
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
    bucket_dir: &Dir,
    request: &ListObjectsRequest,
) -> Result<ListObjectsPage, S3Error> {
    let what = "listing the bucket";
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
    let (dirs, start_key) = match prefix.rfind('/') {
        Some(slash) => match key_segments(&prefix[..slash]) {
            Ok(names) => match descend(bucket_dir, &names, false) {
                Ok(dirs) => (dirs, &prefix[..=slash]),
                Err(Miss::Io(err)) => return Err(io_error(err, what)),
                // Nothing there, or a link, which the walk from the bucket would skip too.
                Err(_) => return Ok(page),
            },
            Err(_) => (Vec::new(), ""),
        },
        None => (Vec::new(), ""),
    };
    let mut entries = Vec::new();
    walk(deepest(bucket_dir, &dirs), start_key, &mut entries).map_err(|err| io_error(err, what))?;
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

    fn open_bucket(&self, account: &str, bucket: &str) -> Result<OpenBucket, S3Error> {
        check_bucket_name(bucket)?;
        let account_dir = account_dir_name(account)?;
        let what = format!("opening bucket {bucket:?}");
        let fail = |miss: Miss| {
            miss.into_error(&what, || {
                S3Error::NotFound(format!("bucket {bucket:?} does not exist"))
            })
        };
        let root = self.open_root().map_err(fail)?;
        let account_dir = open_dir(&root, account_dir, false).map_err(fail)?;
        let dir = open_dir(&account_dir, bucket, false).map_err(fail)?;
        Ok(OpenBucket {
            root,
            dir,
            account: account.to_owned(),
            name: bucket.to_owned(),
        })
    }

    fn object(&self, account: &str, bucket: &str, key: &str) -> Result<Object, S3Error> {
        key_segments(key)?;
        Ok(Object {
            at: self.open_bucket(account, bucket)?,
            key: key.to_owned(),
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
        let (this, id) = (self.clone(), account.id.clone());
        blocking(move || {
            let bucket = this.open_bucket(&id, &request.bucket)?;
            list_blocking(&bucket.dir, &request)
        })
        .await
    }

    async fn head_object(
        &self,
        account: &Account,
        bucket: &str,
        key: &str,
    ) -> Result<ObjectMeta, S3Error> {
        let this = self.clone();
        let (id, bucket, key) = (account.id.clone(), bucket.to_owned(), key.to_owned());
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
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectStream, S3Error> {
        let this = self.clone();
        let (id, bucket, key) = (account.id.clone(), bucket.to_owned(), key.to_owned());
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
        bucket: &str,
        key: &str,
        options: PutOptions,
        mut body: PutBody,
    ) -> Result<PutResult, S3Error> {
        let what = format!("writing {key:?}");
        let this = self.clone();
        let (id, bucket, key) = (account.id.clone(), bucket.to_owned(), key.to_owned());
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
        bucket: &str,
        key: &str,
    ) -> Result<(), S3Error> {
        let this = self.clone();
        let (id, bucket, key) = (account.id.clone(), bucket.to_owned(), key.to_owned());
        blocking(move || this.object(&id, &bucket, &key)?.delete()).await
    }

    async fn delete_objects(
        &self,
        account: &Account,
        bucket: &str,
        keys: Vec<String>,
    ) -> Result<DeleteResult, S3Error> {
        check_delete_batch(&keys)?;
        let this = self.clone();
        let (id, name) = (account.id.clone(), bucket.to_owned());
        blocking(move || this.open_bucket(&id, &name).map(drop)).await?;
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
        _source: &ObjectMeta,
        (target_bucket, target_key): (&str, &str),
    ) -> Result<PutResult, S3Error> {
        let this = self.clone();
        let id = account.id.clone();
        let (source_bucket, source_key) = (source_bucket.to_owned(), source_key.to_owned());
        let (target_bucket, target_key) = (target_bucket.to_owned(), target_key.to_owned());
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
        bucket: &str,
        key: &str,
    ) -> Result<Vec<Tag>, S3Error> {
        let this = self.clone();
        let (id, bucket, key) = (account.id.clone(), bucket.to_owned(), key.to_owned());
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
        bucket: &str,
        key: &str,
        tags: Vec<Tag>,
    ) -> Result<(), S3Error> {
        check_tags(&tags)?;
        let this = self.clone();
        let (id, bucket, key) = (account.id.clone(), bucket.to_owned(), key.to_owned());
        blocking(move || {
            let object = this.object(&id, &bucket, &key)?;
            object.stat()?;
            let mut sidecar = object.read_sidecar()?;
            sidecar.tags = tags.into_iter().map(|tag| (tag.key, tag.value)).collect();
            object.write_sidecar(&sidecar)
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
                matches!(key_segments(key), Err(S3Error::InvalidInput(_))),
                "{key:?} must be refused"
            );
        }
        assert_eq!(key_segments("a/b c/d.txt").unwrap(), ["a", "b c", "d.txt"]);
        assert_eq!(key_segments("..a/b..").unwrap(), ["..a", "b.."]);
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
            self.backend.object("111111111111", "bkt", key).unwrap()
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
        let bucket = tree.backend.open_bucket("111111111111", "bkt").unwrap().dir;
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
            refused_for_a_link(b.head_object(a, "bkt", key).await);
            refused_for_a_link(b.get_object(a, "bkt", key, None).await.map(|s| s.meta));
            refused_for_a_link(b.get_object_tagging(a, "bkt", key).await);
            refused_for_a_link(b.put_object_tagging(a, "bkt", key, Vec::new()).await);
            refused_for_a_link(b.delete_object(a, "bkt", key).await);
            let source = b.head_object(a, "bkt", "real.txt").await.unwrap();
            refused_for_a_link(
                b.copy_object(a, ("bkt", key), &source, ("bkt", "copy.txt"))
                    .await,
            );
            refused_for_a_link(
                b.copy_object(a, ("bkt", "real.txt"), &source, ("bkt", key))
                    .await,
            );
        }
        let listed = b
            .list_objects(
                a,
                ListObjectsRequest {
                    bucket: "bkt".into(),
                    prefix: None,
                    delimiter: None,
                    max_keys: None,
                    continuation_token: None,
                    start_after: None,
                },
            )
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
        refused_for_a_link(b.head_object(&other, "bkt", "k").await);
        refused_for_a_link(b.head_object(&tree.account, "linked", "k").await);
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
        let sidecar = tree.object("real.txt").sidecar_name();
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
        refused_for_a_link(b.head_object(a, "bkt", "real.txt").await);
        refused_for_a_link(b.put_object_tagging(a, "bkt", "real.txt", Vec::new()).await);
        // A sidecar that is itself a link.
        std::fs::remove_file(tree.dir.path().join("data/.xacct/meta")).unwrap();
        std::fs::create_dir_all(tree.dir.path().join("data/.xacct/meta/111111111111/bkt")).unwrap();
        tree.link(
            &format!("../../../../../outside/meta/111111111111/bkt/{sidecar}"),
            &format!(".xacct/meta/111111111111/bkt/{sidecar}"),
        );
        refused_for_a_link(b.head_object(a, "bkt", "real.txt").await);
        refused_for_a_link(
            b.get_object(a, "bkt", "real.txt", None)
                .await
                .map(|s| s.meta),
        );
        let tags = vec![Tag {
            key: "k".into(),
            value: "v".into(),
        }];
        refused_for_a_link(b.put_object_tagging(a, "bkt", "real.txt", tags).await);
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
