//! The operator's day: choosing accounts, previewing, running across a hundred accounts
//! with bounded concurrency, reading and keeping the results, auditing every S3 call,
//! dry runs, cancellation and logs.

use crate::common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::moto::{self, Moto, ROLE};
use common::{World, full_grants};
use serde_json::{Value, json};

/// A world of `n` local accounts `acct-000`… tagged `parity=even|odd`, each with bucket
/// `b-<i>` holding one object.
fn many_accounts(n: usize, guests: &[&str], extra: &str) -> World {
    let mut text = format!("[local]\nroot = \"data\"\n{}{extra}", full_grants(guests));
    for i in 0..n {
        let parity = if i % 2 == 0 { "even" } else { "odd" };
        text.push_str(&format!(
            "\n[[account]]\nid = \"{}\"\nalias = \"acct-{i:03}\"\ntags = {{ parity = \"{parity}\" }}\n",
            100_000_000_000u64 + i as u64
        ));
    }
    let world = World::with_config(guests, &text, None);
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

/// Runs the CLI in `world` with default logging, uncoloured: any escape in its output
/// is then one it failed to neutralise (`inert_output`).
pub(crate) fn xacct(world: &World, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xacct"))
        .args(args)
        .current_dir(world.dir.path())
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

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn aliases(accounts: &Value) -> Vec<&str> {
    accounts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alias"].as_str().unwrap())
        .collect()
}

fn audit_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn accounts_are_chosen_by_id_alias_tag_and_exclusion_and_previewed_without_a_call() {
    let world = many_accounts(6, &["hello"], "");
    let plan = |extra: &[&str]| {
        let mut args = vec!["run", "hello", "--plan", "--output", "json"];
        args.extend_from_slice(extra);
        let output = xacct(&world, &args);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        json_of(&output)
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
    let preview = plan(&["--timeout", "7", "--audit", "audit.jsonl"]);
    assert_eq!(preview["grant"]["key"], "plugin.hello");
    assert_eq!(preview["grant"]["accounts"], json!(["*"]));
    assert_eq!(preview["limits"]["time_secs"], 7);
    assert_eq!(preview["limits"]["memory_mib"], 64);
    assert!(
        !world.dir.path().join("audit.jsonl").exists(),
        "--plan calls nothing"
    );

    let text = xacct(&world, &["run", "hello", "--plan", "--tag", "parity=even"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("on 3 account(s); nothing is called"),
        "{text}"
    );

    let typo = xacct(&world, &["run", "hello", "--account", "acct-999"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("\"acct-999\" names no account"));
    let bad_tag = xacct(&world, &["run", "hello", "--tag", "parity"]);
    assert_eq!(bad_tag.status.code(), Some(2));
}

#[test]
fn a_hundred_accounts_at_concurrency_8_are_reported_kept_and_audited() {
    let world = many_accounts(100, &["inventory"], "");
    let output = xacct(
        &world,
        &[
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
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = json_of(&output);
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
    let again = xacct(
        &world,
        &[
            "run",
            "inventory",
            "--account",
            "acct-000",
            "--audit",
            "audit.jsonl",
            "--output",
            "json",
        ],
    );
    assert!(again.status.success());
    assert_eq!(
        audit_lines(&world.dir.path().join("audit.jsonl")).len(),
        202
    );
}

#[test]
fn jsonl_streams_one_line_per_account_and_the_summary_goes_to_stderr() {
    let world = many_accounts(12, &["hello"], "");
    let output = xacct(
        &world,
        &["run", "hello", "--output", "jsonl", "--concurrency", "3"],
    );
    assert!(output.status.success());
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 12);
    assert!(lines.iter().all(|l| l["status"] == "ok"));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("hello: 12 ok, 0 failed, 0 skipped in"),
        "{stderr}"
    );
    assert!(stderr.contains("12 S3 calls (0 denied)"), "{stderr}");
}

#[test]
fn the_timeout_flag_bounds_each_invocation() {
    let world = many_accounts(2, &["misbehave"], "");
    let output = xacct(
        &world,
        &[
            "run",
            "misbehave",
            "--timeout",
            "1",
            "--output",
            "json",
            "--input",
            r#"{"mode": "spin", "only": "100000000001"}"#,
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let report = json_of(&output);
    assert_eq!(report["entries"][0]["status"], "ok");
    assert_eq!(report["entries"][1]["error"]["kind"], "time-limit");
    assert_eq!(
        report["entries"][1]["error"]["message"],
        "time limit of 1 s exceeded"
    );
}

#[test]
fn ctrl_c_stops_running_invocations_skips_the_rest_and_still_reports() {
    let world = many_accounts(3, &["misbehave"], "");
    let child = Command::new(env!("CARGO_BIN_EXE_xacct"))
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
        .current_dir(world.dir.path())
        // A cache of its own: once the compiled plugin lands there, the first invocation
        // is about to run.
        .env("XDG_CACHE_HOME", world.dir.path().join("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
    let signalled = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "128 + SIGINT");
    let report = json_of(&output);
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
    assert!(String::from_utf8_lossy(&output.stderr).contains("SIGINT: stopping"));
}

#[test]
fn a_dry_run_plans_mutations_tells_the_plugin_and_writes_nothing() {
    let world = many_accounts(2, &["replicate"], "");
    world.put_file("100000000000", "b-000", "r/one.csv", "1");
    world.put_file("100000000000", "b-000", "r/two.csv", "22");
    let input = r#"{"source": {"account": "acct-000", "bucket": "b-000"}, "target": {"account": "acct-001", "bucket": "b-001"}, "prefix": "r/"}"#;
    let output = xacct(
        &world,
        &[
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
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = json_of(&output);
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
    let world = many_accounts(2, &["misbehave"], "");
    let output = xacct(
        &world,
        &[
            "--log-format",
            "json",
            "run",
            "misbehave",
            "--input",
            r#"{"mode": "print"}"#,
        ],
    );
    assert!(output.status.success());
    let lines: Vec<Value> = String::from_utf8(output.stderr)
        .unwrap()
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
    let mut text = format!(
        "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n{}",
        moto.endpoint,
        full_grants(&["hello"])
    );
    for (i, id) in ids.iter().enumerate() {
        text.push_str(&format!(
            "\n[[account]]\nid = \"{id}\"\nalias = \"aws-{i:03}\"\nrole = \"{ROLE}\"\n"
        ));
    }
    let mut world = World::with_config(&["hello"], &text, Some(home.provider()));
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
