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
        // The table says so on stdout, where its summary goes.
        assert!(nothing.stdout.contains("nothing to rerun"), "{nothing:?}");
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

/// What `--shard auto` resolved to is in the terminal output (an array job's log says
/// which shard it ran): the summary line and the plan line name it as people count.
#[test]
fn the_terminal_output_names_the_shard_auto_resolved_to() {
    let world = world(ACCOUNTS);
    let batch = [
        ("AWS_BATCH_JOB_ARRAY_INDEX", "1"),
        ("AWS_BATCH_JOB_ARRAY_SIZE", "2"),
    ];
    let run = world
        .xacct()
        .args(["run", "hello", "--shard", "auto"])
        .envs(&batch)
        .output();
    assert!(run.status.success(), "{run:?}");
    assert!(
        run.stdout.contains("hello (shard 2/2): "),
        "the summary names the shard: {}",
        run.stdout
    );
    let jsonl = world
        .xacct()
        .args(["run", "hello", "--shard", "auto", "--output", "jsonl"])
        .envs(&batch)
        .output();
    assert!(jsonl.stderr.contains("hello (shard 2/2): "), "{jsonl:?}");
    let plan = world
        .xacct()
        .args(["run", "hello", "--shard", "auto", "--plan"])
        .envs(&batch)
        .output();
    let held = planned(&world, "2/2").len();
    assert!(
        plan.stdout.starts_with(&format!(
            "plan: hello (per-account) on {held} account(s), shard 2/2 of the {ACCOUNTS} selected;"
        )),
        "{}",
        plan.stdout
    );
    let unsharded = world.xacct().args(["run", "hello"]).output();
    assert!(
        unsharded.stdout.contains("\nhello: "),
        "{}",
        unsharded.stdout
    );
}

/// A shard count is said once, or agrees: `--shard-count` only with `--shard auto`, and
/// a count from the flag or XACCT_SHARD_COUNT that disagrees with the array job's size or
/// with K/N is refused naming both, exit 2 (neither silently wins).
#[test]
fn a_shard_count_that_disagrees_is_refused_naming_both() {
    let world = world(ACCOUNTS);
    let refused = |args: &[&str], env: &[(&str, &str)], says: &[&str]| {
        let output = world.xacct().args(args).envs(env).output();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?} {env:?}: {output:?}"
        );
        assert!(output.stdout.is_empty(), "{output:?}");
        for part in says {
            assert!(output.stderr.contains(part), "{part:?}: {}", output.stderr);
        }
    };
    let batch = [
        ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
        ("AWS_BATCH_JOB_ARRAY_SIZE", "2"),
    ];
    let auto = ["run", "hello", "--shard", "auto", "--output", "json"];
    refused(
        &[&auto[..], &["--shard-count", "3"]].concat(),
        &batch,
        &[
            "AWS_BATCH_JOB_ARRAY_SIZE=2 and --shard-count 3 disagree",
            "fix: ",
        ],
    );
    let exported = [&batch[..], &[("XACCT_SHARD_COUNT", "3")]].concat();
    refused(
        &auto,
        &exported,
        &["AWS_BATCH_JOB_ARRAY_SIZE=2 and XACCT_SHARD_COUNT=3 disagree"],
    );
    refused(
        &["run", "hello", "--shard", "1/2", "--shard-count", "3"],
        &[],
        &[
            "--shard-count 3 goes with --shard auto only",
            "fix: drop --shard-count",
        ],
    );
    refused(
        &["run", "hello", "--shard", "1/2"],
        &[("XACCT_SHARD_COUNT", "3")],
        &["--shard 1/2 and XACCT_SHARD_COUNT=3 disagree"],
    );
    refused(
        &["run", "hello", "--shard-count", "3"],
        &[],
        &["--shard <K/N|auto>"],
    );
    // Said the same twice is no disagreement; an exported count without --shard is
    // not used.
    let agreed = world
        .xacct()
        .args([&auto[..], &["--shard-count", "2"]].concat())
        .envs(&batch)
        .output();
    assert_eq!(agreed.json()["shard"]["index"], 1, "{agreed:?}");
    let unsharded = world
        .xacct()
        .args(["run", "hello", "--output", "json"])
        .env("XACCT_SHARD_COUNT", "3")
        .output();
    assert!(unsharded.status.success(), "{unsharded:?}");
    assert!(unsharded.json().get("shard").is_none());
}

/// Each wrong shard says the value that is wrong, once, and the fix.
#[test]
fn a_wrong_shard_names_its_value_and_the_fix() {
    let world = world(2);
    for (shard, env, says, never) in [
        (
            "1/0",
            &[][..],
            "error: --shard 1/0: no shard of 0 shards",
            "0/0",
        ),
        (
            "auto",
            &[
                ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
                ("AWS_BATCH_JOB_ARRAY_SIZE", "0"),
            ][..],
            "error: --shard auto: AWS_BATCH_JOB_ARRAY_SIZE=0: no shard of 0 shards",
            "0/0",
        ),
        (
            "auto",
            &[][..],
            "error: --shard auto: neither AWS_BATCH_JOB_ARRAY_INDEX",
            "--shard auto: --shard auto",
        ),
        (
            "auto",
            &[
                ("AWS_BATCH_JOB_ARRAY_INDEX", "2"),
                ("AWS_BATCH_JOB_ARRAY_SIZE", "2"),
            ][..],
            "error: --shard auto: AWS_BATCH_JOB_ARRAY_INDEX=2 is past the last shard: the index counts from 0, so it is at most 1 with AWS_BATCH_JOB_ARRAY_SIZE=2",
            "2/2",
        ),
    ] {
        let output = world
            .xacct()
            .args(["run", "hello", "--plan", "--shard", shard])
            .envs(env)
            .output();
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        assert!(output.stderr.contains(says), "{says:?}: {}", output.stderr);
        assert!(output.stderr.contains("; fix: "), "{}", output.stderr);
        assert!(
            !output.stderr.contains(never),
            "{never:?}: {}",
            output.stderr
        );
    }
}

/// `--rerun-failed` of a report where nothing failed runs nothing and says so in each
/// output: `--output json` a report with no entries (not an empty file) that `report
/// html` and `report merge` take, the table one line, jsonl that line on stderr; exit 0.
#[test]
fn a_rerun_with_nothing_to_rerun_still_writes_a_report() {
    let world = world(4);
    let run = world
        .xacct()
        .args(["run", "hello", "--output", "json"])
        .output();
    assert!(run.status.success(), "{run:?}");
    save(&world, "all-ok.json", &run);
    let rerun = |output: &str| {
        world
            .xacct()
            .args([
                "run",
                "hello",
                "--rerun-failed",
                "all-ok.json",
                "--output",
                output,
            ])
            .output()
    };
    let json = rerun("json");
    assert!(json.status.success(), "{json:?}");
    let report = json.json();
    assert_eq!(report["entries"], json!([]));
    assert_eq!(report["plugin"], "hello");
    assert_eq!(report["sha256"], run.json()["sha256"]);
    assert!(
        report["notes"][0]
            .as_str()
            .unwrap()
            .contains("all-ok.json: no account failed or was skipped: nothing to rerun"),
        "{report}"
    );
    save(&world, "rerun.json", &json);
    let page = world
        .xacct()
        .args(["report", "html", "rerun.json"])
        .output();
    assert!(page.status.success(), "{page:?}");
    let table = rerun("table");
    assert!(table.status.success(), "{table:?}");
    assert_eq!(
        table.stdout,
        "hello: all-ok.json: no account failed or was skipped: nothing to rerun\n"
    );
    let jsonl = rerun("jsonl");
    assert!(jsonl.status.success(), "{jsonl:?}");
    assert_eq!(jsonl.stdout, "");
    assert!(jsonl.stderr.contains("nothing to rerun"), "{jsonl:?}");
    // The shards of a rerun of nothing merge into a report of nothing.
    for k in ["1", "2"] {
        let shard = world
            .xacct()
            .args([
                "run",
                "hello",
                "--rerun-failed",
                "all-ok.json",
                "--output",
                "json",
                "--shard",
                &format!("{k}/2"),
            ])
            .output();
        assert!(shard.status.success(), "{shard:?}");
        save(&world, &format!("rerun-{k}.json"), &shard);
    }
    let merged = world
        .xacct()
        .args(["report", "merge", "rerun-1.json", "rerun-2.json"])
        .output();
    assert_eq!(merged.json()["entries"], json!([]), "{merged:?}");
}
