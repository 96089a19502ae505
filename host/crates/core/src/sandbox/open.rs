//! Opening files someone else may control — the plugin directory's, a report handed to
//! `report html`, `report merge` or `--rerun-failed`: a file can be swapped for a FIFO or
//! a device between listing a directory and opening it, so a file is opened without
//! blocking and checked on the open handle, never by its path first.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{Error, ErrorKind};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// `path` opened for reading, with its metadata, if it is a regular file; a FIFO, a
/// device or a directory is an error (`InvalidInput`, "not a regular file") at once.
pub fn open_regular(path: &Path) -> Result<(File, Metadata), Error> {
    // O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer;
    // on a regular file it changes nothing.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "not a regular file"));
    }
    Ok((file, metadata))
}
