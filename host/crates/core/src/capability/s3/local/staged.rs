//! Staged writes: a body (or a sidecar) is written to a file of its own in `.xacct/tmp`
//! and renamed into place only once complete, so a failed, aborted or timed-out put
//! leaves no partial object, and a reader never sees half of one.

use std::hash::{BuildHasher, RandomState};
use std::io::{self, ErrorKind};
use std::sync::atomic::{AtomicU64, Ordering};

use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};

use super::confine::{io_error, open_dir};
use crate::bindings::S3Error;

/// How many random names a new temporary file tries: a clash needs another writer to have
/// drawn the same 64 random bits, so running out means something else is wrong.
const TEMP_NAME_TRIES: usize = 16;

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
pub(super) struct Staged {
    dir: Dir,
    name: String,
    installed: bool,
}

impl Staged {
    pub(super) fn create(root: &Dir) -> Result<(Staged, std::fs::File), S3Error> {
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
    pub(super) fn install_as(mut self, dir: &Dir, name: &str) -> io::Result<()> {
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
