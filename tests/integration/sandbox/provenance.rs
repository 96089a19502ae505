//! Plugin provenance through the CLI: digest pins, signatures and trusted signers, and
//! tampered files — each refusal that plugin's alone, with a message naming the file and
//! what is wrong, the other plugins still running.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::components::PluginComponent;
use common::{ConfigBuilder, World};
use sha2::{Digest, Sha256};
use xacct::provenance::Digest as FileDigest;
use xacct::sandbox::{DigestPin, LoadError, LoadOptions, ProvenanceOptions, Sandbox};

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn file_sha256(path: &Path) -> String {
    sha256(&std::fs::read(path).unwrap())
}

/// The line `xacct plugins` printed for `name`, and the indented lines under it.
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

/// The 1-based line of `config` holding `needle`.
fn line_of(config: &Path, needle: &str) -> usize {
    std::fs::read_to_string(config)
        .unwrap()
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} is not in {}", config.display()))
        + 1
}

fn grant_pinned(plugin: &str, pin: &str) -> String {
    format!(
        "[plugin.{plugin}]\naccounts = [\"*\"]\ns3 = [{{ buckets = \"*\", actions = [\"list\", \"read\"] }}]\nsha256 = {pin}\n"
    )
}

#[test]
fn a_pinned_plugin_runs_only_as_the_build_its_pin_names() {
    let hello = file_sha256(&common::guest("hello"));
    let inventory = file_sha256(&common::guest("inventory"));
    // hello pinned to itself during a rollout (two builds allowed); inventory pinned to
    // another build (hello's).
    let config = ConfigBuilder::local("data")
        .section(&grant_pinned(
            "hello",
            &format!("[\"{}\", \"{hello}\"]", "0".repeat(64)),
        ))
        .section(&grant_pinned("inventory", &format!("\"{hello}\"")));
    let world = World::local_with(&["hello", "inventory", "chatter"], config);
    let config_file = world.dir.path().join("xacct.toml");
    let pin_line = line_of(&config_file, &format!("sha256 = \"{hello}\""));

    let listed = world.xacct().arg("plugins").output();
    assert_eq!(listed.code(), Some(1), "{}", listed.stdout);
    let hello_line = plugin_lines(&listed.stdout, "hello");
    assert!(
        hello_line.contains(&format!(" ok     sha256:{hello} (pinned)")),
        "{hello_line}"
    );
    let chatter = file_sha256(&common::guest("chatter"));
    let chatter_line = plugin_lines(&listed.stdout, "chatter");
    assert!(
        chatter_line.contains(&format!("sha256:{chatter} (not pinned)")),
        "{chatter_line}"
    );
    let refused = plugin_lines(&listed.stdout, "inventory");
    for part in [
        " error ",
        &format!("its sha256 is {inventory}, not the {hello} pinned at"),
        &format!("xacct.toml:{pin_line} (plugin.inventory.sha256)"),
        &format!("sha256 = \"{inventory}\""),
    ] {
        assert!(refused.contains(part), "{part:?} not in {refused}");
    }

    let ran = world
        .xacct()
        .args(["run", "hello", "--output", "json"])
        .output();
    assert!(ran.success(), "{}{}", ran.stdout, ran.stderr);
    let report = ran.json();
    assert_eq!(report["sha256"], hello.as_str(), "{report}");

    let refused = world
        .xacct()
        .args(["run", "inventory", "--output", "json"])
        .output();
    assert_eq!(refused.code(), Some(1), "{}", refused.stderr);
    let report = refused.json();
    for entry in report["entries"].as_array().unwrap() {
        assert_eq!(entry["status"], "error", "{entry}");
        let message = entry["error"]["message"].as_str().unwrap();
        assert!(message.contains("not the"), "{message}");
        assert!(
            message.contains(&format!("its sha256 is {inventory}")),
            "{message}"
        );
    }
}

#[test]
fn a_pin_refuses_before_anything_is_compiled() {
    // A component loaded with no cache and a compile budget no compile meets: what is
    // refused under it was refused before compiling. The component must take far longer
    // than the budget to compile even on a fast machine (a plain one compiled within 1 ms
    // on CI), yet stay small: the compiles the budget abandons run on in the background
    // and must not slow other tests. 600 slow locals take about 0.1 s.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.wasm");
    let slow = PluginComponent {
        slow_locals: 600,
        ..PluginComponent::default()
    };
    std::fs::write(&path, slow.bytes()).unwrap();
    let load = |pins: &[(&str, &str)]| {
        let options = LoadOptions {
            compile_timeout: Duration::from_millis(1),
            provenance: ProvenanceOptions {
                config: PathBuf::from("xacct.toml"),
                pins: pins
                    .iter()
                    .map(|(name, digest)| {
                        let pin = DigestPin {
                            digests: vec![FileDigest::parse(digest).unwrap()],
                            line: 7,
                        };
                        ((*name).to_owned(), pin)
                    })
                    .collect(),
                ..ProvenanceOptions::default()
            },
            ..LoadOptions::default()
        };
        Sandbox::with_options(options, 1)
            .unwrap()
            .load("slow", &path)
            .err()
            .unwrap()
    };
    let unpinned = load(&[]);
    assert!(unpinned.out_of_compile_time(), "{unpinned}");
    let other = "ab".repeat(32);
    let mismatch = load(&[("slow", &other)]);
    assert!(
        matches!(&mismatch, LoadError::DigestMismatch(pin) if pin.line == 7),
        "{mismatch}"
    );
    let actual = file_sha256(&path);
    assert!(
        mismatch.to_string().contains(&format!(
            "its sha256 is {actual}, not the {other} pinned at xacct.toml:7"
        )),
        "{mismatch}"
    );
    // Pinned to itself, it goes on to the compile.
    let pinned = load(&[("slow", &actual)]);
    assert!(pinned.out_of_compile_time(), "{pinned}");
}

#[test]
fn a_pin_that_is_not_a_digest_is_a_config_error_at_its_line() {
    let digest = "a".repeat(64);
    for (pin, problem) in [
        ("\"sha256:abcd\"".to_owned(), "is not a sha256 digest"),
        (format!("\"{}\"", "g".repeat(64)), "is not a sha256 digest"),
        ("[]".to_owned(), "an empty list would refuse every build"),
        ("42".to_owned(), "42 is not a string or a list"),
        (format!("[\"{digest}\", 1]"), "1 is not a string"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = ConfigBuilder::local("data").section(&grant_pinned("hello", &pin));
        let path = config.write(dir.path());
        let line = line_of(&path, "sha256 =");
        let output = common::cli::Xacct::in_dir(dir.path())
            .arg("plugins")
            .output();
        assert_eq!(output.code(), Some(2), "{pin}: {}", output.stderr);
        let expected = format!("xacct.toml:{line}: plugin.hello.sha256: ");
        assert!(
            output.stderr.contains(&expected),
            "{pin}: {}",
            output.stderr
        );
        assert!(output.stderr.contains(problem), "{pin}: {}", output.stderr);
        assert!(output.stderr.contains("fix: "), "{pin}: {}", output.stderr);
    }
}

#[test]
fn the_report_and_every_audit_line_carry_digest_and_signer_and_merge_refuses_two_builds() {
    let world = World::local_with(
        &["hello"],
        ConfigBuilder::local("data").section(GRANT_HELLO),
    );
    let dir = world.dir.path();
    let pair = ssh_key::private::Ed25519Keypair::from_seed(&[5; 32]);
    let key = ssh_key::PrivateKey::new(pair.into(), "release@example").unwrap();
    std::fs::write(
        dir.join("key"),
        key.to_openssh(ssh_key::LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    let public = key.public_key().to_openssh().unwrap();
    let fingerprint = key.public_key().fingerprint(Default::default()).to_string();
    let trusting = ConfigBuilder::local("data")
        .section(GRANT_HELLO)
        .section(&format!("[trust]\nsigners = [{public:?}]\n"))
        .standard_accounts()
        .render();
    std::fs::write(dir.join("trusting.toml"), trusting).unwrap();
    let signed = world
        .xacct()
        .args(["sign", "plugins/hello.wasm", "--key", "key"])
        .output();
    assert!(signed.success(), "{}", signed.stderr);
    let digest = file_sha256(&dir.join("plugins/hello.wasm"));

    let run = |shard: &str| {
        world
            .xacct()
            .args(["run", "hello", "--config", "trusting.toml"])
            .args(["--output", "json", "--shard", shard])
            .output()
    };
    let first = run("1/2");
    assert!(first.success(), "{}{}", first.stdout, first.stderr);
    std::fs::write(dir.join("shard-1.json"), &first.stdout).unwrap();
    assert_eq!(first.json()["signer"], fingerprint.as_str());

    let ran = world
        .xacct()
        .args(["run", "hello", "--config", "trusting.toml"])
        .args(["--output", "json", "--audit", "audit.jsonl"])
        .output();
    assert!(ran.success(), "{}{}", ran.stdout, ran.stderr);
    let report = ran.json();
    assert_eq!(report["sha256"], digest.as_str());
    assert_eq!(report["signer"], fingerprint.as_str());
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    assert!(!audit.is_empty());
    for line in audit.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(event["sha256"], digest.as_str(), "{line}");
        assert_eq!(event["signer"], fingerprint.as_str(), "{line}");
    }
    // Unsigned under a config that trusts nobody: no signer recorded.
    let unsigned = world
        .xacct()
        .args(["run", "hello", "--output", "json"])
        .output();
    assert!(
        unsigned.json().get("signer").is_none(),
        "{}",
        unsigned.stdout
    );

    // The other shard runs another build of the plugin: the merge refuses them.
    std::fs::copy(common::guest("hello"), dir.join("plugins/hello.wasm")).unwrap();
    let second = run("2/2");
    std::fs::write(dir.join("shard-2.json"), &second.stdout).unwrap();
    let merged = world
        .xacct()
        .args(["report", "merge", "shard-1.json", "shard-2.json"])
        .output();
    assert_eq!(merged.code(), Some(2), "{}", merged.stdout);
    let unsigned_digest = file_sha256(&common::guest("hello"));
    assert!(
        merged.stderr.contains(&format!(
            "shard-2.json ran plugin build sha256 {unsigned_digest}, shard-1.json ran sha256 {digest}"
        )),
        "{}",
        merged.stderr
    );
}

const GRANT_HELLO: &str = "[plugin.hello]\naccounts = [\"*\"]\ns3 = [{ buckets = \"*\", actions = [\"list\", \"read\"] }]\n";
