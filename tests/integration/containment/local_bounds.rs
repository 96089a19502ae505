//! Issue 17, "The local backend reads a metadata sidecar whole", "Hard links in the data
//! directory are followed", "`descend` holds one directory handle per key segment": the
//! data directory is untrusted input (an unpacked tarball, a shared checkout), so what
//! lies there must not cost the host memory or file handles out of proportion, nor serve
//! a file from outside the root.
//!
//! Defences these need (issue 17, Deliver 6): a sidecar is checked by its length on the
//! open handle (at most 64 KiB) before it is read, and a larger one is an `other` error of
//! that call naming the object's metadata; a regular file with more than one link is
//! refused as a link is (`access-denied` by the backend, left out of listings); and a
//! call holds a bounded number of directory handles whatever the depth of its key (a
//! parent closed once its child is open), so that a 500-segment key works under a small
//! open-file limit.
//!
//! Each test runs the real `xacct` binary with the `s3script` guest.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common;
use common::cli::Outcome;
use common::{ACCOUNTS, World, Xacct};

const MIB: u64 = 1 << 20;

fn world() -> World {
    let world = World::new(&["s3script"], "");
    world.bucket(ACCOUNTS[0].0, "bkt");
    world
}

/// `xacct run s3script` in account `dev` of `world`, with `steps`.
fn script(world: &World, steps: Value) -> Xacct {
    world
        .xacct()
        .args(["run", "s3script", "--account", "dev", "--output", "json"])
        .arg("--input")
        .arg(json!({ "steps": steps }).to_string())
}

/// Each step's result, from the report of a run that must have succeeded.
fn results(output: &Outcome) -> Vec<Value> {
    let report = output.json();
    let entry = &report["entries"][0];
    assert_eq!(entry["status"], "ok", "{entry}");
    entry["output"]["results"].as_array().unwrap().clone()
}

/// `command`, run by a shell that first lowers the open-file limit to `limit` (for it
/// and for what it runs) and then becomes it.
fn under_open_file_limit(command: &Command, limit: u32) -> Command {
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
        .arg(command.get_program())
        .args(command.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => shell.env(name, value),
            None => shell.env_remove(name),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        shell.current_dir(dir);
    }
    shell
}

/// Peak resident memory (VmHWM) of a running process, in bytes; `None` once it is gone.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib << 10)
}

/// A planted sidecar of 1 GiB (sparse: it costs no disk) beside an object: one
/// `head-object` took the host's memory to the sidecar's size. It must be refused from
/// its length, the host staying small.
#[test]
fn a_planted_huge_sidecar_is_refused_unread() {
    let world = world();
    let (account, _) = ACCOUNTS[0];
    world.put_file(account, "bkt", "k.txt", "object");
    let sidecar_dir = world.data().join(".xacct/meta").join(account).join("bkt");
    std::fs::create_dir_all(&sidecar_dir).unwrap();
    let sidecar = sidecar_dir.join(format!("{}.json", hex::encode(Sha256::digest(b"k.txt"))));
    std::fs::File::create(&sidecar)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();

    let steps = json!([
        {"op": "head", "bucket": "bkt", "key": "k.txt"},
        {"op": "get", "bucket": "bkt", "key": "k.txt"},
    ]);
    let mut child = script(&world, steps).spawn();
    let pid = child.id();
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        peak = peak.max(peak_rss(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = Outcome::of(child);
    assert!(
        peak < 256 * MIB,
        "the host peaked at {} MiB reading a planted sidecar",
        peak / MIB
    );
    for result in results(&output) {
        assert_eq!(common::step_error(&result), "other", "{result}");
        let message = result["error"]["message"].as_str().unwrap();
        assert!(message.contains("metadata"), "{message}");
    }
}

/// A hard link in the data directory to a file outside the root was served like any
/// object: it must be refused as a symbolic link is, and left out of listings.
#[test]
fn a_hard_link_to_a_file_outside_the_root_is_not_served() {
    let world = world();
    let (account, _) = ACCOUNTS[0];
    let outside = world.dir.path().join("outside.txt");
    std::fs::write(&outside, "SECRET OUTSIDE THE ROOT").unwrap();
    world.put_file(account, "bkt", "plain.txt", "plain");
    std::fs::hard_link(&outside, world.data().join(account).join("bkt/linked.txt")).unwrap();

    let output = script(
        &world,
        json!([
            {"op": "get", "bucket": "bkt", "key": "linked.txt"},
            {"op": "head", "bucket": "bkt", "key": "linked.txt"},
            {"op": "copy", "bucket": "bkt", "key": "linked.txt", "to_bucket": "bkt", "to_key": "copied.txt"},
            {"op": "list", "bucket": "bkt"},
        ]),
    )
    .output();
    let results = results(&output);
    assert!(
        !output.stdout.contains("SECRET"),
        "the file outside the root was served through its hard link: {}",
        results[0]
    );
    for result in &results[..3] {
        assert_eq!(common::step_error(result), "access-denied", "{result}");
    }
    let listed = common::step_ok(&results[3]).to_string();
    assert!(listed.contains("plain.txt"), "{listed}");
    assert!(!listed.contains("linked.txt"), "{listed}");
    assert!(
        !world.data().join(account).join("bkt/copied.txt").exists(),
        "nothing copied out of the link"
    );
}

/// A key of 500 one-letter segments: `descend` held a handle on each of its directories
/// at once (and a listing one per level), so under an open-file limit of 256 the host
/// ran out of file descriptors. A call's handles must be bounded.
#[test]
fn a_deep_key_holds_a_bounded_number_of_directory_handles() {
    let world = world();
    let (account, _) = ACCOUNTS[0];
    let key = format!("{}leaf.txt", "d/".repeat(500));
    assert!(key.len() <= 1024, "a valid S3 key");
    world.put_file(account, "bkt", &key, "deep");

    let xacct = script(
        &world,
        json!([
            {"op": "get", "bucket": "bkt", "key": key},
            {"op": "head", "bucket": "bkt", "key": key},
            {"op": "list_all", "bucket": "bkt"},
        ]),
    );
    let output: Outcome = under_open_file_limit(&xacct.command(), 256)
        .output()
        .unwrap()
        .into();
    let results = results(&output);
    assert_eq!(
        common::step_ok(&results[0])["body"],
        "deep",
        "{}",
        results[0]
    );
    common::step_ok(&results[1]);
    let listed = common::step_ok(&results[2]).to_string();
    assert!(listed.contains("leaf.txt"), "{listed}");
}
