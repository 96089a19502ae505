//! Beyond one machine: a run split into shards run as separate `xacct` processes, merged
//! back into the report one run writes; shards that stay put when accounts are added;
//! the shard taken from an AWS Batch or Kubernetes array job; and reruns of exactly the
//! accounts that failed.

use crate::common;

use std::process::Child;

use common::cli::Outcome;
use common::{ConfigBuilder, World, untimed};
use serde_json::{Value, json};

const ACCOUNTS: u64 = 12;

fn id(i: u64) -> String {
    (700_000_000_000 + i).to_string()
}

/// `n` local accounts `s-00`…, each with a bucket.
fn world(n: u64) -> World {
    let config = ConfigBuilder::local("data")
        .full_grants(&["misbehave", "hello"])
        .accounts((0..n).map(|i| (id(i), format!("s-{i:02}"))));
    let world = World::with_config(&["misbehave", "hello"], &config, None);
    for i in 0..n {
        world.bucket(&id(i), "b");
    }
    world
}

fn save(world: &World, name: &str, output: &Outcome) -> String {
    std::fs::write(world.dir.path().join(name), &output.stdout).unwrap();
    name.to_owned()
}

fn account_ids(report: &Value) -> Vec<String> {
    report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["account_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The accounts `--plan` puts in a shard.
fn planned(world: &World, shard: &str) -> Vec<String> {
    let output = world
        .xacct()
        .args([
            "run", "hello", "--plan", "--shard", shard, "--output", "json",
        ])
        .output();
    assert!(output.status.success(), "{output:?}");
    output.json()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn two_shards_in_two_processes_merge_into_the_report_of_one_run() {
    let world = world(ACCOUNTS);
    let failing = id(3);
    let input = json!({"mode": "fail", "only": failing}).to_string();
    let args = |shard: Option<&'static str>| {
        let mut args = vec!["run", "misbehave", "--output", "json", "--input", &input];
        if let Some(shard) = shard {
            args.extend(["--shard", shard]);
        }
        args
    };
    let whole = world.xacct().args(args(None)).output();
    assert_eq!(whole.status.code(), Some(1), "one account fails");
    let whole = whole.json();
    assert!(whole.get("shard").is_none());

    // Side by side, as two array jobs would run them.
    // Counted from 1, as Playwright, Jest and cargo-nextest count.
    let children: Vec<Child> = ["1/2", "2/2"]
        .into_iter()
        .map(|shard| world.xacct().args(args(Some(shard))).spawn())
        .collect();
    let shards: Vec<Outcome> = children.into_iter().map(Outcome::of).collect();
    let mut seen = Vec::new();
    for (index, output) in shards.iter().enumerate() {
        let shard = output.json();
        let ids = account_ids(&shard);
        assert!(!ids.is_empty() && ids.len() < ACCOUNTS as usize, "{ids:?}");
        assert_eq!(
            output.status.code(),
            Some(if ids.contains(&failing) { 1 } else { 0 })
        );
        assert_eq!(shard["plan_hash"], whole["plan_hash"], "one plan");
        assert_eq!(shard["shard"]["index"], index + 1);
        assert_eq!(shard["shard"]["planned"], ACCOUNTS);
        assert_eq!(ids, planned(&world, &format!("{}/2", index + 1)));
        seen.extend(ids);
    }
    seen.sort();
    assert_eq!(seen, (0..ACCOUNTS).map(id).collect::<Vec<_>>());

    let names = [
        save(&world, "shard-1.json", &shards[0]),
        save(&world, "shard-2.json", &shards[1]),
    ];
    let merged = world
        .xacct()
        .args(["report", "merge", &names[1], &names[0]])
        .output();
    assert_eq!(
        merged.status.code(),
        Some(1),
        "the merge fails as the run did"
    );
    assert!(merged.stderr.contains("merged 2 shard(s): 11 ok, 1 failed"));
    save(&world, "merged.json", &merged);
    let merged = merged.json();
    assert_eq!(untimed(merged.clone()), untimed(whole.clone()));

    // A missing shard, a shard twice, another plan: refused, exit 2.
    let refused = |reports: &[&str], reason: &str| {
        let mut args = vec!["report", "merge"];
        args.extend_from_slice(reports);
        let output = world.xacct().args(args).output();
        assert_eq!(output.status.code(), Some(2));
        assert!(output.stderr.contains(reason), "{}", output.stderr);
    };
    refused(&[&names[0]], "shard(s) 2/2 missing");
    refused(&[&names[0], &names[0]], "are both shard 1/2");
    let other = world
        .xacct()
        .args([
            "run",
            "misbehave",
            "--output",
            "json",
            "--shard",
            "2/2",
            "--input",
            r#"{"mode": "echo"}"#,
        ])
        .output();
    save(&world, "other.json", &other);
    refused(&[&names[0], "other.json"], "ran another plan");

    // Rerun exactly the failed and skipped accounts: one failed, one marked skipped.
    let mut marked = merged;
    marked["entries"][7]["status"] = json!("skipped");
    std::fs::write(world.dir.path().join("marked.json"), marked.to_string()).unwrap();
    let rerun = world
        .xacct()
        .args([
            "run",
            "misbehave",
            "--rerun-failed",
            "marked.json",
            "--output",
            "json",
            "--input",
            r#"{"mode": "echo", "text": "again"}"#,
        ])
        .output();
    assert!(rerun.status.success(), "{rerun:?}");
    assert_eq!(account_ids(&rerun.json()), [failing, id(7)]);
    let nothing = world
        .xacct()
        .args(["run", "misbehave", "--rerun-failed", "shard-1.json"])
        .output();
    let shard_0 = shards[0].json();
    if shard_0["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["status"] == "ok")
    {
        assert!(nothing.status.success());
        assert!(nothing.stderr.contains("nothing to rerun"));
    }
    let wrong = world
        .xacct()
        .args(["run", "hello", "--rerun-failed", "marked.json"])
        .output();
    assert_eq!(wrong.status.code(), Some(2));
}

#[test]
fn shards_stay_put_when_accounts_are_added_and_come_from_array_jobs() {
    let small = world(ACCOUNTS);
    let large = world(ACCOUNTS * 3);
    for shard in ["1/3", "2/3", "3/3"] {
        let before = planned(&small, shard);
        let after = planned(&large, shard);
        assert!(
            before.iter().all(|id| after.contains(id)),
            "{shard}: {before:?} moved in {after:?}"
        );
    }

    let batch = small
        .xacct()
        .args([
            "run", "hello", "--plan", "--shard", "auto", "--output", "json",
        ])
        .envs(&[
            ("AWS_BATCH_JOB_ARRAY_INDEX", "2"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "3"),
        ])
        .output();
    assert!(batch.status.success(), "{batch:?}");
    // The environments' indexes count from 0: index 2 of 3 is the third shard.
    assert_eq!(batch.json()["shard"], "3/3");
    let kubernetes = small
        .xacct()
        .args([
            "run",
            "hello",
            "--plan",
            "--shard",
            "auto",
            "--shard-count",
            "3",
            "--output",
            "json",
        ])
        .env("JOB_COMPLETION_INDEX", "1")
        .output();
    assert_eq!(kubernetes.json()["shard"], "2/3");
    assert_eq!(
        kubernetes.json()["accounts"],
        small
            .xacct()
            .args([
                "run", "hello", "--plan", "--shard", "2/3", "--output", "json"
            ])
            .output()
            .json()["accounts"]
    );
    let countless = small
        .xacct()
        .args(["run", "hello", "--shard", "auto"])
        .env("JOB_COMPLETION_INDEX", "1")
        .output();
    assert_eq!(countless.status.code(), Some(2));
    assert!(countless.stderr.contains("--shard-count"));
    // K/N counts from 1: 0/N is refused with the hint.
    let zero = small
        .xacct()
        .args(["run", "hello", "--shard", "0/3"])
        .output();
    assert_eq!(zero.status.code(), Some(2));
    assert!(
        zero.stderr.contains("count from 1") && zero.stderr.contains("--shard 1/3"),
        "{}",
        zero.stderr
    );
    let whole_world = small
        .xacct()
        .args(["run", "hello", "--all-accounts", "--shard", "1/2"])
        .output();
    assert_eq!(
        whole_world.status.code(),
        Some(2),
        "an all-accounts run is one invocation"
    );
}

/// A shard whose hash holds no account did its part: exit 0, and it merges.
#[test]
fn an_empty_shard_succeeds_and_merges() {
    let world = world(2);
    let count = 64;
    let empty = (1..=count)
        .find(|k| planned(&world, &format!("{k}/{count}")).is_empty())
        .unwrap();
    let output = world
        .xacct()
        .args([
            "run",
            "hello",
            "--output",
            "json",
            "--shard",
            &format!("{empty}/{count}"),
        ])
        .output();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(output.json()["entries"], json!([]));
}
