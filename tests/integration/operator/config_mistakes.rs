//! Config mistakes caught before anything runs: a corpus of broken or odd configs, each
//! refused with its file, line, key and fix (exit 2), and the selections, grants and
//! plans that would otherwise silently do nothing.

use crate::common;

use std::path::Path;

use common::{ConfigBuilder, World, Xacct};

/// Every file in `configs/` opens with `# error: FRAGMENT` lines: its location
/// (`FILE:LINE:`) first, then the key and the problem. `run` and `--plan` must both
/// refuse it with all of them, exit 2, and neither panic nor print a report.
#[test]
fn every_malformed_config_is_refused_precisely() {
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/integration/operator/configs");
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "{} configs", files.len());
    for file in &files {
        let name = file.file_name().unwrap().to_str().unwrap();
        let text = std::fs::read_to_string(file).unwrap();
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# error: "))
            .collect();
        assert!(
            expected.len() >= 2 && expected[0].starts_with(&format!("{name}:")),
            "{name}: expected errors start with its location"
        );
        for args in [
            &["run", "hello", "--config", name][..],
            &["run", "hello", "--plan", "--config", name],
        ] {
            let output = Xacct::in_dir(&corpus).args(args).output();
            let stderr = &output.stderr;
            assert_eq!(output.code(), Some(2), "{name}: {stderr}");
            assert!(output.stdout.is_empty(), "{name}: nothing ran");
            assert!(!stderr.contains("panicked"), "{name}: {stderr}");
            assert!(
                stderr.starts_with(&format!("error: {}", expected[0])),
                "{name}: {stderr}"
            );
            for fragment in &expected[1..] {
                assert!(
                    stderr.contains(fragment),
                    "{name}: {fragment:?} in {stderr}"
                );
            }
            assert!(stderr.contains("; fix: "), "{name}: {stderr}");
        }
    }
}

/// A local world of two accounts, dev and prod, each tagged `env` with its alias.
fn two_accounts(guests: &[&str], grants: ConfigBuilder) -> World {
    let config = grants
        .account("111111111111", "dev")
        .tags(&[("env", "dev")])
        .account("222222222222", "prod")
        .tags(&[("env", "prod")]);
    let world = World::with_config(guests, &config, None);
    std::fs::create_dir_all(world.data()).unwrap();
    world
}

#[test]
fn selections_that_match_nothing_are_usage_errors_with_the_reason() {
    let world = two_accounts(
        &["hello"],
        ConfigBuilder::local("data").grant(
            "hello",
            "accounts = [\"tag:env=dev\"]\ns3 = [{ buckets = \"*\", actions = [\"list\"] }]\n",
        ),
    );
    for args in [
        &["run", "hello", "--tag", "env=staging"][..],
        &["run", "hello", "--plan", "--tag", "env=staging"],
        &["run", "hello", "--account", "dev", "--exclude", "dev"],
    ] {
        let output = world.xacct().args(args).output();
        let stderr = &output.stderr;
        assert_eq!(output.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(
                "together match no account in xacct.toml (tags in use: env=dev, env=prod)"
            ),
            "{stderr}"
        );
        assert!(
            !stderr.contains("[[account]]"),
            "no advice to add accounts: {stderr}"
        );
    }
    let outside = world
        .xacct()
        .args(["run", "hello", "--account", "prod"])
        .output();
    let stderr = &outside.stderr;
    assert_eq!(outside.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("outside the grant of plugin \"hello\" (plugin.hello"),
        "{stderr}"
    );
}

#[test]
fn plan_exits_as_run_would_and_missing_plugins_are_warned_of() {
    let world = two_accounts(
        &["hello", "inventory"],
        ConfigBuilder::local("data").full_grants(&["hello", "helo"]),
    );
    let xacct = |args: &[&str]| world.xacct().args(args).output();
    let plan = xacct(&["run", "inventory", "--plan"]);
    let run = xacct(&["run", "inventory"]);
    assert_eq!(plan.code(), Some(1));
    assert_eq!(run.code(), plan.code(), "--plan exits as run does");
    assert_eq!(xacct(&["run", "hello", "--plan"]).code(), Some(0));

    for args in [&["plugins"][..], &["run", "hello"]] {
        let output = xacct(args);
        let stderr = &output.stderr;
        assert!(
            stderr.contains("xacct.toml:7: plugin.helo: the grant names a plugin that is not in"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("fix: build helo.wasm"), "{stderr}");
        assert!(!stderr.contains("plugin.hello:"), "{stderr}");
    }
}
