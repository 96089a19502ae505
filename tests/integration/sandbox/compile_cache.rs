//! The compile cache holds native code that runs inside the host: nothing in it is run
//! unless this user's key authenticates it for exactly the plugin being loaded, and a
//! cache directory, entry or key that someone else owns or could write is not used.
//!
//! Whether a load was served by the cache is told with a compile budget no real compile
//! meets ([`NO_TIME`]): under it, only a cached artifact loads.

use crate::common;

use std::fs::Permissions;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::{World, ok};
use serde_json::json;
use sha2::{Digest, Sha256};
use xacct::pipeline::{self, RunRequest};
use xacct::plan::Mode;
use xacct::report::Report;
use xacct::sandbox::{CacheLocation, LoadOptions, Sandbox};

/// A compile budget that no real compile meets.
const NO_TIME: Duration = Duration::from_millis(1);

/// A uid that is not the test's, for the ownership cases: run as root (as `scripts/test`
/// is on CI and on the development machine), a test gives its file to this user with
/// `chown` and the case is real; run as anyone else, it says it skipped the case.
const STRANGER: u32 = 4242;

/// A cache and its key in a scratch directory.
fn scratch() -> (tempfile::TempDir, CacheLocation) {
    let root = tempfile::tempdir().unwrap();
    let location = CacheLocation {
        dir: root.path().join("cache/xacct"),
        key_file: root.path().join("state/xacct/cache.key"),
    };
    (root, location)
}

fn sandbox(location: &CacheLocation, compile_timeout: Duration) -> Arc<Sandbox> {
    let options = LoadOptions {
        cache: Some(location.clone()),
        compile_timeout,
        ..LoadOptions::default()
    };
    Arc::new(Sandbox::with_options(options, 4).unwrap())
}

/// Loads a guest, returning its sha256.
fn load(sandbox: &Sandbox, guest: &str) -> String {
    sandbox
        .load(guest, &common::guest(guest))
        .unwrap_or_else(|err| panic!("{err}"))
        .sha256
}

/// Whether `guest` loads from the cache alone.
fn served_from_cache(location: &CacheLocation, guest: &str) -> bool {
    match sandbox(location, NO_TIME).load(guest, &common::guest(guest)) {
        Ok(_) => true,
        Err(err) if err.out_of_compile_time() => false,
        Err(err) => panic!("{err}"),
    }
}

fn artifact(location: &CacheLocation, sha256: &str) -> PathBuf {
    let names = common::files_below(&location.dir);
    let name = names
        .iter()
        .find(|name| name.starts_with(sha256) && name.ends_with(".cwasm"))
        .unwrap_or_else(|| panic!("no artifact of {sha256} in {names:?}"));
    location.dir.join(name)
}

async fn run_hello(sandbox: &Arc<Sandbox>, world: &World) -> Report {
    let request = RunRequest::new("hello", "{}", Mode::PerAccount);
    pipeline::run(&world.config, sandbox, world.service().await, &request, &())
        .await
        .unwrap()
}

/// hello answered as itself in every account.
fn hello_answered(report: &Report) {
    assert_eq!(report.entries.len(), 3);
    for entry in &report.entries {
        let greeting = ok(entry)["greeting"].as_str().unwrap_or_default();
        assert!(
            greeting.starts_with(&format!("Hello from {} (", entry.alias)),
            "not hello's own output: {}",
            json!(entry.output)
        );
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, Permissions::from_mode(mode)).unwrap();
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

#[tokio::test]
async fn a_patched_or_truncated_artifact_is_compiled_again_never_run() {
    let (_root, location) = scratch();
    let world = World::new(&["hello"], "");
    let sha256 = load(&sandbox(&location, Duration::from_secs(60)), "hello");
    let artifact = artifact(&location, &sha256);
    let original = std::fs::read(&artifact).unwrap();

    // The greeting's text is data of the compiled artifact: patch it in place, as an
    // attacker would patch code.
    let at = original
        .windows(10)
        .position(|w| w == b"Hello from")
        .expect("the greeting's text is in the artifact");
    let mut patched = original.clone();
    patched[at..at + 10].copy_from_slice(b"Pwned from");
    std::fs::write(&artifact, &patched).unwrap();
    let report = run_hello(&sandbox(&location, Duration::from_secs(60)), &world).await;
    hello_answered(&report);
    assert_eq!(report.sha256.as_deref(), Some(sha256.as_str()));
    assert_ne!(
        std::fs::read(&artifact).unwrap(),
        patched,
        "the entry was written again"
    );
    assert!(served_from_cache(&location, "hello"), "and serves again");

    std::fs::write(&artifact, &original[..original.len() / 2]).unwrap();
    hello_answered(&run_hello(&sandbox(&location, Duration::from_secs(60)), &world).await);
}

#[tokio::test]
async fn another_plugins_artifact_under_this_plugins_name_is_not_run() {
    let (_root, location) = scratch();
    let world = World::new(&["hello"], "");
    let writer = sandbox(&location, Duration::from_secs(60));
    let hello = load(&writer, "hello");
    let inventory = load(&writer, "inventory");
    // A valid, authentic artifact — of inventory — where hello's is looked for.
    std::fs::copy(artifact(&location, &inventory), artifact(&location, &hello)).unwrap();

    let report = run_hello(&sandbox(&location, Duration::from_secs(60)), &world).await;
    hello_answered(&report);
    // The identity reported is the hash of the .wasm compiled, whatever the cache held.
    let bytes = std::fs::read(common::guest("hello")).unwrap();
    assert_eq!(report.sha256, Some(hex::encode(Sha256::digest(&bytes))));
}

/// A cache directory made unusable by `spoil` is neither read nor written.
fn a_spoiled_cache_dir_is_not_used(spoil: impl Fn(&Path)) {
    let (_root, location) = scratch();
    load(&sandbox(&location, Duration::from_secs(60)), "hello");
    assert!(served_from_cache(&location, "hello"));
    spoil(&location.dir);
    assert!(!served_from_cache(&location, "hello"), "not read");
    let before = common::files_below(&location.dir);
    load(&sandbox(&location, Duration::from_secs(60)), "inventory");
    assert_eq!(common::files_below(&location.dir), before, "not written");
}

#[test]
fn a_cache_dir_others_can_write_is_not_used() {
    a_spoiled_cache_dir_is_not_used(|dir| chmod(dir, 0o777));
    a_spoiled_cache_dir_is_not_used(|dir| chmod(dir, 0o770));
}

#[test]
fn a_cache_dir_owned_by_someone_else_is_not_used() {
    if euid() != 0 {
        common::skipped("giving a directory to another user needs root");
        return;
    }
    a_spoiled_cache_dir_is_not_used(|dir| {
        std::os::unix::fs::chown(dir, Some(STRANGER), Some(STRANGER)).unwrap()
    });
}

#[test]
fn an_entry_others_can_write_or_own_is_not_used() {
    let (_root, location) = scratch();
    let sha256 = load(&sandbox(&location, Duration::from_secs(60)), "hello");
    let artifact = artifact(&location, &sha256);
    chmod(&artifact, 0o666);
    assert!(!served_from_cache(&location, "hello"));
    if euid() != 0 {
        common::skipped("the ownership case: giving a file to another user needs root");
        return;
    }
    load(&sandbox(&location, Duration::from_secs(60)), "hello");
    assert!(
        served_from_cache(&location, "hello"),
        "written again, privately"
    );
    std::os::unix::fs::chown(&artifact, Some(STRANGER), None).unwrap();
    assert!(!served_from_cache(&location, "hello"));
}

#[test]
fn a_key_others_can_read_or_own_is_refused_and_the_cache_left_alone() {
    let (root, location) = scratch();
    load(&sandbox(&location, Duration::from_secs(60)), "hello");
    let key = std::fs::read(&location.key_file).unwrap();
    chmod(&location.key_file, 0o644);
    assert!(!served_from_cache(&location, "hello"));
    assert_eq!(
        std::fs::read(&location.key_file).unwrap(),
        key,
        "a refused key is not replaced"
    );
    // Nothing is written with a key that is refused.
    let fresh = CacheLocation {
        dir: root.path().join("fresh"),
        ..location.clone()
    };
    load(&sandbox(&fresh, Duration::from_secs(60)), "hello");
    assert!(common::files_below(&fresh.dir).is_empty());

    chmod(&location.key_file, 0o600);
    assert!(served_from_cache(&location, "hello"), "usable once private");
    if euid() != 0 {
        common::skipped("the ownership case: giving a file to another user needs root");
        return;
    }
    std::os::unix::fs::chown(&location.key_file, Some(STRANGER), None).unwrap();
    assert!(!served_from_cache(&location, "hello"));
}

#[test]
fn the_cache_and_its_key_are_created_private() {
    let (_root, location) = scratch();
    load(&sandbox(&location, Duration::from_secs(60)), "hello");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().mode() & 0o777;
    assert_eq!(mode(&location.dir), 0o700);
    assert_eq!(mode(&location.key_file), 0o600);
    assert_eq!(std::fs::metadata(&location.key_file).unwrap().len(), 32);
    for name in common::files_below(&location.dir) {
        assert_eq!(mode(&location.dir.join(&name)) & 0o022, 0, "{name}");
    }

    // The test harness's shared cache is the host's kind of cache, and serves.
    common::sandbox()
        .load("hello", &common::guest("hello"))
        .unwrap();
    let shared = common::target_dir().join("xacct-test-cache");
    let meta = std::fs::metadata(&shared).unwrap();
    assert_eq!(meta.uid(), euid());
    assert_eq!(meta.mode() & 0o022, 0, "{:o}", meta.mode());
    let harness = CacheLocation::with_user_key(shared).expect("a home directory");
    assert!(served_from_cache(&harness, "hello"));
}
