//! Interoperability with the real `ssh-keygen` (OpenSSH 8.9 or later): signatures made by
//! either verify with the other, keys and fingerprints read the same, and an
//! `allowed_signers` file decides the same.

// Test code states what it expects with unwrap (the workspace denies it in code that
// ships).
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{guest, keygen, run, ssh_keygen};
use xacct_provenance::{
    KeyError, PluginFile, Signature, SignatureError, SigningKey, TrustedSigners, Untrusted,
    embed_signature, sign, sign_embedded, verify,
};

/// The fingerprint `ssh-keygen -l` prints for a public key file.
fn fingerprint(ssh_keygen: &Path, public: &Path) -> String {
    let out = run(ssh_keygen, &["-l", "-f", public.to_str().unwrap()], None);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .to_owned()
}

fn public(key: &Path) -> std::path::PathBuf {
    key.with_extension("pub")
}

/// An `allowed_signers` file in `dir` trusting `key` as `principal`.
fn allowed_signers(dir: &Path, principal: &str, key: &Path) -> std::path::PathBuf {
    let allowed = dir.join("allowed_signers");
    let line = fs::read_to_string(public(key)).unwrap();
    fs::write(&allowed, format!("{principal} {line}")).unwrap();
    allowed
}

/// `ssh-keygen -Y sign -n NAMESPACE` of `file`, into `file.sig`.
fn keygen_sign(ssh_keygen: &Path, key: &Path, file: &Path, extra: &[&str]) -> String {
    let sig = format!("{}.sig", file.display());
    let _ = fs::remove_file(&sig);
    let mut args = vec!["-q", "-Y", "sign", "-f", key.to_str().unwrap()];
    args.extend(extra);
    args.push(file.to_str().unwrap());
    let out = run(ssh_keygen, &args, None);
    assert!(out.status.success(), "{out:?}");
    fs::read_to_string(sig).unwrap()
}

/// Whether `ssh-keygen -Y verify` accepts `signature` over `file` for `principal`.
fn keygen_verifies(
    ssh_keygen: &Path,
    allowed: &Path,
    principal: &str,
    signature: &str,
    file: &Path,
    verify_time: Option<&str>,
) -> bool {
    let sig = file.with_extension("check.sig");
    fs::write(&sig, signature).unwrap();
    let option = verify_time.map(|t| format!("verify-time={t}"));
    let mut args = vec![
        "-Y",
        "verify",
        "-f",
        allowed.to_str().unwrap(),
        "-I",
        principal,
        "-n",
        "xacct-plugin",
        "-s",
        sig.to_str().unwrap(),
    ];
    if let Some(option) = &option {
        args.extend(["-O", option]);
    }
    run(ssh_keygen, &args, Some(file)).status.success()
}

#[test]
fn signatures_made_by_ssh_keygen_verify_here() {
    let Some(ssh_keygen) = ssh_keygen("signatures_made_by_ssh_keygen_verify_here") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(&ssh_keygen, dir.path(), "alice", "ed25519", "");
    let (_, hello) = guest("hello");
    let file = dir.path().join("hello.wasm");
    fs::write(&file, &hello).unwrap();
    let mut trusted = TrustedSigners::new();
    let pub_line = fs::read_to_string(public(&key)).unwrap();
    trusted
        .add_allowed_signers(&format!("alice@example {pub_line}"), "allowed_signers")
        .unwrap();
    // SHA-512 is ssh-keygen's default; SHA-256 is its other choice.
    for extra in [
        &["-n", "xacct-plugin"][..],
        &["-n", "xacct-plugin", "-O", "hashalg=sha256"],
    ] {
        let armored = keygen_sign(&ssh_keygen, &key, &file, extra);
        let signature = Signature::from_armored(armored.as_bytes()).unwrap();
        let signer = verify(&hello, &signature, &trusted, SystemTime::now()).unwrap();
        assert_eq!(signer.fingerprint, fingerprint(&ssh_keygen, &public(&key)));
        assert_eq!(signer.principals, ["alice@example"]);
        assert_eq!(signer.origin.to_string(), "allowed_signers:1");
        // Over other bytes, the same signature proves nothing.
        let mut changed = hello.clone();
        changed[100] ^= 1;
        assert!(matches!(
            verify(&changed, &signature, &trusted, SystemTime::now()),
            Err(SignatureError::Mismatch { .. })
        ));
    }
    // Made for another namespace (git's), it is no plugin signature.
    let armored = keygen_sign(&ssh_keygen, &key, &file, &["-n", "git"]);
    assert_eq!(
        Signature::from_armored(armored.as_bytes()),
        Err(SignatureError::WrongNamespace {
            found: "git".into()
        })
    );
    // The detached signature of one file, beside another.
    let armored = keygen_sign(&ssh_keygen, &key, &file, &["-n", "xacct-plugin"]);
    let (_, other) = guest("hello-js");
    let signature = Signature::from_armored(armored.as_bytes()).unwrap();
    let moved = PluginFile::parse(&other)
        .unwrap()
        .verify(Some(&signature), &trusted, SystemTime::now())
        .unwrap_err();
    assert!(
        matches!(moved.source, SignatureError::Mismatch { .. }),
        "{moved}"
    );
}

#[test]
fn signatures_made_here_verify_with_ssh_keygen_byte_for_byte() {
    let Some(ssh_keygen) = ssh_keygen("signatures_made_here_verify_with_ssh_keygen_byte_for_byte")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(&ssh_keygen, dir.path(), "alice", "ed25519", "");
    let signing = SigningKey::from_openssh(&fs::read_to_string(&key).unwrap()).unwrap();
    assert_eq!(
        signing.public_key().fingerprint(),
        fingerprint(&ssh_keygen, &public(&key))
    );
    let allowed = allowed_signers(dir.path(), "alice@example", &key);
    let (_, hello) = guest("hello");
    let file = dir.path().join("hello.wasm");
    fs::write(&file, &hello).unwrap();

    let ours = sign(&hello, &signing).unwrap();
    assert!(keygen_verifies(
        &ssh_keygen,
        &allowed,
        "alice@example",
        ours.to_armored(),
        &file,
        None
    ));
    // ed25519 is deterministic: ssh-keygen writes the very same file.
    let theirs = keygen_sign(&ssh_keygen, &key, &file, &["-n", "xacct-plugin"]);
    assert_eq!(ours.to_armored(), theirs);

    // An embedded signature is an ordinary one over the bytes before its section: an
    // operator checks it with ssh-keygen over `head -c OFFSET`.
    let signed = sign_embedded(&hello, &signing).unwrap();
    let plugin = PluginFile::parse(&signed).unwrap();
    assert_eq!(plugin.unsigned_bytes(), &hello[..]);
    let embedded = plugin.embedded_signature().unwrap().unwrap();
    assert!(keygen_verifies(
        &ssh_keygen,
        &allowed,
        "alice@example",
        embedded.to_armored(),
        &file,
        None
    ));
    // And a signature ssh-keygen made (with an agent, a hardware key, a passphrase) embeds.
    let theirs = Signature::from_armored(theirs.as_bytes()).unwrap();
    assert_eq!(embed_signature(&hello, &theirs).unwrap(), signed);
}

/// xacct never asks for a passphrase: such a key (like one in an agent or on a token)
/// signs with ssh-keygen, and the signature is embedded or left beside the plugin.
#[test]
fn passphrase_protected_keys_sign_through_ssh_keygen() {
    let Some(ssh_keygen) = ssh_keygen("passphrase_protected_keys_sign_through_ssh_keygen") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(&ssh_keygen, dir.path(), "bob", "ed25519", "correct horse");
    let err = SigningKey::from_openssh(&fs::read_to_string(&key).unwrap()).unwrap_err();
    assert_eq!(err, KeyError::Encrypted);
    assert!(
        err.to_string()
            .contains("ssh-keygen -Y sign -n xacct-plugin"),
        "{err}"
    );
    // ssh-keygen asks for the passphrase (here through SSH_ASKPASS, as a desktop would).
    let askpass = dir.path().join("askpass");
    fs::write(&askpass, "#!/bin/sh\necho 'correct horse'\n").unwrap();
    fs::set_permissions(&askpass, fs::Permissions::from_mode(0o700)).unwrap();
    let (_, hello) = guest("hello");
    let file = dir.path().join("hello.wasm");
    fs::write(&file, &hello).unwrap();
    let out = Command::new(&ssh_keygen)
        .args(["-q", "-Y", "sign", "-n", "xacct-plugin", "-f"])
        .args([&key, &file])
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let armored = fs::read_to_string(format!("{}.sig", file.display())).unwrap();
    let signature = Signature::from_armored(armored.as_bytes()).unwrap();
    let signed = embed_signature(&hello, &signature).unwrap();
    let mut trusted = TrustedSigners::new();
    trusted
        .add_signer(&fs::read_to_string(public(&key)).unwrap(), "trust.signers")
        .unwrap();
    let verification = PluginFile::parse(&signed)
        .unwrap()
        .verify(None, &trusted, SystemTime::now())
        .unwrap();
    assert_eq!(
        verification.trusted_signer().unwrap().principals,
        ["bob@example"]
    );
}

#[test]
fn other_key_types_are_refused_by_name_yet_may_share_the_allowed_signers_file() {
    let Some(ssh_keygen) = ssh_keygen("other_key_types_are_refused_by_name") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ecdsa = keygen(&ssh_keygen, dir.path(), "carol", "ecdsa", "");
    let rsa = keygen(&ssh_keygen, dir.path(), "dave", "rsa", "");
    let ed25519 = keygen(&ssh_keygen, dir.path(), "erin", "ed25519", "");
    assert_eq!(
        SigningKey::from_openssh(&fs::read_to_string(&ecdsa).unwrap()).unwrap_err(),
        KeyError::Unsupported("ecdsa-sha2-nistp256".into())
    );
    let file = dir.path().join("data");
    fs::write(&file, b"bytes").unwrap();
    let armored = keygen_sign(&ssh_keygen, &rsa, &file, &["-n", "xacct-plugin"]);
    assert!(matches!(
        Signature::from_armored(armored.as_bytes()),
        Err(SignatureError::UnsupportedAlgorithm(alg)) if alg.starts_with("rsa") || alg.starts_with("ssh-rsa")
    ));
    let mut trusted = TrustedSigners::new();
    let err = trusted
        .add_signer(
            &fs::read_to_string(public(&ecdsa)).unwrap(),
            "plugin.p.trust.signers",
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("plugin.p.trust.signers[0]: an ecdsa-sha2-nistp256 key; xacct accepts ed25519 signers only"),
        "{err}"
    );
    // A team's allowed_signers, shared with git, lists all kinds of keys.
    let mut text = String::new();
    for (who, key) in [("carol", &ecdsa), ("dave", &rsa), ("erin", &ed25519)] {
        let line = fs::read_to_string(public(key)).unwrap();
        text.push_str(&format!("{who}@example {line}"));
    }
    trusted
        .add_allowed_signers(&text, "allowed_signers")
        .unwrap();
    let signing = SigningKey::from_openssh(&fs::read_to_string(&ed25519).unwrap()).unwrap();
    let signature = sign(b"bytes", &signing).unwrap();
    let signer = verify(b"bytes", &signature, &trusted, SystemTime::now()).unwrap();
    assert_eq!(signer.principals, ["erin@example"]);
}

/// Each allowed_signers line (for the signing key, principal alice@example) is decided at
/// a fixed time by ssh-keygen and by xacct, and the decisions agree.
#[test]
fn allowed_signers_files_decide_as_ssh_keygen_decides() {
    let Some(ssh_keygen) = ssh_keygen("allowed_signers_files_decide_as_ssh_keygen_decides") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(&ssh_keygen, dir.path(), "alice", "ed25519", "");
    let other = keygen(&ssh_keygen, dir.path(), "mallory", "ed25519", "");
    let pub_line = fs::read_to_string(public(&key)).unwrap();
    let other_line = fs::read_to_string(public(&other)).unwrap();
    let file = dir.path().join("data");
    fs::write(&file, b"plugin bytes").unwrap();
    let armored = keygen_sign(&ssh_keygen, &key, &file, &["-n", "xacct-plugin"]);
    let signature = Signature::from_armored(armored.as_bytes()).unwrap();
    // 2024-06-01T00:00:00Z
    let at = UNIX_EPOCH + Duration::from_secs(1_717_200_000);
    let cases: [(&str, bool); 14] = [
        ("alice@example KEY", true),
        ("alice@example OTHER", false),
        ("alice@example namespaces=\"xacct-plugin\" KEY", true),
        ("alice@example namespaces=\"git\" KEY", false),
        ("alice@example namespaces=\"git,xacct-*\" KEY", true),
        ("alice@example namespaces=\"*,!xacct-plugin\" KEY", false),
        ("alice@example valid-after=\"20240101Z\" KEY", true),
        ("alice@example valid-after=\"20250101Z\" KEY", false),
        ("alice@example valid-before=\"20240531235959Z\" KEY", false),
        (
            "alice@example valid-after=\"20240101Z\",valid-before=\"20241231Z\" KEY",
            true,
        ),
        ("alice@example cert-authority KEY", false),
        // Listed twice: one line that allows it is enough.
        (
            "alice@example namespaces=\"git\" KEY\nalice@example KEY",
            true,
        ),
        (
            "# alice@example KEY\n\nalice@example valid-before=\"20240101Z\" KEY",
            false,
        ),
        ("\"alice@example,bob@example\" KEY", true),
    ];
    for (lines, expected) in cases {
        let text = lines
            .replace("KEY", pub_line.trim())
            .replace("OTHER", other_line.trim());
        let allowed = dir.path().join("allowed_signers");
        fs::write(&allowed, &text).unwrap();
        let keygen_says = keygen_verifies(
            &ssh_keygen,
            &allowed,
            "alice@example",
            &armored,
            &file,
            Some("20240601Z"),
        );
        let mut trusted = TrustedSigners::new();
        trusted
            .add_allowed_signers(&text, "allowed_signers")
            .unwrap();
        let ours = verify(b"plugin bytes", &signature, &trusted, at);
        assert_eq!(keygen_says, expected, "ssh-keygen on {lines}");
        assert_eq!(ours.is_ok(), expected, "xacct on {lines}: {ours:?}");
        if !expected {
            assert!(
                matches!(
                    ours,
                    Err(SignatureError::Untrusted(
                        Untrusted::NotListed { .. } | Untrusted::Refused { .. }
                    ))
                ),
                "{ours:?}"
            );
        }
    }
}
