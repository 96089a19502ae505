//! The grant a plugin declares, through the CLI: `xacct plugin annotate` writes it,
//! `xacct plugins` sets it beside the operator's grant, `xacct grant suggest` prints the
//! section that grants it, and a run warns of a wider grant — or, with `strict_grants`,
//! refuses it.

use crate::common;

use common::{ConfigBuilder, World};

const GRANT: &str =
    "accounts = [\"*\"]\ns3 = [{ buckets = \"*\", actions = [\"list\", \"read\"] }]\n";

/// What hello needs: listing buckets, in the dev account.
const DECLARED: &str =
    "format = 1\naccounts = [\"dev\"]\ns3 = [{ buckets = \"*\", actions = [\"list\"] }]\n";

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

fn annotated_world(extra: &str) -> World {
    let world = World::local_with(
        &["hello"],
        ConfigBuilder::local("data")
            .grant("hello", GRANT)
            .section(extra),
    );
    std::fs::write(world.dir.path().join("grant.toml"), DECLARED).unwrap();
    let annotated = world
        .xacct()
        .args([
            "plugin",
            "annotate",
            "--grant",
            "grant.toml",
            "plugins/hello.wasm",
        ])
        .output();
    assert!(annotated.success(), "{}", annotated.stderr);
    assert!(
        annotated.stdout.contains("its sha256 is now"),
        "{}",
        annotated.stdout
    );
    world
}

#[test]
fn a_declared_grant_is_shown_beside_the_granted_one_and_a_wider_grant_warned_of() {
    let world = annotated_world("");
    let listed = world.xacct().arg("plugins").output();
    assert!(listed.success(), "{}", listed.stdout);
    let hello = plugin_lines(&listed.stdout, "hello");
    for part in [
        "declared: accounts dev; s3 *: list",
        "granted:  accounts *; s3 *: list, read",
        "wider than declared: accounts: \"*\" is granted and reaches 222222222222, 333333333333 outside the declared accounts",
        "wider than declared: s3[0]: read is granted, the plugin declares no read",
    ] {
        assert!(hello.contains(part), "{part:?} not in {hello}");
    }

    let suggested = world.xacct().args(["grant", "suggest", "hello"]).output();
    assert!(suggested.success(), "{}", suggested.stderr);
    assert!(
        suggested
            .stdout
            .contains("[plugin.hello]\naccounts = [\"dev\"]\n"),
        "{}",
        suggested.stdout
    );
    // The suggestion is a config section xacct reads: granting exactly it warns of nothing.
    let exact = ConfigBuilder::local("data").section(&suggested.stdout);
    std::fs::write(
        world.dir.path().join("exact.toml"),
        exact.standard_accounts().render(),
    )
    .unwrap();
    let ran = world
        .xacct()
        .args(["run", "hello", "--config", "exact.toml"])
        .output();
    assert!(ran.success(), "{}{}", ran.stdout, ran.stderr);
    assert!(!ran.stderr.contains("grants more"), "{}", ran.stderr);

    let ran = world.xacct().args(["run", "hello"]).output();
    assert!(ran.success(), "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr
            .contains("plugin.hello grants more than the plugin declares: s3[0]: read is granted"),
        "{}",
        ran.stderr
    );
}

#[test]
fn strict_grants_refuses_a_grant_wider_than_the_declaration() {
    let world = annotated_world("[trust]\nstrict_grants = true\n");
    let ran = world
        .xacct()
        .args(["run", "hello", "--output", "json"])
        .output();
    assert_eq!(ran.code(), Some(1), "{}", ran.stderr);
    for entry in ran.json()["entries"].as_array().unwrap() {
        assert_eq!(entry["status"], "error", "{entry}");
        let message = entry["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("plugin.hello grants more than the plugin declares")
                && message.contains("trust.strict_grants is true")
                && message.contains("xacct grant suggest hello"),
            "{message}"
        );
    }
}

#[test]
fn annotating_drops_an_embedded_signature_and_refuses_a_bad_declaration() {
    let world = World::local_with(
        &["hello"],
        ConfigBuilder::local("data").grant("hello", GRANT),
    );
    let dir = world.dir.path();
    let pair = ssh_key::private::Ed25519Keypair::from_seed(&[3; 32]);
    let key = ssh_key::PrivateKey::new(pair.into(), "ci@example").unwrap();
    std::fs::write(
        dir.join("key"),
        key.to_openssh(ssh_key::LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    let signed = world
        .xacct()
        .args(["sign", "plugins/hello.wasm", "--key", "key"])
        .output();
    assert!(signed.success(), "{}", signed.stderr);
    std::fs::write(dir.join("grant.toml"), DECLARED).unwrap();
    let annotated = world
        .xacct()
        .args([
            "plugin",
            "annotate",
            "--grant",
            "grant.toml",
            "plugins/hello.wasm",
        ])
        .output();
    assert!(annotated.success(), "{}", annotated.stderr);
    assert!(
        annotated
            .stdout
            .contains("its embedded signature was removed"),
        "{}",
        annotated.stdout
    );
    let verified = world
        .xacct()
        .args(["verify", "plugins/hello.wasm"])
        .output();
    assert!(verified.stdout.contains("unsigned"), "{}", verified.stdout);

    let before = std::fs::read(dir.join("plugins/hello.wasm")).unwrap();
    for (text, problem) in [
        ("accounts = [\"*\"]\n", "has no `format = 1` line"),
        ("format = 2\naccounts = [\"*\"]\n", "in format 2"),
        (
            "format = 1\naccounts = 3\n",
            "the declared grant is not TOML",
        ),
        (
            "format = 1\naccounts = [\"*\"]\ns3 = [{ buckets = \"A\", actions = [\"list\"] }]\n",
            "s3[0]",
        ),
        (
            "format = 1\naccounts = [\"*\"]\nextra = 1\n",
            "unknown field",
        ),
    ] {
        std::fs::write(dir.join("bad.toml"), text).unwrap();
        let refused = world
            .xacct()
            .args([
                "plugin",
                "annotate",
                "--grant",
                "bad.toml",
                "plugins/hello.wasm",
            ])
            .output();
        assert_eq!(refused.code(), Some(2), "{text}: {}", refused.stdout);
        assert!(
            refused.stderr.contains(problem),
            "{problem:?} not in {}",
            refused.stderr
        );
        // Nothing written.
        assert_eq!(
            std::fs::read(dir.join("plugins/hello.wasm")).unwrap(),
            before
        );
    }

    // A test guest built without a declaration.
    let unannotated = World::local_with(
        &["chatter"],
        ConfigBuilder::local("data").grant("chatter", GRANT),
    );
    let suggested = unannotated
        .xacct()
        .args(["grant", "suggest", "chatter"])
        .output();
    assert_eq!(suggested.code(), Some(2));
    assert!(
        suggested.stderr.contains("declares no grant"),
        "{}",
        suggested.stderr
    );
}

#[test]
fn the_sample_plugins_declare_at_build_time_what_the_demo_config_grants() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let listed = common::Xacct::in_dir(&repo)
        .args(["plugins", "--plugins"])
        .arg(common::target_dir().join("wasm32-wasip2/release"))
        .output();
    for name in ["hello", "inventory", "replicate"] {
        let lines = plugin_lines(&listed.stdout, name);
        assert!(lines.contains(" ok "), "{lines}");
        assert!(
            lines.contains("declared: accounts *; s3 *: list"),
            "{lines}"
        );
        assert!(!lines.contains("wider than declared"), "{lines}");
    }
    let suggested = common::Xacct::in_dir(&repo)
        .args(["grant", "suggest", "replicate", "--plugins"])
        .arg(common::target_dir().join("wasm32-wasip2/release"))
        .output();
    assert!(suggested.success(), "{}", suggested.stderr);
    assert!(
        suggested.stdout.contains(
            "[plugin.replicate]\naccounts = [\"*\"]\ns3 = [\n  { buckets = \"*\", actions = [\"list\", \"read\", \"write\"] },\n]\n"
        ),
        "{}",
        suggested.stdout
    );
}
