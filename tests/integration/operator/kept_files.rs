//! What a run keeps is never written over by the run itself: its `--html` page and its
//! `--audit` log may not be the `--rerun-failed` report it reads, nor the file stdout
//! writes the report to (`--output json > r.json`), whatever name or link says so; and a
//! rerun keeps every failed account of a report, even one edited by hand.

use crate::common;

use std::process::Stdio;

use common::{ConfigBuilder, World};
use serde_json::json;

fn world() -> World {
    let config = ConfigBuilder::local("data")
        .full_grants(&["hello"])
        .accounts([("700000000001", "a"), ("700000000002", "b")]);
    let world = World::with_config(&["hello"], &config, None);
    for id in ["700000000001", "700000000002"] {
        world.bucket(id, "b");
    }
    world
}

/// A report whose every account failed, written where the run's files could land.
fn failed_report(world: &World, name: &str) -> String {
    let report = json!({"plugin": "hello", "mode": "per-account", "entries": [
        {"account_id": "700000000001", "scope": ["700000000001"], "status": "error"},
        {"account_id": "700000000002", "scope": ["700000000002"], "status": "error"},
    ]});
    std::fs::write(world.dir.path().join(name), report.to_string()).unwrap();
    name.to_owned()
}

#[test]
fn a_runs_page_or_audit_never_overwrites_the_report_it_reads_or_writes() {
    let world = world();
    for flag in ["--html", "--audit"] {
        let report = failed_report(&world, "failed.json");
        let before = std::fs::read(world.dir.path().join(&report)).unwrap();
        // The report by its name, and through a link.
        std::fs::hard_link(
            world.dir.path().join(&report),
            world.dir.path().join("linked.json"),
        )
        .unwrap();
        for target in [report.as_str(), "linked.json"] {
            let run = world
                .xacct()
                .args(["run", "hello", "--rerun-failed", &report, flag, target])
                .output();
            assert_eq!(run.code(), Some(2), "{flag} {target}: {run:?}");
            assert!(run.stderr.contains("the --rerun-failed report"), "{run:?}");
        }
        assert_eq!(
            std::fs::read(world.dir.path().join(&report)).unwrap(),
            before
        );
        std::fs::remove_file(world.dir.path().join("linked.json")).unwrap();
    }
    // stdout redirected to the file the page or the audit log would write.
    for flag in ["--html", "--audit"] {
        let out = world.dir.path().join("out.json");
        std::fs::write(&out, "").unwrap();
        let status = world
            .xacct()
            .args(["run", "hello", "--output", "json", flag, "out.json"])
            .command()
            .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(2), "{flag}");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "",
            "{flag}: nothing ran"
        );
    }
}

/// A failed entry without a scope (a report edited by hand) is rerun as its own account,
/// not dropped; a report without entries is refused, not taken as nothing to rerun.
#[test]
fn a_rerun_keeps_every_failed_account_and_refuses_a_report_without_entries() {
    let world = world();
    let edited = json!({"plugin": "hello", "mode": "per-account", "entries": [
        {"account_id": "700000000001", "scope": ["700000000001"], "status": "ok"},
        {"account_id": "700000000002", "status": "error"},
    ]});
    std::fs::write(world.dir.path().join("edited.json"), edited.to_string()).unwrap();
    let rerun = world
        .xacct()
        .args([
            "run",
            "hello",
            "--rerun-failed",
            "edited.json",
            "--output",
            "json",
        ])
        .output();
    assert!(rerun.success(), "{rerun:?}");
    let ids: Vec<_> = rerun.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["account_id"].clone())
        .collect();
    assert_eq!(ids, [json!("700000000002")]);

    std::fs::write(
        world.dir.path().join("no-entries.json"),
        json!({"plugin": "hello", "mode": "per-account"}).to_string(),
    )
    .unwrap();
    let refused = world
        .xacct()
        .args(["run", "hello", "--rerun-failed", "no-entries.json"])
        .output();
    assert_eq!(refused.code(), Some(2), "{refused:?}");
    assert!(refused.stderr.contains("no `entries` list"), "{refused:?}");
}

/// With `--output json` (the form array jobs use), stderr says which shard `--shard
/// auto` resolved to; `--shard-count` beside `--all-accounts` is refused, not ignored.
#[test]
fn a_json_run_logs_its_shard_and_a_shard_count_needs_a_shard() {
    let world = world();
    let run = world
        .xacct()
        .args(["run", "hello", "--shard", "auto", "--output", "json"])
        .envs(&[
            ("AWS_BATCH_JOB_ARRAY_INDEX", "1"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "2"),
        ])
        .output();
    assert!(run.stderr.contains("hello (shard 2/2): "), "{run:?}");
    let ignored = world
        .xacct()
        .args([
            "run",
            "hello",
            "--all-accounts",
            "--shard-count",
            "3",
            "--plan",
        ])
        .output();
    assert_eq!(ignored.code(), Some(2), "{ignored:?}");
}
