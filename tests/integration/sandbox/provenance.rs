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
    // A component that takes seconds to compile, loaded with no cache and a compile
    // budget no compile meets: what is refused under it was refused before compiling.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.wasm");
    let slow = PluginComponent {
        slow_locals: 6000,
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
    assert!(
        matches!(unpinned, LoadError::CompileTimeout { .. }),
        "{unpinned}"
    );
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
    assert!(
        matches!(pinned, LoadError::CompileTimeout { .. }),
        "{pinned}"
    );
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
