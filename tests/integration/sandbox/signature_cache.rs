//! A signed plugin's signatures are checked once per build and remembered in the compile
//! cache (issue 21 item 7: a warm signed run starts within milliseconds of an unsigned
//! one); whether their keys are trusted is decided on every load. A cache entry is
//! untrusted input: one copied from another plugin, written without the user's key, or
//! written for another `.sig`, never makes a signature that does not hold pass.

use crate::common;

use std::path::{Path, PathBuf};

use common::keys;
use xacct::provenance::{Digest, NotTrusted, TrustedSigners, sign, sign_embedded};
use xacct::sandbox::{
    CacheLocation, LoadError, LoadOptions, Provenance, ProvenanceOptions, Sandbox, SignatureCheck,
    TrustPolicy, detached_signature_path,
};

struct Scratch {
    _root: tempfile::TempDir,
    cache: CacheLocation,
    plugins: PathBuf,
}

fn scratch() -> Scratch {
    let root = tempfile::tempdir().unwrap();
    let plugins = root.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    Scratch {
        cache: CacheLocation {
            dir: root.path().join("cache/xacct"),
            key_file: root.path().join("state/xacct/cache.key"),
        },
        plugins,
        _root: root,
    }
}

impl Scratch {
    /// `bytes` as the plugin file `name.wasm`.
    fn plugin(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.plugins.join(format!("{name}.wasm"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Loads the plugin at `path` as a new process would: a new sandbox over the cache.
    fn load(&self, trust: TrustPolicy, path: &Path) -> Result<Provenance, LoadError> {
        let options = LoadOptions {
            cache: Some(self.cache.clone()),
            provenance: ProvenanceOptions {
                trust,
                ..ProvenanceOptions::default()
            },
            ..LoadOptions::default()
        };
        let name = path.file_stem().unwrap().to_str().unwrap();
        Sandbox::with_options(options, 4)
            .unwrap()
            .load(name, path)
            .map(|plugin| plugin.provenance)
    }

    /// The cache's remembered signature check of the plugin file at `path`.
    fn signers_entry(&self, path: &Path) -> PathBuf {
        let digest = Digest::of(&std::fs::read(path).unwrap()).to_string();
        let names = common::files_below(&self.cache.dir);
        let name = names
            .iter()
            .find(|name| name.starts_with(&digest) && name.ends_with(".signers"))
            .unwrap_or_else(|| panic!("no signers entry of {digest} in {names:?}"));
        self.cache.dir.join(name)
    }
}

/// `[trust]` with these `signers` lines.
fn trust(signers: &[&str], require_signed: bool) -> TrustPolicy {
    let mut trusted = TrustedSigners::new();
    for line in signers {
        trusted.add_signer(line, "trust.signers").unwrap();
    }
    TrustPolicy {
        key: "trust".into(),
        signers: trusted,
        require_signed,
        strict_grants: false,
    }
}

fn guest(name: &str) -> Vec<u8> {
    std::fs::read(common::guest(name)).unwrap()
}

fn fingerprint(line: &str) -> String {
    ssh_key::PublicKey::from_openssh(line)
        .unwrap()
        .fingerprint(Default::default())
        .to_string()
}

#[test]
fn a_signature_check_is_remembered_and_trust_is_decided_on_every_load() {
    let scratch = scratch();
    let (alice, alice_line) = keys::signer(1, "alice@example");
    let (_, bob_line) = keys::signer(2, "bob@example");
    let hello = scratch.plugin("hello", &sign_embedded(&guest("hello"), &alice).unwrap());

    let first = scratch.load(trust(&[&alice_line], true), &hello).unwrap();
    assert_eq!(first.signature_check, SignatureCheck::Checked);
    let again = scratch.load(trust(&[&alice_line], true), &hello).unwrap();
    assert_eq!(again.signature_check, SignatureCheck::Remembered);
    assert_eq!(again.signer.unwrap().fingerprint, fingerprint(&alice_line));

    // Another trusted set: the remembered check decides nothing about trust.
    match scratch.load(trust(&[&bob_line], true), &hello) {
        Err(LoadError::NotTrusted {
            why: NotTrusted::Untrusted(_),
            ..
        }) => {}
        other => panic!("not refused as untrusted: {other:?}"),
    }
    let unrequired = scratch.load(trust(&[], false), &hello).unwrap();
    assert_eq!(unrequired.signature_check, SignatureCheck::Remembered);
    assert!(unrequired.signer.is_none());
    assert!(matches!(
        unrequired.untrusted,
        Some(NotTrusted::Untrusted(_))
    ));
    // Nor about time: alice's key, listed as expired, is not trusted.
    let mut expired = TrustedSigners::new();
    expired
        .add_allowed_signers(
            &format!("alice@example valid-before=\"20200101Z\" {alice_line}\n"),
            "allowed_signers",
        )
        .unwrap();
    let policy = TrustPolicy {
        signers: expired,
        ..trust(&[], true)
    };
    let refused = scratch.load(policy, &hello).unwrap_err();
    assert!(refused.to_string().contains("expired"), "{refused}");

    // An unsigned plugin has nothing to check or remember.
    let unsigned = scratch.plugin("inventory", &guest("inventory"));
    let loaded = scratch.load(trust(&[], false), &unsigned).unwrap();
    assert_eq!(loaded.signature_check, SignatureCheck::Unsigned);
}

#[test]
fn an_entry_copied_from_another_plugin_or_forged_never_passes_a_bad_signature() {
    let scratch = scratch();
    let (alice, alice_line) = keys::signer(1, "alice@example");
    let hello_bytes = sign_embedded(&guest("hello"), &alice).unwrap();
    let hello = scratch.plugin("hello", &hello_bytes);
    scratch.load(trust(&[&alice_line], true), &hello).unwrap();
    let authentic = scratch.signers_entry(&hello);

    // inventory carrying hello's signature section (alice's signature of hello): it
    // names alice's key, as hello's does, so hello's entry says exactly what a check of
    // it would say if the signature held.
    let hello_signature = &hello_bytes[guest("hello").len()..];
    let forged = scratch.plugin(
        "inventory",
        &[guest("inventory"), hello_signature.to_vec()].concat(),
    );
    let forged_digest = Digest::of(&std::fs::read(&forged).unwrap()).to_string();
    let host = authentic
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .split_once('-')
        .unwrap()
        .1
        .to_owned();
    let entry = scratch.cache.dir.join(format!("{forged_digest}-{host}"));
    let refused_as_a_mismatch = || match scratch.load(trust(&[&alice_line], true), &forged) {
        Err(LoadError::Provenance { reason, .. }) => {
            assert!(reason.contains("does not match these bytes"), "{reason}")
        }
        other => panic!("a signature over other bytes was not refused: {other:?}"),
    };

    // Copied under the forged file's digest: authentic, but for hello's digest.
    std::fs::copy(&authentic, &entry).unwrap();
    refused_as_a_mismatch();
    // Written without the key: the same payload under another tag.
    let mut untagged = std::fs::read(&authentic).unwrap();
    untagged[..32].fill(0);
    std::fs::write(&entry, &untagged).unwrap();
    refused_as_a_mismatch();

    // The authentic entry still serves hello.
    let hello_again = scratch.load(trust(&[&alice_line], true), &hello).unwrap();
    assert_eq!(hello_again.signature_check, SignatureCheck::Remembered);
}

#[test]
fn an_entry_holds_only_for_the_detached_signature_it_was_written_for() {
    let scratch = scratch();
    let (alice, alice_line) = keys::signer(1, "alice@example");
    let (mallory, _) = keys::signer(2, "mallory@example");
    let bytes = guest("inventory");
    let plugin = scratch.plugin("inventory", &bytes);
    let sig = detached_signature_path(&plugin);
    let detached = |signature: xacct::provenance::Signature| {
        std::fs::write(&sig, signature.to_armored()).unwrap()
    };
    detached(sign(&bytes, &alice).unwrap());
    let load = || scratch.load(trust(&[&alice_line], true), &plugin);
    assert_eq!(load().unwrap().signature_check, SignatureCheck::Checked);
    assert_eq!(load().unwrap().signature_check, SignatureCheck::Remembered);

    // alice's signature of other bytes in its place: it names the same key.
    detached(sign(b"some other file", &alice).unwrap());
    match load() {
        Err(LoadError::Provenance { reason, .. }) => {
            assert!(reason.contains("does not match these bytes"), "{reason}")
        }
        other => panic!("a .sig over other bytes was not refused: {other:?}"),
    }
    // mallory's, valid, in its place; then none.
    detached(sign(&bytes, &mallory).unwrap());
    assert!(
        matches!(
            load(),
            Err(LoadError::NotTrusted {
                why: NotTrusted::Untrusted(_),
                ..
            })
        ),
        "mallory's signature passed for alice's"
    );
    std::fs::remove_file(&sig).unwrap();
    assert!(matches!(
        load(),
        Err(LoadError::NotTrusted {
            why: NotTrusted::Unsigned,
            ..
        })
    ));
}
