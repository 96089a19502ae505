//! A machine with only rustup builds the demo: `scripts/build-other-languages --optional`
//! (what `scripts/demo` runs through `scripts/build-guests --optional`) skips Python and
//! JavaScript with one line each saying what to install, and succeeds; without
//! `--optional` (the tests' build) a missing toolchain is an error. The machine is
//! simulated with a PATH that holds every command but python3, node and npm.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

/// A directory of links to every command on PATH except `hidden`.
fn path_without(hidden: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var_os("PATH").unwrap();
    for bin in std::env::split_paths(&path) {
        for entry in std::fs::read_dir(&bin).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let name_text = name.to_string_lossy();
            let is_hidden = hidden
                .iter()
                .any(|h| name_text == *h || name_text.starts_with(&format!("{h}.")));
            let link = dir.path().join(&name);
            if !is_hidden && !link.exists() {
                let _ = symlink(entry.path(), link);
            }
        }
    }
    dir
}

fn build_other_languages(path: &Path, args: &[&str]) -> std::process::Output {
    let scratch = tempfile::tempdir().unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    Command::new(workspace.join("scripts/build-other-languages"))
        .args(args)
        .env("PATH", path)
        .env("XACCT_GUESTS_DIR", scratch.path().join("guests"))
        .env("XACCT_PLUGINS_DIR", scratch.path().join("plugins"))
        .output()
        .unwrap()
}

#[test]
fn without_python_and_node_the_demo_skips_their_samples_saying_what_to_install() {
    let bare = path_without(&["python3", "python", "node", "npm", "npx"]);
    let output = build_other_languages(bare.path(), &["--optional"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "skipping the Python samples: python3 is not installed (install python3 (with venv and pip) to build them)",
            "skipping the JavaScript samples: node is not installed (install node and npm to build them)",
        ],
        "{output:?}"
    );
    let strict = build_other_languages(bare.path(), &[]);
    assert!(!strict.status.success(), "the tests need every guest");
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(stderr.contains("need python3"), "{stderr}");
}

/// A toolchain that is there but cannot build (python3 without venv, as Debian ships it
/// without python3-venv; node or npm that cannot reach the registry) is skipped like a
/// missing one under `--optional` (without it, the build's failure is the script's).
/// Simulated with a `node` and an `npm` that fail.
#[test]
fn a_toolchain_that_fails_to_build_is_skipped_under_optional_saying_what_to_install() {
    let path = path_without(&["python3", "python", "node", "npm", "npx"]);
    for broken in ["node", "npm"] {
        let fake = path.path().join(broken);
        std::fs::write(
            &fake,
            "#!/bin/sh\necho \"$0: cannot run here\" >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    let output = build_other_languages(path.path(), &["--optional"]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.lines().last(),
        Some(
            "skipping the JavaScript samples: their build failed (above); install node and npm, with access to the npm registry, to build them"
        ),
        "{output:?}"
    );
}
