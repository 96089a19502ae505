//! The operator's day: choosing accounts, previewing, running across a hundred accounts
//! with bounded concurrency, reading and keeping the results, auditing every S3 call,
//! dry runs, cancellation and logs.

use crate::common;

use std::time::Duration;

use common::cli::{Outcome, signal};
use common::moto::{self, Moto, ROLE};
use common::{ConfigBuilder, World, audit_lines};
use serde_json::{Value, json};

/// A world of `n` local accounts `acct-000`… tagged `parity=even|odd`, each with bucket
/// `b-<i>` holding one object.
fn many_accounts(n: usize, guests: &[&str]) -> World {
    let config = (0..n).fold(
        ConfigBuilder::local("data").full_grants(guests),
        |config, i| {
            let parity = if i % 2 == 0 { "even" } else { "odd" };
            config
                .account(100_000_000_000u64 + i as u64, format!("acct-{i:03}"))
                .tags(&[("parity", parity)])
        },
    );
    let world = World::with_config(guests, &config, None);
    for i in 0..n {
        world.put_file(
            &(100_000_000_000u64 + i as u64).to_string(),
            &format!("b-{i:03}"),
            "k",
            "v",
        );
    }
    world
}

fn aliases(accounts: &Value) -> Vec<&str> {
    accounts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alias"].as_str().unwrap())
        .collect()
}

#[test]
fn accounts_are_chosen_by_id_alias_tag_and_exclusion_and_previewed_without_a_call() {
    let world = many_accounts(6, &["hello"]);
    let plan = |extra: &[&str]| {
        let mut args = vec!["run", "hello", "--plan", "--output", "json"];
        args.extend_from_slice(extra);
        let output = world.xacct().args(&args).output();
        assert!(output.success(), "{}", output.stderr);
        output.json()
    };
    assert_eq!(aliases(&plan(&[])["accounts"]).len(), 6);
    assert_eq!(
        aliases(&plan(&["--account", "acct-001", "--account", "100000000002"])["accounts"]),
        ["acct-001", "acct-002"]
    );
    assert_eq!(
        aliases(&plan(&["--tag", "parity=odd"])["accounts"]),
        ["acct-001", "acct-003", "acct-005"]
    );
    assert_eq!(
        aliases(&plan(&["--tag", "parity=odd", "--exclude", "acct-003"])["accounts"]),
        ["acct-001", "acct-005"]
    );
    // (`--plan` with --audit is refused: a_plan_writes_no_file_and_refuses_the_flags_that_would.)
    let preview = plan(&["--timeout", "7"]);
    assert_eq!(preview["grant"]["key"], "plugin.hello");
    assert_eq!(preview["grant"]["accounts"], json!(["*"]));
    assert_eq!(preview["limits"]["time_secs"], 7);
    assert_eq!(preview["limits"]["memory_mib"], 64);

    let text = world
        .xacct()
        .args(["run", "hello", "--plan", "--tag", "parity=even"])
        .output();
    let text = text.stdout;
    assert!(
        text.contains("on 3 account(s); nothing is called"),
        "{text}"
    );

    let typo = world
        .xacct()
        .args(["run", "hello", "--account", "acct-999"])
        .output();
    assert_eq!(typo.status.code(), Some(2));
    assert!(typo.stderr.contains("\"acct-999\" names no account"));
    let bad_tag = world
        .xacct()
        .args(["run", "hello", "--tag", "parity"])
        .output();
    assert_eq!(bad_tag.status.code(), Some(2));
}

#[test]
fn a_hundred_accounts_at_concurrency_8_are_reported_kept_and_audited() {
    let world = many_accounts(100, &["inventory"]);
    let output = world
        .xacct()
        .args([
            "run",
            "inventory",
            "--concurrency",
            "8",
            "--output",
            "json",
            "--audit",
            "audit.jsonl",
            "--out-dir",
            "out",
        ])
        .output();
    assert!(output.success(), "{}", output.stderr);
    let report = output.json();
    let entries = report["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 100);
    let mut calls = 0;
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry["alias"], format!("acct-{i:03}"));
        assert_eq!(entry["output"]["objects"], 1);
        calls += entry["s3_calls"].as_u64().unwrap() + entry["denied_calls"].as_u64().unwrap();
        let kept = world.dir.path().join(format!(
            "out/inventory/{}",
            entry["account_id"].as_str().unwrap()
        ));
        let result: Value =
            serde_json::from_slice(&std::fs::read(kept.join("result.json")).unwrap()).unwrap();
        assert_eq!(&result, entry);
        assert!(kept.join("plugin.log").is_file());
    }
    // Every S3 call, one line each: ListBuckets, then a ListObjectsV2 per bucket.
    let audit = audit_lines(&world.dir.path().join("audit.jsonl"));
    assert_eq!(audit.len() as u64, calls);
    assert_eq!(calls, 200);
    for line in &audit {
        assert_eq!(line["plugin"], "inventory");
        assert_eq!(line["sha256"], report["sha256"]);
        assert_eq!(line["outcome"], "ok");
        assert!(["ListBuckets", "ListObjectsV2"].contains(&line["operation"].as_str().unwrap()));
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
    }
    let first = audit
        .iter()
        .find(|l| l["account"] == "100000000007" && l["operation"] == "ListObjectsV2")
        .unwrap();
    assert_eq!(
        (first["bucket"].as_str(), first["prefix"].as_str()),
        (Some("b-007"), Some(""))
    );

    // The audit log is appended to, never truncated.
    let again = world
        .xacct()
        .args([
            "run",
            "inventory",
            "--account",
            "acct-000",
            "--audit",
            "audit.jsonl",
            "--output",
            "json",
        ])
        .output();
    assert!(again.status.success());
    assert_eq!(
        audit_lines(&world.dir.path().join("audit.jsonl")).len(),
        202
    );
}

#[test]
fn jsonl_streams_one_line_per_account_and_the_summary_goes_to_stderr() {
    let world = many_accounts(12, &["hello"]);
    let output = world
        .xacct()
        .args(["run", "hello", "--output", "jsonl", "--concurrency", "3"])
        .output();
    assert!(output.status.success());
    let lines: Vec<Value> = output
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 12);
    assert!(lines.iter().all(|l| l["status"] == "ok"));
    let stderr = output.stderr;
    assert!(
        stderr.contains("hello: 12 ok, 0 failed, 0 skipped in"),
        "{stderr}"
    );
    assert!(stderr.contains("12 S3 calls (0 denied)"), "{stderr}");
}

#[test]
fn the_timeout_flag_bounds_each_invocation() {
    let world = many_accounts(2, &["misbehave"]);
    let output = world
        .xacct()
        .args([
            "run",
            "misbehave",
            "--timeout",
            "1",
            "--output",
            "json",
            "--input",
            r#"{"mode": "spin", "only": "100000000001"}"#,
        ])
        .output();
    assert_eq!(output.status.code(), Some(1));
    let report = output.json();
    assert_eq!(report["entries"][0]["status"], "ok");
    assert_eq!(report["entries"][1]["error"]["kind"], "time-limit");
    assert_eq!(
        report["entries"][1]["error"]["message"],
        "time limit of 1 s exceeded"
    );
}

#[test]
fn ctrl_c_stops_running_invocations_skips_the_rest_and_still_reports() {
    let world = many_accounts(3, &["misbehave"]);
    let child = world
        .xacct()
        .args([
            "run",
            "misbehave",
            "--concurrency",
            "1",
            "--output",
            "json",
            "--input",
            r#"{"mode": "spin"}"#,
        ])
        // A cache of its own: once the compiled plugin lands there, the first invocation
        // is about to run.
        .env("XDG_CACHE_HOME", world.dir.path().join("cache"))
        .spawn();
    let compiled = world.dir.path().join("cache/xacct");
    for _ in 0..600 {
        let cached = std::fs::read_dir(&compiled).into_iter().flatten().flatten();
        if cached
            .into_iter()
            .any(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1000));
    signal(&child, "INT");
    let output = Outcome::of(child);
    assert_eq!(output.code(), Some(130), "128 + SIGINT");
    let report = output.json();
    // One invocation was running (which one is not specified), the two others waited.
    let entries = report["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "every account is reported");
    let mut kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["error"]["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["cancelled", "skipped", "skipped"]);
    let skipped = entries.iter().filter(|e| e["status"] == "skipped").count();
    assert_eq!(skipped, 2);
    assert!(output.stderr.contains("SIGINT: stopping"));
}

/// An all-accounts run is one invocation: `--out-dir` keeps it under `all-accounts`, the
/// mode's name, where a per-account run has a directory per account id.
#[test]
fn an_all_accounts_run_is_kept_under_the_modes_name() {
    let world = many_accounts(2, &["bench"]);
    let output = world
        .xacct()
        .args([
            "run",
            "bench",
            "--all-accounts",
            "--input",
            r#"{"mode": "noop"}"#,
            "--output",
            "json",
            "--out-dir",
            "out",
        ])
        .output();
    assert!(output.success(), "{}", output.stderr);
    let report = output.json();
    let kept = world.dir.path().join("out/bench/all-accounts");
    let result: Value =
        serde_json::from_slice(&std::fs::read(kept.join("result.json")).unwrap()).unwrap();
    assert_eq!(result, report["entries"][0]);
    assert!(kept.join("plugin.log").is_file());
}

#[test]
fn a_dry_run_plans_mutations_tells_the_plugin_and_writes_nothing() {
    let world = many_accounts(2, &["replicate"]);
    world.put_file("100000000000", "b-000", "r/one.csv", "1");
    world.put_file("100000000000", "b-000", "r/two.csv", "22");
    let input = r#"{"source": {"account": "acct-000", "bucket": "b-000"}, "target": {"account": "acct-001", "bucket": "b-001"}, "prefix": "r/"}"#;
    let output = world
        .xacct()
        .args([
            "run",
            "replicate",
            "--all-accounts",
            "--dry-run",
            "--output",
            "json",
            "--audit",
            "audit.jsonl",
            "--input",
            input,
        ])
        .output();
    assert!(output.success(), "{}", output.stderr);
    let report = output.json();
    assert_eq!(report["dry_run"], true);
    let entry = &report["entries"][0];
    assert_eq!(entry["output"]["dry_run"], true, "the plugin was told");
    assert_eq!(entry["output"]["keys"], json!(["r/one.csv", "r/two.csv"]));
    assert_eq!(
        entry["planned"],
        json!([
            {"operation": "PutObject", "bucket": "b-001", "key": "r/one.csv"},
            {"operation": "PutObject", "bucket": "b-001", "key": "r/two.csv"},
        ])
    );
    assert!(
        !world.data().join("100000000001/b-001/r").exists(),
        "nothing was written"
    );
    let audit = audit_lines(&world.dir.path().join("audit.jsonl"));
    let planned: Vec<&Value> = audit.iter().filter(|l| l["outcome"] == "planned").collect();
    assert_eq!(planned.len(), 2);
    assert!(
        planned
            .iter()
            .all(|l| l["operation"] == "PutObject" && l["account"] == "100000000001")
    );
    assert!(
        audit
            .iter()
            .any(|l| l["operation"] == "GetObject" && l["outcome"] == "ok" && l["bytes"] == 2)
    );
}

#[test]
fn json_logs_carry_the_plugin_and_account_fields() {
    let world = many_accounts(2, &["misbehave"]);
    let output = world
        .xacct()
        .args([
            "--log-format",
            "json",
            "run",
            "misbehave",
            "--input",
            r#"{"mode": "print"}"#,
        ])
        .output();
    assert!(output.status.success());
    let lines: Vec<Value> = output
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let printed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["stream"] == "stdout")
        .collect();
    assert_eq!(printed.len(), 2, "{lines:?}");
    for line in printed {
        assert_eq!(line["span"]["plugin"], "misbehave");
        let account = line["span"]["account"].as_str().unwrap();
        assert_eq!(
            line["fields"]["message"],
            format!("to stdout from {account}")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_aws_accounts_with_an_audit_log_free_of_credentials() {
    let moto = Moto::start();
    let ids: Vec<String> = (0..100)
        .map(|i| (200_000_000_000u64 + i).to_string())
        .collect();
    let home = moto::seed_accounts(&moto, &ids, |i| format!("bucket-{i:03}")).await;
    let config = ConfigBuilder::aws(&moto.endpoint)
        .full_grants(&["hello"])
        .accounts(
            ids.iter()
                .enumerate()
                .map(|(i, id)| (id, format!("aws-{i:03}"))),
        )
        .role_everywhere(ROLE);
    let mut world = World::with_config(&["hello"], &config, Some(home.provider()));
    moto.enforce_iam();

    let audit = world.dir.path().join("audit.jsonl");
    let mut request =
        xacct::pipeline::RunRequest::new("hello", "{}", xacct::plan::Mode::PerAccount);
    request.audit = Some(std::sync::Arc::new(
        xacct::audit::AuditLog::open(&audit).unwrap(),
    ));
    world.config.concurrency = 8;
    let report = world.run_request(world.service().await, &request).await;
    assert_eq!(report.entries.len(), 100);
    for (i, entry) in report.entries.iter().enumerate() {
        assert_eq!(
            common::ok(entry)["buckets"],
            json!([format!("bucket-{i:03}")])
        );
    }
    assert!(report.assume_role_calls.values().all(|n| *n == 1));
    let lines = audit_lines(&audit);
    assert_eq!(lines.len(), 100, "one ListBuckets per account");
    let text = std::fs::read_to_string(&audit).unwrap();
    let secrets = moto.secrets(&home);
    assert!(secrets.len() >= 102);
    for secret in secrets {
        assert!(!text.contains(&secret), "the audit log holds no credential");
    }
}

/// `--plan` calls nothing and writes no file: with `--html`, `--out-dir` or `--audit`
/// (which would write nothing) it is refused, exit 2, naming the flags; and `run --html
/// -` is refused (stdout is the report's), not a file named `-`.
#[test]
fn a_plan_writes_no_file_and_refuses_the_flags_that_would() {
    let world = many_accounts(2, &["hello"]);
    let dir = world.dir.path();
    for (flag, value) in [
        ("--html", "page.html"),
        ("--out-dir", "runs"),
        ("--audit", "audit.jsonl"),
    ] {
        let output = world
            .xacct()
            .args(["run", "hello", "--plan", flag, value])
            .output();
        assert_eq!(output.code(), Some(2), "{flag}: {output:?}");
        assert!(
            output.stderr.contains("'--plan' cannot be used with") && output.stderr.contains(flag),
            "{flag}: {}",
            output.stderr
        );
        assert!(!dir.join(value).exists(), "{flag}");
    }
    let dash = world.xacct().args(["run", "hello", "--html", "-"]).output();
    assert_eq!(dash.code(), Some(2), "{dash:?}");
    assert!(
        dash.stderr.contains("the page cannot go to stdout") && dash.stdout.is_empty(),
        "{dash:?}"
    );
    assert!(!dir.join("-").exists());
}
