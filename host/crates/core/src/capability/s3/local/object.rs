//! An object of an open bucket: its metadata, its bytes opened for reading, a staged body
//! installed at its key (with its sidecar), its deletion — each reached one directory
//! at a time from the bucket, never through a link.

use std::io::{self, ErrorKind};

use cap_std::fs::{Dir, Metadata, MetadataExt};
use sha2::{Digest, Sha256};

use super::confine::{Miss, deepest, descend, io_error, lstat, open_file};
use super::sidecar::{Sidecar, Sidecars};
use super::staged::Staged;
use crate::bindings::S3Error;
use crate::bindings::s3::{ObjectMeta, PutResult};

pub(super) fn millis(time: io::Result<cap_std::time::SystemTime>) -> Option<i64> {
    let since = time
        .ok()?
        .into_std()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .ok()?;
    i64::try_from(since.as_millis()).ok()
}

/// A version identifier: changes whenever the file is replaced. Not an MD5 of the content
/// (S3's multipart ETags are not either); plugins compare ETags, they do not parse them.
pub(super) fn etag(meta: &Metadata) -> String {
    let mut hash = Sha256::new();
    hash.update(meta.len().to_le_bytes());
    hash.update(meta.ino().to_le_bytes());
    hash.update(meta.mtime().to_le_bytes());
    hash.update(meta.mtime_nsec().to_le_bytes());
    format!("\"{}\"", &hex::encode(hash.finalize())[..32])
}

pub(super) fn not_found(bucket: &str, key: &str) -> S3Error {
    S3Error::NotFound(format!("key {key:?} does not exist in bucket {bucket:?}"))
}

pub(super) fn conflict(key: &str) -> S3Error {
    S3Error::InvalidInput(format!(
        "key {key:?} conflicts with another key: on the local backend a key cannot be both \
         an object and a prefix of other keys followed by '/'"
    ))
}

pub(super) fn object_meta(meta: &Metadata, sidecar: Sidecar) -> ObjectMeta {
    ObjectMeta {
        size: meta.len(),
        etag: etag(meta),
        content_type: sidecar.content_type,
        last_modified: millis(meta.modified()),
        metadata: sidecar.metadata,
    }
}

/// A bucket opened for one call, with the root its sidecars and temporary files hang off.
pub(super) struct OpenBucket {
    pub(super) root: Dir,
    pub(super) dir: Dir,
    pub(super) account: String,
    pub(super) name: String,
}

/// An object of an open bucket: its key has been checked, nothing below the bucket opened.
pub(super) struct Object {
    pub(super) at: OpenBucket,
    pub(super) key: String,
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
    pub(super) fn stat(&self) -> Result<Metadata, S3Error> {
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
    pub(super) fn open(&self) -> Result<(std::fs::File, Metadata), S3Error> {
        let what = format!("reading {:?}", self.key);
        let fail = |miss: Miss| miss.into_error(&what, || self.not_found());
        let (parents, name) = self.parents_and_name();
        let dirs = descend(&self.at.dir, &parents, false).map_err(fail)?;
        open_file(deepest(&self.at.dir, &dirs), name).map_err(fail)
    }

    /// The sidecars of the object's bucket.
    pub(super) fn sidecars(&self) -> Sidecars<'_> {
        Sidecars {
            root: &self.at.root,
            account: &self.at.account,
            bucket: &self.at.name,
        }
    }

    pub(super) fn read_sidecar(&self) -> Result<Sidecar, S3Error> {
        self.sidecars().read(&self.key)
    }

    pub(super) fn write_sidecar(&self, sidecar: &Sidecar) -> Result<(), S3Error> {
        self.sidecars().write(&self.key, sidecar)
    }

    /// Runs `place` with the key's parent directory (made as needed) and last name, once
    /// nothing there conflicts: a directory at the key, or a file where a directory of
    /// it must be, cannot become an object.
    fn place_at<T>(
        &self,
        what: &str,
        place: impl FnOnce(&Dir, &str) -> Result<T, S3Error>,
    ) -> Result<T, S3Error> {
        let fail = |miss: Miss| match miss {
            Miss::WrongKind => conflict(&self.key),
            miss => miss.into_io_error(what),
        };
        let (parents, name) = self.parents_and_name();
        let dirs = descend(&self.at.dir, &parents, true).map_err(fail)?;
        let parent = deepest(&self.at.dir, &dirs);
        match lstat(parent, name) {
            Ok(meta) if meta.is_dir() => return Err(conflict(&self.key)),
            Ok(_) | Err(Miss::Absent) => {}
            Err(miss) => return Err(fail(miss)),
        }
        place(parent, name)
    }

    /// The error of a rename onto the key.
    fn placing_error(&self, err: io::Error, what: &str) -> S3Error {
        match err.kind() {
            ErrorKind::IsADirectory | ErrorKind::DirectoryNotEmpty => conflict(&self.key),
            _ => io_error(err, what),
        }
    }

    /// Moves a finished body (`staged`, open as `body`) to the key, with its sidecar.
    pub(super) fn install(
        &self,
        staged: Staged,
        body: &std::fs::File,
        sidecar: &Sidecar,
    ) -> Result<PutResult, S3Error> {
        let what = format!("storing {:?}", self.key);
        self.place_at(&what, |parent, name| {
            self.write_sidecar(sidecar)?;
            staged
                .install_as(parent, name)
                .map_err(|err| self.placing_error(err, &what))?;
            // The file as renamed, not whatever the name holds by now.
            let meta = Metadata::from_file(body).map_err(|err| io_error(err, &what))?;
            Ok(PutResult {
                etag: etag(&meta),
                size: meta.len(),
            })
        })
    }

    /// Moves `stored` of `from` (a kept version's bytes) back to the key, with its
    /// sidecar: a rename keeps the file, so its ETag and modification time are its own.
    pub(super) fn restore(
        &self,
        from: &Dir,
        stored: &str,
        sidecar: &Sidecar,
    ) -> Result<(), S3Error> {
        let what = format!("restoring a version of {:?}", self.key);
        self.place_at(&what, |parent, name| {
            self.write_sidecar(sidecar)?;
            from.rename(stored, parent, name)
                .map_err(|err| self.placing_error(err, &what))
        })
    }

    pub(super) fn delete(&self) -> Result<(), S3Error> {
        self.remove(None).map(drop)
    }

    /// Moves the object's file into `to` as `stored` (a kept version now) and clears its
    /// sidecar; false where no object is at the key.
    pub(super) fn keep_in(&self, to: &Dir, stored: &str) -> Result<bool, S3Error> {
        self.remove(Some((to, stored)))
    }

    /// Removes the object (into `keep`, when given); false where there was none.
    fn remove(&self, keep: Option<(&Dir, &str)>) -> Result<bool, S3Error> {
        let what = format!("deleting {:?}", self.key);
        let (parents, name) = self.parents_and_name();
        // Deleting what is not there succeeds, as on S3.
        let dirs = match descend(&self.at.dir, &parents, false) {
            Ok(dirs) => dirs,
            Err(Miss::Absent | Miss::WrongKind) => return Ok(false),
            Err(miss) => return Err(miss.into_io_error(&what)),
        };
        let parent = deepest(&self.at.dir, &dirs);
        match lstat(parent, name) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) | Err(Miss::Absent | Miss::WrongKind) => return Ok(false),
            Err(miss) => return Err(miss.into_io_error(&what)),
        }
        // Opened first, so that a link there refuses the call before anything is deleted.
        let sidecars = self.sidecars();
        let sidecar_dir = sidecars.dir(false)?;
        match keep {
            Some((to, stored)) => parent.rename(name, to, stored),
            None => parent.remove_file(name),
        }
        .map_err(|err| io_error(err, &what))?;
        sidecars.write_in(sidecar_dir.as_ref(), &self.key, &Sidecar::default())?;
        drop(dirs);
        prune_empty_dirs(&self.at.dir, &parents);
        Ok(true)
    }
}

/// Removes the directories `names` (below the bucket) a delete left empty, deepest first,
/// up to (not including) the bucket. Each is removed by name from its parent, opened
/// again from the bucket (no more than two handles at once, however deep), which refuses
/// anything but an empty directory.
fn prune_empty_dirs(bucket: &Dir, names: &[&str]) {
    for depth in (0..names.len()).rev() {
        let removed = descend(bucket, &names[..depth], false)
            .ok()
            .is_some_and(|parent| deepest(bucket, &parent).remove_dir(names[depth]).is_ok());
        if !removed {
            break;
        }
    }
}
