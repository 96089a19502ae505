//! Beyond one machine: a run split into shards run as separate `xacct` processes, merged
//! back into the report one run writes; shards that stay put when accounts are added;
//! the shard taken from an AWS Batch or Kubernetes array job; and reruns of exactly the
//! accounts that failed.

use crate::common;

use std::process::{Child, Command, Output, Stdio};

use common::{World, full_grants};
use serde_json::{Value, json};

const ACCOUNTS: u64 = 12;

fn id(i: u64) -> String {
    (700_000_000_000 + i).to_string()
}

/// `n` local accounts `s-00`…, each with a bucket.
fn world(n: u64) -> World {
    let mut text = format!(
        "[local]\nroot = \"data\"\n{}",
        full_grants(&["misbehave", "hello"])
    );
    for i in 0..n {
        text.push_str(&format!(
            "\n[[account]]\nid = \"{}\"\nalias = \"s-{i:02}\"\n",
            id(i)
        ));
    }
    let world = World::with_config(&["misbehave", "hello"], &text, None);
    for i in 0..n {
        world.bucket(&id(i), "b");
    }
    world
}

fn xacct(world: &World, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xacct"));
    command
        .args(args)
        .current_dir(world.dir.path())
        .env_remove("XACCT_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("AWS_BATCH_JOB_ARRAY_INDEX")
        .env_remove("AWS_BATCH_JOB_ARRAY_SIZE")
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("XACCT_SHARD_COUNT")
        .env("NO_COLOR", "1")
        .env(
            "XDG_CACHE_HOME",
            common::target_dir().join("xacct-test-cache-cli"),
        )
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn run(world: &World, args: &[&str], env: &[(&str, &str)]) -> Output {
    xacct(world, args, env).output().unwrap()
}

fn report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn save(world: &World, name: &str, output: &Output) -> String {
    std::fs::write(world.dir.path().join(name), &output.stdout).unwrap();
    name.to_owned()
}

/// The report without its timings.
fn untimed(mut report: Value) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("duration_ms");
                map.values_mut().for_each(strip);
            }
            Value::Array(list) => list.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut report);
    report
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
    let output = run(
        world,
        &[
            "run", "hello", "--plan", "--shard", shard, "--output", "json",
        ],
        &[],
    );
    assert!(output.status.success(), "{output:?}");
    report(&output)["accounts"]
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
    let whole = run(&world, &args(None), &[]);
    assert_eq!(whole.status.code(), Some(1), "one account fails");
    let whole = report(&whole);
    assert!(whole.get("shard").is_none());

    // Side by side, as two array jobs would run them.
    let children: Vec<Child> = ["0/2", "1/2"]
        .into_iter()
        .map(|shard| xacct(&world, &args(Some(shard)), &[]).spawn().unwrap())
        .collect();
    let shards: Vec<Output> = children
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    let mut seen = Vec::new();
    for (index, output) in shards.iter().enumerate() {
        let shard = report(output);
        let ids = account_ids(&shard);
        assert!(!ids.is_empty() && ids.len() < ACCOUNTS as usize, "{ids:?}");
        assert_eq!(
            output.status.code(),
            Some(if ids.contains(&failing) { 1 } else { 0 })
        );
        assert_eq!(shard["plan_hash"], whole["plan_hash"], "one plan");
        assert_eq!(shard["shard"]["index"], index);
        assert_eq!(shard["shard"]["planned"], ACCOUNTS);
        assert_eq!(ids, planned(&world, &format!("{index}/2")));
        seen.extend(ids);
    }
    seen.sort();
    assert_eq!(seen, (0..ACCOUNTS).map(id).collect::<Vec<_>>());

    let names = [
        save(&world, "shard-0.json", &shards[0]),
        save(&world, "shard-1.json", &shards[1]),
    ];
    let merged = run(&world, &["report", "merge", &names[1], &names[0]], &[]);
    assert_eq!(
        merged.status.code(),
        Some(1),
        "the merge fails as the run did"
    );
    assert!(String::from_utf8_lossy(&merged.stderr).contains("merged 2 shard(s): 11 ok, 1 failed"));
    save(&world, "merged.json", &merged);
    let merged = report(&merged);
    assert_eq!(untimed(merged.clone()), untimed(whole.clone()));

    // A missing shard, a shard twice, another plan: refused, exit 2.
    let refused = |reports: &[&str], reason: &str| {
        let mut args = vec!["report", "merge"];
        args.extend_from_slice(reports);
        let output = run(&world, &args, &[]);
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(reason), "{stderr}");
    };
    refused(&[&names[0]], "shard(s) 1/2 missing");
    refused(&[&names[0], &names[0]], "are both shard 0/2");
    let other = run(
        &world,
        &[
            "run",
            "misbehave",
            "--output",
            "json",
            "--shard",
            "1/2",
            "--input",
            r#"{"mode": "echo"}"#,
        ],
        &[],
    );
    save(&world, "other.json", &other);
    refused(&[&names[0], "other.json"], "ran another plan");

    // Rerun exactly the failed and skipped accounts: one failed, one marked skipped.
    let mut marked = merged;
    marked["entries"][7]["status"] = json!("skipped");
    std::fs::write(world.dir.path().join("marked.json"), marked.to_string()).unwrap();
    let rerun = run(
        &world,
        &[
            "run",
            "misbehave",
            "--rerun-failed",
            "marked.json",
            "--output",
            "json",
            "--input",
            r#"{"mode": "echo", "text": "again"}"#,
        ],
        &[],
    );
    assert!(rerun.status.success(), "{rerun:?}");
    assert_eq!(account_ids(&report(&rerun)), [failing, id(7)]);
    let nothing = run(
        &world,
        &["run", "misbehave", "--rerun-failed", "shard-0.json"],
        &[],
    );
    let shard_0 = report(&shards[0]);
    if shard_0["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["status"] == "ok")
    {
        assert!(nothing.status.success());
        assert!(String::from_utf8_lossy(&nothing.stderr).contains("nothing to rerun"));
    }
    let wrong = run(
        &world,
        &["run", "hello", "--rerun-failed", "marked.json"],
        &[],
    );
    assert_eq!(wrong.status.code(), Some(2));
}

#[test]
fn shards_stay_put_when_accounts_are_added_and_come_from_array_jobs() {
    let small = world(ACCOUNTS);
    let large = world(ACCOUNTS * 3);
    for shard in ["0/3", "1/3", "2/3"] {
        let before = planned(&small, shard);
        let after = planned(&large, shard);
        assert!(
            before.iter().all(|id| after.contains(id)),
            "{shard}: {before:?} moved in {after:?}"
        );
    }

    let batch = run(
        &small,
        &[
            "run", "hello", "--plan", "--shard", "auto", "--output", "json",
        ],
        &[
            ("AWS_BATCH_JOB_ARRAY_INDEX", "2"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "3"),
        ],
    );
    assert!(batch.status.success(), "{batch:?}");
    assert_eq!(report(&batch)["shard"], "2/3");
    let kubernetes = run(
        &small,
        &[
            "run",
            "hello",
            "--plan",
            "--shard",
            "auto",
            "--shard-count",
            "3",
            "--output",
            "json",
        ],
        &[("JOB_COMPLETION_INDEX", "1")],
    );
    assert_eq!(report(&kubernetes)["shard"], "1/3");
    assert_eq!(
        report(&kubernetes)["accounts"],
        report(&run(
            &small,
            &[
                "run", "hello", "--plan", "--shard", "1/3", "--output", "json"
            ],
            &[]
        ))["accounts"]
    );
    let countless = run(
        &small,
        &["run", "hello", "--shard", "auto"],
        &[("JOB_COMPLETION_INDEX", "1")],
    );
    assert_eq!(countless.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&countless.stderr).contains("--shard-count"));
    let whole_world = run(
        &small,
        &["run", "hello", "--all-accounts", "--shard", "0/2"],
        &[],
    );
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
    let empty = (0..count)
        .find(|k| planned(&world, &format!("{k}/{count}")).is_empty())
        .unwrap();
    let output = run(
        &world,
        &[
            "run",
            "hello",
            "--output",
            "json",
            "--shard",
            &format!("{empty}/{count}"),
        ],
        &[],
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(report(&output)["entries"], json!([]));
}
