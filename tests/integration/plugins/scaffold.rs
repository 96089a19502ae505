//! `xacct new`: each language's project builds and passes its own test as created,
//! outside the repository, with the toolchains `scripts/build-guests` installed.

use crate::common::{self, Xacct};

use std::path::Path;
use std::process::Command;

fn new_project_passes_its_own_test(lang: &str) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join(format!("my-{lang}-plugin"));
    let created = Xacct::in_dir(dir.path())
        .args(["new", &format!("my-{lang}-plugin"), "--lang", lang, "--dir"])
        .arg(&project)
        .output();
    assert!(created.success(), "{created:?}");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // A signing key configured: build.sh declares the grant, then signs.
    let pair = ssh_key::private::Ed25519Keypair::from_seed(&[7; 32]);
    let key = ssh_key::PrivateKey::new(pair.into(), "author@example").unwrap();
    let key_file = dir.path().join("signing-key");
    std::fs::write(
        &key_file,
        key.to_openssh(ssh_key::LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    let tested = Command::new(project.join("test.sh"))
        .env("XACCT", env!("CARGO_BIN_EXE_xacct"))
        .env("XACCT_SIGNING_KEY", &key_file)
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
    let verified = Xacct::in_dir(&project)
        .args(["verify", &format!("plugins/my-{lang}-plugin.wasm")])
        .args(["--config", "xacct.toml"])
        .output();
    let fingerprint = key.public_key().fingerprint(Default::default()).to_string();
    for part in [
        format!("embedded signature: valid, by {fingerprint}"),
        "declared grant:\n    format = 1\n    accounts = [\"*\"]".to_owned(),
    ] {
        assert!(
            verified.stdout.contains(&part),
            "{part:?} not in {}",
            verified.stdout
        );
    }
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
