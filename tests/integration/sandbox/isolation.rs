//! The sandbox: what a plugin can see, and how each way of misbehaving ends — as that
//! account's error, with the host alive and the other accounts' results intact.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use common::{World, failed, ok};
use serde_json::{Value, json};
use xacct::bindings::s3::{
    Bucket, BucketConfig, BucketSetting, ByteRange, DeleteResult, ListObjectsPage,
    ListVersionsPage, ObjectMeta, PublicAccessBlock, PutOptions, PutResult, Tag,
};
use xacct::bindings::{Account, S3Error};
use xacct::capability::Backend;
use xacct::capability::s3::backend::{ListRequest, ObjectStream, SettingChange, VersionsRequest};
use xacct::capability::s3::names::{BucketName, ObjectKey};
use xacct::capability::s3::upload::PutBody;
use xacct::pipeline::Service;
use xacct::plan::Mode;
use xacct::report::Report;
use xacct::sandbox::Sandbox;

/// `[limits]` small enough for the tests to hit quickly.
const TIGHT: &str = "[limits]\nmemory_mib = 32\ntime_secs = 2\noutput_kib = 64\n";

async fn misbehave(world: &World, mode: &str, extra: Value) -> Report {
    let mut input = json!({ "mode": mode, "only": "222222222222" });
    input
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    world.run("misbehave", input, Mode::PerAccount).await
}

/// The misbehaving account failed with `kind`; the two others answered normally.
fn only_staging_failed(report: &Report, kind: &str) -> String {
    assert_eq!(report.entries.len(), 3);
    for entry in [&report.entries[0], &report.entries[2]] {
        assert_eq!(
            ok(entry)["account"],
            entry.account_id,
            "other accounts are intact"
        );
    }
    let (actual, message) = failed(&report.entries[1]);
    assert_eq!(actual, kind, "{message}");
    message.to_owned()
}

#[tokio::test]
async fn a_plugin_sees_no_environment_no_files_and_no_network() {
    let world = World::new(&["probe"], "");
    // The test process has variables (PATH, HOME, ...) a leaky sandbox would pass on.
    assert!(std::env::vars().next().is_some());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let report = world
        .run("probe", json!({ "port": port }), Mode::PerAccount)
        .await;
    let seen = ok(&report.entries[0]);
    assert_eq!(seen["env"], json!([]), "no environment variables");
    assert_eq!(seen["args"], json!([]), "no arguments");
    for file in seen["files"].as_array().unwrap() {
        assert!(file["read_dir"].get("err").is_some(), "{file}");
        assert!(file["read"].get("err").is_some(), "{file}");
    }
    assert!(seen["write"].get("err").is_some(), "{seen}");
    assert!(seen["tcp"].get("err").is_some(), "{seen}");
    assert!(seen["udp"].get("err").is_some(), "{seen}");
    assert!(seen["dns"].get("err").is_some(), "{seen}");
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "nothing connected to the test's listener"
    );
    assert!(!world.dir.path().join("escape.txt").exists());
}

#[tokio::test]
async fn an_infinite_loop_hits_the_time_limit() {
    // The plugin's own section overrides [limits].
    let limits = format!("{TIGHT}[plugin.misbehave.limits]\ntime_secs = 1\n");
    let world = World::new(&["misbehave"], &limits);
    let started = Instant::now();
    let report = misbehave(&world, "spin", json!({})).await;
    let message = only_staging_failed(&report, "time-limit");
    assert!(message.contains("1 s"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the limit stopped the guest"
    );
}

#[tokio::test]
async fn an_allocation_bomb_hits_the_memory_limit() {
    let world = World::new(&["misbehave"], TIGHT);
    let message = only_staging_failed(&misbehave(&world, "alloc", json!({})).await, "memory-limit");
    assert!(message.contains("32 MiB"), "{message}");
}

#[tokio::test]
async fn oversized_output_hits_the_output_limit() {
    let world = World::new(&["misbehave"], TIGHT);
    let report = misbehave(&world, "output", json!({ "size": 100_000 })).await;
    let message = only_staging_failed(&report, "output-limit");
    assert!(message.contains("65536"), "{message}");
    // Just under the limit passes.
    let report = misbehave(&world, "output", json!({ "size": 60_000 })).await;
    assert_eq!(ok(&report.entries[1]).as_str().unwrap().len(), 60_000);
}

#[tokio::test]
async fn a_guest_panic_is_a_trap_carrying_the_panic_message() {
    let world = World::new(&["misbehave"], TIGHT);
    let report = misbehave(&world, "panic", json!({})).await;
    let message = only_staging_failed(&report, "trap");
    assert!(
        message.contains("deliberate panic in account 222222222222"),
        "{message}"
    );
    assert!(report.entries[1].stderr.contains("deliberate panic"));
}

#[tokio::test]
async fn deep_recursion_is_a_trap() {
    let world = World::new(&["misbehave"], TIGHT);
    let message = only_staging_failed(&misbehave(&world, "recurse", json!({})).await, "trap");
    assert!(message.contains("call stack exhausted"), "{message}");
}

#[tokio::test]
async fn a_plugin_error_is_reported_as_such() {
    let world = World::new(&["misbehave"], TIGHT);
    let message = only_staging_failed(&misbehave(&world, "fail", json!({})).await, "plugin-error");
    assert_eq!(message, "deliberate failure");
}

#[tokio::test]
async fn plugin_output_is_captured_per_account() {
    let world = World::new(&["misbehave"], TIGHT);
    let report = world
        .run("misbehave", json!({ "mode": "print" }), Mode::PerAccount)
        .await;
    for entry in &report.entries {
        assert_eq!(
            entry.stdout,
            format!("to stdout from {}\n", entry.account_id)
        );
        assert_eq!(
            entry.stderr,
            format!("to stderr from {}\n", entry.account_id)
        );
    }
}

/// The local backend, except that listing one account's buckets never returns: a host
/// call that hangs, as a stuck network call would.
struct HangsForStaging(Arc<dyn Backend>);

#[async_trait]
impl Backend for HangsForStaging {
    async fn list_buckets(&self, account: &Account) -> Result<Vec<Bucket>, S3Error> {
        if account.id == "222222222222" {
            std::future::pending::<()>().await;
        }
        self.0.list_buckets(account).await
    }
    async fn list_objects(&self, a: &Account, r: &ListRequest) -> Result<ListObjectsPage, S3Error> {
        self.0.list_objects(a, r).await
    }
    async fn head_object(
        &self,
        a: &Account,
        b: &BucketName,
        k: &ObjectKey,
    ) -> Result<ObjectMeta, S3Error> {
        self.0.head_object(a, b, k).await
    }
    async fn get_object(
        &self,
        a: &Account,
        b: &BucketName,
        k: &ObjectKey,
        r: Option<ByteRange>,
    ) -> Result<ObjectStream, S3Error> {
        self.0.get_object(a, b, k, r).await
    }
    async fn put_object(
        &self,
        a: &Account,
        b: &BucketName,
        k: &ObjectKey,
        o: PutOptions,
        body: PutBody,
    ) -> Result<PutResult, S3Error> {
        self.0.put_object(a, b, k, o, body).await
    }
    async fn delete_object(
        &self,
        a: &Account,
        b: &BucketName,
        k: &ObjectKey,
    ) -> Result<(), S3Error> {
        self.0.delete_object(a, b, k).await
    }
    async fn delete_objects(
        &self,
        a: &Account,
        b: &BucketName,
        k: Vec<ObjectKey>,
    ) -> Result<DeleteResult, S3Error> {
        self.0.delete_objects(a, b, k).await
    }
    async fn copy_object(
        &self,
        a: &Account,
        s: (&BucketName, &ObjectKey),
        m: &ObjectMeta,
        t: (&BucketName, &ObjectKey),
    ) -> Result<PutResult, S3Error> {
        self.0.copy_object(a, s, m, t).await
    }
    async fn get_object_tagging(
        &self,
        a: &Account,
        b: &BucketName,
        k: &ObjectKey,
    ) -> Result<Vec<Tag>, S3Error> {
        self.0.get_object_tagging(a, b, k).await
    }
    async fn put_object_tagging(
        &self,
        a: &Account,
        b: &BucketName,
        k: &ObjectKey,
        t: Vec<Tag>,
    ) -> Result<(), S3Error> {
        self.0.put_object_tagging(a, b, k, t).await
    }
    async fn get_bucket_setting(
        &self,
        a: &Account,
        b: &BucketName,
        s: BucketSetting,
    ) -> Result<BucketConfig, S3Error> {
        self.0.get_bucket_setting(a, b, s).await
    }
    async fn get_account_public_access_block(
        &self,
        a: &Account,
    ) -> Result<Option<PublicAccessBlock>, S3Error> {
        self.0.get_account_public_access_block(a).await
    }
    async fn put_bucket_setting(
        &self,
        a: &Account,
        b: &BucketName,
        change: &SettingChange,
    ) -> Result<(), S3Error> {
        self.0.put_bucket_setting(a, b, change).await
    }
    async fn list_object_versions(
        &self,
        a: &Account,
        r: &VersionsRequest,
    ) -> Result<ListVersionsPage, S3Error> {
        self.0.list_object_versions(a, r).await
    }
    async fn head_object_version(
        &self,
        a: &Account,
        b: &BucketName,
        k: &ObjectKey,
        v: &str,
    ) -> Result<ObjectMeta, S3Error> {
        self.0.head_object_version(a, b, k, v).await
    }
    async fn get_object_version(
        &self,
        a: &Account,
        b: &BucketName,
        k: &ObjectKey,
        v: &str,
        r: Option<ByteRange>,
    ) -> Result<ObjectStream, S3Error> {
        self.0.get_object_version(a, b, k, v, r).await
    }
    async fn delete_object_version(
        &self,
        a: &Account,
        b: &BucketName,
        k: &ObjectKey,
        v: &str,
    ) -> Result<(), S3Error> {
        self.0.delete_object_version(a, b, k, v).await
    }
}

#[tokio::test]
async fn a_host_call_that_never_returns_hits_the_time_limit() {
    let world = World::new(&["misbehave"], TIGHT);
    let service = Service::Custom(Arc::new(HangsForStaging(world.backend().await)));
    let input = json!({ "mode": "hang" });
    let report = world
        .run_on(&service, "misbehave", input, Mode::PerAccount)
        .await;
    assert_eq!(ok(&report.entries[0]), &json!(0));
    assert_eq!(ok(&report.entries[2]), &json!(0));
    assert_eq!(failed(&report.entries[1]).0, "time-limit");
}

#[tokio::test]
async fn wrong_world_and_non_wasm_files_fail_alone() {
    let grant_garbage = "[plugin.garbage]\naccounts = [\"*\"]\n";
    let world = World::new(&["hello", "not-a-plugin", "extra_import"], grant_garbage);
    std::fs::write(
        world.dir.path().join("plugins/garbage.wasm"),
        b"\0asm garbage",
    )
    .unwrap();

    let report = world.run("not-a-plugin", json!({}), Mode::PerAccount).await;
    assert_eq!(report.entries.len(), 3, "every planned account is reported");
    for entry in &report.entries {
        let (kind, message) = failed(entry);
        assert_eq!(kind, "load");
        assert!(
            message.contains("not built for world xacct:plugin/plugin@0.1.1"),
            "{message}"
        );
        assert!(message.contains("does not export `run"), "{message}");
    }
    let report = world.run("extra_import", json!({}), Mode::PerAccount).await;
    let (kind, message) = failed(&report.entries[0]);
    assert_eq!(kind, "load");
    assert!(
        message.contains("not built for world xacct:plugin/plugin@0.1.1"),
        "{message}"
    );
    assert!(
        message.contains("test:extra/secrets"),
        "the extra import is named: {message}"
    );

    let report = world.run("garbage", json!({}), Mode::PerAccount).await;
    let (kind, message) = failed(&report.entries[0]);
    assert_eq!(kind, "load");
    assert!(message.contains("not a WebAssembly component"), "{message}");

    // The good plugin beside them is unaffected.
    assert!(
        world
            .run("hello", json!({}), Mode::PerAccount)
            .await
            .all_ok()
    );
}

#[tokio::test]
async fn many_failing_invocations_leave_the_host_serving() {
    let world = World::new(&["misbehave"], TIGHT);
    for mode in ["alloc", "panic", "recurse", "alloc"] {
        let report = world
            .run("misbehave", json!({ "mode": mode }), Mode::PerAccount)
            .await;
        assert!(report.entries.iter().all(|e| e.error.is_some()));
    }
    let report = world
        .run("misbehave", json!({ "mode": "print" }), Mode::PerAccount)
        .await;
    assert!(report.all_ok());
}

#[test]
fn compiled_plugins_are_cached_by_content_and_a_bad_entry_is_recompiled() {
    let cache = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new(Some(cache.path().to_owned()), 1).unwrap();
    let path = common::guest("hello");
    let first = sandbox.load("hello", &path).unwrap();
    let entries = common::files_below(cache.path());
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        entries[0].starts_with(&first.sha256),
        "keyed by the component's sha256"
    );
    assert!(entries[0].ends_with(".cwasm"));

    // A second load deserialises the artifact instead of compiling: the file is untouched.
    let artifact = cache.path().join(&entries[0]);
    let modified = std::fs::metadata(&artifact).unwrap().modified().unwrap();
    sandbox.load("hello", &path).unwrap();
    assert_eq!(
        std::fs::metadata(&artifact).unwrap().modified().unwrap(),
        modified
    );

    // A corrupt artifact costs a compile, not a failure.
    std::fs::write(&artifact, b"corrupt").unwrap();
    sandbox.load("hello", &path).unwrap();
    assert!(
        std::fs::metadata(&artifact).unwrap().len() > 1000,
        "the entry was rewritten"
    );
}

#[tokio::test]
async fn budgets_are_per_invocation_and_overspending_ends_it() {
    let world = World::new(&["s3script"], "[limits]\ns3_calls = 3\n");
    let calls = |n: usize| json!({ "steps": vec![json!({"op": "buckets"}); n] });
    let report = world.run("s3script", calls(3), Mode::PerAccount).await;
    assert!(report.all_ok(), "each invocation has its own three calls");
    assert!(report.entries.iter().all(|e| e.usage.s3_calls == 3));
    let report = world.run("s3script", calls(4), Mode::PerAccount).await;
    for entry in &report.entries {
        let (kind, message) = failed(entry);
        assert_eq!(
            (kind, message),
            ("limit-exceeded", "S3 call budget of 3 calls exhausted")
        );
    }
}

#[tokio::test]
async fn refused_calls_have_a_budget_and_a_write_past_its_permit_traps() {
    let grant = "[limits]\ns3_calls = 3\n[plugin.s3script]\naccounts = [\"*\"]\n\
                 s3 = [{ buckets = \"bkt\", actions = [\"write\"] }]\n";
    let world = World::local(&["s3script"], grant);
    world.bucket("111111111111", "bkt");
    let denied = json!({ "steps": vec![json!({"op": "get", "bucket": "bkt", "key": "k"}); 5] });
    let report = world.run("s3script", denied, Mode::AllAccounts).await;
    assert_eq!(
        failed(&report.entries[0]),
        ("limit-exceeded", "refused-call budget of 3 calls exhausted")
    );

    let keys: Vec<String> = (0..1001).map(|i| format!("k{i}")).collect();
    let steps = json!({ "steps": [{"op": "delete_many", "bucket": "bkt", "keys": keys}] });
    let report = world.run("s3script", steps, Mode::AllAccounts).await;
    let result = &ok(&report.entries[0])["results"][0];
    assert_eq!(
        result["error"]["kind"], "invalid-input",
        "too many keys, before any grant check"
    );
    assert_eq!(report.entries[0].usage.denied_calls, 0);

    let oversized = json!({ "steps": [{"op": "oversized_write", "bucket": "bkt", "key": "big"}] });
    let report = world.run("s3script", oversized, Mode::AllAccounts).await;
    let (kind, message) = failed(&report.entries[0]);
    assert_eq!(
        (kind, message),
        (
            "trap",
            "plugin trapped: write larger than check-write permitted"
        )
    );
    assert!(!world.data().join("111111111111/bkt/big").exists());
}

#[tokio::test]
async fn byte_budgets_stop_reads_and_writes() {
    let world = World::new(&["s3script"], "[limits]\nread_mib = 1\nwrite_mib = 1\n");
    world.put_file("111111111111", "bkt", "two-mib", vec![b'x'; 2 << 20]);
    world.put_file("111111111111", "bkt", "small", "fits");
    let read = json!({ "steps": [{"op": "get", "bucket": "bkt", "key": "two-mib"}] });
    let report = world.run("s3script", read, Mode::AllAccounts).await;
    assert_eq!(
        failed(&report.entries[0]),
        ("limit-exceeded", "read budget of 1048576 bytes exhausted")
    );

    let chunk = "y".repeat(512 << 10);
    let write = json!({ "steps": [{"op": "put_abandon", "bucket": "bkt", "key": "big", "body": chunk, "repeat": 3}] });
    let report = world.run("s3script", write, Mode::AllAccounts).await;
    assert_eq!(
        failed(&report.entries[0]),
        ("limit-exceeded", "write budget of 1048576 bytes exhausted")
    );
    assert!(!world.data().join("111111111111/bkt/big").exists());

    let small = json!({ "steps": [{"op": "get", "bucket": "bkt", "key": "small"}] });
    let report = world.run("s3script", small, Mode::AllAccounts).await;
    assert_eq!(ok(&report.entries[0])["results"][0]["ok"]["body"], "fits");
    assert_eq!(report.entries[0].usage.bytes_read, 4);
}

#[tokio::test]
async fn a_plugin_without_a_grant_runs_nowhere_and_is_told_why() {
    let world = World::local(&["hello"], "");
    let report = world.run("hello", json!({}), Mode::PerAccount).await;
    assert!(report.entries.is_empty());
    assert!(!report.all_ok(), "nothing ran: not a success");
    assert_eq!(report.notes.len(), 1);
    assert!(
        report.notes[0].contains("add this line at the top of")
            && report.notes[0].contains("plugin.hello = {"),
        "{}",
        report.notes[0]
    );
}

#[tokio::test]
async fn grants_bound_plugins_on_the_local_backend_too() {
    let grant = "[plugin.s3script]\naccounts = [\"dev\"]\n\
                 s3 = [{ buckets = \"data\", prefix = \"allowed/\", actions = [\"list\", \"read\"] }]\n";
    let world = World::local(&["s3script"], grant);
    world.put_file("111111111111", "data", "allowed/a.txt", "public");
    world.put_file("111111111111", "data", "secret/s.txt", "TOP-SECRET");
    world.put_file("111111111111", "other", "x.txt", "OTHER");
    let steps = json!([
        {"op": "get", "bucket": "data", "key": "allowed/a.txt"},
        {"op": "buckets"},
        {"op": "get", "bucket": "data", "key": "secret/s.txt"},
        {"op": "list", "bucket": "data"},
        {"op": "get", "bucket": "other", "key": "x.txt"},
        {"op": "put", "bucket": "data", "key": "allowed/new", "body": "x"},
        {"op": "buckets", "account": "staging"},
    ]);
    let report = world
        .run("s3script", json!({ "steps": steps }), Mode::AllAccounts)
        .await;
    assert_eq!(
        report.entries[0].scope,
        ["111111111111"],
        "the grant's accounts only"
    );
    let results = ok(&report.entries[0])["results"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(results[0]["ok"]["body"], "public");
    assert_eq!(results[1]["ok"], json!(["data"]));
    for denied in &results[2..] {
        assert_eq!(denied["error"]["kind"], "access-denied", "{denied}");
    }
    assert_eq!(report.entries[0].usage.denied_calls, 5);
    assert_eq!(report.entries[0].usage.s3_calls, 2);
    assert!(!world.data().join("111111111111/data/allowed/new").exists());
}
