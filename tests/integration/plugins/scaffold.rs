//! `xacct new`: each language's project builds and passes its own test as created,
//! outside the repository, with the toolchains `scripts/build-guests` installed.

use crate::common;

use std::path::Path;
use std::process::Command;

fn new_project_passes_its_own_test(lang: &str) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join(format!("my-{lang}-plugin"));
    let xacct = env!("CARGO_BIN_EXE_xacct");
    let created = Command::new(xacct)
        .args(["new", &format!("my-{lang}-plugin"), "--lang", lang, "--dir"])
        .arg(&project)
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let tested = Command::new(project.join("test.sh"))
        .env("XACCT", xacct)
        // The toolchains scripts/build-guests installed; a Rust build shares one target
        // directory across runs.
        .env("COMPONENTIZE_PY", repo.join(".venv/bin/componentize-py"))
        .env(
            "COMPONENTIZE_JS",
            repo.join("plugins/node_modules/.bin/componentize-js"),
        )
        .env("CARGO_TARGET_DIR", common::target_dir().join("new-plugins"))
        .output()
        .unwrap();
    assert!(
        tested.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&tested.stdout),
        String::from_utf8_lossy(&tested.stderr)
    );
    assert!(String::from_utf8_lossy(&tested.stdout).contains(": ok"));
}

#[test]
fn a_new_rust_project_passes_its_own_test() {
    new_project_passes_its_own_test("rust");
}

#[test]
fn a_new_python_project_passes_its_own_test() {
    new_project_passes_its_own_test("python");
}

#[test]
fn a_new_javascript_project_passes_its_own_test() {
    new_project_passes_its_own_test("js");
}
