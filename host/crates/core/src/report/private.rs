//! Files the host writes (the audit log, `--out-dir`) are the operator's alone: they
//! name every bucket and key a plugin touched and hold what it read and returned.
//!
//! What xacct creates is owner-only (files 0600, directories 0700). An existing file or
//! directory it writes into that group or others can access is tightened, not refused:
//! it is most likely the same path from an earlier run, and the operator named it. Only
//! regular files and directories are tightened: `--audit /dev/stderr` must not chmod the
//! terminal. A path owned by someone else cannot be tightened, and the write fails.
//!
//! A page (`--html`, `report html -o`) is written through [`open_regular`] and
//! [`replace`]: only a regular file is written, and a FIFO is not waited on.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Opens `path` with `options`, creating it readable and writable by the owner only.
pub fn open(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    let file = options.mode(0o600).open(path)?;
    tighten(&file)?;
    Ok(file)
}

/// Writes `contents` to `path`, as `std::fs::write` does, readable by the owner only.
pub fn write(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    open(path, options.write(true).create(true).truncate(true))?.write_all(contents)
}

/// `path` opened for writing, created owner-only if missing, if it is a regular file:
/// anything else (a FIFO, a device, a directory) is an error (`InvalidInput`, "not a
/// regular file") at once. Opened without blocking (O_NONBLOCK: a FIFO is not waited
/// on) and checked on the open handle; nothing in it is changed yet, not even its
/// permissions, so that the caller may still refuse it (e.g. it is the file being read)
/// before [`replace`] writes it.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let not_regular = || io::Error::new(io::ErrorKind::InvalidInput, "not a regular file");
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|err| {
            // ENXIO: a FIFO no one reads (or a device that is not there).
            if err.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error()) {
                not_regular()
            } else {
                err
            }
        })?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

/// Replaces the contents of a file of [`open_regular`] with `contents`, readable by the
/// owner only.
pub fn replace(file: &mut File, contents: &[u8]) -> io::Result<()> {
    tighten(file)?;
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(contents)?;
    file.flush()
}

/// Creates directory `path`, and whichever of its parents are missing, owner-only.
pub fn create_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(path)?;
    tighten(&File::open(path)?)
}

/// Takes group and other access away from a regular file or directory.
fn tighten(file: &File) -> io::Result<()> {
    let metadata = file.metadata()?;
    let mode = metadata.permissions().mode();
    if (metadata.is_file() || metadata.is_dir()) && mode & 0o077 != 0 {
        file.set_permissions(Permissions::from_mode(mode & 0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> String {
        format!(
            "{:o}",
            std::fs::metadata(path).unwrap().permissions().mode() & 0o777
        )
    }

    #[test]
    fn new_files_and_directories_are_owner_only() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("a/b");
        create_dir(&dir).unwrap();
        assert_eq!(
            [mode(&scratch.path().join("a")), mode(&dir)],
            ["700", "700"]
        );
        let file = dir.join("f");
        write(&file, b"x").unwrap();
        assert_eq!(mode(&file), "600");
    }

    #[test]
    fn existing_ones_open_to_others_are_tightened() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("d");
        let file = scratch.path().join("f");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(&file, "earlier run").unwrap();
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&file, Permissions::from_mode(0o644)).unwrap();
        create_dir(&dir).unwrap();
        open(&file, OpenOptions::new().append(true).create(true)).unwrap();
        assert_eq!([mode(&dir), mode(&file)], ["700", "600"]);
    }

    #[test]
    fn only_regular_files_are_replaced_and_a_fifo_is_not_waited_on() {
        let scratch = tempfile::tempdir().unwrap();
        let file = scratch.path().join("page.html");
        std::fs::write(&file, "a longer earlier page").unwrap();
        std::fs::set_permissions(&file, Permissions::from_mode(0o644)).unwrap();
        let mut open = open_regular(&file).unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "a longer earlier page",
            "opening changes nothing"
        );
        assert_eq!(mode(&file), "644");
        replace(&mut open, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");
        assert_eq!(mode(&file), "600");
        let new = scratch.path().join("new.html");
        replace(&mut open_regular(&new).unwrap(), b"x").unwrap();
        assert_eq!(mode(&new), "600");

        let fifo = scratch.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        // With no reader, a FIFO opened to write without blocking is ENXIO; with one
        // (another handle of ours), it opens and is refused as what it is.
        let reader = OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(&fifo)
            .unwrap();
        let err = open_regular(&fifo).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        drop(reader);
        let err = open_regular(&fifo).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "no reader: {err}");
        assert!(open_regular(scratch.path()).is_err(), "a directory");
    }
}
