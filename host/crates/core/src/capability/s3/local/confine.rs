//! Confinement: nothing below the local backend's root is ever named by a path. Every
//! directory is opened one name at a time, relative to its already-open parent, without
//! following a symbolic link; the last name is then opened, examined, created, renamed
//! or unlinked relative to that handle, again without following. A link anywhere below
//! the root is never followed, and a key that could name something outside its bucket
//! never becomes a path.

use std::io::{self, ErrorKind};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, Metadata, MetadataExt, OpenOptions};

use crate::bindings::S3Error;

/// Why a name in an open directory was not what a call needed.
#[derive(Debug)]
pub(super) enum Miss {
    /// Nothing is there.
    Absent,
    /// The other kind of thing (a file where a directory was wanted, or a directory,
    /// FIFO or device where a file was).
    WrongKind,
    /// A symbolic link, which is never followed.
    Link,
    /// A regular file with more than one name: a hard link, perhaps to a file outside
    /// the root, which is never served (the OS cannot tell which name is the original).
    HardLink,
    Io(io::Error),
}

impl Miss {
    /// Classifies the error of a no-follow operation on `name` in `dir`.
    pub(super) fn of(dir: &Dir, name: &str, err: io::Error) -> Miss {
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
    pub(super) fn into_error(self, what: &str, absent: impl FnOnce() -> S3Error) -> S3Error {
        match self {
            Miss::Absent | Miss::WrongKind => absent(),
            Miss::Link => link_refused(what),
            Miss::HardLink => S3Error::denied_by_backend(format!(
                "{what}: the file has other names (a hard link), and the local backend serves no file that is linked elsewhere"
            )),
            Miss::Io(err) => io_error(err, what),
        }
    }

    /// The plugin's error where the name was expected to exist.
    pub(super) fn into_io_error(self, what: &str) -> S3Error {
        self.into_error(what, || io_error(ErrorKind::NotFound.into(), what))
    }
}

pub(super) fn link_refused(what: &str) -> S3Error {
    S3Error::denied_by_backend(format!(
        "{what}: a symbolic link is in the way, and the local backend never follows one"
    ))
}

/// Opens (with `create`, first makes) the directory `name` in `dir`, refusing a link.
pub(super) fn open_dir(dir: &Dir, name: &str, create: bool) -> Result<Dir, Miss> {
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

/// Opens `names` one below the other from `start` (see [`open_dir`]): the deepest
/// directory, `None` for no names. Each parent is closed once its child is open, so a
/// call holds two directory handles at most however deep the key (a key may have 512
/// segments; the process's open-file limit may be 256).
pub(super) fn descend(start: &Dir, names: &[&str], create: bool) -> Result<Option<Dir>, Miss> {
    let mut deepest: Option<Dir> = None;
    for name in names {
        deepest = Some(open_dir(deepest.as_ref().unwrap_or(start), name, create)?);
    }
    Ok(deepest)
}

/// The directory [`descend`] opened, or where it started if it opened none.
pub(super) fn deepest<'a>(start: &'a Dir, descended: &'a Option<Dir>) -> &'a Dir {
    descended.as_ref().unwrap_or(start)
}

/// What `name` in `dir` is, refusing a link, symbolic or hard.
pub(super) fn lstat(dir: &Dir, name: &str) -> Result<Metadata, Miss> {
    match dir.symlink_metadata(name) {
        Ok(meta) if meta.is_symlink() => Err(Miss::Link),
        Ok(meta) => single_named(meta),
        Err(err) => Err(Miss::of(dir, name, err)),
    }
}

/// `meta`, unless it is a regular file with other names than this one.
pub(super) fn single_named(meta: Metadata) -> Result<Metadata, Miss> {
    if meta.is_file() && meta.nlink() > 1 {
        Err(Miss::HardLink)
    } else {
        Ok(meta)
    }
}

/// Opens the regular file `name` in `dir` for reading, with the metadata of the file
/// actually opened.
pub(super) fn open_file(dir: &Dir, name: &str) -> Result<(std::fs::File, Metadata), Miss> {
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
    // Checked on the open file too: the name may have been linked since the look.
    Ok((file, single_named(meta)?))
}

/// The `/`-separated segments of a key, refusing any key that could escape its bucket or
/// cannot be a path (its length is the gate's to check, once).
pub(super) fn key_segments(key: &str) -> Result<Vec<&str>, S3Error> {
    let refuse = |why: &str| Err(S3Error::InvalidInput(format!("key {key:?} {why}")));
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
pub(super) fn account_dir_name(id: &str) -> Result<&str, S3Error> {
    if id.is_empty() || id == "." || id == ".." || id.contains(['/', '\0']) {
        return Err(S3Error::InvalidInput(format!(
            "account id {id:?} cannot name a directory"
        )));
    }
    Ok(id)
}

pub(super) fn io_error(err: io::Error, what: &str) -> S3Error {
    match err.kind() {
        ErrorKind::NotFound => S3Error::NotFound(format!("{what}: not found")),
        ErrorKind::PermissionDenied => {
            S3Error::denied_by_backend(format!("{what}: the local backend may not access it"))
        }
        kind => S3Error::Other(format!("{what}: local backend I/O error ({kind})")),
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
            "/",
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
}
