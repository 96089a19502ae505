//! The compile cache: what compiling a plugin led to — native code, or the reason the
//! plugin was refused — and which keys' signatures over it hold, kept between runs and
//! trusted only when this user's key authenticates it.
//!
//! A precompiled artifact is native code that the host maps executable next to the
//! operator's credentials, so a cache entry is never believed because of where it lies.
//! Each entry is `HMAC-SHA256(key; kind, plugin sha256, host id, payload)` followed by
//! the payload, named `<plugin sha256>-<host id>.<kind>`: an entry that was patched,
//! truncated, written for another plugin or another host, or written by anyone without
//! the key fails the check and is recompiled. The key is 32 random bytes in a file of
//! its own outside the cache directory, so that copying, committing or restoring a cache
//! never carries the means to forge it. The directory and the entries must also belong to
//! the user and be closed to writes by others: with those, a foreign entry is not even
//! read.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::hash::{Hash, Hasher};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use wasmtime::Engine;

use crate::bindings::WORLD;
use crate::config::limits::ComponentLimits;

const KEY_BYTES: usize = 32;
const TAG_BYTES: usize = 32;
/// Separates these tags from any other use of the key.
const DOMAIN: &[u8] = b"xacct compile cache v1\0";
/// The contract the host serves: a refusal depends on it as much as on the engine.
const WIT: &str = include_str!("../../../../../wit/xacct.wit");

/// Where the compile cache lives and the key that authenticates its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheLocation {
    pub dir: PathBuf,
    /// The secret (created on first use); must not be inside `dir`.
    pub key_file: PathBuf,
}

impl CacheLocation {
    /// The per-user cache, `$XDG_CACHE_HOME/xacct` (else `~/.cache/xacct`), with the
    /// user's key; `None` when there is no home directory to put them in.
    pub fn per_user() -> Option<CacheLocation> {
        CacheLocation::with_user_key(user_dir("XDG_CACHE_HOME", ".cache")?.join("xacct"))
    }

    /// `dir`, authenticated with the user's key `$XDG_STATE_HOME/xacct/cache.key` (else
    /// `~/.local/state/xacct/cache.key`): state rather than cache, because caches are what
    /// gets shared and restored, and rather than config, because config directories get
    /// committed to dotfile repositories.
    pub fn with_user_key(dir: PathBuf) -> Option<CacheLocation> {
        let key_file = user_dir("XDG_STATE_HOME", ".local/state")?.join("xacct/cache.key");
        Some(CacheLocation { dir, key_file })
    }
}

/// `$VAR` if it is an absolute path (the XDG rule), else `$HOME/under_home`.
fn user_dir(var: &str, under_home: &str) -> Option<PathBuf> {
    let absolute =
        |value: std::ffi::OsString| Some(PathBuf::from(value)).filter(|p| p.is_absolute());
    std::env::var_os(var).and_then(absolute).or_else(|| {
        Some(
            std::env::var_os("HOME")
                .and_then(absolute)?
                .join(under_home),
        )
    })
}

/// Why the cache, its key or one of its entries is not used.
#[derive(Debug, thiserror::Error)]
pub(super) enum CacheError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a {expected}", path.display())]
    NotA {
        path: PathBuf,
        expected: &'static str,
    },
    #[error(
        "{}: owned by uid {owner}, not by this user (uid {user}); fix: remove it, or configure a cache_dir of your own",
        path.display()
    )]
    NotOwned {
        path: PathBuf,
        owner: u32,
        user: u32,
    },
    #[error(
        "{}: mode {:03o} lets group or others {access} it; fix: chmod {fix:o} it",
        path.display(), mode & 0o777
    )]
    Exposed {
        path: PathBuf,
        mode: u32,
        access: &'static str,
        fix: u32,
    },
    #[error(
        "{}: holds {len} bytes, not a {KEY_BYTES}-byte key; fix: delete it (a new key costs one compile per plugin)",
        path.display()
    )]
    KeyLength { path: PathBuf, len: usize },
    #[error(
        "{}: the key is inside the cache directory it authenticates; fix: choose a cache_dir that does not contain it",
        path.display()
    )]
    KeyInCache { path: PathBuf },
}

/// What an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum EntryKind {
    /// A serialised, precompiled component: native code.
    Artifact = 1,
    /// Why the plugin was refused.
    Refusal = 2,
    /// The compile budget the plugin's compile ran out of, and when (milliseconds, then
    /// Unix seconds, u64 little-endian each): under that budget or a shorter one it is
    /// refused for a while without compiling again.
    Timeout = 3,
    /// The component a wasip1 module was made into (adapting takes seconds for some
    /// modules, and counts against the compile budget).
    Adapted = 4,
    /// The signatures it carries that were checked and hold (`super::verified`).
    Signers = 5,
}

impl EntryKind {
    fn extension(self) -> &'static str {
        match self {
            EntryKind::Artifact => "cwasm",
            EntryKind::Refusal => "refused",
            EntryKind::Timeout => "timeout",
            EntryKind::Adapted => "adapted",
            EntryKind::Signers => "signers",
        }
    }
}

/// An open, checked compile cache.
pub(super) struct CompileCache {
    dir: PathBuf,
    key: [u8; KEY_BYTES],
    /// Digest of everything that makes an entry this host's (see [`host_id`]).
    host: [u8; 32],
    /// The host id with the component limits the engine admits: what a refusal or a
    /// timeout depends on besides the plugin (wasmtime refuses a component over the
    /// engine's limits), so that raising a limit is never answered from the cache.
    judged_under: [u8; 32],
    user: u32,
}

impl CompileCache {
    /// Opens the cache at `location` for plugins compiled by `engine`: creates the
    /// directory (0700) and the key (0600) if missing, and refuses either if another
    /// user owns it or others may write it (read it, for the key).
    pub(super) fn open(location: &CacheLocation, engine: &Engine) -> Result<Self, CacheError> {
        let user = rustix::process::geteuid().as_raw();
        if location.key_file.starts_with(&location.dir) {
            return Err(CacheError::KeyInCache {
                path: location.key_file.clone(),
            });
        }
        let key = read_or_create_key(&location.key_file, user)?;
        private_dir(&location.dir, user)?;
        let host = host_id(engine);
        Ok(CompileCache {
            dir: location.dir.clone(),
            key,
            host,
            judged_under: host,
            user,
        })
    }

    /// This cache for an engine that admits components up to `limits`: refusals and
    /// timeouts are kept apart per limits; artifacts, native code the limits do not
    /// change, are shared.
    pub(super) fn under_limits(mut self, limits: &ComponentLimits) -> Self {
        let mut digest = Sha256::new();
        digest.update(self.host);
        for limit in [limits.core_instances, limits.memories, limits.tables] {
            digest.update(limit.to_le_bytes());
        }
        self.judged_under = digest.finalize().into();
        self
    }

    /// What an entry of `kind` depends on besides the plugin.
    fn scope(&self, kind: EntryKind) -> &[u8; 32] {
        match kind {
            // Which signatures hold over a file depends on its bytes alone.
            EntryKind::Artifact | EntryKind::Adapted | EntryKind::Signers => &self.host,
            EntryKind::Refusal | EntryKind::Timeout => &self.judged_under,
        }
    }

    /// The payload of the `kind` entry for the plugin whose sha256 is `plugin`, if there
    /// is one and it is authentic. The payload returned is the very buffer that was
    /// verified: nothing is read from the file system after the check.
    pub(super) fn get(&self, kind: EntryKind, plugin: &[u8; 32]) -> Option<Vec<u8>> {
        let path = self.path(kind, plugin);
        let mut bytes = match read_private_file(&path, self.user) {
            Ok(bytes) => bytes,
            Err(CacheError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
                return None;
            }
            Err(err) => {
                tracing::warn!("ignoring a compile cache entry: {err}");
                return None;
            }
        };
        let authentic = bytes.len() >= TAG_BYTES && {
            let (tag, payload) = bytes.split_at(TAG_BYTES);
            self.mac(kind, plugin, payload).verify_slice(tag).is_ok()
        };
        if !authentic {
            tracing::warn!(
                path = %path.display(),
                "ignoring a compile cache entry that this user's key does not authenticate for this plugin and host (patched, truncated, another plugin's, or written without the key); compiling again"
            );
            return None;
        }
        bytes.drain(..TAG_BYTES);
        Some(bytes)
    }

    /// Stores `payload` as the `kind` entry of `plugin`. A cache that cannot be written
    /// only costs compiles later.
    pub(super) fn put(&self, kind: EntryKind, plugin: &[u8; 32], payload: &[u8]) {
        let path = self.path(kind, plugin);
        let tag = self.mac(kind, plugin, payload).finalize().into_bytes();
        // Written aside and renamed into place, so a reader sees a whole entry or none.
        let written = tempfile::Builder::new()
            .prefix(".entry-")
            .tempfile_in(&self.dir)
            .and_then(|mut file| {
                file.write_all(&tag)?;
                file.write_all(payload)?;
                file.persist(&path).map_err(|err| err.error)?;
                Ok(())
            });
        if let Err(err) = written {
            tracing::warn!(path = %path.display(), "cannot write to the compile cache: {err}");
        }
    }

    fn path(&self, kind: EntryKind, plugin: &[u8; 32]) -> PathBuf {
        self.dir.join(format!(
            "{}-{}.{}",
            hex::encode(plugin),
            hex::encode(&self.scope(kind)[..8]),
            kind.extension()
        ))
    }

    fn mac(&self, kind: EntryKind, plugin: &[u8; 32], payload: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        // Every field but the last has a fixed length, so the message is unambiguous.
        mac.update(DOMAIN);
        mac.update(&[kind as u8]);
        mac.update(plugin);
        mac.update(self.scope(kind));
        mac.update(payload);
        mac
    }
}

/// What an entry depends on besides the plugin: wasmtime's hash of every engine setting
/// that affects compiled code (its version included), and the contract this xacct
/// serves, which decides refusals.
fn host_id(engine: &Engine) -> [u8; 32] {
    let mut digest = Sha256::new();
    digest.update(DOMAIN);
    for part in [env!("CARGO_PKG_VERSION"), WORLD, WIT] {
        digest.update((part.len() as u64).to_le_bytes());
        digest.update(part);
    }
    engine
        .precompile_compatibility_hash()
        .hash(&mut DigestHasher(&mut digest));
    digest.finalize().into()
}

/// Feeds a `Hash` value into a digest: std's own hashers promise no stability across
/// releases, and this value names files that outlive the process.
struct DigestHasher<'a>(&'a mut Sha256);

impl Hasher for DigestHasher<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        digest[..8].try_into().map_or(0, u64::from_le_bytes)
    }
}

/// Creates `dir` (0700; missing parents as the umask makes them) and checks that it is
/// this user's and closed to writes by others.
fn private_dir(dir: &Path, user: u32) -> Result<(), CacheError> {
    let io = |source| CacheError::Io {
        path: dir.to_owned(),
        source,
    };
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    match DirBuilder::new().mode(0o700).create(dir) {
        Err(err) if err.kind() != ErrorKind::AlreadyExists => return Err(io(err)),
        _ => {}
    }
    let meta = std::fs::metadata(dir).map_err(io)?;
    if !meta.is_dir() {
        return Err(CacheError::NotA {
            path: dir.to_owned(),
            expected: "directory",
        });
    }
    owned_and_closed(dir, &meta, user, 0o022, "write to", 0o700)
}

/// Reads a file that must be this user's and closed to writes by others, checked on the
/// open file itself (a symlink is not followed).
fn read_private_file(path: &Path, user: u32) -> Result<Vec<u8>, CacheError> {
    let (mut file, meta) = open_regular(path)?;
    owned_and_closed(path, &meta, user, 0o022, "write to", 0o600)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)
        .map_err(|source| CacheError::Io {
            path: path.to_owned(),
            source,
        })?;
    Ok(bytes)
}

fn open_regular(path: &Path) -> Result<(File, std::fs::Metadata), CacheError> {
    let io = |source| CacheError::Io {
        path: path.to_owned(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(CacheError::NotA {
            path: path.to_owned(),
            expected: "regular file",
        });
    }
    Ok((file, meta))
}

fn owned_and_closed(
    path: &Path,
    meta: &std::fs::Metadata,
    user: u32,
    forbidden: u32,
    access: &'static str,
    fix: u32,
) -> Result<(), CacheError> {
    if meta.uid() != user {
        return Err(CacheError::NotOwned {
            path: path.to_owned(),
            owner: meta.uid(),
            user,
        });
    }
    if meta.mode() & forbidden != 0 {
        return Err(CacheError::Exposed {
            path: path.to_owned(),
            mode: meta.mode(),
            access,
            fix,
        });
    }
    Ok(())
}

/// The user's key: read if it exists (and is theirs, readable by nobody else), else
/// created.
fn read_or_create_key(path: &Path, user: u32) -> Result<[u8; KEY_BYTES], CacheError> {
    match read_key(path, user) {
        Err(CacheError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {}
        read => return read,
    }
    create_key(path)?;
    read_key(path, user)
}

fn read_key(path: &Path, user: u32) -> Result<[u8; KEY_BYTES], CacheError> {
    let (file, meta) = open_regular(path)?;
    owned_and_closed(path, &meta, user, 0o077, "read", 0o600)?;
    let mut bytes = Vec::with_capacity(KEY_BYTES);
    file.take(KEY_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| CacheError::Io {
            path: path.to_owned(),
            source,
        })?;
    bytes
        .try_into()
        .map_err(|bytes: Vec<u8>| CacheError::KeyLength {
            path: path.to_owned(),
            len: bytes.len(),
        })
}

/// Writes a fresh random key to `path` unless a file is there already — when another
/// process won the race, its key is the one both use.
fn create_key(path: &Path) -> Result<(), CacheError> {
    let io = |source| CacheError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io)?;
    let mut key = [0u8; KEY_BYTES];
    getrandom::fill(&mut key).map_err(|err| io(std::io::Error::other(err.to_string())))?;
    // A temporary file is created with O_EXCL and mode 0600, filled, then linked into
    // place only if nothing is there: no reader ever sees a partly written key.
    let mut file = tempfile::Builder::new()
        .prefix(".cache.key-")
        .permissions(Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(io)?;
    file.write_all(&key)
        .and_then(|()| file.as_file().sync_all())
        .map_err(io)?;
    match file.persist_noclobber(path) {
        Ok(_) => Ok(()),
        Err(err) if err.error.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(io(err.error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(root: &Path) -> CacheLocation {
        CacheLocation {
            dir: root.join("cache/xacct"),
            key_file: root.join("state/xacct/cache.key"),
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o777
    }

    #[test]
    fn the_directory_and_the_key_are_created_private_and_the_key_is_kept() {
        let root = tempfile::tempdir().unwrap();
        let location = location(root.path());
        let engine = Engine::default();
        let cache = CompileCache::open(&location, &engine).unwrap();
        assert_eq!(mode(&location.dir), 0o700);
        assert_eq!(mode(&location.key_file), 0o600);
        assert_eq!(mode(location.key_file.parent().unwrap()), 0o700);
        assert_eq!(std::fs::read(&location.key_file).unwrap(), cache.key);
        let again = CompileCache::open(&location, &engine).unwrap();
        assert_eq!(again.key, cache.key, "an existing key is reused");
    }

    #[test]
    fn entries_are_authenticated_for_their_kind_and_plugin() {
        let root = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(&location(root.path()), &Engine::default()).unwrap();
        let (plugin, other) = ([1u8; 32], [2u8; 32]);
        cache.put(EntryKind::Artifact, &plugin, b"native code");
        assert_eq!(
            cache.get(EntryKind::Artifact, &plugin).as_deref(),
            Some(&b"native code"[..])
        );
        let path = cache.path(EntryKind::Artifact, &plugin);
        assert_eq!(mode(&path) & 0o022, 0);

        // Another plugin's entry, or the same bytes as another kind, do not verify.
        std::fs::copy(&path, cache.path(EntryKind::Artifact, &other)).unwrap();
        assert_eq!(cache.get(EntryKind::Artifact, &other), None);
        std::fs::copy(&path, cache.path(EntryKind::Refusal, &plugin)).unwrap();
        assert_eq!(cache.get(EntryKind::Refusal, &plugin), None);

        // Patched, truncated, or tagged with another key.
        let mut bytes = std::fs::read(&path).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(cache.get(EntryKind::Artifact, &plugin), None);
        std::fs::write(&path, &bytes[..TAG_BYTES - 1]).unwrap();
        assert_eq!(cache.get(EntryKind::Artifact, &plugin), None);
        let elsewhere = tempfile::tempdir().unwrap();
        let stranger = CompileCache::open(&location(elsewhere.path()), &Engine::default());
        stranger
            .unwrap()
            .put(EntryKind::Artifact, &plugin, b"native code");
        let foreign = location(elsewhere.path())
            .dir
            .join(path.file_name().unwrap());
        std::fs::copy(foreign, &path).unwrap();
        assert_eq!(cache.get(EntryKind::Artifact, &plugin), None);

        // An authentic entry that others could have rewritten is not read.
        cache.put(EntryKind::Artifact, &plugin, b"native code");
        std::fs::set_permissions(&path, Permissions::from_mode(0o666)).unwrap();
        assert_eq!(cache.get(EntryKind::Artifact, &plugin), None);
    }

    #[test]
    fn refusals_and_timeouts_are_kept_per_limits_and_artifacts_shared() {
        let root = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let open = |memories| {
            let limits = ComponentLimits {
                memories,
                ..ComponentLimits::default()
            };
            CompileCache::open(&location(root.path()), &engine)
                .unwrap()
                .under_limits(&limits)
        };
        let (strict, raised) = (open(4), open(8));
        let plugin = [3u8; 32];
        for kind in [EntryKind::Artifact, EntryKind::Refusal, EntryKind::Timeout] {
            strict.put(kind, &plugin, b"payload");
        }
        assert_eq!(
            raised.get(EntryKind::Artifact, &plugin).as_deref(),
            Some(&b"payload"[..])
        );
        assert_eq!(raised.get(EntryKind::Refusal, &plugin), None);
        assert_eq!(raised.get(EntryKind::Timeout, &plugin), None);
        assert!(open(4).get(EntryKind::Refusal, &plugin).is_some());
    }

    #[test]
    fn a_key_others_can_read_or_of_the_wrong_size_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let location = location(root.path());
        let engine = Engine::default();
        CompileCache::open(&location, &engine).unwrap();
        std::fs::set_permissions(&location.key_file, Permissions::from_mode(0o640)).unwrap();
        let err = CompileCache::open(&location, &engine).err().unwrap();
        assert!(matches!(err, CacheError::Exposed { .. }), "{err}");
        assert!(err.to_string().contains("chmod 600"), "{err}");

        std::fs::write(&location.key_file, b"short").unwrap();
        std::fs::set_permissions(&location.key_file, Permissions::from_mode(0o600)).unwrap();
        let err = CompileCache::open(&location, &engine).err().unwrap();
        assert!(matches!(err, CacheError::KeyLength { len: 5, .. }), "{err}");

        // A symlink is not followed, even to a file of the right shape.
        let real = root.path().join("real.key");
        std::fs::rename(&location.key_file, &real).unwrap();
        std::os::unix::fs::symlink(&real, &location.key_file).unwrap();
        assert!(CompileCache::open(&location, &engine).is_err());
    }

    #[test]
    fn a_directory_others_can_write_or_holding_the_key_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let location = location(root.path());
        let engine = Engine::default();
        std::fs::create_dir_all(&location.dir).unwrap();
        std::fs::set_permissions(&location.dir, Permissions::from_mode(0o777)).unwrap();
        let err = CompileCache::open(&location, &engine).err().unwrap();
        assert!(matches!(err, CacheError::Exposed { .. }), "{err}");

        let inside = CacheLocation {
            key_file: location.dir.join("cache.key"),
            ..location
        };
        let err = CompileCache::open(&inside, &engine).err().unwrap();
        assert!(matches!(err, CacheError::KeyInCache { .. }), "{err}");
    }
}
