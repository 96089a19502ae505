//! Object versions on the local backend, kept as S3 keeps them ("Working with objects in
//! a versioning-enabled bucket" and "Working with objects in a versioning-suspended
//! bucket", S3 User Guide): in a bucket whose versioning is `Enabled` a put keeps the
//! object it replaces and a delete adds a delete marker, each with a new version id; in a
//! `Suspended` bucket a put or a delete replaces the `null` version (a delete with a
//! `null` delete marker) and keeps the others; in a bucket whose versioning was never
//! enabled nothing is kept, and an object's one version is `null`. Deleting a version
//! for good makes the next newest current again (a delete marker's removal brings the
//! object back). The versioning status is the bucket's settings file's
//! ([`super::settings`]).
//!
//! Layout: `.xacct/versions/<account-id>/<bucket>/<sha256(key)>/` holds `index.json`
//! (the key, and its versions and delete markers newest first) and the bytes of each
//! noncurrent version, named by the hash of its id. The current version's bytes stay at
//! the key, so reads, listings and everything that ignores versions work unchanged; a
//! version moves by rename, keeping its ETag and modification time. The data directory
//! is untrusted: an index is read bounded, must name its own key, and ids from it only
//! ever become file names through a hash. A key keeps at most [`MAX_VERSIONS_PER_KEY`]
//! versions: a write past that is refused, nothing changed.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, RandomState};
use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::{Dir, Metadata};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::confine::{Miss, descend, io_error, lstat, open_dir, open_file};
use super::listing::{objects_under, rolled_up};
use super::object::{Object, OpenBucket, etag, millis};
use super::settings::AccountSettings;
use super::sidecar::Sidecar;
use super::staged::Staged;
use crate::bindings::S3Error;
use crate::bindings::s3::{
    BucketSetting, ListVersionsPage, ObjectVersion, PutResult, VersioningStatus,
};
use crate::capability::s3::backend::{VersionsRequest, empty_versions_page};

/// The most versions and delete markers the local backend keeps of one key.
pub(super) const MAX_VERSIONS_PER_KEY: usize = 100;

/// An index of [`MAX_VERSIONS_PER_KEY`] entries with S3's 2 KiB of user metadata each
/// stays well below this; a larger one was planted.
const MAX_INDEX_BYTES: u64 = 1 << 20;

const INDEX: &str = "index.json";

/// The id of what was written while versioning was never enabled or was suspended.
const NULL_VERSION: &str = "null";

/// One version or delete marker of a key.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    id: String,
    #[serde(default)]
    delete_marker: bool,
    /// When a delete marker was placed (a version's bytes carry their own time).
    #[serde(default)]
    placed: Option<i64>,
    /// A noncurrent version's content type and user metadata (the current one's are in
    /// its sidecar).
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    metadata: Vec<(String, String)>,
}

impl Entry {
    fn version(id: String) -> Entry {
        Entry {
            id,
            delete_marker: false,
            placed: None,
            content_type: None,
            metadata: Vec::new(),
        }
    }

    fn delete_marker(id: String) -> Entry {
        Entry {
            delete_marker: true,
            placed: millis(Ok(cap_std::time::SystemTime::from_std(
                std::time::SystemTime::now(),
            ))),
            ..Entry::version(id)
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    key: String,
    /// Newest first: the first is current.
    versions: Vec<Entry>,
}

/// A fresh version id: 128 random bits, which no other writer draws.
fn new_version_id() -> String {
    static DRAWN: AtomicU64 = AtomicU64::new(0);
    let draw = || RandomState::new().hash_one(DRAWN.fetch_add(1, Ordering::Relaxed));
    format!("{:016x}{:016x}", draw(), draw())
}

fn hashed(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The file name of a kept version's bytes.
fn body_name(id: &str) -> String {
    format!("v{}", &hashed(id)[..32])
}

fn no_such_version(object: &Object, id: &str) -> S3Error {
    S3Error::NotFound(format!(
        "version {id:?} of key {:?} does not exist in bucket {:?}",
        object.key, object.at.name
    ))
}

/// The bucket's versioning status, from its settings.
fn versioning(at: &OpenBucket) -> Result<Option<VersioningStatus>, S3Error> {
    let settings = AccountSettings {
        root: &at.root,
        account: &at.account,
    };
    Ok(settings
        .bucket(&at.name)?
        .setting(&at.account, BucketSetting::Versioning)?
        .versioning
        .map(|config| config.status))
}

/// The directory of the bucket's histories, with `key`'s below it when given.
fn history_path<'a>(at: &'a OpenBucket, key: Option<&'a str>) -> Vec<String> {
    let mut names = vec![
        ".xacct".to_owned(),
        "versions".to_owned(),
        at.account.clone(),
        at.name.clone(),
    ];
    names.extend(key.map(hashed));
    names
}

fn open_history_dir(
    at: &OpenBucket,
    key: Option<&str>,
    create: bool,
) -> Result<Option<Dir>, S3Error> {
    let what = "opening the versions of the bucket";
    let names = history_path(at, key);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    match descend(&at.root, &names, create) {
        Ok(dir) => Ok(dir),
        Err(Miss::Absent) if !create => Ok(None),
        Err(miss) => Err(miss.into_error(what, || {
            S3Error::Other(format!("{what}: .xacct/versions is not a directory tree"))
        })),
    }
}

/// Reads a history's index, bounded; it must be `key`'s.
fn read_index(dir: &Dir, key: Option<&str>) -> Result<Option<Index>, S3Error> {
    let what = "reading the object's versions";
    let unreadable = || S3Error::Other("the object's stored versions are unreadable".into());
    let file = match open_file(dir, INDEX) {
        Ok((file, meta)) if meta.len() <= MAX_INDEX_BYTES => file,
        Ok(_) => return Err(unreadable()),
        Err(Miss::Absent) => return Ok(None),
        Err(miss) => return Err(miss.into_error(what, unreadable)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_INDEX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| io_error(err, what))?;
    let index: Index = serde_json::from_slice(&bytes).map_err(|_| unreadable())?;
    if bytes.len() as u64 > MAX_INDEX_BYTES
        || index.versions.len() > MAX_VERSIONS_PER_KEY
        || key.is_some_and(|key| key != index.key)
    {
        return Err(unreadable());
    }
    Ok(Some(index))
}

/// One key's versions, loaded for one call.
struct History<'a> {
    object: &'a Object,
    dir: Option<Dir>,
    index: Index,
}

impl<'a> History<'a> {
    /// The key's versions; a key with no history whose object is there has one, `null`.
    fn load(object: &'a Object) -> Result<History<'a>, S3Error> {
        let dir = open_history_dir(&object.at, Some(&object.key), false)?;
        let stored = match &dir {
            Some(dir) => read_index(dir, Some(&object.key))?,
            None => None,
        };
        let mut index = stored.unwrap_or_else(|| Index {
            key: object.key.clone(),
            versions: Vec::new(),
        });
        if index.versions.is_empty() && object.stat().is_ok() {
            index.versions.push(Entry::version(NULL_VERSION.to_owned()));
        }
        Ok(History { object, dir, index })
    }

    fn dir(&mut self) -> Result<&Dir, S3Error> {
        if self.dir.is_none() {
            self.dir = open_history_dir(&self.object.at, Some(&self.object.key), true)?;
        }
        self.dir
            .as_ref()
            .ok_or_else(|| S3Error::Other("the object's versions have no directory".into()))
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.index.versions.iter().position(|entry| entry.id == id)
    }

    /// Refuses a write that would keep more versions than a key may have.
    fn make_room(&self) -> Result<(), S3Error> {
        if self.index.versions.len() >= MAX_VERSIONS_PER_KEY {
            return Err(S3Error::LimitExceeded(format!(
                "key {:?} has {MAX_VERSIONS_PER_KEY} versions, the most the local backend \
                 keeps of a key: delete some with delete-object-version first",
                self.object.key
            )));
        }
        Ok(())
    }

    /// Moves the current object's bytes (if any) among the kept versions.
    fn keep_current(&mut self) -> Result<(), S3Error> {
        match self.index.versions.first() {
            Some(current) if !current.delete_marker => {}
            _ => return Ok(()),
        }
        let sidecar = self.object.read_sidecar()?;
        let stored = body_name(&self.index.versions[0].id);
        let object = self.object;
        if object.keep_in(self.dir()?, &stored)? {
            let current = &mut self.index.versions[0];
            current.content_type = sidecar.content_type;
            current.metadata = sidecar.metadata;
        } else {
            // Gone from under the history (deleted outside xacct): nothing to keep.
            self.index.versions.remove(0);
        }
        Ok(())
    }

    /// Forgets the `null` version (kept already, as every version is by now): a write in
    /// a suspended bucket replaces it.
    fn forget_null(&mut self) -> Result<(), S3Error> {
        if let Some(at) = self.position(NULL_VERSION) {
            let entry = self.index.versions.remove(at);
            if !entry.delete_marker {
                self.remove_kept(&entry.id)?;
            }
        }
        Ok(())
    }

    fn remove_kept(&mut self, id: &str) -> Result<(), S3Error> {
        let name = body_name(id);
        match self.dir()?.remove_file(&name) {
            Err(err) if err.kind() != ErrorKind::NotFound => {
                Err(io_error(err, "deleting a version"))
            }
            _ => Ok(()),
        }
    }

    /// Makes way for a new current version or delete marker, as the bucket's versioning
    /// says; its id.
    fn make_way(&mut self, status: VersioningStatus) -> Result<String, S3Error> {
        self.make_room()?;
        self.keep_current()?;
        Ok(match status {
            VersioningStatus::Enabled => new_version_id(),
            VersioningStatus::Suspended => {
                self.forget_null()?;
                NULL_VERSION.to_owned()
            }
        })
    }

    /// Writes the index (staged, like bodies); removes it, and the directory, when no
    /// version is left.
    fn save(mut self) -> Result<(), S3Error> {
        let what = "storing the object's versions";
        if self.index.versions.is_empty() {
            if let Some(dir) = &self.dir {
                match dir.remove_file(INDEX) {
                    Err(err) if err.kind() != ErrorKind::NotFound => {
                        return Err(io_error(err, what));
                    }
                    _ => {}
                }
                if let Some(parent) = open_history_dir(&self.object.at, None, false)? {
                    // Fails harmlessly while kept bytes remain.
                    let _ = parent.remove_dir(hashed(&self.object.key));
                }
            }
            return Ok(());
        }
        let json = serde_json::to_vec(&self.index).map_err(|_| S3Error::Other(what.into()))?;
        let object = self.object;
        let dir = self.dir()?;
        match lstat(dir, INDEX) {
            Ok(_) | Err(Miss::Absent) => {}
            Err(miss) => return Err(miss.into_io_error(what)),
        }
        let (staged, mut file) = Staged::create(&object.at.root)?;
        file.write_all(&json).map_err(|err| io_error(err, what))?;
        staged
            .install_as(dir, INDEX)
            .map_err(|err| io_error(err, what))
    }
}

/// Whether the key's versions are kept: its bucket's versioning is on or suspended, or it
/// has a history already (a settings file changed by hand counts as suspended).
fn kept_status(
    history: &History<'_>,
    status: Option<VersioningStatus>,
) -> Option<VersioningStatus> {
    status.or_else(|| history.dir.is_some().then_some(VersioningStatus::Suspended))
}

/// Stores a finished body at the object's key, keeping what it replaces as the bucket's
/// versioning says.
pub(super) fn put(
    object: &Object,
    staged: Staged,
    body: &std::fs::File,
    sidecar: &Sidecar,
) -> Result<PutResult, S3Error> {
    let mut history = History::load(object)?;
    let Some(status) = kept_status(&history, versioning(&object.at)?) else {
        return object.install(staged, body, sidecar);
    };
    let id = history.make_way(status)?;
    let result = object.install(staged, body, sidecar)?;
    history.index.versions.insert(0, Entry::version(id));
    history.save()?;
    Ok(result)
}

/// A plain delete: the object goes, or, where versions are kept, a delete marker takes
/// its place.
pub(super) fn delete(object: &Object) -> Result<(), S3Error> {
    let mut history = History::load(object)?;
    let Some(status) = kept_status(&history, versioning(&object.at)?) else {
        return object.delete();
    };
    let id = history.make_way(status)?;
    history.index.versions.insert(0, Entry::delete_marker(id));
    history.save()
}

/// Deletes one version or delete marker for good; the next newest becomes current.
pub(super) fn delete_version(object: &Object, id: &str) -> Result<(), S3Error> {
    let mut history = History::load(object)?;
    let Some(at) = history.position(id) else {
        return Ok(()); // as on S3: deleting a version that is not there succeeds
    };
    let entry = history.index.versions.remove(at);
    if at > 0 {
        if !entry.delete_marker {
            history.remove_kept(id)?;
        }
        return history.save();
    }
    if !entry.delete_marker {
        object.delete()?;
    }
    if let Some(next) = history.index.versions.first_mut()
        && !next.delete_marker
    {
        let sidecar = Sidecar {
            content_type: next.content_type.take(),
            metadata: std::mem::take(&mut next.metadata),
            tags: Vec::new(),
        };
        let stored = body_name(&next.id);
        object.restore(history.dir()?, &stored, &sidecar)?;
    }
    history.save()
}

/// One version's bytes opened, their metadata, and its content type and user metadata.
pub(super) fn open_version(
    object: &Object,
    id: &str,
) -> Result<(std::fs::File, Metadata, Sidecar), S3Error> {
    let history = History::load(object)?;
    let at = history
        .position(id)
        .ok_or_else(|| no_such_version(object, id))?;
    let entry = &history.index.versions[at];
    if entry.delete_marker {
        // S3 answers 405 Method Not Allowed for a delete marker's version id.
        return Err(S3Error::InvalidInput(format!(
            "version {id:?} of key {:?} is a delete marker: it has no bytes",
            object.key
        )));
    }
    if at == 0 {
        let (file, meta) = object.open()?;
        return Ok((file, meta, object.read_sidecar()?));
    }
    let dir = history
        .dir
        .as_ref()
        .ok_or_else(|| no_such_version(object, id))?;
    let (file, meta) = open_file(dir, &body_name(id))
        .map_err(|miss| miss.into_error("reading a version", || no_such_version(object, id)))?;
    let sidecar = Sidecar {
        content_type: entry.content_type.clone(),
        metadata: entry.metadata.clone(),
        tags: Vec::new(),
    };
    Ok((file, meta, sidecar))
}

/// Every key under `prefix` with a history, and its history's directory and index.
fn histories(at: &OpenBucket, prefix: &str) -> Result<BTreeMap<String, (Dir, Index)>, S3Error> {
    let what = "listing the versions of the bucket";
    let mut found = BTreeMap::new();
    let Some(all) = open_history_dir(at, None, false)? else {
        return Ok(found);
    };
    for entry in all.entries().map_err(|err| io_error(err, what))? {
        let entry = entry.map_err(|err| io_error(err, what))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Ok(dir) = open_dir(&all, &name, false) else {
            continue; // not a directory, or a link: not a history
        };
        if let Some(index) = read_index(&dir, None)?
            && index.key.starts_with(prefix)
            && hashed(&index.key) == name
        {
            found.insert(index.key.clone(), (dir, index));
        }
    }
    Ok(found)
}

/// Where a page of versions resumes.
enum After {
    Version(String, String),
    Prefix(String),
}

/// One page of the bucket's versions and delete markers, as ListObjectVersions answers.
pub(super) fn list(
    at: &OpenBucket,
    request: &VersionsRequest,
) -> Result<ListVersionsPage, S3Error> {
    let listing = &request.listing;
    let prefix = listing.prefix.as_deref().unwrap_or("");
    let delimiter = listing.delimiter();
    let mut page = empty_versions_page();
    let Some(max_keys) = listing.page_size() else {
        return Ok(page);
    };
    let current: BTreeMap<String, Metadata> = objects_under(&at.dir, prefix)?.into_iter().collect();
    let histories = histories(at, prefix)?;
    let keys: BTreeSet<&String> = current.keys().chain(histories.keys()).collect();
    let marker = request.key_marker.as_deref();
    let max_keys = max_keys as usize;
    let (mut count, mut last, mut truncated) = (0, None::<After>, false);
    'keys: for key in keys {
        if marker.is_some_and(|marker| key.as_str() < marker) {
            continue;
        }
        if let Some(common) = rolled_up(key, prefix, delimiter) {
            let seen = matches!(&last, Some(After::Prefix(p)) if *p == common);
            if seen || marker == Some(common.as_str()) {
                continue;
            }
            if count == max_keys {
                truncated = true;
                break;
            }
            page.common_prefixes.push(common.clone());
            count += 1;
            last = Some(After::Prefix(common));
            continue;
        }
        let kept = histories.get(key.as_str());
        let mut entries: Vec<&Entry> = kept
            .map(|(_, index)| index.versions.iter().collect())
            .unwrap_or_default();
        let null = Entry::version(NULL_VERSION.to_owned());
        if entries.is_empty() && current.contains_key(key.as_str()) {
            entries.push(&null);
        }
        let skip = match (marker, &request.version_id_marker) {
            (Some(marker), None) if marker == key.as_str() => entries.len(),
            (Some(marker), Some(id)) if marker == key.as_str() => entries
                .iter()
                .position(|entry| entry.id == *id)
                .map_or(entries.len(), |at| at + 1),
            _ => 0,
        };
        for (at, entry) in entries.iter().enumerate().skip(skip) {
            let stat = match (entry.delete_marker, at) {
                (true, _) => None,
                (false, 0) => current.get(key.as_str()).cloned(),
                (false, _) => kept.and_then(|(dir, _)| lstat(dir, &body_name(&entry.id)).ok()),
            };
            if !entry.delete_marker && !stat.as_ref().is_some_and(Metadata::is_file) {
                continue; // its bytes are gone (removed outside xacct)
            }
            if count == max_keys {
                truncated = true;
                break 'keys;
            }
            page.versions.push(ObjectVersion {
                key: key.clone(),
                version_id: entry.id.clone(),
                is_latest: at == 0,
                is_delete_marker: entry.delete_marker,
                size: stat.as_ref().map_or(0, Metadata::len),
                etag: stat.as_ref().map(etag).unwrap_or_default(),
                last_modified: match &stat {
                    Some(meta) => millis(meta.modified()),
                    None => entry.placed,
                },
            });
            count += 1;
            last = Some(After::Version(key.clone(), entry.id.clone()));
        }
    }
    if truncated {
        // The next page starts after this one's last entry.
        match last {
            Some(After::Version(key, id)) => {
                page.next_key_marker = Some(key);
                page.next_version_id_marker = Some(id);
            }
            Some(After::Prefix(common)) => page.next_key_marker = Some(common),
            None => {}
        }
    }
    Ok(page)
}
