//! What `xacct --version` says beyond the crate's version: the commit it was built from
//! (from git at build time; `XACCT_COMMIT` when building from a source tarball without
//! `.git`; else `unknown`) and the wasmtime version (from the workspace's Cargo.lock).

use std::path::Path;
use std::process::Command;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let manifest = Path::new(&manifest);
    println!("cargo:rerun-if-env-changed=XACCT_COMMIT");
    let commit = match std::env::var("XACCT_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().to_owned(),
        _ => git_commit(manifest).unwrap_or_else(|| "unknown".to_owned()),
    };
    println!("cargo:rustc-env=XACCT_COMMIT={commit}");
    let lock = manifest.join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let wasmtime = std::fs::read_to_string(&lock)
        .ok()
        .and_then(|lock| locked_version(&lock, "wasmtime"))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=XACCT_WASMTIME_VERSION={wasmtime}");
}

/// The commit checked out (12 hex digits), and the files whose change means another
/// commit: the build script runs again then. (Not the index: a `git add` would rebuild
/// the host.)
fn git_commit(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let output = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    // A path that does not exist would run the script on every build: the branch's ref
    // may be packed.
    for path in ["HEAD", branch.as_deref().unwrap_or("HEAD"), "packed-refs"] {
        if let Some(file) = git(&["rev-parse", "--path-format=absolute", "--git-path", path])
            && Path::new(&file).exists()
        {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    Some(commit)
}

/// The version of `package` a Cargo.lock pins (the first, if several).
fn locked_version(lock: &str, package: &str) -> Option<String> {
    let name = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    lines.find(|line| *line == name)?;
    let version = lines.next()?.strip_prefix("version = \"")?;
    Some(version.trim_end_matches('"').to_owned())
}
