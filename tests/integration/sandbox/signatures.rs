//! Signed plugins through the CLI: `xacct sign` and `xacct verify`, `[trust]` signers and
//! `require_signed`, and every way of tampering with a signed file — each a refusal of
//! that plugin alone, naming the file and what is wrong, never a silent pass.

use crate::common;

use std::path::{Path, PathBuf};

use common::{ConfigBuilder, World};
use sha2::Digest;

/// An ed25519 key as `ssh-keygen -t ed25519` writes it, from a one-byte seed: its
/// private key file in `dir`, and its `ssh-ed25519 AAAA… key{seed}@example` line.
fn key(dir: &Path, seed: u8) -> (PathBuf, String) {
    let pair = ssh_key::private::Ed25519Keypair::from_seed(&[seed; 32]);
    let key = ssh_key::PrivateKey::new(pair.into(), format!("key{seed}@example")).unwrap();
    let path = dir.join(format!("key{seed}"));
    std::fs::write(
        &path,
        key.to_openssh(ssh_key::LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    // As ssh-keygen leaves it: it refuses a key others can read.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    (path, key.public_key().to_openssh().unwrap())
}

/// A custom section as it lies in a file: id 0, size, name, data.
fn custom_section(name: &str, data: &[u8]) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut payload = Vec::new();
    leb(name.len(), &mut payload);
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    let mut section = vec![0];
    leb(payload.len(), &mut section);
    section.extend(payload);
    section
}

fn plugin_lines(stdout: &str, name: &str) -> String {
    let mut lines = stdout
        .lines()
        .skip_while(|l| !l.starts_with(&format!("{name} ")));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no line for {name} in {stdout}"));
    std::iter::once(first)
        .chain(lines.take_while(|l| l.starts_with("    ")))
        .collect::<Vec<_>>()
        .join("\n")
}

fn trust_section(signers: &[&str], require_signed: bool) -> String {
    let quoted: Vec<String> = signers.iter().map(|s| format!("{s:?}")).collect();
    format!(
        "[trust]\nsigners = [{}]\nrequire_signed = {require_signed}\n",
        quoted.join(", ")
    )
}

const GRANT: &str =
    "accounts = [\"*\"]\ns3 = [{ buckets = \"*\", actions = [\"list\", \"read\"] }]\n";

fn granted(plugins: &[&str]) -> ConfigBuilder {
    plugins
        .iter()
        .fold(ConfigBuilder::local("data"), |config, plugin| {
            config.grant(plugin, GRANT)
        })
}

#[test]
fn with_require_signed_only_plugins_a_trusted_key_signed_run() {
    let keys = tempfile::tempdir().unwrap();
    let (alice, alice_public) = key(keys.path(), 1);
    let (mallory, _) = key(keys.path(), 2);
    let config =
        granted(&["hello", "inventory", "chatter"]).section(&trust_section(&[&alice_public], true));
    let world = World::local_with(&["hello", "inventory", "chatter"], config);
    let plugins = world.dir.path().join("plugins");

    let signed = world
        .xacct()
        .args(["sign", "plugins/hello.wasm", "--key"])
        .arg(&alice)
        .output();
    assert!(signed.success(), "{}", signed.stderr);
    let digest = hex::encode(sha2::Sha256::digest(
        std::fs::read(plugins.join("hello.wasm")).unwrap(),
    ));
    assert!(
        signed
            .stdout
            .contains(&format!("pin it with sha256 = \"{digest}\"")),
        "{}",
        signed.stdout
    );
    let detached = world
        .xacct()
        .args(["sign", "plugins/inventory.wasm", "--detached", "--key"])
        .arg(&mallory)
        .output();
    assert!(detached.success(), "{}", detached.stderr);
    assert!(plugins.join("inventory.wasm.sig").is_file());

    let listed = world.xacct().arg("plugins").output();
    assert_eq!(listed.code(), Some(1), "{}", listed.stdout);
    let hello = plugin_lines(&listed.stdout, "hello");
    assert!(hello.contains(" ok "), "{hello}");
    assert!(
        hello.contains("signer: signed by SHA256:")
            && hello.contains("(trust.signers[0]: key1@example)"),
        "{hello}"
    );
    let inventory = plugin_lines(&listed.stdout, "inventory");
    for part in [
        "inventory.wasm: refused: trust.require_signed is true and no trusted key signed it",
        "is not trusted: its key is in no [trust] signers entry",
    ] {
        assert!(inventory.contains(part), "{part:?} not in {inventory}");
    }
    let chatter = plugin_lines(&listed.stdout, "chatter");
    assert!(
        chatter
            .contains("chatter.wasm: refused: trust.require_signed is true and it is not signed"),
        "{chatter}"
    );

    let ran = world.xacct().args(["run", "hello"]).output();
    assert!(ran.success(), "{}{}", ran.stdout, ran.stderr);
    let refused = world
        .xacct()
        .args(["run", "chatter", "--output", "json"])
        .output();
    assert_eq!(refused.code(), Some(1));
    for entry in refused.json()["entries"].as_array().unwrap() {
        assert_eq!(entry["status"], "error", "{entry}");
    }

    let verified = world
        .xacct()
        .args(["verify", "plugins/hello.wasm"])
        .output();
    assert!(verified.success(), "{}{}", verified.stdout, verified.stderr);
    assert!(
        verified.stdout.contains(&format!("sha256: {digest}"))
            && verified
                .stdout
                .contains("embedded signature: valid, by SHA256:")
            && verified
                .stdout
                .contains("trusted: trust.signers[0] (key1@example)"),
        "{}",
        verified.stdout
    );
    let untrusted = world
        .xacct()
        .args(["verify", "plugins/inventory.wasm"])
        .output();
    assert_eq!(untrusted.code(), Some(1), "{}", untrusted.stdout);
    assert!(
        untrusted.stdout.contains("NOT trusted"),
        "{}",
        untrusted.stdout
    );

    // The done-when case: signed and pinned to what was signed.
    let pinned = granted(&["hello"])
        .section(&trust_section(&[&alice_public], true))
        .render()
        .replace(
            "[plugin.hello]\n",
            &format!("[plugin.hello]\nsha256 = \"{digest}\"\n"),
        );
    std::fs::write(world.dir.path().join("pinned.toml"), pinned).unwrap();
    let ran = world
        .xacct()
        .args(["run", "hello", "--config", "pinned.toml"])
        .output();
    assert!(ran.success(), "{}{}", ran.stdout, ran.stderr);
}

#[test]
fn an_ssh_keygen_signature_is_embedded_and_the_embedded_bytes_check_with_ssh_keygen() {
    let Ok(ssh_keygen) = which("ssh-keygen") else {
        common::skipped("ssh-keygen is not installed");
        return;
    };
    let keys = tempfile::tempdir().unwrap();
    let (alice, alice_public) = key(keys.path(), 1);
    let config = granted(&["hello"]).section(&trust_section(&[&alice_public], true));
    let world = World::local_with(&["hello"], config);
    let plugin = world.dir.path().join("plugins/hello.wasm");
    let run = |args: &[&std::ffi::OsStr]| {
        let output = std::process::Command::new(&ssh_keygen)
            .args(args)
            .current_dir(world.dir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
    };
    run(&[
        "-Y".as_ref(),
        "sign".as_ref(),
        "-n".as_ref(),
        "xacct-plugin".as_ref(),
        "-f".as_ref(),
        alice.as_os_str(),
        plugin.as_os_str(),
    ]);
    // Detached as ssh-keygen wrote it: trusted as it lies.
    let verified = world
        .xacct()
        .args(["verify", "plugins/hello.wasm"])
        .output();
    assert!(verified.success(), "{}", verified.stdout);
    assert!(
        verified.stdout.contains("detached signature"),
        "{}",
        verified.stdout
    );
    // Embedded, then the .sig removed: the file carries it.
    let sig = world.dir.path().join("plugins/hello.wasm.sig");
    let embedded = world
        .xacct()
        .args(["sign", "plugins/hello.wasm", "--signature"])
        .arg(&sig)
        .output();
    assert!(embedded.success(), "{}", embedded.stderr);
    std::fs::rename(&sig, world.dir.path().join("moved.sig")).unwrap();
    let ran = world.xacct().args(["run", "hello"]).output();
    assert!(ran.success(), "{}{}", ran.stdout, ran.stderr);
    // ssh-keygen alone checks it over the bytes before the section.
    let out = world
        .xacct()
        .args([
            "verify",
            "plugins/hello.wasm",
            "--extract-unsigned",
            "unsigned.wasm",
        ])
        .output();
    assert!(out.success(), "{}", out.stdout);
    std::fs::write(
        world.dir.path().join("allowed_signers"),
        format!("alice@example {alice_public}\n"),
    )
    .unwrap();
    let checked = std::process::Command::new(&ssh_keygen)
        .args([
            "-Y",
            "verify",
            "-f",
            "allowed_signers",
            "-I",
            "alice@example",
            "-n",
            "xacct-plugin",
            "-s",
            "moved.sig",
        ])
        .current_dir(world.dir.path())
        .stdin(std::fs::File::open(world.dir.path().join("unsigned.wasm")).unwrap())
        .output()
        .unwrap();
    assert!(checked.status.success(), "{checked:?}");
}

fn which(program: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
        .ok_or(())
}

#[test]
fn each_tampered_or_malformed_plugin_is_refused_alone() {
    let keys = tempfile::tempdir().unwrap();
    let (alice, alice_public) = key(keys.path(), 1);
    // Trusted signers, but nothing required: a bad signature is refused regardless.
    let names = [
        "hello",
        "truncated",
        "garbage",
        "othersig",
        "moved",
        "appended",
        "badgrant",
        "twogrants",
        "misplaced",
        "twoversions",
    ];
    let config = granted(&names).section(&trust_section(&[&alice_public], false));
    let world = World::local_with(&["hello"], config);
    let plugins = world.dir.path().join("plugins");
    let hello = std::fs::read(common::guest("hello")).unwrap();
    let inventory = std::fs::read(common::guest("inventory")).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(plugins.join(format!("{name}.wasm")), bytes).unwrap()
    };
    let sign = |name: &str, detached: bool| {
        let mut xacct = world
            .xacct()
            .args(["sign", &format!("plugins/{name}.wasm"), "--key"])
            .arg(&alice);
        if detached {
            xacct = xacct.arg("--detached");
        }
        let out = xacct.output();
        assert!(out.success(), "{}", out.stderr);
    };
    sign("hello", false);
    let signed_hello = std::fs::read(plugins.join("hello.wasm")).unwrap();

    // A detached signature cut short.
    write("truncated", &hello);
    sign("truncated", true);
    let sig = std::fs::read_to_string(plugins.join("truncated.wasm.sig")).unwrap();
    std::fs::write(plugins.join("truncated.wasm.sig"), &sig[..sig.len() / 2]).unwrap();
    // An embedded signature that is no signature.
    write(
        "garbage",
        &[
            hello.clone(),
            custom_section(
                "xacct-signature",
                b"-----BEGIN SSH SIGNATURE-----\nnot base64\n-----END SSH SIGNATURE-----\n",
            ),
        ]
        .concat(),
    );
    // A valid signature over other bytes: inventory's .sig beside hello's bytes.
    write("othersig", &inventory);
    sign("othersig", true);
    write("othersig", &hello);
    // A valid embedded signature moved to another file.
    let signature_at = hello.len();
    write(
        "moved",
        &[inventory.clone(), signed_hello[signature_at..].to_vec()].concat(),
    );
    // Bytes appended to a signed file.
    write(
        "appended",
        &[signed_hello.clone(), custom_section("extra", b"unsigned")].concat(),
    );
    // A declared grant that does not parse.
    write(
        "badgrant",
        &[
            hello.clone(),
            custom_section("xacct-grant", b"format = 1\naccounts = 3\n"),
        ]
        .concat(),
    );
    // Two declared grants at the top level.
    let grant = b"format = 1\naccounts = [\"*\"]\n";
    write(
        "twogrants",
        &[
            hello.clone(),
            custom_section("xacct-grant", grant),
            custom_section("xacct-grant", grant),
        ]
        .concat(),
    );
    // A signature section that is not the last.
    write(
        "misplaced",
        &[signed_hello.clone(), custom_section("xacct-grant", grant)].concat(),
    );
    // A standard metadata section twice.
    write(
        "twoversions",
        &[
            hello.clone(),
            custom_section("version", b"1.0"),
            custom_section("version", b"2.0"),
        ]
        .concat(),
    );

    let listed = world.xacct().arg("plugins").output();
    assert_eq!(listed.code(), Some(1), "{}", listed.stdout);
    let line = |name: &str| plugin_lines(&listed.stdout, name);
    assert!(line("hello").contains(" ok "), "{}", listed.stdout);
    for (name, expected) in [
        (
            "truncated",
            "detached signature (.sig): not an SSH signature",
        ),
        ("garbage", "embedded signature: not an SSH signature"),
        (
            "othersig",
            "detached signature (.sig): the signature by SHA256:",
        ),
        ("moved", "embedded signature: the signature by SHA256:"),
        ("appended", "is followed by more at byte"),
        ("badgrant", "the declared grant"),
        ("twogrants", "two `xacct-grant` sections"),
        ("misplaced", "those bytes were not signed"),
        ("twoversions", "version"),
    ] {
        let text = line(name);
        assert!(
            text.contains(&format!("{name}.wasm: refused: ")) && text.contains(expected),
            "{expected:?} not in {text}"
        );
    }
    for name in ["othersig", "moved"] {
        assert!(
            line(name).contains("does not match these bytes"),
            "{}",
            line(name)
        );
    }
    // Each refusal is that plugin's: the signed one still runs.
    let ran = world.xacct().args(["run", "hello"]).output();
    assert!(ran.success(), "{}{}", ran.stdout, ran.stderr);
    let refused = world
        .xacct()
        .args(["run", "appended", "--output", "json"])
        .output();
    assert_eq!(refused.code(), Some(1), "{}", refused.stderr);
}

#[test]
fn trust_sections_are_checked_and_a_plugins_own_replaces_the_global_lists() {
    let keys = tempfile::tempdir().unwrap();
    let (alice, alice_public) = key(keys.path(), 1);
    let (_, bob_public) = key(keys.path(), 2);
    for (section, problem) in [
        (
            "[trust]\nrequire_signed = true\n".to_owned(),
            "trust.require_signed: signed plugins are required, but no signer is trusted",
        ),
        (
            trust_section(&[&alice_public], true)
                + "[plugin.hello.trust]\nrequire_signed = false\n",
            "plugin.hello.trust.require_signed: [trust] sets require_signed = true for every plugin",
        ),
        (
            "[trust]\nallowed_signers = \"missing\"\n".to_owned(),
            "trust.allowed_signers: ",
        ),
        (
            "[trust]\nsigners = [\"ssh-rsa AAAA\"]\n".to_owned(),
            "trust.signers: ",
        ),
        (
            "[trust]\nsigners = []\nwhatever = 1\n".to_owned(),
            "unknown field `whatever`",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        ConfigBuilder::local("data")
            .grant("hello", GRANT)
            .section(&section)
            .write(dir.path());
        let out = common::cli::Xacct::in_dir(dir.path())
            .arg("plugins")
            .output();
        assert_eq!(out.code(), Some(2), "{section}: {}", out.stderr);
        assert!(
            out.stderr.contains(problem),
            "{problem:?} not in {}",
            out.stderr
        );
    }

    // Alice trusted globally, bob alone for hello (an allowed_signers file beside the
    // config): alice's signature no longer serves hello.
    let allowed = keys.path().join("allowed_signers");
    std::fs::write(
        &allowed,
        format!("bob@example namespaces=\"xacct-plugin\" {bob_public}\n"),
    )
    .unwrap();
    let config = granted(&["hello"])
        .section(&trust_section(&[&alice_public], true))
        .section(&format!(
            "[plugin.hello.trust]\nallowed_signers = {:?}\n",
            allowed.to_str().unwrap()
        ));
    let world = World::local_with(&["hello"], config);
    let signed = world
        .xacct()
        .args(["sign", "plugins/hello.wasm", "--key"])
        .arg(&alice)
        .output();
    assert!(signed.success(), "{}", signed.stderr);
    let listed = world.xacct().arg("plugins").output();
    let hello = plugin_lines(&listed.stdout, "hello");
    assert!(
        hello.contains(
            "refused: plugin.hello.trust.require_signed is true and no trusted key signed it"
        ),
        "{hello}"
    );
}
