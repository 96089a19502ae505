//! Files the host writes (the audit log, `--out-dir`) are the operator's alone: they
//! name every bucket and key a plugin touched and hold what it read and returned.
//!
//! What xacct creates is owner-only (files 0600, directories 0700). An existing file or
//! directory it writes into that group or others can access is tightened, not refused:
//! it is most likely the same path from an earlier run, and the operator named it. Only
//! regular files and directories are tightened: `--audit /dev/stderr` must not chmod the
//! terminal. A path owned by someone else cannot be tightened, and the write fails.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
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
}
