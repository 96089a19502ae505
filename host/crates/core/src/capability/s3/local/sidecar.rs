//! Sidecars: what S3 keeps beside an object's bytes (content type, user metadata, tags),
//! in `.xacct/meta/<account-id>/<bucket>/<sha256(key)>.json` — hashed, so any key maps to
//! one flat file name — written staged, like bodies, and never through a link.

use std::io::{ErrorKind, Read, Write};

use cap_std::fs::Dir;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::confine::{Miss, descend, io_error, lstat, open_file};
use super::staged::Staged;
use crate::bindings::S3Error;

/// The most bytes a metadata sidecar may hold: S3 user metadata is at most 2 KiB, and
/// content type and encoding are short, so a larger one was planted.
const MAX_SIDECAR_BYTES: u64 = 64 << 10;

/// What S3 keeps beside an object's bytes.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Sidecar {
    pub(super) content_type: Option<String>,
    pub(super) metadata: Vec<(String, String)>,
    pub(super) tags: Vec<(String, String)>,
}

impl Sidecar {
    fn is_empty(&self) -> bool {
        self.content_type.is_none() && self.metadata.is_empty() && self.tags.is_empty()
    }
}

/// The sidecars of one bucket, under the backend's open root.
pub(super) struct Sidecars<'a> {
    pub(super) root: &'a Dir,
    pub(super) account: &'a str,
    pub(super) bucket: &'a str,
}

impl Sidecars<'_> {
    /// The file name of `key`'s sidecar.
    pub(super) fn name(key: &str) -> String {
        format!("{}.json", hex::encode(Sha256::digest(key.as_bytes())))
    }

    /// The directory of the bucket's sidecars, opened; with `create`, made as needed,
    /// else `None` where it does not exist.
    pub(super) fn dir(&self, create: bool) -> Result<Option<Dir>, S3Error> {
        let what = "opening the object's metadata";
        let names = [".xacct", "meta", self.account, self.bucket];
        match descend(self.root, &names, create) {
            Ok(dir) => Ok(dir),
            Err(Miss::Absent) if !create => Ok(None),
            Err(miss) => Err(miss.into_error(what, || {
                S3Error::Other(format!("{what}: .xacct/meta is not a directory tree"))
            })),
        }
    }

    pub(super) fn read(&self, key: &str) -> Result<Sidecar, S3Error> {
        let what = "reading the object's metadata";
        let unreadable = || S3Error::Other("the object's stored metadata is unreadable".into());
        let Some(dir) = self.dir(false)? else {
            return Ok(Sidecar::default());
        };
        let file = match open_file(&dir, &Sidecars::name(key)) {
            Ok((file, _)) => file,
            Err(Miss::Absent) => return Ok(Sidecar::default()),
            Err(miss) => return Err(miss.into_error(what, unreadable)),
        };
        // The data directory is untrusted: a planted sidecar is measured on the handle
        // opened, never read past the cap (it may grow between the check and the read).
        let length = file.metadata().map_err(|err| io_error(err, what))?.len();
        if length > MAX_SIDECAR_BYTES {
            return Err(S3Error::Other(format!(
                "{what}: its stored metadata is {length} bytes, over the {} KiB a sidecar holds",
                MAX_SIDECAR_BYTES >> 10
            )));
        }
        let mut bytes = Vec::new();
        file.take(MAX_SIDECAR_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|err| io_error(err, what))?;
        if bytes.len() as u64 > MAX_SIDECAR_BYTES {
            return Err(unreadable());
        }
        serde_json::from_slice(&bytes).map_err(|_| unreadable())
    }

    /// Writes (or, when empty, removes) `key`'s sidecar atomically.
    pub(super) fn write(&self, key: &str, sidecar: &Sidecar) -> Result<(), S3Error> {
        let dir = self.dir(!sidecar.is_empty())?;
        self.write_in(dir.as_ref(), key, sidecar)
    }

    /// [`Sidecars::write`] in the sidecars' directory as already opened.
    pub(super) fn write_in(
        &self,
        dir: Option<&Dir>,
        key: &str,
        sidecar: &Sidecar,
    ) -> Result<(), S3Error> {
        let what = "storing the object's metadata";
        let name = Sidecars::name(key);
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
        let (staged, mut file) = Staged::create(self.root)?;
        file.write_all(&json).map_err(|err| io_error(err, what))?;
        staged
            .install_as(dir, &name)
            .map_err(|err| io_error(err, what))
    }
}
