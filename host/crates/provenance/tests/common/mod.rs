//! Shared by the provenance tests: the real components `scripts/build-guests` makes, small
//! components built on the spot, keys, and the real `ssh-keygen`.

#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wasm_encoder::{Component, CustomSection, Module, ModuleSection, NestedComponentSection};

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../target"))
}

/// A component `scripts/build-guests` made: `hello` (Rust, wasm32-wasip2), `hello-py`
/// (componentize-py, about 18 MB), `hello-js` (componentize-js, about 12 MB).
pub fn guest(name: &str) -> (PathBuf, Vec<u8>) {
    let file = format!("{name}.wasm");
    let rust = target_dir().join("wasm32-wasip2/release").join(&file);
    let path = if rust.is_file() {
        rust
    } else {
        target_dir().join("guests").join(&file)
    };
    let bytes = std::fs::read(&path).unwrap_or_else(|err| {
        panic!(
            "{}: {err}: build the guests first with scripts/build-guests (scripts/test does)",
            path.display()
        )
    });
    (path, bytes)
}

pub const REAL_COMPONENTS: [&str; 3] = ["hello", "hello-py", "hello-js"];

/// A core module holding the given custom sections.
pub fn module(custom: &[(&str, &[u8])]) -> Module {
    let mut module = Module::new();
    for (name, data) in custom {
        module.section(&CustomSection {
            name: (*name).into(),
            data: (*data).into(),
        });
    }
    module
}

/// What a component holds, in order.
pub enum Part<'a> {
    Custom(&'a str, &'a [u8]),
    Module(Module),
    Nested(Component),
}

pub fn component(parts: Vec<Part>) -> Component {
    let mut component = Component::new();
    for part in parts {
        match part {
            Part::Custom(name, data) => {
                component.section(&CustomSection {
                    name: name.into(),
                    data: data.into(),
                });
            }
            Part::Module(module) => {
                component.section(&ModuleSection(&module));
            }
            Part::Nested(nested) => {
                component.section(&NestedComponentSection(&nested));
            }
        }
    }
    component
}

pub fn bytes(parts: Vec<Part>) -> Vec<u8> {
    component(parts).finish()
}

/// A custom section as it lies in a file.
pub fn custom_section(name: &str, data: &[u8]) -> Vec<u8> {
    use wasm_encoder::Section as _;
    let mut out = Vec::new();
    CustomSection {
        name: name.into(),
        data: data.into(),
    }
    .append_to(&mut out);
    out
}

pub const GRANT: &str = r#"format = 1
accounts = ["*"]
s3 = [{ buckets = "reports-*", prefix = "2024/", actions = ["list", "read"] }]
"#;

/// The real `ssh-keygen`, or `None` — printed — where the environment says it may be
/// missing (`XACCT_TESTS_WITHOUT_SSH_KEYGEN=1`). Missing otherwise, the test fails: the
/// interoperability these tests prove cannot pass by being skipped silently.
pub fn ssh_keygen(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("ssh-keygen"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() && std::env::var_os("XACCT_TESTS_WITHOUT_SSH_KEYGEN").is_some() {
        println!(
            "skipped {test}: ssh-keygen is not installed (XACCT_TESTS_WITHOUT_SSH_KEYGEN is set)"
        );
        return None;
    }
    Some(found.expect(
        "ssh-keygen is not on PATH: install openssh-client, or set XACCT_TESTS_WITHOUT_SSH_KEYGEN=1 to skip the tests against it",
    ))
}

pub fn run(program: &Path, args: &[&str], stdin: Option<&Path>) -> Output {
    let mut command = Command::new(program);
    command.args(args);
    if let Some(stdin) = stdin {
        command.stdin(std::fs::File::open(stdin).unwrap());
    }
    command.output().unwrap()
}

/// A fresh ed25519 key pair made by `ssh-keygen` in `dir`: the private key's path.
pub fn keygen(ssh_keygen: &Path, dir: &Path, name: &str, kind: &str, passphrase: &str) -> PathBuf {
    let key = dir.join(name);
    let out = run(
        ssh_keygen,
        &[
            "-q",
            "-t",
            kind,
            "-N",
            passphrase,
            "-C",
            &format!("{name}@example"),
            "-f",
            key.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    key
}

/// A deterministic ed25519 key, as `ssh-keygen` would write it, from a one-byte seed.
pub fn key_text(seed: u8) -> String {
    let keypair = ssh_key::private::Ed25519Keypair::from_seed(&[seed; 32]);
    let key = ssh_key::PrivateKey::new(keypair.into(), format!("key{seed}@example")).unwrap();
    key.to_openssh(ssh_key::LineEnding::LF).unwrap().to_string()
}

pub fn signing_key(seed: u8) -> xacct_provenance::SigningKey {
    xacct_provenance::SigningKey::from_openssh(&key_text(seed)).unwrap()
}

/// The `ssh-ed25519 AAAA… comment` line of that key.
pub fn public_line(seed: u8) -> String {
    let key = ssh_key::PrivateKey::from_openssh(key_text(seed)).unwrap();
    key.public_key().to_openssh().unwrap()
}

/// Trusting exactly the key of `seed`.
pub fn trusting(seed: u8) -> xacct_provenance::TrustedSigners {
    let mut trusted = xacct_provenance::TrustedSigners::new();
    trusted
        .add_signer(&public_line(seed), "trust.signers")
        .unwrap();
    trusted
}
