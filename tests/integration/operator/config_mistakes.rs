//! Config mistakes caught before anything runs: a corpus of broken or odd configs, each
//! refused with its file, line, key and fix (exit 2), and the selections, grants and
//! plans that would otherwise silently do nothing.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::{World, full_grants};

fn xacct(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xacct"))
        .args(args)
        .current_dir(dir)
        .env_remove("XACCT_CONFIG")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env(
            "XDG_CACHE_HOME",
            common::target_dir().join("xacct-test-cache-cli"),
        )
        .output()
        .unwrap()
}

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
            let output = xacct(&corpus, args);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
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

fn two_accounts(guests: &[&str], grants: &str) -> World {
    let text = format!(
        "[local]\nroot = \"data\"\n{grants}\n[[account]]\nid = \"111111111111\"\nalias = \"dev\"\ntags = {{ env = \"dev\" }}\n\n[[account]]\nid = \"222222222222\"\nalias = \"prod\"\ntags = {{ env = \"prod\" }}\n"
    );
    let world = World::with_config(guests, &text, None);
    std::fs::create_dir_all(world.data()).unwrap();
    world
}

#[test]
fn selections_that_match_nothing_are_usage_errors_with_the_reason() {
    let world = two_accounts(
        &["hello"],
        "[plugin.hello]\naccounts = [\"tag:env=dev\"]\ns3 = [{ buckets = \"*\", actions = [\"list\"] }]\n",
    );
    let dir = world.dir.path();
    for args in [
        &["run", "hello", "--tag", "env=staging"][..],
        &["run", "hello", "--plan", "--tag", "env=staging"],
        &["run", "hello", "--account", "dev", "--exclude", "dev"],
    ] {
        let output = xacct(dir, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
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
    let outside = xacct(dir, &["run", "hello", "--account", "prod"]);
    let stderr = String::from_utf8_lossy(&outside.stderr);
    assert_eq!(outside.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("outside the grant of plugin \"hello\" (plugin.hello"),
        "{stderr}"
    );
}

#[test]
fn plan_exits_as_run_would_and_missing_plugins_are_warned_of() {
    let world = two_accounts(&["hello", "inventory"], &full_grants(&["hello", "helo"]));
    let dir = world.dir.path();
    let plan = xacct(dir, &["run", "inventory", "--plan"]);
    let run = xacct(dir, &["run", "inventory"]);
    assert_eq!(plan.status.code(), Some(1));
    assert_eq!(
        run.status.code(),
        plan.status.code(),
        "--plan exits as run does"
    );
    assert_eq!(
        xacct(dir, &["run", "hello", "--plan"]).status.code(),
        Some(0)
    );

    for args in [&["plugins"][..], &["run", "hello"]] {
        let output = xacct(dir, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("xacct.toml:7: plugin.helo: the grant names a plugin that is not in"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("fix: build helo.wasm"), "{stderr}");
        assert!(!stderr.contains("plugin.hello:"), "{stderr}");
    }
}
