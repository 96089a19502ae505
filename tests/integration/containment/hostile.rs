//! Hostile plugins against the AWS backend (moto, IAM enforced): every attack is
//! contained, the host stays up, the other accounts' results are intact — and nothing a
//! plugin got back or printed contains any credential of the run (the home user's keys,
//! or any assumed role's access key id, secret or session token, as moto issued them).

use crate::common;

use common::moto::{self, Home, Moto, ROLE, Target};
use common::{ACCOUNTS, World, failed, ok, step_error, step_ok};
use serde_json::{Value, json};
use xacct::aws::partition;
use xacct::aws::policy::session_policy;
use xacct::plan::Mode;
use xacct::report::Report;

const ALL_S3: &[&str] = &["s3:*"];

/// The deployment of every hostile test: three accounts, one plugin-sized data set.
struct Arena {
    moto: Moto,
    home: Home,
    world: World,
}

/// `s3script` may only list and read `dev-data/allowed/` in dev; `misbehave` and `probe`
/// may list buckets everywhere.
const GRANTS: &str = r#"
[limits]
time_secs = 5
memory_mib = 32
output_kib = 64
handles = 100

[plugin.s3script]
accounts = ["dev"]
s3 = [{ buckets = "dev-data", prefix = "allowed/", actions = ["list", "read"] }]

[plugin.misbehave]
accounts = ["*"]
s3 = [{ buckets = "*", actions = ["list"] }]

[plugin.probe]
accounts = ["*"]
"#;

async fn arena() -> Arena {
    let moto = Moto::start();
    let targets = [
        Target {
            id: ACCOUNTS[0].0,
            buckets: &["dev-data", "dev-other"],
            s3_actions: ALL_S3,
            assumable: true,
        },
        Target {
            id: ACCOUNTS[1].0,
            buckets: &["staging-data"],
            s3_actions: ALL_S3,
            assumable: true,
        },
        Target {
            id: ACCOUNTS[2].0,
            buckets: &["prod-data"],
            s3_actions: ALL_S3,
            assumable: true,
        },
    ];
    let home = moto::seed(&moto, &targets).await;
    let dev = moto.s3_in(ACCOUNTS[0].0).await;
    for (bucket, key, body) in [
        ("dev-data", "allowed/a.txt", "public"),
        ("dev-data", "allowed/big.bin", ""),
        ("dev-data", "secret/s.txt", "TOP-SECRET"),
        ("dev-other", "x.txt", "OTHER-SECRET"),
    ] {
        dev.put_object()
            .bucket(bucket)
            .key(key)
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let world = World::aws_with_grants(
        &["s3script", "misbehave", "probe"],
        &moto.endpoint,
        ROLE,
        home.provider(),
        GRANTS,
    );
    moto.enforce_iam();
    Arena { moto, home, world }
}

impl Arena {
    /// Fails if anything the plugins returned or printed holds a credential of the run.
    fn assert_no_credentials(&self, report: &Report) {
        let mut seen = serde_json::to_string(report).unwrap();
        for entry in &report.entries {
            seen.push_str(&entry.stdout);
            seen.push_str(&entry.stderr);
        }
        let secrets = self.moto.secrets(&self.home);
        assert!(
            secrets.len() > 2,
            "the run assumed roles: {} secrets",
            secrets.len()
        );
        for secret in secrets {
            assert!(
                !seen.contains(&secret),
                "a credential reached the plugin's side"
            );
        }
    }

    async fn script(&self, steps: Value) -> (Report, Vec<Value>) {
        let report = self
            .world
            .run("s3script", json!({ "steps": steps }), Mode::AllAccounts)
            .await;
        self.assert_no_credentials(&report);
        let results = ok(&report.entries[0])["results"]
            .as_array()
            .unwrap()
            .clone();
        (report, results)
    }
}

fn denied_by_xacct(result: &Value) {
    assert_eq!(step_error(result), "access-denied", "{result}");
    let message = result["error"]["message"].as_str().unwrap();
    assert!(message.ends_with("(by the xacct grant)"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_grant_on_one_prefix_allows_exactly_that() {
    let arena = arena().await;
    let (report, results) = arena
        .script(json!([
            {"op": "get", "bucket": "dev-data", "key": "allowed/a.txt"},
            {"op": "list_all", "bucket": "dev-data", "prefix": "allowed/"},
            {"op": "list", "bucket": "dev-data", "prefix": "allowed/", "delimiter": "/", "start_after": "a"},
            {"op": "buckets"},
            // Everything below is outside the grant.
            {"op": "buckets", "account": "staging"},
            {"op": "list", "bucket": "dev-data"},
            {"op": "list", "bucket": "dev-data", "prefix": "allow"},
            {"op": "get", "bucket": "dev-data", "key": "secret/s.txt"},
            {"op": "get", "bucket": "dev-data", "key": "allowed/../secret/s.txt"},
            {"op": "head", "bucket": "dev-data", "key": "allowed/./../secret/s.txt"},
            {"op": "get", "bucket": "dev-other", "key": "x.txt"},
            {"op": "list", "bucket": "dev-other"},
            {"op": "put", "bucket": "dev-data", "key": "allowed/new.txt", "body": "x"},
            {"op": "delete", "bucket": "dev-data", "key": "allowed/a.txt"},
            {"op": "tags_put", "bucket": "dev-data", "key": "allowed/a.txt", "tags": [["a", "b"]]},
            {"op": "tags_get", "bucket": "dev-data", "key": "allowed/a.txt"},
            {"op": "copy", "bucket": "dev-data", "key": "allowed/a.txt", "to_bucket": "dev-data", "to_key": "allowed/c.txt"},
            {"op": "copy", "bucket": "dev-data", "key": "secret/s.txt", "to_bucket": "dev-data", "to_key": "allowed/s.txt"},
            // Encoded dot segments are literal keys inside the prefix: granted, and absent.
            {"op": "get", "bucket": "dev-data", "key": "allowed/%2e%2e/secret/s.txt"},
            {"op": "get", "bucket": "dev-data", "key": "allowed/..%2fsecret/s.txt"},
            {"op": "delete_many", "bucket": "dev-data", "keys": ["allowed/a.txt", "secret/s.txt"]},
        ]))
        .await;
    assert_eq!(step_ok(&results[0])["body"], "public");
    assert_eq!(
        step_ok(&results[1])["keys"],
        json!(["allowed/a.txt", "allowed/big.bin"])
    );
    assert_eq!(
        step_ok(&results[2])["keys"],
        json!(["allowed/a.txt", "allowed/big.bin"])
    );
    assert_eq!(
        step_ok(&results[3]),
        &json!(["dev-data"]),
        "only granted buckets are listed"
    );
    for denied in &results[4..18] {
        denied_by_xacct(denied);
    }
    assert_eq!(step_error(&results[18]), "not-found");
    assert_eq!(step_error(&results[19]), "not-found");
    let batch = step_ok(&results[20]);
    assert_eq!(batch["deleted"], json!([]));
    for failure in batch["failed"].as_array().unwrap() {
        assert_eq!(failure["error"]["kind"], "access-denied");
    }
    let text = serde_json::to_string(&results).unwrap();
    assert!(!text.contains("TOP-SECRET") && !text.contains("OTHER-SECRET"));

    // Refused calls never reached AWS.
    let usage = report.entries[0].usage;
    assert_eq!(usage.denied_calls, 14 + 2, "{usage:?}");
    assert_eq!(usage.s3_calls, 4 + 2, "{usage:?}");

    // IAM bounds the session too: the role was assumed with the grant as session policy.
    let grant = arena.world.config.grant_for("s3script").unwrap();
    let sessions: Vec<Value> = arena
        .moto
        .assumed_roles()
        .into_iter()
        .filter(|r| r["session_name"] == "xacct-s3script")
        .collect();
    assert_eq!(sessions.len(), 1, "one AssumeRole, into dev only");
    assert_eq!(
        sessions[0]["role_arn"],
        format!("arn:aws:iam::{}:role/{ROLE}", ACCOUNTS[0].0)
    );
    let policy: Value = serde_json::from_str(sessions[0]["policy"].as_str().unwrap()).unwrap();
    assert_eq!(policy, session_policy(grant, ACCOUNTS[0].0, partition::AWS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_plugins_are_contained_and_leak_nothing() {
    let arena = arena().await;
    for (mode, kind) in [
        ("spin", "time-limit"),
        ("alloc", "memory-limit"),
        ("recurse", "trap"),
        ("panic", "trap"),
    ] {
        let input = json!({ "mode": mode, "only": ACCOUNTS[1].0 });
        let report = arena.world.run("misbehave", input, Mode::PerAccount).await;
        arena.assert_no_credentials(&report);
        assert_eq!(ok(&report.entries[0])["account"], ACCOUNTS[0].0, "{mode}");
        assert_eq!(ok(&report.entries[2])["account"], ACCOUNTS[2].0, "{mode}");
        assert_eq!(failed(&report.entries[1]).0, kind, "{mode}");
    }
    let input = json!({ "mode": "output", "size": 100_000, "only": ACCOUNTS[1].0 });
    let report = arena.world.run("misbehave", input, Mode::PerAccount).await;
    assert_eq!(failed(&report.entries[1]).0, "output-limit");
    // The host still serves every account.
    let report = arena
        .world
        .run("misbehave", json!({ "mode": "hang" }), Mode::PerAccount)
        .await;
    arena.assert_no_credentials(&report);
    assert!(
        report.all_ok(),
        "{:?}",
        report.entries.iter().map(|e| &e.error).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probing_the_sandbox_finds_nothing() {
    let arena = arena().await;
    let report = arena
        .world
        .run("probe", json!({ "port": 9 }), Mode::PerAccount)
        .await;
    arena.assert_no_credentials(&report);
    for entry in &report.entries {
        let seen = ok(entry);
        assert_eq!(seen["env"], json!([]), "no AWS_* or any other variable");
        assert!(seen["tcp"].get("err").is_some() && seen["dns"].get("err").is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_leaked_handles_hit_the_handle_budget() {
    let arena = arena().await;
    let report = arena
        .world
        .run(
            "s3script",
            json!({ "steps": [{"op": "leak_clients", "repeat": 5000}] }),
            Mode::AllAccounts,
        )
        .await;
    arena.assert_no_credentials(&report);
    let (kind, message) = failed(&report.entries[0]);
    assert_eq!(kind, "limit-exceeded");
    assert_eq!(message, "handle budget of 100 open handles exhausted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_outlives_its_dropped_client() {
    let arena = arena().await;
    let (_, results) = arena
        .script(
            json!([{"op": "drop_client_then_read", "bucket": "dev-data", "key": "allowed/a.txt"}]),
        )
        .await;
    assert_eq!(step_ok(&results[0])["body"], "public");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_that_do_not_fit_never_run_and_assume_nothing() {
    let arena = arena().await;
    let plugins = arena.world.dir.path().join("plugins");
    std::fs::copy(
        common::guest("extra_import"),
        plugins.join("extra_import.wasm"),
    )
    .unwrap();
    std::fs::write(plugins.join("garbage.wasm"), b"\0asm\x01\0\0\0garbage").unwrap();
    let before = arena.moto.assumed_roles().len();
    for (plugin, expected) in [
        ("extra_import", "test:extra/secrets"),
        ("garbage", "not a WebAssembly component"),
    ] {
        let report = arena.world.run(plugin, json!({}), Mode::PerAccount).await;
        assert!(
            report.entries.is_empty(),
            "{plugin} has no grant: it runs nowhere"
        );
        assert!(report.notes[0].contains(&format!("plugin.{plugin} = {{ accounts = [")));
        let granted = World::aws_with_grants(
            &[],
            &arena.moto.endpoint,
            ROLE,
            arena.home.provider(),
            &format!("[plugin.{plugin}]\naccounts = [\"*\"]\n"),
        );
        std::fs::copy(
            plugins.join(format!("{plugin}.wasm")),
            granted.dir.path().join(format!("plugins/{plugin}.wasm")),
        )
        .unwrap();
        let report = granted.run(plugin, json!({}), Mode::PerAccount).await;
        arena.assert_no_credentials(&report);
        for entry in &report.entries {
            let (kind, message) = failed(entry);
            assert_eq!(kind, "load");
            assert!(message.contains(expected), "{message}");
        }
    }
    assert_eq!(
        arena.moto.assumed_roles().len(),
        before,
        "no role was assumed for them"
    );
}
